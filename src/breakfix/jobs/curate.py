"""The curate job: one round's training data from judged red-team attempts (or a findings file); what
``breakfix curate`` runs and what the cycle runs each round."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from breakfix.backends import build_backend
from breakfix.backends.base import AsyncBackend, as_async
from breakfix.checkpoints import checkpoint_id
from breakfix.config import RunConfig, parse_config
from breakfix.curation.datasets import load_helpful, read_jsonl, write_dataset
from breakfix.curation.decontam import HeldoutIndex
from breakfix.curation.pipeline import BenignAnswers, CurationResult, curate, helped, on_policy_pairs
from breakfix.curation.responses import DEFAULT_CONSTITUTION, Responder, ResponseChain
from breakfix.curation.templates import TemplateBank
from breakfix.engine import RunStats, execute, judged_attempts, plans_for
from breakfix.errors import BreakfixError
from breakfix.jobs.bench import heldout_texts
from breakfix.jobs.common import Helpers, Log, RunContext, build_judge, build_world, resolve_model
from breakfix.seeds.jsonl import iter_jsonl
from breakfix.store import Store, write_json
from breakfix.text import prompt_text
from breakfix.types import (
    Attempt,
    ChatRow,
    CurationSummary,
    DPORow,
    Finding,
    Judge,
    RoundRecord,
    Seed,
    SFTRow,
    is_defect,
    to_finding,
)
from breakfix.world import World


def template_bank(cfg: RunConfig) -> TemplateBank:
    """The configured templates over the base bank: a registered model's own refusals (its voice: the demo model's
    are the demo world's), the built-in bank otherwise."""
    entry = cfg.model_entry
    refusals = entry.meta.get("refusals") if entry is not None else None
    return TemplateBank.load(cfg.curation.templates, TemplateBank(refusals) if refusals else None)


def response_chain(cfg: RunConfig, judge: Judge, references: dict[str, str]) -> ResponseChain:
    """The configured safe-response chain."""
    responder = None
    rc = cfg.curation.responder
    if rc is not None:
        constitution = Path(rc.constitution).read_text(encoding="utf-8") if rc.constitution else DEFAULT_CONSTITUTION
        responder = Responder(
            as_async(build_backend(rc.model, cfg.seed)),
            constitution,
            revise=rc.revise,
            gen=rc.generation.config(),
        )
    return ResponseChain(
        cfg.curation.responses,
        templates=template_bank(cfg),
        judge=judge,
        responder=responder,
        references=references,
    )


def curation_input(a: Attempt) -> bool:
    """The red-team attempts curation reads: defects (the findings), the plain ``direct`` answers (for
    self-distillation), benign probes (contrast pairs) and seeds with reference answers. The rest stream past."""
    return is_defect(a) or a.technique == "direct" or not a.seed.harmful or bool(a.seed.meta.get("reference"))


def round_findings(
    store: Store, judge: Judge, r: int, builds: Sequence[str] = ()
) -> tuple[list[Finding], list[Attempt], RunStats]:
    """Round ``r``'s findings and the attempts curation reads with them, judged by ``judge`` (stored verdicts
    reused), in the order the red team stored them. The findings of each quantized build in ``builds`` (its red team
    is stored as suite ``redteam@<build>``) follow the checkpoint's, marked with the build; the attempts are the
    checkpoint's. Only the attempts that the round's last red team asked for are read (:meth:`Store.ran`)."""
    attempts, stats = judged_attempts(store, judge, r, "redteam", keep=curation_input, last_run=True)
    findings = [to_finding(a) for a in attempts if is_defect(a)]
    for b in builds:
        got, _ = judged_attempts(store, judge, r, f"redteam@{b}", keep=is_defect, last_run=True)
        findings += [replace(to_finding(a), build=b) for a in got]
    return findings, attempts, stats


def curate_round(
    cfg: RunConfig,
    judge: Judge,
    *,
    round_: int,
    findings: Sequence[Finding],
    attempts: Sequence[Attempt] = (),
    references: dict[str, str] | None = None,
    helpful: Sequence[ChatRow],
    heldout: HeldoutIndex,
    replay_sft: Sequence[SFTRow] = (),
    replay_dpo: Sequence[DPORow] = (),
    translator: AsyncBackend | None = None,
    base_answers: Mapping[str, str] | None = None,
    twins: Mapping[str, Any] | None = None,
) -> CurationResult:
    """One round's data from ``findings``. ``attempts`` (the round's judged red-team attempts) give the direct
    answers for self-distillation and the benign probes for contrast pairs; reference answers come from the
    attempts' benign seeds and ``references``; ``base_answers`` (see :func:`base_answers`) answer the probes this
    checkpoint refused and the base model did not. ``twins`` (what the twin generator made) joins the stats."""
    refs = dict(references or {})
    refs.update({a.seed.id: a.seed.meta["reference"] for a in attempts if a.seed.meta.get("reference")})
    res = curate(
        findings,
        round_=round_,
        chain=response_chain(cfg, judge, refs),
        direct={a.seed.id: a for a in attempts if a.technique == "direct"},
        benign_probes=[a for a in attempts if not a.seed.harmful],
        helpful=helpful,
        heldout=heldout,
        replay_sft=replay_sft,
        replay_dpo=replay_dpo,
        settings=cfg.curation,
        translator=translator,
        seeds={a.seed.id: a.seed for a in attempts},
        seed=cfg.seed + round_,
        base_answers=base_answers,
    )
    if twins:
        res.stats["twins"] = dict(twins)
    return res


