"""Judges: score a response in context and return a Verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from breakfix.judges.base import Judge
from breakfix.judges.demo import DemoJudge, audit_demo_judge, demo_judge, demo_verdict
from breakfix.judges.guard import EnsembleJudge, LlamaGuardJudge, ShieldGemmaJudge, WildGuardJudge
from breakfix.judges.refusal import RefusalJudge, classify, refuses
from breakfix.judges.rubric import RUBRICS, RubricJudge, parse_rubric, parse_verdict

if TYPE_CHECKING:
    from breakfix.config import RunConfig

__all__ = [
    "RUBRICS",
    "EnsembleJudge",
    "LlamaGuardJudge",
    "ShieldGemmaJudge",
    "WildGuardJudge",
    "build_judge",
    "classify",
    "parse_rubric",
    "DemoJudge",
    "Judge",
    "RefusalJudge",
    "RubricJudge",
    "audit_demo_judge",
    "demo_judge",
    "demo_verdict",
    "parse_verdict",
    "refuses",
]


def build_judge(cfg: RunConfig) -> Judge:
    """The judge a run config names (``cfg.judge_name``): ``demo``, ``refusal``, a model judge on ``judge_model``
    (``llm`` with a rubric, ``llama_guard``, ``wildguard`` or ``shieldgemma``), or an ``ensemble`` of those."""
    name = cfg.judge_name
    if name == "ensemble":
        assert cfg.judge_ensemble is not None
        members = [_one(m.judge, m.model, m.rubric, cfg.seed) for m in cfg.judge_ensemble.members]
        return EnsembleJudge(members, cfg.judge_ensemble.mode)
    return _one(name, cfg.judge_model, cfg.judge_rubric, cfg.seed)


def _one(name: str, model: Any, rubric: str, seed: int) -> Judge:
    if name == "demo":
        return demo_judge()
    if name == "refusal":
        return RefusalJudge()
    from breakfix.backends import build_backend

    assert model is not None
    backend = build_backend(model, seed)
    if name == "llama_guard":
        return LlamaGuardJudge(backend)
    if name == "wildguard":
        return WildGuardJudge(backend)
    if name == "shieldgemma":
        return ShieldGemmaJudge(backend)
    return RubricJudge(backend, rubric=rubric)
