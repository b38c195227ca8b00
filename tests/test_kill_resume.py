"""Crash safety: a small cycle killed with SIGKILL at different points, then resumed, writes the same report.json
as an uninterrupted run (apart from timings and the run directory's own path)."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from conftest import start_run

pytestmark = pytest.mark.slow

# Facts of the execution that finished a stage, not of the run: timings, and how many replies that execution
# generated or found stored (a stage resumed after a kill finds the replies stored before the kill).
TIMING_KEYS = {"seconds", "tokens_per_s", "finished_at", "judging"}


def _query(db: Path, sql: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2) as con:
            row = con.execute(sql).fetchone()
        return int(row[0] or 0) if row else 0
    except sqlite3.Error:
        return 0


def _attempts(r: int, redteam: bool, at_least: int):
    op = "=" if redteam else "!="
    sql = f"SELECT COUNT(*) FROM attempts WHERE round={r} AND suite{op}'redteam'"
    return lambda out: _query(out / "run.db", sql) >= at_least


KILL_POINTS = {
    # a kill in validation, in training between SFT and DPO, and between two candidates' validation (the CI budget
    # allows three; test_cycle's interrupted run resumes a later round, test_engine a red team cut short)
    "round0-validation": _attempts(0, False, 60),
    "round0-dpo": lambda out: (out / "rounds" / "0" / "candidates" / "fix" / "final-sft").exists(),
    "round0-candidate": lambda out: (
        _query(out / "run.db", "SELECT COUNT(*) FROM stages WHERE round=0 AND stage LIKE 'candidate:%'") >= 1
    ),
}


def normalise(report: dict, run_dir: Path) -> dict:
    """The report without timings, and with the run directory's path replaced."""

    def walk(x):
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items() if k not in TIMING_KEYS}
        if isinstance(x, list):
            return [walk(v) for v in x]
        if isinstance(x, str):
            return x.replace(str(run_dir), "<run>")
        return x

    return walk(report)


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkill_then_resume_gives_the_same_report(small_run, point, tmp_path):
    config, ref_dir, reference = small_run
    out = tmp_path / "run"
    proc = start_run(config, out)
    reached = KILL_POINTS[point]
    deadline = time.monotonic() + 300
    while not reached(out):
        assert proc.poll() is None, f"the run ended before {point}: {proc.stdout.read()}"
        assert time.monotonic() < deadline, f"never reached {point}"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "report.json").exists()

    resumed = start_run(config, out)
    log, _ = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, log
    got = json.loads((out / "report.json").read_text())
    assert normalise(got, out) == normalise(reference, ref_dir)
    assert not list(out.rglob("*.tmp")), "a temporary file was left behind"
    count = "SELECT COUNT(*) FROM attempts"
    assert _query(out / "run.db", count) == _query(ref_dir / "run.db", count), "an attempt was stored twice"


def test_a_second_process_on_a_running_run_gets_run_in_use(small_run, tmp_path):
    config, _, _ = small_run
    out = tmp_path / "run"
    first = start_run(config, out)
    try:
        deadline = time.monotonic() + 300
        while not _attempts(0, False, 1)(out):
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        second = start_run(config, out)
        log, _ = second.communicate(timeout=300)
        assert second.returncode == 2
        lines = [x for x in log.splitlines() if x.strip()]
        assert lines == [f"error: {out}: run is in use by another breakfix process"]
        assert first.poll() is None  # the first run goes on
    finally:
        first.kill()
        first.wait()
