"""The red-team job: attack a checkpoint with every configured technique, judge, and extract findings; what
``breakfix redteam`` runs and what the cycle runs each round.

It streams: attempts go to the store as they finish, findings to ``findings.jsonl``, and the summary is tallied on
the way, so memory stays flat however many attempts a run makes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from itertools import chain
from pathlib import Path
from typing import Any

from breakfix import aio, registry
from breakfix.attacks.prefill import expand_auto
from breakfix.attacks.templates import TEMPLATES, load_pyrit_templates
from breakfix.backends import build_backend
from breakfix.checkpoints import checkpoint_id
from breakfix.config import RunConfig
from breakfix.curation.datasets import read_jsonl
from breakfix.curation.pairs import full_reply
from breakfix.engine import AttackContext, RunStats, arun, iter_plans
from breakfix.errors import BreakfixError
from breakfix.jobs.common import (
    Helpers,
    Log,
    RunContext,
    attack_context,
    build_judge,
    build_world,
    check_model,
    judging_counts,
    resolve_model,
)
from breakfix.metrics import Tally, summarize
from breakfix.seeds.files import load_seeds
from breakfix.store import Store, refuse_legacy_store, write_json
from breakfix.types import Attempt, Finding, RedTeamSummary, RoundRecord, Seed, is_defect, to_finding
from breakfix.world import World, stratified

__all__ = [
    "Tally", "aredteam", "is_defect", "redteam", "redteam_job", "redteam_seeds", "redteam_techniques", "summarize",
    "to_finding",
]  # fmt: skip


async def aredteam(
    seeds: Sequence[Seed],
    techniques: Sequence[str],
    ctx: AttackContext,
    store: Store,
    *,
    checkpoint: str,
    round_: int,
    findings_path: str | Path | None = None,
    seed_value: int = 0,
    label: str | None = None,
    suite: str = "redteam",
) -> tuple[dict[str, Any], RunStats]:
    """Attack every seed with every technique; write findings (harmful compliances and benign over-refusals) to
    ``findings_path`` as JSONL, and return the summary and the engine's stats.

    Harmful seeds measure attack success; benign seeds under the same wrappers measure over-refusal (adversarial
    benign prompts, as in WildJailbreak). ``suite`` is what the store files the attempts under (``redteam@q4_k_m`` for
    a quantized build's red team). Benign twins (seeds of kind ``twin``) are asked plainly (``direct`` only). The
    store records which attempts this run asked for (:meth:`Store.record_ran`), so that curation reads this run's
    attempts only, not others of the same round and suite that the store holds.
    """
    tally = Tally()
    out = None
    tmp = None
    if findings_path is not None:
        tmp = Path(f"{findings_path}.tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        out = open(tmp, "w", encoding="utf-8")  # noqa: SIM115 - closed below

    ran: list[str] = []  # the attempts this run asked for: curation reads these, not the round's whole store

    def on_attempt(a: Attempt) -> None:
        ran.append(a.id)
        tally.add(a)
        if out is not None and is_defect(a):
            out.write(json.dumps(to_finding(a).to_dict(), ensure_ascii=False) + "\n")

    # benign twins are asked plainly: they probe over-refusal of look-alikes, not attacks
    plain = [s for s in seeds if s.meta.get("kind") != "twin"]
    twins = [s for s in seeds if s.meta.get("kind") == "twin"]
    try:
        stats = await arun(
            chain(iter_plans(plain, techniques, seed_value), iter_plans(twins, ["direct"], seed_value)),
            ctx,
            store,
            checkpoint=checkpoint,
            round_=round_,
            suite=suite,
            total=len(plain) * len(techniques) + len(twins),
            label=label or f"round {round_}: red team",
            on_attempt=on_attempt,
        )
    finally:
        if out is not None:
            out.close()
    store.record_ran(round_, suite, ran)
    if tmp is not None:
        os.replace(tmp, Path(findings_path))  # type: ignore[arg-type]
    return tally.summary(), stats


def redteam(*args: Any, **kwargs: Any) -> tuple[dict[str, Any], RunStats]:
    """Blocking form of :func:`aredteam`."""

    return aio.run(aredteam(*args, **kwargs))


def earlier_replies(ctx: RunContext, r: int) -> dict[str, str]:
    """The checkpoints' harmful replies of rounds before ``r`` (their ``findings.jsonl``), by seed id, the latest
    round's first: the prefill attack's openings from the model's own defects."""
    out: dict[str, str] = {}
    for k in range(r - 1, -1, -1):
        path = ctx.round_dir(k) / "findings.jsonl"
        for f in (Finding(**row) for row in (read_jsonl(path) if path.is_file() else [])):
            if f.category != "benign" and not f.build:
                out.setdefault(f.seed_id, full_reply(f))
    return out


def redteam_round(
    ctx: RunContext, r: int, backend: Callable[[], Any], ckpt: str, seeds: Sequence[Seed], techniques: Sequence[str],
    rec: RoundRecord,
) -> RedTeamSummary:  # fmt: skip
    """Round ``r``'s red team of its checkpoint (stage ``redteam``; findings in ``rounds/<r>/findings.jsonl``), into
    ``rec``; the prefill attack opens with the model's own harmful replies of earlier rounds."""

    def do_redteam() -> dict[str, Any]:
        actx = attack_context(ctx.cfg, backend(), ctx.judge, ctx.helpers)
        actx.replies = earlier_replies(ctx, r)
        summary, stats = redteam(
            list(seeds), list(techniques), actx, ctx.store, checkpoint=ckpt, round_=r,
            findings_path=ctx.round_dir(r) / "findings.jsonl", seed_value=ctx.cfg.seed,
        )  # fmt: skip
        return {"redteam": summary, "judging": stats.judging(ctx.judge.id)}

    done, rec.seconds["redteam"] = ctx.stage(r, "redteam", do_redteam)
    red = rec.redteam = RedTeamSummary.model_validate(done["redteam"])
    rec.judging = {**(rec.judging or {}), "redteam": judging_counts(done["judging"])}
    ctx.log(f"  red team: {red.attempts} attempts, ASR {red.asr:.3f}, {red.errors} errors")
    return red


def redteam_seeds(cfg: RunConfig, world: World) -> tuple[list[Seed], str]:
    """The red team's seeds and where they came from, for ``breakfix redteam`` and the cycle alike: the files of
    ``redteam.seeds`` in ``redteam.languages`` (else the world's red-team split), after registering the PyRIT
    templates of ``redteam.template_paths``. Bad files fail here, before anything is written."""
    rt = cfg.redteam
    for path in rt.template_paths:
        load_pyrit_templates(path)
    for (
        t
    ) in rt.effective_techniques():  # a PyRIT template by name: found now, before any model loads or file is written
        family, _, arg = t.partition(":")
        if family == "template" and arg.startswith("pyrit/") and arg not in TEMPLATES:
            try:
                load_pyrit_templates(None, only=arg.split("/", 1)[1])
            except KeyError as e:
                raise BreakfixError("config", "redteam.techniques", str(e).strip("\"'")) from None
            except BreakfixError as e:
                raise BreakfixError("config", "redteam.techniques", f"{t}: {e.reason}") from None
    if rt.seeds:
        seeds = [s for path in rt.seeds for s in load_seeds(path, language=rt.languages[0])]
        seeds = [s for s in seeds if s.language in rt.languages]
        source = ", ".join(rt.seeds)
    else:
        seeds = world.redteam_seeds(rt.languages)
        source = f"{world.name} world (red-team split)"
    if not seeds:
        raise BreakfixError(source, "redteam.languages", f"no seeds in languages {rt.languages}")
    if rt.limit is not None and len(seeds) > rt.limit:
        seeds = limit_seeds(seeds, rt.limit, cfg.seed)
        source += f" (a stratified sample of {rt.limit})"
    return seeds, source


def seeds_with_twins(cfg: RunConfig, world: World, log: Log = print) -> tuple[list[Seed], str, dict[str, Any]]:
    """The red team's seeds (:func:`redteam_seeds`) followed by the benign twins of its harmful ones
    (:func:`twin_seeds`), where they came from, and the twins' account."""
    seeds, source = redteam_seeds(cfg, world)
    twins, twin_info = twin_seeds(cfg, world, seeds, log)
    if twins:
        source += f", and {len(twins)} benign twins of its harmful seeds"
    return seeds + twins, source, twin_info


def twins_on(cfg: RunConfig, world: World) -> bool:
    """Whether the run makes benign twins: ``curation.twins.enabled``; by default, for the world's red-team split
    (not for seeds the user named in ``redteam.seeds``), unless that split already holds look-alikes of its harmful
    seeds (a world with ``own_twins``, such as the demo's)."""
    on = cfg.curation.twins.enabled
    return (not getattr(world, "own_twins", False) and not cfg.redteam.seeds) if on is None else on


def twin_seeds(
    cfg: RunConfig, world: World, seeds: Sequence[Seed], log: Log = print
) -> tuple[list[Seed], dict[str, Any]]:
    """Benign twins of the harmful ``seeds`` (``curation.twins``: the built-in lexicon, or the ``generator`` model),
    decontaminated against the held-out and validation prompts, and what was made and dropped. No twins when
    :func:`twins_on` says so."""
    tw = cfg.curation.twins
    if not twins_on(cfg, world):
        return [], {}
    from breakfix.curation.decontam import HeldoutIndex, decontaminate
    from breakfix.curation.twins import TwinStats, allm_twins, builtin_twins
    from breakfix.jobs.bench import heldout_texts

    stats = TwinStats()
    harmful = [s for s in seeds if s.harmful]
    if tw.generator is None:
        twins = builtin_twins(harmful, tw.per_seed, tw.kinds, cfg.seed, stats)
    else:
        from breakfix.backends import as_async

        llm = as_async(build_backend(tw.generator, cfg.seed))
        log(f"twins: {tw.generator.model or tw.generator.path} writes {tw.per_seed} per harmful seed")
        twins = aio.run(allm_twins(harmful, llm, tw.per_seed, tw.kinds, cfg.seed, stats))
    try:
        held = heldout_texts(cfg, world) + heldout_texts(cfg, world, split="validation")
    except BreakfixError:
        if not cfg.redteam.seeds:
            raise
        # the user's own seeds, and a world with no suites of its own to hold out: the held-out files only
        held = [s.text for f in cfg.curation.heldout_files for s in load_seeds(f)]
    index = HeldoutIndex(held)
    kept, reasons = decontaminate(twins, key=lambda t: t.text, index=index)
    for reason, n in reasons.items():
        stats.dropped[f"overlaps validation or held out ({reason})"] += n
    ids = {t.id for t in kept}
    for t in twins:
        if t.id not in ids:
            stats.made[t.meta["twin_kind"]] -= 1
    return kept, {"generator": "builtin" if tw.generator is None else "model", **stats.to_dict()}


def limit_seeds(seeds: Sequence[Seed], n: int, seed: int) -> list[Seed]:
    """At most ``n`` seeds: up to a third benign probes (the over-refusal contrast that curation needs; one stratum
    among fourteen would get a fourteenth), the rest harmful, each stratified by category."""
    benign = [s for s in seeds if not s.harmful]
    harmful = [s for s in seeds if s.harmful]
    k = min(len(benign), n // 3) if harmful else min(len(benign), n)
    k = max(k, n - len(harmful))
    return stratified(harmful, lambda s: s.category, n - k, seed) + stratified(benign, lambda s: s.category, k, seed)


def redteam_techniques(cfg: RunConfig, world: World) -> list[str]:
    """The configured techniques, plus ``template:<name>`` and ``opener:<name>`` for each template and opener of the
    world's red-team split (a world with them, such as ``files``; they are added to the run-local view of the
    registry, :func:`breakfix.registry.run_local`, which the caller holds open for the run; the held-out ones
    never)."""
    techniques = expand_auto(cfg.redteam.effective_techniques())  # prefill:auto: one technique per depth
    if cfg.redteam.seeds:
        return techniques
    extra = []
    for t in getattr(world, "redteam_templates", list)():
        registry.add_local("template", t.name, t, origin=f"{world.name} world")
        extra.append(f"template:{t.name}")
    for name, text in getattr(world, "redteam_openers", dict)().items():
        registry.add_local("opener", name, text, origin=f"{world.name} world")
        extra.append(f"opener:{name}")
    return list(dict.fromkeys(techniques + extra))


def _target(cfg: RunConfig, log: Log, resolved: Path | str | None = None) -> tuple[Any, str]:
    """The target backend and its checkpoint id, from ``redteam.target`` or ``model`` (``resolved``: the model
    already resolved, else resolved here). Weights on this machine (a backend registered ``local``) get the content id
    of their files; anything else (an endpoint) its kind and name."""
    ref = cfg.redteam.target
    if ref is None:
        ref = cfg.model.ref(resolved if resolved is not None else resolve_model(cfg.model.path, log))
    local = registry.get("backend", ref.kind).meta.get("local")
    return build_backend(ref, cfg.seed), checkpoint_id(
        ref.path or ""
    ) if local else f"{ref.kind}:{ref.model or ref.path}"


def redteam_job(cfg: RunConfig, out: str | Path, log: Log = print, world: World | None = None) -> dict[str, Any]:
    """What ``breakfix redteam`` does: attack the configured target with the configured seeds and techniques, store
    every attempt in ``out/run.db``, write ``out/findings.jsonl`` and ``out/redteam.json``, and return the summary.
    Re-running on the same ``out`` reuses every stored generation (and verdict, when the judge is the same). What the
    job adds to the registry (templates, openers) is a run-local view, gone when it returns."""
    with registry.run_local():
        return _redteam_job(cfg, out, log, world)


def _redteam_job(cfg: RunConfig, out: str | Path, log: Log, world: World | None) -> dict[str, Any]:
    refuse_legacy_store(Path(out) / "run.db")
    resolved = None  # the model is resolved once: here when it is a path (checked first), else with the target
    if cfg.redteam.target is None and cfg.model_entry is None:  # a bad model path is named before the seeds are read
        resolved = resolve_model(cfg.model.path, log)
        check_model(cfg, resolved)
    world = world or build_world(cfg)
    seeds, source, twin_info = seeds_with_twins(cfg, world, log)
    techniques = redteam_techniques(cfg, world)
    target, checkpoint = _target(cfg, log, resolved)  # a bad model path fails here, before anything is written
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = attack_context(cfg, target, build_judge(cfg), Helpers(cfg))
    if note := cfg.judge_note():
        log(note)
    log(f"red team: {len(seeds)} seeds x {len(techniques)} techniques against {target.id} (judge {ctx.judge.id})")
    with Store(out / "run.db", refuse_legacy=True) as store:
        store.set_meta("config", json.dumps(cfg.model_dump(mode="json")))  # provenance, and `breakfix curate` reads it
        summary, stats = redteam(
            seeds,
            techniques,
            ctx,
            store,
            checkpoint=checkpoint,
            round_=0,
            findings_path=out / "findings.jsonl",
            seed_value=cfg.seed,
            label="red team",
        )
    result = {
        "target": target.id,
        "checkpoint": checkpoint,
        "judge": ctx.judge.id,
        "seeds": len(seeds),
        "seed_source": source,
        "twins": twin_info,
        "techniques": techniques,
        "persona": cfg.redteam.persona,
        "run": {
            "planned": stats.planned,
            "reused": stats.reused,
            "generated": stats.generated,
            "verdicts_reused": stats.verdicts_reused,
            "rejudged": stats.rejudged,
            "seconds": round(stats.seconds, 3),
            "attempts_per_s": round(stats.generated / stats.seconds, 2) if stats.seconds else 0.0,
        },
        "summary": summary,
    }
    backend_stats = getattr(target, "stats", None)
    if backend_stats:
        result["run"]["endpoint"] = dict(backend_stats)
    write_json(out / "redteam.json", result)
    return result
