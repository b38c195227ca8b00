"""What every job shares: the model, world and judge a config names (resolved once, through the registry), and the
helper models of a run (built once per run, not once per round)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

from breakfix import registry
from breakfix.backends import build_backend
from breakfix.backends.base import AsyncBackend, Backend, as_async
from breakfix.backends.hf import check_model_dir, gguf_to_hf, load_tokenizer
from breakfix.config import RunConfig
from breakfix.engine import AttackContext
from breakfix.errors import BreakfixError
from breakfix.judges import audit_judge, build_judge
from breakfix.judges.audit import load_labelled
from breakfix.types import Judge
from breakfix.world import World

Log = Callable[[str], None]

__all__ = [
    "Helpers",
    "Log",
    "attack_context",
    "audit_judge",
    "build_judge",
    "build_world",
    "check_audit_labels",
    "check_model",
    "resolve_model",
    "spec_model_entry",
]


def build_world(cfg: RunConfig) -> World:
    """The registered world the config draws from (``cfg.world_name``); a world registered ``configured`` (such as
    ``files``) also receives the config, whose sources it reads."""
    entry = registry.get("world", cfg.world_name)
    return entry.obj(cfg.seed, config=cfg) if entry.meta.get("configured") else entry.obj(cfg.seed)


def resolve_model(spec: str, log: Log) -> Path | str:
    """A registered model's name (built or loaded from its cache), ``RUN_DIR@r`` (round r's checkpoint of a run), a
    model dir, a ``.gguf`` file (made into a model dir once, cached), or a hub id."""
    if spec.endswith(".gguf"):
        log(f"reading (or taking the cached model dir of) {spec}")
        return gguf_to_hf(spec)
    entry = registry.find("model", spec)
    if entry is not None:
        log(f"building (or loading the cached) {spec} model")
        return Path(entry.obj())
    if "@" in spec:
        run, _, r = spec.rpartition("@")
        if r.isdigit() and Path(run).is_dir():
            model = Path(run) / "rounds" / r / "model"
            if model.is_dir():
                return model
            report = Path(run) / "report.json"  # round 0 of a user's model is that model's own path
            rounds = json.loads(report.read_text(encoding="utf-8"))["rounds"] if report.is_file() else []
            found = [x["checkpoint"] for x in rounds if x["round"] == int(r)]
            if not found:
                raise BreakfixError(spec, None, f"run has no checkpoint for round {r}")
            return Path(found[0])
    return Path(spec) if Path(spec).exists() or spec.startswith((".", "/")) else spec


def spec_model_entry(spec: str) -> registry.Entry | None:
    """The registered model a ``--model`` spec names, directly or as a round of a run that started from it."""
    entry = registry.find("model", spec)
    if entry is not None:
        return entry
    run, sep, r = spec.rpartition("@")
    report = Path(run) / "report.json"
    if not (sep and r.isdigit() and report.is_file()):
        return None
    try:
        return registry.find("model", json.loads(report.read_text(encoding="utf-8"))["run"]["model"])
    except (ValueError, KeyError, TypeError):
        return None


def check_model(cfg: RunConfig, path: Path | str) -> None:
    """Check a local model dir and its tokenizer before anything is written (a hub id is left to transformers)."""
    if isinstance(path, Path):
        check_model_dir(path, allow_pickle=cfg.model.allow_pickle)  # a path that does not exist: one line
        load_tokenizer(path, trust_remote_code=cfg.model.trust_remote_code)


def check_audit_labels(cfg: RunConfig) -> None:
    """Read ``judges.audit_labels`` before anything is written: a bad file fails now, not at the end of a run."""
    if cfg.judges.audit_labels is not None:
        load_labelled(cfg.judges.audit_labels, task=cfg.judges.audit_task)


class Helpers:
    """A run's helper models: the red team's attacker and converter model, the benchmark's simulated user, and
    curation's translator (default: the converter model). Each is built when first asked for, then kept for the
    run, not rebuilt each round; each is None when the config names none."""

    def __init__(self, cfg: RunConfig) -> None:
        self.cfg = cfg

    def _make(self, ref: Any) -> Any:
        return build_backend(ref, self.cfg.seed) if ref is not None else None

    @cached_property
    def attacker(self) -> Backend | AsyncBackend | None:
        return self._make(self.cfg.redteam.attacker)

    @cached_property
    def converter_model(self) -> Backend | AsyncBackend | None:
        return self._make(self.cfg.redteam.converter_model)

    @cached_property
    def simulator(self) -> Backend | AsyncBackend | None:
        return self._make(self.cfg.benchmarks.simulator)

    @cached_property
    def translator(self) -> AsyncBackend | None:
        own = self._make(self.cfg.curation.translator)
        model = own if own is not None else self.converter_model
        return as_async(model) if model is not None else None


def attack_context(cfg: RunConfig, target: Backend | AsyncBackend, judge: Judge, helpers: Helpers) -> AttackContext:
    """The red team's models for a run config: ``target``, ``judge``, and the run's attacker and converter models
    with their settings."""
    rt = cfg.redteam
    return AttackContext(
        target=target,
        judge=judge,
        gen=cfg.generation.config(),
        attacker=helpers.attacker,
        converter_model=helpers.converter_model,
        attacker_gen=rt.attacker_generation.config(),
        crescendo_turns=rt.crescendo.max_turns,
        crescendo_backtracks=rt.crescendo.max_backtracks,
        pair_iterations=rt.pair.iterations,
        pair_streams=rt.pair.streams,
        concurrency=rt.concurrency,
    )
