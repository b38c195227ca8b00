"""Judges: score a response in context and return a Verdict."""

from breakfix.judges.base import Judge
from breakfix.judges.demo import DemoJudge, audit_demo_judge, demo_judge, demo_verdict

__all__ = ["DemoJudge", "Judge", "audit_demo_judge", "demo_judge", "demo_verdict"]
