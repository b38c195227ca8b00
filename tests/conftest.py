"""Shared fixtures: a tiny demo model built once per session into a temporary cache (a few seconds on CPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("BREAKFIX_NO_PROGRESS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

TINY = dict(vocab_size=512, hidden_size=64, layers=2, heads=2, intermediate_size=128, epochs=3.0, batch_size=32)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Phi-3 demo model (undertrained: it exercises the code paths, not the behaviour)."""
    from breakfix.demo.model import DemoModelRecipe, build_demo_model

    cache = tmp_path_factory.mktemp("cache")
    return build_demo_model(DemoModelRecipe(**TINY), cache_dir=cache, progress=False)


def small_config(model: Path) -> dict:
    """A small but whole cycle: five suites, three techniques, one fix round (about 20 s on 2 CPU cores)."""
    return {
        "name": "small",
        "model": {"path": str(model), "batch_size": 64},
        "world": "demo",  # a demo-world model at a path of its own: its world and judge are named
        "judge": "demo",  # (the defaults for a model dir: the files world and the refusal judge)
        "generation": {"max_new_tokens": 24},
        "redteam": {"techniques": ["direct", "template:roleplay_dan", "escalation"]},
        "benchmarks": {"suites": ["harmful", "jailbreak", "multiturn", "overrefusal", "capability"]},
        "training": {"sft": {"epochs": 1, "batch_size": 32}, "dpo": {"epochs": 1, "batch_size": 32}},
        "cycle": {"max_rounds": 1, "selection": {"limit": 48, "drift_prompts": 16}},  # small validation suites
    }


def start_run(config: Path, out: Path, **env: str) -> subprocess.Popen:
    """``breakfix run --config CONFIG --out OUT`` in a new process."""
    cmd = [sys.executable, "-m", "breakfix", "run", "--config", str(config), "--out", str(out)]
    return subprocess.Popen(
        cmd, env={**os.environ, "BREAKFIX_NO_PROGRESS": "1", **env}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


@pytest.fixture(scope="session")
def small_run(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """A finished small cycle, run once per session through the CLI: (config, run dir, report)."""
    import yaml

    root = tmp_path_factory.mktemp("small")
    config = root / "small.yaml"
    config.write_text(yaml.safe_dump(small_config(tiny_model)))
    out = root / "run"
    proc = start_run(config, out)
    log, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, log
    return config, out, json.loads((out / "report.json").read_text())
