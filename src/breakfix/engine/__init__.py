"""The engine: techniques make plans (:mod:`.techniques`), the runner runs and judges them and streams every attempt to
the store exactly once (:mod:`.run`), and :mod:`.stats` counts what it did."""

from __future__ import annotations

from breakfix.engine.run import arun, attempt_id, execute, judge_attempts, judge_unjudged, judged_attempts, run
from breakfix.engine.stats import RunStats
from breakfix.engine.techniques import (
    CANARY_JUDGE,
    AttackContext,
    Need,
    Outcome,
    Runner,
    Technique,
    canary_for,
    canary_verdict,
    choice_verdict,
    decided_verdict,
    followed,
    iter_plans,
    plan,
    plans_for,
    technique_names,
)

__all__ = [
    "AttackContext",
    "CANARY_JUDGE",
    "Need",
    "Outcome",
    "RunStats",
    "Runner",
    "Technique",
    "arun",
    "attempt_id",
    "canary_for",
    "canary_verdict",
    "choice_verdict",
    "decided_verdict",
    "execute",
    "followed",
    "iter_plans",
    "judge_attempts",
    "judge_unjudged",
    "judged_attempts",
    "plan",
    "plans_for",
    "run",
    "technique_names",
]
