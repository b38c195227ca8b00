"""Shared fixtures: a tiny demo model built once per session into a temporary cache (a few seconds on CPU)."""

from __future__ import annotations

import os
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