def curate_and_write(cfg: RunConfig, judge: Judge, out: Path, title: str, **kwargs: Any) -> CurationResult:
    """:func:`curate_round`, written to ``out`` as ``sft.jsonl``, ``dpo.jsonl`` and a dataset card titled ``title``."""
    res = curate_round(cfg, judge, **kwargs)
    write_dataset(out, res.sft, res.dpo, res.stats, title)
    return res


@dataclass
class RoundData:
    """What a cycle's curation reads beyond the round's findings: the helpful data, the index of everything the run
    scores (training data stays clear of it), the replayed safety rows of earlier rounds, and the twins' account."""

    helpful: Sequence[ChatRow]
    heldout: HeldoutIndex
    twins: Mapping[str, Any] | None = None
    replay_sft: list[SFTRow] = field(default_factory=list)
    replay_dpo: list[DPORow] = field(default_factory=list)
    training_texts: list[str] = field(default_factory=list)

    @classmethod
    def for_run(cls, helpful: Sequence[ChatRow], scored: Sequence[str], twins: Mapping[str, Any] | None) -> RoundData:
        """A run's curation inputs; ``scored``: every prompt the run scores (held out and validation)."""
        return cls(helpful, HeldoutIndex(scored), twins)


def curate_stage(
    ctx: RunContext, r: int, data: RoundData, rec: RoundRecord
) -> tuple[tuple[list[SFTRow], list[DPORow]], Callable[[RunConfig], Any]]:
    """Round ``r``'s curation (stage ``curate``: ``rounds/<r>/sft.jsonl`` and ``dpo.jsonl``) from the findings of its
    last red team, into ``rec``: the rows as written, and how to curate them again under another config (a search
    point that changes the SFT mix). Updates ``data``'s replay rows and the texts the run trained on."""
    rd = ctx.round_dir(r)

    def curation(cfg: RunConfig) -> CurationResult:
        findings, attempts, _ = round_findings(ctx.store, ctx.judge, r, ctx.cfg.cycle.verify_builds)
        return curate_round(
            cfg, ctx.judge, round_=r, findings=findings, attempts=attempts, helpful=data.helpful,
            heldout=data.heldout, replay_sft=data.replay_sft, replay_dpo=data.replay_dpo,
            translator=ctx.helpers.translator, twins=data.twins,
            base_answers=base_answers(ctx.store, ctx.judge) if r > 0 and cfg.curation.on_policy else {},
        )  # fmt: skip

    def curate_with(cfg: RunConfig) -> tuple[list[SFTRow], list[DPORow]]:
        res = curation(cfg)
        return res.sft, res.dpo

    def do_curate() -> dict[str, Any]:
        res = curation(ctx.cfg)
        write_dataset(rd, res.sft, res.dpo, res.stats, f"{ctx.cfg.name}: round {r} safety data")
        return res.stats

    curated, rec.seconds["curate"] = ctx.stage(r, "curate", do_curate)
    cur = rec.curation = CurationSummary.model_validate(curated)
    sft_rows, dpo_rows = read_jsonl(rd / "sft.jsonl"), read_jsonl(rd / "dpo.jsonl")
    data.training_texts += [prompt_text(x) for x in sft_rows] + [prompt_text(x) for x in dpo_rows]
    if ctx.cfg.curation.replay:  # curate() already deduplicated these against earlier rounds
        data.replay_sft = [x for x in sft_rows if x["meta"].get("category") != "benign"]
        data.replay_dpo = [x for x in dpo_rows if x["meta"].get("category") != "benign"]
    ctx.log(f"  curated: {cur.sft} SFT rows, {cur.dpo} DPO pairs")
    _note_mix(ctx, curated)
    return (sft_rows, dpo_rows), curate_with


