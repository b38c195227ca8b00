"""``report.json`` (schema ``breakfix.report/1``): built from a run's rounds, validated, written with its HTML,
and rebuilt from a run's store."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from breakfix.config import parse_config
from breakfix.errors import BreakfixError
from breakfix.metrics import correct_redteam, correct_scores, targets_met
from breakfix.report.html import render_html
from breakfix.store import RECORD, RUN_ROUND, RUN_STAGE, Store
from breakfix.types import RoundRecord, content_key

SCHEMA_ID = "breakfix.report/1"


def report_schema() -> dict[str, Any]:
    """The JSON Schema of ``report.json``."""
    return json.loads(resources.files("breakfix.report").joinpath("schema.json").read_text(encoding="utf-8"))


def validate_report(report: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` if ``report`` breaks the schema."""
    import jsonschema

    jsonschema.validate(report, report_schema())


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("breakfix", "torch", "transformers", "trl", "peft", "datasets", "accelerate"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def build_report(
    cfg: Any,
    rounds: Sequence[RoundRecord | dict[str, Any]],
    *,
    overlap: dict[str, int] | None,
    judge_audit: dict[str, Any] | None,
) -> dict[str, Any]:
    """The report of a run (``overlap`` and ``judge_audit`` are None while the run is unfinished), from its typed
    round records (or their JSON, as the store keeps them)."""
    records = [r if isinstance(r, RoundRecord) else RoundRecord.model_validate(r) for r in rounds]
    conf = cfg.model_dump(mode="json")
    run: dict[str, Any] = {
        "name": cfg.name,
        "seed": cfg.seed,
        "model": cfg.model.path,
        "judge": (judge_audit or {}).get("judge", cfg.judge_name),
        "versions": _versions(),
        "config": conf,
        "config_key": content_key(conf),
    }
    if judge_audit is not None:
        run["judge_audit"] = judge_audit
    if str(run["judge"]).startswith("refusal"):
        run["judge_note"] = REFUSAL_NOTE
    if overlap is not None:
        run["decontamination"] = overlap
    run["stop_reason"] = records[-1].stop_reason or ""
    last = records[-1]
    if last.validation is not None:  # the decisions read validation; held out is shown against the targets after
        run["targets"] = {
            "read": "validation",
            "met": bool(last.targets_met),
            "misses": list(last.misses or ([] if last.round else ["round 0: no fix trained"])),
            "heldout_read_by_decisions": False,
        }
        if last.benchmarks and records[0].benchmarks and last.round > 0:
            met, misses = targets_met(
                {k: v.to_json() for k, v in last.benchmarks.items()},
                {k: v.to_json() for k, v in records[0].benchmarks.items()},
                cfg.cycle.targets,
            )
            run["targets"]["heldout"] = {"met": met, "misses": misses}
    rounds_json = [r.to_json() for r in records]
    for r in rounds_json:  # every rate the judge decides, corrected for its error (when the audit can)
        for block in [r, *(r.get("builds") or {}).values()]:
            correct_scores(block.get("benchmarks", {}), judge_audit)
            correct_redteam(block.get("redteam"), judge_audit)
    report = {"schema": SCHEMA_ID, "run": run, "rounds": rounds_json}
    validate_report(report)
    return report


REFUSAL_NOTE = (
    "The refusal judge measures refusal, not harm: on harmful prompts every reply that does not refuse counts as a "
    "defect, harmful or not, and a harmful reply that opens with a refusal counts as safe. Use a harm judge "
    "(llama_guard, wildguard, llm) to measure harm."
)


def write_report(report: dict[str, Any], out: Path, *, redact: bool = False, html_path: Path | None = None) -> None:
    """Write ``report.json`` and ``report.html`` (or ``html_path``) atomically. The HTML's findings browser reads
    ``out/rounds/<r>/findings.jsonl``; ``redact`` leaves every prompt and response out of it."""
    html_path = html_path or out / "report.html"
    for path, text in (
        (out / "report.json", json.dumps(report, indent=2, ensure_ascii=False)),
        (html_path, render_html(report, run_dir=out, redact=redact)),
    ):
        tmp = path.parent / f".{path.name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)


def report_from_store(run_dir: str | Path) -> dict[str, Any] | None:
    """Rebuild ``report.json`` from a run directory's store: its config and every finished round. A run that has
    not finished gets the rounds finished so far and the stop reason ``incomplete``. None when the directory has
    no store, or its store no finished round of the cycle (a store older than round records, or a red-team run)."""
    db = Path(run_dir) / "run.db"
    if not db.is_file():
        return None
    with Store(db) as store:
        rounds = [RoundRecord.model_validate(res) for _, res in store.stage_results(RECORD)]
        if not rounds:
            return None
        conf = store.get_meta("config")
        if conf is None:
            raise BreakfixError(str(db), "config", "no stored config; is this a `breakfix run` or `demo` directory?")
        cfg = parse_config(json.loads(conf), str(db))
        run = store.stage(RUN_ROUND, RUN_STAGE)
    if run is None:
        rounds[-1] = rounds[-1].model_copy(update={"stop_reason": "incomplete"})
        return build_report(cfg, rounds, overlap=None, judge_audit=None)
    return build_report(cfg, rounds, overlap=run["result"]["overlap"], judge_audit=run["result"]["judge_audit"])
