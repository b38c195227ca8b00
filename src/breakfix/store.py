"""The SQLite run store: attempts, verdicts and finished stages, each committed atomically and keyed by content.

Re-running on the same store skips every unit of work that is already there.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from breakfix.errors import BreakfixError, RunInUseError
from breakfix.types import Attempt, Seed, Verdict

SCHEMA_VERSION = 2

# MIGRATIONS[v] takes a version-v store to version v + 1 (in the transaction that records the new version).
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], object]] = {
    1: lambda db: db.execute("ALTER TABLE attempts ADD COLUMN info TEXT"),  # attempt.info (multi-turn facts)
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stages (
    round INTEGER NOT NULL, stage TEXT NOT NULL, result TEXT NOT NULL, seconds REAL NOT NULL,
    finished_at REAL NOT NULL, PRIMARY KEY (round, stage));
CREATE TABLE IF NOT EXISTS attempts (
    id TEXT PRIMARY KEY, round INTEGER NOT NULL, suite TEXT NOT NULL, technique TEXT NOT NULL,
    seed TEXT NOT NULL, category TEXT NOT NULL, language TEXT NOT NULL, turns INTEGER NOT NULL,
    transcript TEXT NOT NULL, status TEXT NOT NULL, error TEXT, seconds REAL NOT NULL, verdict TEXT, info TEXT);
CREATE INDEX IF NOT EXISTS attempts_round_suite ON attempts (round, suite);
CREATE TABLE IF NOT EXISTS metrics (
    round INTEGER NOT NULL, stage TEXT NOT NULL, step INTEGER NOT NULL, values_json TEXT NOT NULL);
"""


