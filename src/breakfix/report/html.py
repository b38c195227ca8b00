"""``report.html``: the charts, the tables and the findings browser, rendered from ``report.json`` with jinja2."""

from __future__ import annotations

import base64
import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

from breakfix.report.plots import (
    _suite_value,
    category_rounds,
    plot_candidates,
    plot_heatmap,
    plot_prefill,
    plot_suites,
    plot_techniques,
    plot_tradeoff,
    tradeoff_points,
)


def _corrected(c: dict[str, Any]) -> str:
    """A judge-corrected rate as the HTML shows it: the estimate and its interval, or why there is none."""
    if c.get("rate") is None:
        return f"n/a ({c.get('warning', 'no estimate')})"
    lo, hi = c["ci95"]
    return f"{c['rate']:.3f} [{lo:.3f}, {hi:.3f}]"


def candidate_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The candidates table: per round and candidate, its validation figures, drift, balanced score, the targets
    it missed, and whether it was kept."""
    rows = []
    for r in report["rounds"]:
        for c in r.get("candidates") or []:
            v = c["validation"]

            def rate(suite: str, key: str = "defect_rate", v: dict[str, Any] = v) -> str:
                return f"{v[suite][key]:.3f}" if suite in v else ""

            rows.append({
                "round": r["round"], "name": c["name"], "steps": f"{c['stage']} step {c['step']}",
                "harmful": rate("harmful"), "jailbreak": rate("jailbreak"), "multiturn": rate("multiturn"),
                "vprr": rate("overrefusal", "vprr"), "iprr": rate("overrefusal", "iprr"),
                "capability": rate("capability", "score"),
                "drift": f"{c['drift']['kl']:.4f}" if c.get("drift") else "",
                "balanced": f"{c['balanced']:.3f}", "misses": "; ".join(c["misses"]) or "none",
                "chosen": c["chosen"],
            })  # fmt: skip
    return rows


def audit_tables(audit: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The judge audit as tables: the confusion matrix (truth by judge), per-class scores and per-language scores."""
    if not audit:
        return []
    main = audit.get("three_class") or audit.get("binary") or {}
    tables = []
    conf = audit.get("confusion") or main.get("confusion")
    if isinstance(conf, dict) and conf:
        header = list(next(iter(conf.values())))
        tables.append({"id": "confusion", "title": "truth \\ judge", "header": header,
                       "rows": [(t, [row.get(h, 0) for h in header]) for t, row in conf.items()]})  # fmt: skip
    for key, title in (("per_class", "class"), ("by_language", "language")):
        table = main.get(key) if key == "per_class" else audit.get(key)
        if isinstance(table, dict) and table:
            header = list(next(iter(table.values())))
            tables.append({"id": key, "title": title, "header": header,
                           "rows": [(k, [v.get(h, "") for h in header]) for k, v in table.items()]})  # fmt: skip
    return tables


REDACTED = "[redacted]"


def load_findings(run_dir: Path | None, *, redact: bool = False, per_round: int = 2000) -> tuple[list[dict], int]:
    """The findings of every round in ``run_dir`` for the browser (at most ``per_round`` per round), and how many
    were left out. ``redact`` drops every prompt and response."""
    if run_dir is None:
        return [], 0
    out: list[dict[str, Any]] = []
    left_out = 0
    rounds = sorted((p for p in (run_dir / "rounds").glob("*/findings.jsonl")), key=lambda p: int(p.parent.name))
    for path in rounds:
        with open(path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f):
                if n >= per_round:
                    left_out += 1
                    continue
                try:
                    x = json.loads(line)
                except json.JSONDecodeError:
                    continue
                turns = list(x.get("prompt") or []) + [{"role": "assistant", "content": x.get("response", "")}]
                transcript = [{"role": str(t.get("role", "")), "content": str(t.get("content", ""))} for t in turns]
                out.append(
                    {
                        "round": x.get("round", int(path.parent.name)),
                        "category": str(x.get("category", "")),
                        "technique": str(x.get("technique", "")),
                        "language": str(x.get("language", "")),
                        "turns": x.get("turns", 1),
                        "severity": x.get("severity", 0),
                        "id": str(x.get("attempt_id", "")),
                        "seed": REDACTED if redact else str(x.get("seed_text", "")),
                        "transcript": None if redact else transcript,
                    }
                )
    return out, left_out


