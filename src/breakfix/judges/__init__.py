"""Judges: score a response in context and return a Verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING

from breakfix.judges.base import Judge
from breakfix.judges.demo import DemoJudge, audit_demo_judge, demo_judge, demo_verdict
from breakfix.judges.refusal import RefusalJudge, refuses
from breakfix.judges.rubric import RubricJudge, parse_verdict

if TYPE_CHECKING:
    from breakfix.config import RunConfig

__all__ = [
    "build_judge",
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
    """The judge a run config names: ``demo``, ``refusal`` (string match) or ``llm`` (rubric on ``judge_model``)."""
    if cfg.judge == "refusal":
        return RefusalJudge()
    if cfg.judge == "llm":
        from breakfix.backends import build_backend

        assert cfg.judge_model is not None
        return RubricJudge(build_backend(cfg.judge_model, cfg.seed))
    return demo_judge()
