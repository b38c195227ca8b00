"""Judges: score a response in context and return a Verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    """The judge a run config names: ``demo``, ``refusal``, or a model judge on ``judge_model``: ``llm`` (a rubric),
    ``llama_guard``, ``wildguard`` or ``shieldgemma``."""
    if cfg.judge == "refusal":
        return RefusalJudge()
    if cfg.judge == "demo":
        return demo_judge()
    from breakfix.backends import build_backend

    assert cfg.judge_model is not None
    backend = build_backend(cfg.judge_model, cfg.seed)
    if cfg.judge == "llama_guard":
        return LlamaGuardJudge(backend)
    if cfg.judge == "wildguard":
        return WildGuardJudge(backend)
    if cfg.judge == "shieldgemma":
        return ShieldGemmaJudge(backend)
    return RubricJudge(backend, rubric=cfg.judge_rubric)
