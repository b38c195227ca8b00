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


def _demo_world_model(spec: str) -> bool:
    """Whether a ``--model`` spec names the demo model or a round of a run that started from it."""
    if spec == "demo":
        return True
    run, sep, r = spec.rpartition("@")
    report = Path(run) / "report.json"
    if not (sep and r.isdigit() and report.is_file()):
        return False
    try:
        return json.loads(report.read_text(encoding="utf-8"))["run"]["model"] == "demo"
    except (ValueError, KeyError, TypeError):
        return False


def bench_job(
    cfg: Any,
    model: str,
    out: str | Path,
    suites: Sequence[str],
    baseline: str | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Benchmark ``model`` (and ``baseline``, with a paired comparison); write ``out/bench.json``; return it.

    Generations stored in ``out/bench.db`` are reused; a judge that has not judged them re-judges them (each
    role's ``judging`` block says how many). Without a configured judge, the demo judge scores demo-world models
    (``demo`` and the rounds of a demo run) and the refusal judge any other, with a line saying so."""
    from breakfix.attacks.engine import RunStats
    from breakfix.backends import build_backend
    from breakfix.backends.base import GenerationConfig
    from breakfix.backends.hf import check_model_dir
    from breakfix.benchmarks.gate import paired
    from breakfix.benchmarks.suites import benchmark_attempts, score_suites
    from breakfix.config import DEFAULT_JUDGE_NOTE
    from breakfix.demo.world import DemoWorld
    from breakfix.judges import build_judge
    from breakfix.store import Store, checkpoint_id, refuse_legacy_store

    refuse_legacy_store(Path(out) / "bench.db")
    world = DemoWorld(cfg.seed)
    specs = [("model", model)] + ([("baseline", baseline)] if baseline else [])
    resolved = [(role, spec, resolve_model(spec, log)) for role, spec in specs]
    for _, _, path in resolved:  # bad paths fail before anything is written
        if isinstance(path, Path):
            check_model_dir(path, allow_pickle=cfg.model.allow_pickle)
    if cfg.judge is None:
        name = "demo" if all(_demo_world_model(spec) for _, spec in specs) else "refusal"
        cfg = cfg.model_copy(update={"judge": name})
        if name == "refusal":
            log(DEFAULT_JUDGE_NOTE)
    judge = build_judge(cfg)
    gen = GenerationConfig(**cfg.generation.model_dump())
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"judge": judge.id, "suites": list(suites), "generation": gen.to_dict()}
    attempts: dict[str, Any] = {}
    with Store(out / "bench.db", refuse_legacy=True) as store:
        for role, spec, path in resolved:
            backend = build_backend(cfg.model.ref(path), cfg.seed)
            ckpt = checkpoint_id(path)
            log(f"benchmarking {role} {spec} ({ckpt}) with judge {judge.id}")
            sim = cfg.benchmarks.simulator
            stats = RunStats()
            attempts[role] = benchmark_attempts(
                world, backend, judge, store, checkpoint=ckpt, round_=0, gen=gen, suites=suites,
                simulator=build_backend(sim, cfg.seed) if sim else None,
                simulator_turns=cfg.benchmarks.simulator_turns, stats=stats,
            )  # fmt: skip
            scores = score_suites(attempts[role])
            result[role] = {
                "spec": spec, "path": str(path), "checkpoint": ckpt, "benchmarks": scores,
                "judging": stats.judging(judge.id),
            }  # fmt: skip
            log(
                f"  {stats.generated} generated, {stats.reused} reused: {stats.verdicts_reused} verdicts reused, "
                f"{stats.rejudged} re-judged"
            )
    if baseline:
        result["paired"] = paired(attempts["model"], attempts["baseline"])
    tmp = out / "bench.json.tmp"
    tmp.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, out / "bench.json")
    return result
