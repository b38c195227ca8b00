"""The bench job: run checkpoints on the held-out suites of the run's World; what ``breakfix bench`` runs and what the
cycle runs each round."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from breakfix import registry
from breakfix.backends import build_backend
from breakfix.backends.base import AsyncBackend, Backend, GenerationConfig
from breakfix.checkpoints import checkpoint_id
from breakfix.config import DEFAULT_JUDGE_NOTE, ModelRef, RunConfig
from breakfix.engine import AttackContext, RunStats, execute
from breakfix.errors import BreakfixError
from breakfix.jobs.common import (
    Helpers,
    Log,
    RunContext,
    audit_judge,
    build_judge,
    build_world,
    check_audit_labels,
    check_model,
    judging_counts,
    resolve_model,
    spec_model_entry,
)  # fmt: skip
from breakfix.metrics import correct_scores, paired, score_suites
from breakfix.seeds.capability import capability_plan, load_capability
from breakfix.seeds.files import load_seeds
from breakfix.seeds.openings import SUITE_DEPTHS
from breakfix.seeds.public import load_public
from breakfix.store import Store, refuse_legacy_store, write_json
from breakfix.suites.prefill import prefill_plan
from breakfix.types import Attempt, Judge, Plan, RoundRecord, ScoredStage, SuiteScores, suite_scores
from breakfix.world import Split, World

__all__ = [
    "bench_job",
    "heldout_stage",
    "validate",
    "file_suite",
    "benchmark_attempts",
    "heldout_texts",
    "resolve_model",
    "score_suites",
    "suite_plans",
]


def suite_plans(
    world: World,
    suites: Sequence[str],
    simulated: bool = False,
    extra: dict[str, list[Plan]] | None = None,
    limit: int | Mapping[str, int | None] | None = None,
    seed: int = 0,
    split: Split = "heldout",
) -> dict[str, list[Plan]]:
    """The plans of each named suite, built by the registered suite from ``world`` (``extra`` replaces a suite's
    items: ``bench --suite NAME=loader:FILE``). A suite with no items is left out, so it is absent from the report,
    never zero. With ``simulated``, the ``multiturn`` suite is simulated conversations (a simulator model plays the
    user) instead of scripted openers. ``limit`` keeps at most that many items per suite (or, a mapping, per named
    suite), stratified by category.
    ``split`` picks the world's held-out items (the report's) or its validation items (the cycle's decisions)."""
    out = {}
    for name in suites:
        obj = registry.get("suite", name).obj
        plans = (extra or {}).get(name)
        if plans is None:
            plans = _plans(obj, world, simulated, split)
        if plans:
            out[name] = obj.sample(plans, limit.get(name) if isinstance(limit, Mapping) else limit, seed)
    return out


def _plans(obj: Any, world: World, simulated: bool, split: Split) -> list[Plan]:
    """A suite's plans of ``split``; a plug-in suite whose ``plans`` takes no ``split`` has held-out items only."""
    if split == "heldout":
        return obj.plans(world, simulated=simulated)
    params = inspect.signature(obj.plans).parameters
    if "split" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return obj.plans(world, simulated=simulated, split=split)
    return []


def file_suite(spec: str) -> tuple[str, list[Plan]]:
    """``NAME=<loader>:<file>`` (``bench --suite``): the suite ``NAME`` scored on that file's items, asked directly.
    ``capability`` reads a capability set (``mc:``, ``evals:``, ``qa:``); ``overrefusal`` a file with benign (VPRR)
    and harmful (IPRR) prompts, such as XSTest; the defect suites a file of harmful requests (``prefill`` at each of
    its depths)."""
    name, _, source = spec.partition("=")
    if not name or not source:
        raise BreakfixError(spec, "--suite", "use NAME or NAME=<loader>:<file>")
    if name == "capability":
        return name, [capability_plan(s) for s in load_capability(source)]
    if name in ("jailbreak", "multiturn", "xpia", "thirdparty", "ungroundedness"):
        raise BreakfixError(spec, "--suite", f"{name} is built from several sources; give them in a files: config "
                            "(--world CONFIG)")  # fmt: skip
    role = "any" if name == "overrefusal" else "harmful"
    seeds = [replace(s, split="heldout") for s in load_public(source, role=role)]
    if name == "prefill":  # every depth of each request (AdvBench's target strings open them)
        return name, [prefill_plan(s, d) for s in seeds for d in SUITE_DEPTHS]
    return name, [Plan("direct", s, (s.text,)) for s in seeds]


def heldout_texts(cfg: RunConfig, world: World, split: Split = "heldout") -> list[str]:
    """Every held-out prompt the run is scored on (each turn of each configured suite, and the ``prefill`` suite's
    openings), plus the prompts of ``curation.heldout_files``: the set that training data is decontaminated
    against. With ``split="validation"``, the prompts of the validation suites (``cycle.selection.suites``)."""
    suites = cfg.benchmarks.suites if split == "heldout" else cfg.cycle.selection.suites
    texts = {
        t
        for name, plans in suite_plans(world, suites, split=split).items()
        for p in plans
        for t in registry.get("suite", name).obj.texts(p)
    }
    for f in cfg.curation.heldout_files if split == "heldout" else ():
        texts |= {s.text for s in load_seeds(f)}
    return sorted(texts)


def benchmark_attempts(
    world: World,
    backend: Backend | AsyncBackend,
    judge: Judge,
    store: Store,
    *,
    checkpoint: str,
    round_: int,
    gen: GenerationConfig,
    suites: Sequence[str],
    simulator: Backend | AsyncBackend | None = None,
    simulator_turns: int = 3,
    stats: RunStats | None = None,
    extra: dict[str, list[Plan]] | None = None,
    limit: int | Mapping[str, int | None] | None = None,
    build: str | None = None,
    split: Split = "heldout",
    label: str | None = None,
) -> dict[str, list[Attempt]]:
    """Run one checkpoint on the held-out suites (or, with ``split="validation"``, the validation suites, filed as
    suite ``val:<suite>``); returns ``{suite: attempts}`` (stored generations are reused, and re-judged when
    ``judge`` has not judged them).

    Args:
        simulator: A model that plays the user in the ``multiturn`` suite (simulated conversations); None keeps the
            scripted openers.
        simulator_turns: User messages per simulated conversation.
        stats: Where to add what the engine did (generations made and reused, verdicts reused and re-judged).
        build: A quantized build's name: its attempts are filed as suite ``<suite>@<build>``, apart from the
            checkpoint's.
        label: The progress bars' label before each suite's name (default: ``round <r>: benchmark``).
    """
    ctx = AttackContext(
        target=backend,
        judge=judge,
        gen=gen,
        attacker=simulator,
        attacker_gen=GenerationConfig(max_new_tokens=128, do_sample=True, temperature=0.7, seed=gen.seed),
        simulator_turns=simulator_turns,
    )
    prefix = "val:" if split == "validation" else ""
    what = "validation" if split == "validation" else "benchmark"
    return {
        name: execute(
            plans,
            backend,
            judge,
            store,
            checkpoint=checkpoint,
            round_=round_,
            suite=prefix + (f"{name}@{build}" if build else name),
            gen=gen,
            label=f"{label or f'round {round_}: {what}'} {name}" + (f" ({build})" if build else ""),
            ctx=ctx,
            stats=stats,
        )
        for name, plans in suite_plans(
            world, suites, simulated=simulator is not None, extra=extra, limit=limit, seed=gen.seed, split=split
        ).items()
    }


def validate(
    ctx: RunContext, r: int, backend: Callable[[], Backend | AsyncBackend], ckpt: str, build: str | None = None,
    label: str | None = None,
) -> ScoredStage:  # fmt: skip
    """A checkpoint (or build) on the validation suites (``cycle.selection.suites``): scores, judging account and
    item ids, as stored."""
    stats = RunStats()
    sel = ctx.cfg.cycle.selection
    attempts = benchmark_attempts(
        ctx.world, backend(), ctx.judge, ctx.store, checkpoint=ckpt, round_=r, gen=ctx.gen, suites=sel.suites,
        stats=stats, limit=sel.limits(), build=build, split="validation", label=label,
    )  # fmt: skip
    return _scored(ctx, attempts, stats, "validation")


def heldout_stage(
    ctx: RunContext, r: int, backend: Callable[[], Backend | AsyncBackend], ckpt: str, build: str | None = None,
    pair_with: dict[str, list[Attempt]] | None = None,
) -> ScoredStage:  # fmt: skip
    """A checkpoint (or build) on the held-out suites (``benchmarks.suites``): scores, judging account and item ids
    (for re-judging), as stored, and with ``pair_with`` (another checkpoint's attempts by suite) the paired tests
    against it. For the report: no decision reads these."""
    stats = RunStats()
    b = ctx.cfg.benchmarks
    attempts = benchmark_attempts(
        ctx.world, backend(), ctx.judge, ctx.store, checkpoint=ckpt, round_=r, gen=ctx.gen, suites=b.suites,
        simulator=ctx.helpers.simulator, simulator_turns=b.simulator_turns, stats=stats, limit=b.limits(),
        build=build,
    )  # fmt: skip
    done = _scored(ctx, attempts, stats, "benchmarks")
    return done if pair_with is None else {**done, "paired": paired(attempts, pair_with)}


def _scored(ctx: RunContext, attempts: dict[str, list[Attempt]], stats: RunStats, key: str) -> ScoredStage:
    return {
        key: score_suites(attempts),
        "judging": stats.judging(ctx.judge.id),
        "items": {suite: [a.id for a in xs] for suite, xs in attempts.items()},
    }


def score_heldout(ctx: RunContext, rec: RoundRecord) -> dict[str, list[str]]:
    """Round ``rec.round``'s checkpoint on the held-out suites (stage ``benchmark``), into ``rec``; the item ids by
    suite (its builds are paired with them)."""
    r = rec.round
    backend = ctx.lazy_backend(Path(rec.checkpoint))
    done, rec.seconds["benchmark"] = ctx.stage(
        r, "benchmark", lambda: heldout_stage(ctx, r, backend, str(rec.checkpoint_id))
    )
    backend.close()
    rec.benchmarks = {k: SuiteScores.model_validate(v) for k, v in done["benchmarks"].items()}
    rec.judging = {**(rec.judging or {}), "benchmark": judging_counts(done["judging"])}
    ctx.log(bench_line(r, done["benchmarks"]).replace("benchmark:", f"round {r} held out:", 1))
    items: dict[str, list[str]] = done.get("items", {})
    return items


def bench_line(r: int, bench: Mapping[str, Any]) -> str:
    """A one-line summary of suite scores for the log."""
    parts = []
    for k, v in suite_scores(bench).items():
        if v.defect_rate is not None:
            parts.append(f"{k} {v.defect_rate:.3f}")
        elif v.vprr is not None:
            parts.append(f"VPRR {v.vprr:.3f} IPRR {v.iprr or 0.0:.3f}")
        elif v.score is not None:
            parts.append(f"capability {v.score:.3f}")
    return f"  benchmark: {', '.join(parts)}"


def bench_job(
    cfg: RunConfig,
    model: str,
    out: str | Path,
    suites: Sequence[str],
    baseline: str | None = None,
    log: Log = print,
    world: World | None = None,
    extra: dict[str, list[Plan]] | None = None,
    served: tuple[ModelRef, str] | None = None,
) -> dict[str, Any]:
    """Benchmark ``model`` (and ``baseline``, with a paired comparison); write ``out/bench.json``; return it.

    Generations stored in ``out/bench.db`` are reused; a judge that has not judged them re-judges them (each
    role's ``judging`` block says how many). Without a configured judge, a registered model's own judge scores it
    (and the rounds of a run that started from it) when every side shares one, and the refusal judge any other,
    with a line saying so."""
    refuse_legacy_store(Path(out) / "bench.db")
    world = world or build_world(cfg)
    specs = [("model", model)] + ([("baseline", baseline)] if baseline else [])
    resolved = [(role, spec, spec if served and role == "model" else resolve_model(spec, log)) for role, spec in specs]
    for role, _, path in resolved:  # bad paths fail before anything is written
        if not (served and role == "model"):
            check_model(cfg, path)
    if cfg.judge is None:
        owns = {(e.meta.get("judge") if e else None) for e in (spec_model_entry(spec) for _, spec in specs)}
        name = owns.pop() if len(owns) == 1 and None not in owns else "refusal"
        cfg = cfg.model_copy(update={"judge": name})
        if name == "refusal":
            log(DEFAULT_JUDGE_NOTE)
    judge = build_judge(cfg)
    check_audit_labels(cfg)
    gen = cfg.generation.config()
    simulator = Helpers(cfg).simulator
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "judge": judge.id, "suites": list(suites), "generation": gen.to_dict(), "config": cfg.model_dump(mode="json"),
    }  # fmt: skip
    attempts: dict[str, Any] = {}
    with Store(out / "bench.db", refuse_legacy=True) as store:
        for role, spec, path in resolved:
            if served and role == "model":  # a build served by an endpoint (a llama.cpp server): its file's id
                backend, ckpt = build_backend(served[0], cfg.seed), served[1]
            else:
                backend = build_backend(cfg.model.ref(path), cfg.seed)
                ckpt = checkpoint_id(path)
            log(f"benchmarking {role} {spec} ({ckpt}) with judge {judge.id}")
            stats = RunStats()
            attempts[role] = benchmark_attempts(
                world, backend, judge, store, checkpoint=ckpt, round_=0, gen=gen, suites=suites,
                simulator=simulator, simulator_turns=cfg.benchmarks.simulator_turns, stats=stats, extra=extra,
                limit=cfg.benchmarks.limits(),
            )  # fmt: skip
            scores = score_suites(attempts[role])
            result[role] = {
                "spec": spec, "path": str(path), "checkpoint": ckpt, "benchmarks": scores,
                "judging": stats.judging(judge.id),
                "items": {suite: [a.id for a in xs] for suite, xs in attempts[role].items()},  # for compare
            }  # fmt: skip
            log(
                f"  {stats.generated} generated, {stats.reused} reused: {stats.verdicts_reused} verdicts reused, "
                f"{stats.rejudged} re-judged"
            )
    if baseline:
        result["paired"] = paired(attempts["model"], attempts["baseline"])
    # every rate the judge decides, corrected for its error from its audit on human labels
    audit = audit_judge(cfg.judge_name, judge, world, cfg.judges.audit_labels, cfg.judges.audit_task)
    result["judge_audit"] = audit
    for role, _, _ in resolved:
        correct_scores(result[role]["benchmarks"], audit)
    write_json(out / "bench.json", result)
    return result