class Store:
    """One run's store at ``path`` (``run.db``). Holds an exclusive lock on ``path + '.lock'`` while open.

    Args:
        path: The SQLite file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = open(str(self.path) + ".lock", "w")  # noqa: SIM115 - held for the store's lifetime
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise RunInUseError(str(self.path.parent), None, "run is in use by another breakfix process") from None
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        stored = self.get_meta("schema_version")
        version = SCHEMA_VERSION if stored is None else int(stored)
        if version > SCHEMA_VERSION:
            self.close()
            raise BreakfixError(
                str(self.path),
                "schema_version",
                f"store is version {version}, newer than this breakfix ({SCHEMA_VERSION}); upgrade breakfix",
            )
        with self.transaction():  # each step takes the store one version up; all of them commit together
            while version < SCHEMA_VERSION:
                MIGRATIONS[version](self.db)
                version += 1
            self.set_meta("schema_version", str(version))

    def close(self) -> None:
        self.db.close()
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- meta -----------------------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # ---- stages ---------------------------------------------------------------------------------------------------
    def stage(self, round_: int, stage: str) -> dict[str, Any] | None:
        """The result of a finished stage, or None."""
        row = self.db.execute(
            "SELECT result, seconds FROM stages WHERE round=? AND stage=?", (round_, stage)
        ).fetchone()
        if not row:
            return None
        return {"result": json.loads(row[0]), "seconds": row[1]}

    def stage_results(self, stage: str) -> list[tuple[int, Any]]:
        """Every round's result of ``stage``, by round."""
        rows = self.db.execute("SELECT round, result FROM stages WHERE stage=? ORDER BY round", (stage,)).fetchall()
        return [(r, json.loads(res)) for r, res in rows]

    def finish_stage(self, round_: int, stage: str, result: Any, seconds: float) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO stages(round, stage, result, seconds, finished_at) VALUES (?, ?, ?, ?, ?)",
            (round_, stage, json.dumps(result), seconds, time.time()),
        )

    # ---- attempts -------------------------------------------------------------------------------------------------
    def get_attempts(self, ids: Iterable[str]) -> dict[str, Attempt]:
        """The stored attempts among ``ids``."""
        found: dict[str, Attempt] = {}
        ids = list(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            q = f"SELECT * FROM attempts WHERE id IN ({','.join('?' * len(chunk))})"
            for row in self.db.execute(q, chunk):
                a = _row_to_attempt(row)
                found[a.id] = a
        return found

    def existing_ids(self, ids: Iterable[str], status: str | None = None) -> set[str]:
        """Which of ``ids`` are stored (optionally with ``status``), without loading them."""
        found: set[str] = set()
        ids = list(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            q = f"SELECT id FROM attempts WHERE id IN ({','.join('?' * len(chunk))})"
            args: list[str] = list(chunk)
            if status is not None:
                q += " AND status=?"
                args.append(status)
            found.update(row[0] for row in self.db.execute(q, args))
        return found

    def count_attempts(self, round_: int | None = None, suite: str | None = None) -> dict[str, int]:
        """Attempts by status (``ok``, ``error``), optionally of one round and suite."""
        where, args = _where(round_, suite)
        return dict(self.db.execute(f"SELECT status, COUNT(*) FROM attempts{where} GROUP BY status", args).fetchall())

    def put_attempts(self, attempts: Iterable[Attempt]) -> None:
        """Write attempts in one transaction (all or none)."""
        rows = [
            (
                a.id,
                a.round,
                a.suite,
                a.technique,
                json.dumps(a.seed.__dict__, ensure_ascii=False),
                a.seed.category,
                a.seed.language,
                a.turns,
                json.dumps(a.transcript, ensure_ascii=False),
                a.status,
                a.error,
                a.seconds,
                json.dumps(a.verdict.to_dict()) if a.verdict else None,
                json.dumps(a.info) if a.info else None,
            )
            for a in attempts
        ]
        with self.transaction():
            self.db.executemany("INSERT OR REPLACE INTO attempts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)

    def iter_attempts(self, round_: int | None = None, suite: str | None = None) -> Iterator[Attempt]:
        """Stream attempts, optionally of one round and suite."""
        where, args = _where(round_, suite)
        for row in self.db.execute(f"SELECT * FROM attempts{where} ORDER BY rowid", args):
            yield _row_to_attempt(row)

    def last_round(self, suite: str) -> int | None:
        """The highest round with attempts of ``suite`` (None when there are none)."""
        row = self.db.execute("SELECT MAX(round) FROM attempts WHERE suite=?", (suite,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    # ---- training metrics -----------------------------------------------------------------------------------------
    def put_metrics(self, round_: int, stage: str, logs: list[dict[str, Any]]) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM metrics WHERE round=? AND stage=?", (round_, stage))
            self.db.executemany(
                "INSERT INTO metrics VALUES (?,?,?,?)",
                [(round_, stage, int(row.get("step", 0)), json.dumps(row)) for row in logs],
            )

    def transaction(self) -> _Tx:
        return _Tx(self.db)


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _where(round_: int | None, suite: str | None) -> tuple[str, list[Any]]:
    """A WHERE clause (with its arguments) selecting one round and/or suite, or everything."""
    conds, args = [], []
    for column, value in (("round", round_), ("suite", suite)):
        if value is not None:
            conds.append(f"{column}=?")
            args.append(value)
    return (" WHERE " + " AND ".join(conds) if conds else ""), args


def _row_to_attempt(row: tuple[Any, ...]) -> Attempt:
    (aid, rnd, suite, technique, seed, _cat, _lang, _turns, transcript, status, error, seconds, verdict, info) = row
    return Attempt(
        id=aid,
        round=rnd,
        suite=suite,
        technique=technique,
        seed=Seed(**json.loads(seed)),
        transcript=json.loads(transcript),
        status=status,
        error=error,
        seconds=seconds,
        verdict=Verdict.from_dict(json.loads(verdict)) if verdict else None,
        info=json.loads(info) if info else {},
    )


def ensure_run_dir(path: str | Path) -> Path:
    """Create (or reuse) a run directory; a path that exists and is not a directory is an input error."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        from breakfix.errors import BreakfixError

        raise BreakfixError(str(p), None, "not a directory (--out must name a run directory)")
    p.mkdir(parents=True, exist_ok=True)
    os.makedirs(p / "rounds", exist_ok=True)
    return p
