"""The curate stage as the cycle and ``breakfix curate`` run it: from a run config and judged attempts (or findings)
to one round's datasets."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from breakfix.config import RunConfig
from breakfix.curation.decontam import HeldoutIndex
from breakfix.curation.pipeline import CurationResult, curate
from breakfix.curation.responses import DEFAULT_CONSTITUTION, Responder, ResponseChain
from breakfix.curation.templates import TemplateBank
from breakfix.demo.world import DemoWorld
from breakfix.judges.base import Judge
from breakfix.types import Attempt, Finding


def heldout_texts(cfg: RunConfig, world: DemoWorld) -> list[str]:
    """Every held-out prompt the run is scored on (each turn of each configured suite), plus the prompts of
    ``curation.heldout_files``: the set that training data is decontaminated against."""
    from breakfix.benchmarks.suites import suite_plans
    from breakfix.seeds.files import load_seeds

    texts = {turn for plans in suite_plans(world, cfg.benchmarks.suites).values() for p in plans for turn in p.turns}
    for f in cfg.curation.heldout_files:
        texts |= {s.text for s in load_seeds(f)}
    return sorted(texts)


def template_bank(cfg: RunConfig) -> TemplateBank:
    """The configured templates over the base bank: the demo world's own refusals for the demo model (its voice),
    the built-in bank otherwise."""
    base = None
    if cfg.model.path == "demo":
        from breakfix.demo.world import REFUSE

        base = TemplateBank(REFUSE)
    return TemplateBank.load(cfg.curation.templates, base)


def response_chain(cfg: RunConfig, judge: Judge, references: dict[str, str]) -> ResponseChain:
    """The configured safe-response chain."""
    from breakfix.backends import build_backend
    from breakfix.backends.base import GenerationConfig, as_async

    responder = None
    rc = cfg.curation.responder
    if rc is not None:
        constitution = Path(rc.constitution).read_text(encoding="utf-8") if rc.constitution else DEFAULT_CONSTITUTION
        responder = Responder(
            as_async(build_backend(rc.model, cfg.seed)),
            constitution,
            revise=rc.revise,
            gen=GenerationConfig(**rc.generation.model_dump()),
        )
    return ResponseChain(
        cfg.curation.responses,
        templates=template_bank(cfg),
        judge=judge,
        responder=responder,
        references=references,
    )


def translator(cfg: RunConfig) -> Any:
    from breakfix.backends import build_backend
    from breakfix.backends.base import as_async

    ref = cfg.curation.translator or cfg.redteam.converter_model
    return as_async(build_backend(ref, cfg.seed)) if ref is not None else None


def curate_round(
    cfg: RunConfig,
    judge: Judge,
    *,
    round_: int,
    findings: Sequence[Finding],
    attempts: Sequence[Attempt] = (),
    references: dict[str, str] | None = None,
    helpful: Sequence[dict[str, Any]],
    heldout: HeldoutIndex,
    replay_sft: Sequence[dict[str, Any]] = (),
    replay_dpo: Sequence[dict[str, Any]] = (),
) -> CurationResult:
    """One round's data from ``findings``. ``attempts`` (the round's judged red-team attempts) give the direct
    answers for self-distillation and the benign probes for contrast pairs; reference answers come from the
    attempts' benign seeds and ``references``."""
    refs = dict(references or {})
    refs.update({a.seed.id: a.seed.meta["reference"] for a in attempts if a.seed.meta.get("reference")})
    return curate(
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
        translator=translator(cfg),
        seed=cfg.seed + round_,
    )


def helpful_rows(cfg: RunConfig, world: DemoWorld) -> list[dict[str, Any]]:
    """The helpfulness data to mix in: the configured dataset, or the demo world's own."""
    from breakfix.curation.datasets import load_helpful

    if cfg.curation.helpful_dataset:
        return load_helpful(cfg.curation.helpful_dataset)
    return world.helpful_data()
