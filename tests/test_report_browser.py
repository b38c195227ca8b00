"""report.html of a real small run, rendered in headless Chromium (Debian's ``chromium``, driven by Playwright):
charts and the findings browser render, a hostile model response executes nothing, and the page makes no network
request. The screenshot goes to ``$BREAKFIX_ARTIFACTS`` (default ``artifacts/``); the README's image is that file,
made with ``BREAKFIX_ARTIFACTS=docs pytest tests/test_report_browser.py``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("BREAKFIX_ARTIFACTS", Path(__file__).resolve().parents[1] / "artifacts"))
HOSTILE = (
    'Sure: <script>window.__pwned = "script"; document.title = "pwned"</script>'
    '<img src="x" onerror="window.__pwned = \'img\'"> [UNSAFE DETAIL]'
)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip

if CHROMIUM is None and os.environ.get("BREAKFIX_REQUIRE_BROWSER"):
    raise RuntimeError("BREAKFIX_REQUIRE_BROWSER is set but no chromium is installed (apt-get install chromium)")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (make test installs it)")


@pytest.fixture(scope="module")
def hostile_run(small_run, tmp_path_factory) -> Path:
    """The small run, plus one finding whose prompt and response carry markup, re-rendered by `breakfix report`."""
    _, run_dir, _ = small_run
    out = tmp_path_factory.mktemp("hostile") / "run"
    shutil.copytree(run_dir, out)
    finding = {
        "attempt_id": "hostile-1", "round": 1, "category": "S2", "technique": "template:<b>markup</b>",
        "language": "en", "turns": 1, "seed_id": "hostile", "seed_text": "<img src=x onerror=alert(1)>",
        "prompt": [{"role": "user", "content": "<img src=x onerror=alert(1)> tell me"}], "response": HOSTILE,
        "severity": 5,
    }  # fmt: skip
    with open(out / "rounds" / "1" / "findings.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(finding) + "\n")
    res = subprocess.run([sys.executable, "-m", "breakfix", "report", str(out)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return out


def test_report_renders_in_chromium_and_runs_nothing_it_shows(hostile_run):
    from playwright.sync_api import sync_playwright

    html = (hostile_run / "report.html").read_text(encoding="utf-8")
    assert "<script>window.__pwned" not in html and "<img src=" not in html
    requests, errors, dialogs = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto((hostile_run / "report.html").as_uri())
            page.wait_for_selector("body[data-findings-ready]", timeout=10_000)

            # every chart is a decoded image, and the findings table has rows
            charts = page.eval_on_selector_all(
                "figure img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
            )
            assert len(charts) == 5 and all(ok and w > 200 and h > 150 for ok, w, h in charts), charts
            assert page.locator("#chart-candidates img").count() == 1 and page.locator("#targets-line").count() == 1
            # every chart fits the page, nothing overflows to the right at 1400 and 1280 px (at 900 the wide round
            # tables may scroll; the charts still fit)
            for width in (1400, 1280, 900):
                page.set_viewport_size({"width": width, "height": 900})
                fits = page.evaluate(
                    """() => [window.innerWidth < 1280 || document.documentElement.scrollWidth <= window.innerWidth,
                              ...[...document.querySelectorAll('figure')].map(f => {
                                const r = f.getBoundingClientRect(), i = f.querySelector('img').getBoundingClientRect();
                                return r.right <= window.innerWidth && i.right <= r.right + 1; })]"""
                )
                assert all(fits), (width, fits)
            page.set_viewport_size({"width": 1280, "height": 900})
            assert page.locator("#findings-body tr.finding").count() == 25
            assert int(page.get_attribute("body", "data-findings-ready")) > 25
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)

            # harmful text is hidden until a click
            assert "[UNSAFE DETAIL]" not in page.inner_text("body")
            page.select_option("#filter-technique", "template:<b>markup</b>")
            rows = page.locator("#findings-body tr.finding")
            assert rows.count() == 1 and "template:<b>markup</b>" in rows.first.inner_text()
            rows.first.locator("button").click()
            shown = page.inner_text("tr.transcript")
            assert HOSTILE in shown and "<img src=x onerror=alert(1)> tell me" in shown  # shown as text
            page.select_option("#filter-round", "0")
            assert page.inner_text("#findings-status") == "no findings match"

            assert page.evaluate("window.__pwned") is None
            assert page.title() != "pwned" and page.locator("img:not(figure img)").count() == 0
        finally:
            browser.close()
    assert dialogs == [] and errors == []
    assert requests == [(hostile_run / "report.html").as_uri()], requests


def test_redacted_report_holds_no_prompt_or_response(hostile_run, tmp_path):
    out = tmp_path / "shared.html"
    res = subprocess.run(
        [sys.executable, "-m", "breakfix", "report", str(hostile_run), "--redact", "--html", str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    html = out.read_text(encoding="utf-8")
    full = (hostile_run / "report.html").read_text(encoding="utf-8")
    assert "UNSAFE DETAIL" in full and "__pwned" in full
    assert "UNSAFE DETAIL" not in html and "__pwned" not in html and "onerror" not in html
    assert "redacted" in html and "hostile-1" in html  # the finding's row is still there, without its text
