"""What a run did: generations made and reused, verdicts reused and re-judged, errors."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from breakfix.types import JudgingAccount


@dataclass
class RunStats:
    """What one engine run did: ``reused`` generations came from the store, and of those, ``verdicts_reused`` had
    the judge's verdict stored and ``rejudged`` were judged anew."""

    planned: int = 0
    reused: int = 0
    generated: int = 0
    verdicts_reused: int = 0
    rejudged: int = 0
    errors: int = 0
    seconds: float = 0.0
    reasons: Counter[str] = field(default_factory=Counter)

    def merge(self, other: RunStats) -> None:
        """Add ``other``'s counts to these."""
        for name in ("planned", "reused", "generated", "verdicts_reused", "rejudged", "errors", "seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.reasons.update(other.reasons)

    def judging(self, judge: str) -> JudgingAccount:
        """The report's account of where this run's verdicts came from."""
        return {
            "judge": judge,
            "generated": self.generated,
            "reused_generations": self.reused,
            "verdicts_reused": self.verdicts_reused,
            "rejudged": self.rejudged,
        }
