"""Judges: score a response in context and return a Verdict. Each built-in judge registers a factory
``(model backend or None, rubric) -> Judge`` with ``@breakfix.registry.judge``; ``needs_model`` says whether it needs
``judge_model``, and ``audit`` (optional) scores it for a run's report (default: the shipped labelled refusal set)."""

from __future__ import annotations

from typing import Any

from breakfix import registry
from breakfix.judges.audit import audit, labels_id, load_labelled, shipped_rows
from breakfix.judges.base import Judge, ModelJudge
from breakfix.judges.ensemble import EnsembleJudge
from breakfix.judges.factory import build_judge, make_judge
from breakfix.judges.guard import LlamaGuardJudge, ShieldGemmaJudge, WildGuardJudge
from breakfix.judges.refusal import RefusalJudge, classify, refuses
from breakfix.judges.rubric import RUBRICS, RubricJudge, parse_rubric, parse_verdict

__all__ = [
    "RUBRICS",
    "EnsembleJudge",
    "Judge",
    "LlamaGuardJudge",
    "ModelJudge",
    "RefusalJudge",
    "RubricJudge",
    "ShieldGemmaJudge",
    "WildGuardJudge",
    "audit_judge",
    "build_judge",
    "classify",
    "make_judge",
    "parse_rubric",
    "parse_verdict",
    "refuses",
]

registry.judge(
    "refusal", needs_model=False, options=("off_topic",),
    help="Refusal judge (full, partial, compliance, or undetermined) for any model, in six languages.",
)(lambda backend, rubric, off_topic=False: RefusalJudge(off_topic=off_topic))  # fmt: skip
registry.judge("llm", help="An LLM judge with a rubric (harm or strongreject) on judge_model.")(
    lambda backend, rubric: RubricJudge(backend, rubric=rubric)
)
registry.judge("llama_guard", help="Llama Guard 3/4 on judge_model.")(lambda backend, rubric: LlamaGuardJudge(backend))
registry.judge("wildguard", help="WildGuard on judge_model.")(lambda backend, rubric: WildGuardJudge(backend))
registry.judge("shieldgemma", help="ShieldGemma on judge_model.")(lambda backend, rubric: ShieldGemmaJudge(backend))
registry.judge("ensemble", hidden=True, help="Members' verdicts by majority or the strictest (judge_ensemble).")(
    EnsembleJudge
)


def audit_judge(
    name: str, judge: Judge, world: Any, labels: str | None = None, task: str | None = None
) -> dict[str, Any]:
    """The judge's audit for a run's report: its scores on ``labels`` (a labelled file, ``judges.audit_labels``) when
    given, else the judge's own (a registered ``audit(judge, world)``), else its scores on the held-out part of the
    shipped set of labelled real replies. The audit's ``correction`` counts correct the run's rates for judge error."""
    if labels is not None:
        rows = load_labelled(labels, task=task)
        source = f"{labels} (sha256 {labels_id(rows)})"
    else:
        own = registry.find("judge", name)
        fn = own.meta.get("audit") if own is not None else None
        if fn is not None:
            return fn(judge, world)
        rows = shipped_rows()
        source = f"shipped: real_refusal.jsonl held-out (SmolLM2-135M-Instruct replies, sha256 {labels_id(rows)})"
    return {k: v for k, v in audit(judge, rows, source=source).items() if k not in ("errors", "predictions")}