def script_json(data: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&`` can close it."""
    text = json.dumps(data, ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def _browser_script() -> tuple[str, str]:
    """The findings browser's script and its CSP hash (the page runs that script and no other)."""
    js = resources.files("breakfix.report").joinpath("browser.js").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode("ascii")
    return js, f"'sha256-{digest}'"


def _suite_cells(benchmarks: dict[str, Any]) -> dict[str, str]:
    """Each suite's table cell: its headline values with 95% intervals, corrected rates and abstentions."""
    cells = {}
    for suite, s in benchmarks.items():
        cells[suite] = ", ".join(
            f"{label} {val:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "") for label, val, ci in _suite_value(s)
        )
        extra = [f"corrected {k} {_corrected(c)}" for k, c in s.get("corrected", {}).items()]
        if s.get("undetermined"):
            extra.append(f"undetermined {s['undetermined']}")
        if extra:
            cells[suite] += "; " + "; ".join(extra)
    return cells


def render_html(report: dict[str, Any], run_dir: Path | None = None, redact: bool = False) -> str:
    """A static, offline page: charts, round tables, the judge audit and a findings browser. All text is
    HTML-escaped; findings are data for a script that only ever sets ``textContent``, and the page's CSP admits
    that one script (by hash), images from ``data:`` URLs, and nothing from the network."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("breakfix", "report"), autoescape=select_autoescape(["j2", "html"]))
    rows = []
    for r in report["rounds"]:
        cells = _suite_cells(r["benchmarks"])
        builds = [
            {
                "quant": q,
                "cells": {
                    k: f"{v} (p={b['paired'][k]['p_value']:.3g})" if k in b.get("paired", {}) else v
                    for k, v in _suite_cells(b["benchmarks"]).items()
                },
                "asr": b["redteam"]["asr"],
                "asr_p": b.get("paired", {}).get("redteam", {}).get("p_value"),
                "targets_met": b.get("targets_met"),
                "file": b["file"],
            }
            for q, b in (r.get("builds") or {}).items()
        ]
        rows.append(
            {
                "round": r["round"],
                "cells": cells,
                "asr": r["redteam"]["asr"],
                "asr_corrected": _corrected(r["redteam"]["asr_corrected"]) if "asr_corrected" in r["redteam"] else "",
                "undetermined": r["redteam"].get("undetermined", 0),
                "attempts": r["redteam"]["attempts"],
                "errors": r["redteam"]["errors"],
                "curation": r.get("curation"),
                "training": r.get("training"),
                "builds": builds,
            }
        )
    findings, left_out = load_findings(run_dir, redact=redact)
    script, script_hash = _browser_script()
    source, cats, table = category_rounds(report)
    return env.get_template("report.html.j2").render(
        report=report,
        rows=rows,
        suites=list(report["rounds"][0]["benchmarks"]),
        charts={
            "suites": plot_suites(report),
            "heatmap": plot_heatmap(report),
            "techniques": plot_techniques(report),
            "tradeoff": plot_tradeoff(report),
            "prefill": plot_prefill(report),
            "candidates": plot_candidates(report),
        },
        candidates=candidate_rows(report),
        heat={"source": source, "cats": cats, "table": table},
        tradeoff=tradeoff_points(report),
        audit_tables=audit_tables(report["run"].get("judge_audit")),
        findings_json=script_json(findings),
        n_findings=len(findings),
        left_out=left_out,
        redact=redact,
        script=script,
        script_hash=script_hash,
        config=json.dumps(report["run"]["config"], indent=2),
    )
