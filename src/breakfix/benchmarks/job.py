"""What ``breakfix bench`` does: benchmark a checkpoint (and optionally a baseline) on the held-out suites."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from breakfix.errors import BreakfixError


def resolve_model(spec: str, log: Callable[[str], None]) -> Path | str:
    """``demo``, ``RUN_DIR@r`` (round r's checkpoint of a run), a model dir, or a hub id."""
    if spec == "demo":
        from breakfix.demo.model import build_demo_model

        log("building (or loading the cached) demo model")
        return build_demo_model()
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


def bench_job(
    cfg: Any,
    model: str,
    out: str | Path,
    suites: Sequence[str],
    baseline: str | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Benchmark ``model`` (and ``baseline``, with a paired comparison); write ``out/bench.json``; return it."""
    from breakfix.backends import build_backend
    from breakfix.backends.base import GenerationConfig
    from breakfix.backends.hf import check_model_dir
    from breakfix.benchmarks.gate import paired
    from breakfix.benchmarks.suites import benchmark_attempts, score_suites
    from breakfix.cycle import checkpoint_id
    from breakfix.demo.world import DemoWorld
    from breakfix.judges import build_judge
    from breakfix.store import Store

    world = DemoWorld(cfg.seed)
    judge = build_judge(cfg)
    gen = GenerationConfig(**cfg.generation.model_dump())
    specs = [("model", model)] + ([("baseline", baseline)] if baseline else [])
    resolved = [(role, spec, resolve_model(spec, log)) for role, spec in specs]
    for _, _, path in resolved:  # bad paths fail before anything is written
        if isinstance(path, Path):
            check_model_dir(path, allow_pickle=cfg.model.allow_pickle)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"judge": judge.id, "suites": list(suites), "generation": gen.to_dict()}
    attempts: dict[str, Any] = {}
    with Store(out / "bench.db") as store:
        for role, spec, path in resolved:
            backend = build_backend(cfg.model.ref(path), cfg.seed)
            ckpt = checkpoint_id(path)
            log(f"benchmarking {role} {spec} ({ckpt})")
            sim = cfg.benchmarks.simulator
            attempts[role] = benchmark_attempts(
                world, backend, judge, store, checkpoint=ckpt, round_=0, gen=gen, suites=suites,
                simulator=build_backend(sim, cfg.seed) if sim else None,
                simulator_turns=cfg.benchmarks.simulator_turns,
            )  # fmt: skip
            scores = score_suites(attempts[role])
            result[role] = {"spec": spec, "path": str(path), "checkpoint": ckpt, "benchmarks": scores}
    if baseline:
        result["paired"] = paired(attempts["model"], attempts["baseline"])
    tmp = out / "bench.json.tmp"
    tmp.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, out / "bench.json")
    return result
