"""The report job: a run's decontamination overlap and judge audit (stage ``run``), then ``report.json`` and
``report.html`` from its rounds; and a run directory's report rebuilt from its store (``breakfix report``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from breakfix.curation.decontam import HeldoutIndex
from breakfix.jobs.common import RunContext, audit_judge
from breakfix.report.data import build_report, report_from_store, write_report
from breakfix.store import RUN_ROUND, RUN_STAGE
from breakfix.types import RoundRecord, Seed

__all__ = ["finish_run", "overlap", "report_from_store", "write_report"]


def overlap(
    heldout: Sequence[str], validation: Sequence[str], seeds: Sequence[Seed], training: Sequence[str]
) -> dict[str, int]:
    """How many of the scored prompts (held out, validation) the red-team seeds and the training rows contain."""
    red = HeldoutIndex([s.text for s in seeds])
    return {
        "heldout_prompts": len(heldout),
        "validation_prompts": len(validation),
        "redteam_seeds": red.count(heldout),
        "redteam_seeds_in_validation": red.count(validation),
        "training_rows": HeldoutIndex(training).count(heldout) if training else 0,
        "training_rows_in_validation": HeldoutIndex(training).count(validation) if training else 0,
        "validation_in_heldout": HeldoutIndex(validation).count(heldout),
    }


def finish_run(ctx: RunContext, rounds: list[RoundRecord], overlap_counts: dict[str, int]) -> dict[str, Any]:
    """Audit the judge, record the run-level parts (stage ``run``), and write ``report.json`` and ``report.html``."""
    cfg = ctx.cfg
    audit = audit_judge(cfg.judge_name, ctx.judge, ctx.world, cfg.judges.audit_labels, cfg.judges.audit_task)
    ctx.store.finish_stage(RUN_ROUND, RUN_STAGE, {"overlap": overlap_counts, "judge_audit": audit}, 0.0)
    report = build_report(cfg, rounds, overlap=overlap_counts, judge_audit=audit)
    write_report(report, ctx.out)
    return report
