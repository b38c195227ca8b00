"""What every job shares: the model, world and judge a config names (resolved once, through the registry), and the
helper models of a run (built once per run, not once per round)."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from breakfix import registry
from breakfix.backends import build_backend
from breakfix.backends.base import AsyncBackend, Backend, GenerationConfig, as_async
from breakfix.backends.hf import check_model_dir, gguf_to_hf, load_tokenizer
from breakfix.config import RunConfig
from breakfix.engine import AttackContext
from breakfix.errors import BreakfixError
from breakfix.judges import audit_judge, build_judge
from breakfix.judges.audit import load_labelled
from breakfix.store import CHECKPOINT, Store, write_json
from breakfix.types import Judge, content_key
from breakfix.world import World

Log = Callable[[str], None]

__all__ = [
    "Helpers",
    "Log",
    "RunContext",
    "attack_context",
    "judging_counts",
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


@dataclass
class RunContext:
    """What every stage of a cycle's round reads: the run's config, directory, log, world, judge, store and helper
    models. :meth:`stage` runs one stage of a round unless the store says it finished; :meth:`backend` is the one
    place a checkpoint dir becomes a backend."""

    cfg: RunConfig
    out: Path
    log: Log
    world: World
    judge: Judge
    store: Store
    helpers: Helpers
    gen: GenerationConfig = field(init=False)

    def __post_init__(self) -> None:
        self.gen = self.cfg.generation.config()

    def round_dir(self, r: int) -> Path:
        d = self.out / "rounds" / str(r)
        d.mkdir(parents=True, exist_ok=True)
        return d

    def stage(
        self, r: int, name: str, fn: Callable[[], Any], valid: Callable[[Any], bool] | None = None
    ) -> tuple[Any, float]:
        """Run stage ``name`` of round ``r`` unless it is finished (and its stored result still ``valid``); the
        result (as stored: JSON) and its seconds."""
        done = self.store.stage(r, name)
        if done is not None and (valid is None or valid(done["result"])):
            return done["result"], done["seconds"]
        started = time.perf_counter()
        result = fn()
        seconds = round(time.perf_counter() - started, 3)
        self.store.finish_stage(r, name, result, seconds)
        return result, seconds

    def backend(self, model_dir: Path) -> Backend | AsyncBackend:
        return build_backend(self.cfg.model.ref(model_dir), self.cfg.seed)

    def lazy_backend(self, model_dir: Path) -> LazyBackend:
        return LazyBackend(lambda: self.backend(model_dir))

    def same_checkpoint(self, r: int, model_dir: Path, ckpt: str) -> None:
        """Record round ``r``'s checkpoint id when the round starts; on a resume, refuse a checkpoint whose content
        changed since (its finished stages measured other weights)."""
        seen = self.store.stage(r, CHECKPOINT)
        if seen is None:
            self.store.finish_stage(r, CHECKPOINT, {"checkpoint_id": ckpt}, 0.0)
        elif seen["result"]["checkpoint_id"] != ckpt:
            raise BreakfixError(
                str(model_dir),
                None,
                f"round {r}'s checkpoint changed since this run measured it (content id "
                f"{seen['result']['checkpoint_id']}, now {ckpt}); use a new --out",
            )


def judging_counts(judging: Mapping[str, Any]) -> dict[str, int]:
    """A stage's judging account without the judge id (the round's ``judging`` block names it once)."""
    return {k: v for k, v in judging.items() if k != "judge"}


class LazyBackend:
    """A backend built when a stage first needs it (a finished stage loads no model), closed by :meth:`close`."""

    def __init__(self, make: Callable[[], Backend | AsyncBackend]) -> None:
        self._make = make
        self._backend: Backend | AsyncBackend | None = None

    def __call__(self) -> Backend | AsyncBackend:
        if self._backend is None:
            self._backend = self._make()
        return self._backend

    def close(self) -> None:
        """Close the backend if it was built (vLLM holds GPU memory that training needs)."""
        if self._backend is not None and hasattr(self._backend, "close"):
            self._backend.close()
        self._backend = None


def base_model(cfg: RunConfig, out: Path, resolved: Path | str | None, log: Log) -> Path:
    """M_0: a registered model is built (or taken from its cache) and copied into ``rounds/0/model``; a user's model
    dir or hub id (``resolved``, when the caller resolved it already) is used where it is."""
    if cfg.model_entry is None:  # a dir, a .gguf (made into a dir once), or a hub id (loaded by transformers)
        return Path(resolved if resolved is not None else resolve_model(cfg.model.path, log))
    cached = resolve_model(cfg.model.path, log)
    dest = out / "rounds" / "0" / "model"
    if not (dest / "config.json").exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(".model.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(cached, tmp)
        os.replace(tmp, dest)
    return dest


def claim_run(ctx: RunContext) -> None:
    """Bind the run directory to this config (a directory that holds another config's run is refused) and record
    the config and the world's splits with the run."""
    store, cfg = ctx.store, ctx.cfg
    cfg_key = content_key(cfg.model_dump(mode="json"))
    prev = store.get_meta("config_key")
    if prev is not None and prev != cfg_key:
        raise BreakfixError(
            str(ctx.out), "config",
            "run directory holds a run of a different config; use a new --out or the same config",
        )  # fmt: skip
    store.set_meta("config_key", cfg_key)
    store.set_meta("config", json.dumps(cfg.model_dump(mode="json")))
    describe = getattr(ctx.world, "describe", None)
    if describe is not None:  # the world's splits, recorded with the run
        world_info = describe(cfg.benchmarks.suites)
        store.set_meta("world", json.dumps(world_info))
        write_json(ctx.out / "world.json", world_info)
