"""Held-out suites: each registered suite builds its plans from the run's World and scores the attempts."""

from breakfix.suites import prefill, rai, standard
from breakfix.suites.standard import (
    ALL_SUITES,
    SUITES,
    capability_correct,
    score_capability,
    score_defects,
    score_overrefusal,
)

__all__ = [
    "ALL_SUITES",
    "SUITES",
    "capability_correct",
    "prefill",
    "rai",
    "score_capability",
    "score_defects",
    "score_overrefusal",
    "standard",
]