def _note_mix(ctx: RunContext, curated: dict[str, Any]) -> None:
    """Say when the helpful data was too little for the configured mix."""
    cur = ctx.cfg.curation
    if curated.get("safety_sft_bounded_out"):
        ctx.log(
            f"  [yellow]note[/]: {curated['safety_sft_bounded_out']} safety rows were left out of the SFT "
            f"mix (they stay DPO pairs): the helpful data ({curated['helpful_pool']} rows) fills a "
            f"{cur.safety_share:.0%} share only {cur.max_helpful_repeats}x "
            "over; give more (files.helpful or curation.helpful_dataset) to keep them"
        )
    elif curated.get("helpful_repeats", 0) > 1:
        ctx.log(
            f"  [yellow]note[/]: the helpful data ({curated['helpful_pool']} rows) was repeated "
            f"{curated['helpful_repeats']}x to fill the mix; give more (files.helpful or "
            "curation.helpful_dataset) or raise curation.safety_share"
        )


def base_answers(store: Store, judge: Judge) -> dict[str, str]:
    """The base model's helpful answers to the red team's benign prompts (twins among them), by prompt text: its
    round-0 replies, judged by ``judge``."""
    attempts, _ = judged_attempts(store, judge, 0, "redteam", keep=lambda a: not a.seed.harmful, last_run=True)
    return {prompt_text({"prompt": a.prompt}): a.response for a in attempts if helped(a)}


def on_policy(
    store: Store, judge: Judge, world: World, attempts: Sequence[Attempt], r: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A candidate's judged ``attempts`` on benign probes as on-policy DPO pairs (the base model's answer, else the
    world's reference, over the candidate's own refusal), and their account."""
    return on_policy_pairs(attempts, BenignAnswers(world.references(), base_answers(store, judge)), r)


def helpful_rows(cfg: RunConfig, world: World) -> list[ChatRow]:
    """The helpfulness data to mix in: the configured dataset, or the world's own."""
    if cfg.curation.helpful_dataset:
        return load_helpful(cfg.curation.helpful_dataset)
    return world.helpful_data()


_FINDING_FIELDS = {
    "attempt_id": str,
    "category": str,
    "technique": str,
    "language": str,
    "seed_id": str,
    "seed_text": str,
    "prompt": list,
    "response": str,
}


def load_findings(path: str | Path) -> list[Finding]:
    """Read a findings JSONL (as ``breakfix redteam`` and the cycle write it); a ``BreakfixError`` names the line
    and field of the first bad row."""
    p = Path(path)
    out: list[Finding] = []
    for n, obj in iter_jsonl(p, "finding"):
        for key, typ in _FINDING_FIELDS.items():
            if not isinstance(obj.get(key), typ):
                raise BreakfixError(str(p), f"line {n}: {key}", f"missing or not a {typ.__name__}")
        prompt = obj["prompt"]
        if not prompt or not all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in prompt):
            raise BreakfixError(str(p), f"line {n}: prompt", "must be a non-empty list of chat messages")
        if prompt[-1].get("role") != "user":
            raise BreakfixError(str(p), f"line {n}: prompt", "must end with the user turn the response answers")
        out.append(
            Finding(
                attempt_id=obj["attempt_id"],
                round=int(obj.get("round", 0)),
                category=obj["category"],
                technique=obj["technique"],
                language=obj["language"],
                turns=int(obj.get("turns", sum(m.get("role") == "user" for m in prompt))),
                seed_id=obj["seed_id"],
                seed_text=obj["seed_text"],
                prompt=prompt,
                response=obj["response"],
                severity=int(obj.get("severity", 0)),
                build=obj.get("build") if isinstance(obj.get("build"), str) else None,
                prefill=obj.get("prefill") if isinstance(obj.get("prefill"), str) else None,
            )
        )
    if not out:
        raise BreakfixError(str(p), None, "no findings in the file")
    return out


def _stored_config(run_dir: Path) -> RunConfig | None:
    with Store(run_dir / "run.db") as store:
        raw = store.get_meta("config")
    return parse_config(json.loads(raw), str(run_dir / "run.db")) if raw else None


def direct_attempts(
    cfg: RunConfig, findings: Sequence[Finding], model: str, judge: Any, store_path: Path, round_: int
) -> list[Attempt]:
    """The model's judged answers to the un-attacked seeds of ``findings`` (what self-distillation needs when only a
    findings file is at hand), run by the attack engine and kept in the store at ``store_path`` (a rerun reuses
    them)."""
    path = str(resolve_model(model, lambda _: None))
    seeds = {
        f.seed_id: Seed(id=f.seed_id, text=f.seed_text, category=f.category, language=f.language) for f in findings
    }
    store_path.parent.mkdir(parents=True, exist_ok=True)
    with Store(store_path, refuse_legacy=True) as store:
        return execute(
            plans_for(seeds.values(), ["direct"], cfg.seed),
            build_backend(cfg.model.ref(path), cfg.seed),
            judge,
            store,
            checkpoint=checkpoint_id(path),
            round_=round_,
            suite="redteam",
            gen=cfg.generation.config(),
            label="self-distillation: plain seeds",
        )


