"""Deprecated import path: the red-team job moved to :mod:`breakfix.jobs.redteam` (its tallies to
:mod:`breakfix.metrics`). Kept so that scripts written against breakfix 0.1 keep working."""

from breakfix.jobs.redteam import aredteam, redteam, redteam_job, redteam_seeds
from breakfix.metrics import Tally, summarize
from breakfix.types import is_defect, to_finding

__all__ = ["Tally", "aredteam", "is_defect", "redteam", "redteam_job", "redteam_seeds", "summarize", "to_finding"]
