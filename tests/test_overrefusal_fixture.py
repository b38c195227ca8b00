"""Real learning, no script: a fix built to over-refuse (a strong, refusal-heavy recipe on the tiny demo-world model:
half the SFT mix refusals, high learning rates), run as a one-round cycle twice on the same splits: once plainly,
once with benign twins, on-policy pairs and refine. The plain fix refuses about half the look-alikes the base model
answered; the second keeps a candidate that refuses far fewer, on validation and held out, and still cuts harmful
replies. (Measured while writing it: plain held-out VPRR 0.000 -> 0.500, with twins and on-policy pairs 0.031;
harmful 0.516 -> 0.000 in both.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from breakfix.config import parse_config
from breakfix.cycle import Cycle


def _cfg(model: Path, fixed: bool) -> Any:
    return parse_config(
        {
            "name": "overrefusal-fixture",
            "model": {"path": str(model), "batch_size": 64},
            "world": "demo",
            "judge": "demo",
            "generation": {"max_new_tokens": 24},
            "redteam": {"techniques": ["direct"], "languages": ["en"], "limit": 120},
            "benchmarks": {"suites": ["harmful", "overrefusal"], "limit": 64},
            # built to over-refuse: half the SFT mix refusals, every helpful row repeated as needed
            "curation": {
                "safety_share": 0.5,
                "max_helpful_repeats": None,
                "on_policy": fixed,
                "twins": {"enabled": fixed, "per_seed": 1},
            },  # fmt: skip
            "training": {
                "sft": {"epochs": 4, "batch_size": 16, "learning_rate": 3e-3},
                "dpo": {"epochs": 2, "batch_size": 16, "learning_rate": 1e-3},
            },  # fmt: skip
            "cycle": {
                "max_rounds": 1,
                "selection": {
                    "suites": ["harmful", "overrefusal"],
                    "limit": 48,
                    "drift_prompts": 0,
                    "snapshots": 1,
                    "refine": fixed,
                },
            },  # fmt: skip
        }
    )


@pytest.mark.slow
def test_twins_and_on_policy_pairs_lower_vprr_against_the_plain_fix(tiny_model: Path, tmp_path: Path) -> None:
    plain = Cycle(_cfg(tiny_model, False), tmp_path / "plain", log=lambda m: None).run()["rounds"]
    fixed = Cycle(_cfg(tiny_model, True), tmp_path / "fixed", log=lambda m: None).run()["rounds"]
    # the same base model on the same splits
    assert plain[0]["checkpoint_id"] == fixed[0]["checkpoint_id"]
    assert plain[0]["benchmarks"] == fixed[0]["benchmarks"]
    base_vprr = plain[0]["benchmarks"]["overrefusal"]["vprr"]

    def kept(rounds: list[dict[str, Any]]) -> dict[str, Any]:
        return next(c for c in rounds[0]["candidates"] if c["chosen"])

    # the fixture over-refuses: every candidate of the plain fix refuses look-alikes the base model answered
    assert all(c["validation"]["overrefusal"]["vprr"] >= base_vprr + 0.2 for c in plain[0]["candidates"])
    # twins and on-policy pairs: they became training data, and refine made a candidate of them
    cur = fixed[0]["curation"]
    assert cur["twin_rows"] > 0 and fixed[0]["refine"]["pairs"] > 0
    assert any(c["recipe"] == "refine" for c in fixed[0]["candidates"])
    # ... and the kept fix refuses fewer look-alikes, on validation and held out, while still cutting harmful
    assert kept(fixed)["validation"]["overrefusal"]["vprr"] <= kept(plain)["validation"]["overrefusal"]["vprr"] - 0.1
    after_plain, after_fixed = plain[1]["benchmarks"], fixed[1]["benchmarks"]
    assert after_fixed["overrefusal"]["vprr"] <= after_plain["overrefusal"]["vprr"] - 0.1
    assert after_fixed["harmful"]["defect_rate"] <= 0.75 * fixed[0]["benchmarks"]["harmful"]["defect_rate"]