def _from_run(
    src: Path, cfg: RunConfig, round_: int | None, log: Log
) -> tuple[int, Judge, list[Finding], list[Attempt], dict[str, str]]:
    """A run directory's round to curate (``round_``, else its last red team's), the judge, the round's findings and
    attempts (judged now where the configured judge has not judged them), and the base model's answers."""
    with Store(src / "run.db") as store:
        last = store.last_round("redteam")
        if last is None:
            raise BreakfixError(str(src), "run.db", "no red-team attempts to curate")
        r = last if round_ is None else round_
        if round_ is not None and not 0 <= round_ <= last:
            raise BreakfixError("--round", None, f"must be between 0 and {last}")
        judge = build_judge(cfg)
        findings, attempts, stats = round_findings(store, judge, r, cfg.cycle.verify_builds)
        base = base_answers(store, judge) if r > 0 and cfg.curation.on_policy else {}
        if stats.rejudged:
            log(f"judged {stats.rejudged} stored replies with {judge.id} ({stats.verdicts_reused} verdicts reused)")
    return r, judge, findings, attempts, base


def curate_job(
    source: str | Path,
    out: str | Path,
    *,
    cfg: RunConfig | None = None,
    overrides: dict[str, Any] | None = None,
    round_: int | None = None,
    model: str | None = None,
    replay: Sequence[str | Path] = (),
    log: Log = print,
    world: World | None = None,
) -> dict[str, Any]:
    """Curate ``source`` (a run dir with ``run.db``, or a findings JSONL) into ``out``: ``sft.jsonl``, ``dpo.jsonl``,
    a dataset card and ``curation.json`` (with ``model``, also the model's plain-seed answers in ``run.db``). The
    config is ``cfg``, else the run's stored one, else the default, with ``overrides`` laid over its ``curation``
    block. Every input is read and checked before anything is written. A run's stored generations that the
    configured judge has not judged are judged now (and the verdicts stored)."""
    src = Path(source)
    attempts: list[Attempt] = []
    base: dict[str, str] = {}
    judge: Judge | None = None
    replay_dirs = [Path(d) for d in replay]
    if src.is_dir():
        if not (src / "run.db").is_file():
            raise BreakfixError(str(src), None, "not a run directory (no run.db)")
        cfg = cfg or _stored_config(src) or RunConfig()
        r, judge, findings, attempts, base = _from_run(src, cfg, round_, log)
        prev = src / "rounds" / str(r - 1)
        if cfg.curation.replay and r > 0 and (prev / "sft.jsonl").is_file() and not replay_dirs:
            replay_dirs = [prev]
    elif src.is_file():
        cfg = cfg or RunConfig()
        findings = load_findings(src)
        r = round_ if round_ is not None else max(f.round for f in findings)
    else:
        raise BreakfixError(str(src), None, "no such run directory or findings file")
    if overrides:
        data = cfg.model_dump(mode="json")
        data["curation"].update(overrides)
        cfg = parse_config(data, "command line")
    replay_sft: list[SFTRow] = []
    replay_dpo: list[DPORow] = []
    for d in replay_dirs:
        for name, rows in (("sft.jsonl", replay_sft), ("dpo.jsonl", replay_dpo)):
            if not (d / name).is_file():
                raise BreakfixError(str(d), name, "missing: not a curated dataset dir")
            rows += [x for x in read_jsonl(d / name) if (x.get("meta") or {}).get("category") != "benign"]
    world = world or build_world(cfg)
    judge = judge or build_judge(cfg)  # built once: the overrides touch curation only
    helpful = helpful_rows(cfg, world)
    index = HeldoutIndex(heldout_texts(cfg, world))
    references: dict[str, str] = {}
    if not attempts:
        # a findings file: the world's seeds carry reference answers; a model answers the plain seeds if given
        references = world.references()
        if model:
            log(f"self-distillation: asking {model} the {len({f.seed_id for f in findings})} un-attacked seeds")
            attempts = direct_attempts(cfg, findings, model, judge, Path(out) / "run.db", r)
    log(f"curating {len(findings)} findings (round {r})")
    out = Path(out)
    res = curate_and_write(
        cfg,
        judge,
        out,
        f"{cfg.name}: safety data from {src.name}",
        round_=r,
        findings=findings,
        attempts=attempts,
        references=references,
        helpful=helpful,
        heldout=index,
        replay_sft=replay_sft,
        replay_dpo=replay_dpo,
        translator=Helpers(cfg).translator,
        base_answers=base,
    )
    summary = {"source": str(src), "round": r, "findings": len(findings), **res.stats}
    write_json(out / "curation.json", summary)
    return summary
