"""The SQLite run store: attempts, verdicts and finished stages, each committed atomically and keyed by content.

Re-running on the same store skips every unit of work that is already there.

- An attempt (a generation) is keyed by the checkpoint's content id (:mod:`breakfix.checkpoints`), the plan and
  the generation settings. A verdict is keyed by (attempt, judge id): the judge id carries the judge's version, so a new
  judge re-judges stored generations instead of reusing another judge's verdicts.
- Version 2 stores keyed attempts by a checkpoint id that hashed only each weight file's first 64 MiB, so a trained
  checkpoint could share its base's id. Their attempts are kept for reading (``breakfix report``, ``compare``,
  ``curate``) but never reused: a command that would add attempts to one is refused (``refuse_legacy``).
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from breakfix.errors import BreakfixError, RunInUseError
from breakfix.types import Attempt, Seed, Verdict

SCHEMA_VERSION = 3
# The first version whose attempts are keyed by a checkpoint id that hashes every byte of the weights.
FULL_HASH_VERSION = 3


def _v2_to_v3(db: sqlite3.Connection) -> None:
    """Verdicts move to their own table, keyed by the judge id each one records; attempts get a checkpoint column
    (NULL for the old rows, whose checkpoint ids are not trusted: see the module docstring)."""
    db.execute("ALTER TABLE attempts ADD COLUMN checkpoint TEXT")
    db.execute(
        "INSERT OR IGNORE INTO verdicts(attempt_id, judge, verdict) "
        "SELECT id, json_extract(verdict, '$.judge'), verdict FROM attempts WHERE verdict IS NOT NULL"
    )
    db.execute("UPDATE attempts SET verdict = NULL")


# MIGRATIONS[v] takes a version-v store to version v + 1 (in the transaction that records the new version).
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], object]] = {
    1: lambda db: db.execute("ALTER TABLE attempts ADD COLUMN info TEXT"),  # attempt.info (multi-turn facts)
    2: _v2_to_v3,
}

LEGACY_REASON = (
    "was written by breakfix before checkpoint ids hashed every weight byte (a trained checkpoint could get its "
    "base's id, so later rounds may repeat round 0's results); its attempts cannot be reused: use a new --out "
    "(the old run stays readable with `breakfix report` and `breakfix compare`)"
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stages (
    round INTEGER NOT NULL, stage TEXT NOT NULL, result TEXT NOT NULL, seconds REAL NOT NULL,
    finished_at REAL NOT NULL, PRIMARY KEY (round, stage));
CREATE TABLE IF NOT EXISTS attempts (
    id TEXT PRIMARY KEY, round INTEGER NOT NULL, suite TEXT NOT NULL, technique TEXT NOT NULL,
    seed TEXT NOT NULL, category TEXT NOT NULL, language TEXT NOT NULL, turns INTEGER NOT NULL,
    transcript TEXT NOT NULL, status TEXT NOT NULL, error TEXT, seconds REAL NOT NULL, verdict TEXT, info TEXT,
    checkpoint TEXT);
CREATE INDEX IF NOT EXISTS attempts_round_suite ON attempts (round, suite);
CREATE TABLE IF NOT EXISTS verdicts (
    attempt_id TEXT NOT NULL, judge TEXT NOT NULL, verdict TEXT NOT NULL, PRIMARY KEY (attempt_id, judge));
CREATE TABLE IF NOT EXISTS metrics (
    round INTEGER NOT NULL, stage TEXT NOT NULL, step INTEGER NOT NULL, values_json TEXT NOT NULL);
"""


class Store:
    """One run's store at ``path`` (``run.db``). Holds an exclusive lock on ``path + '.lock'`` while open.

    Args:
        path: The SQLite file.
        refuse_legacy: Refuse (with a ``BreakfixError``, before changing anything) a store whose attempts were keyed
            by the old, partial checkpoint id. Commands that add attempts pass True; readers pass False.
    """

    def __init__(self, path: str | Path, *, refuse_legacy: bool = False) -> None:
        self.path = Path(path)
        if refuse_legacy:
            refuse_legacy_store(self.path)  # before the lock file or anything else is written
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

    def legacy_attempts(self) -> int:
        """Attempts stored by a version-2 store (keyed by the old, partial checkpoint id); never reused."""
        return self.db.execute("SELECT COUNT(*) FROM attempts WHERE checkpoint IS NULL").fetchone()[0]

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

    def record_ran(self, round_: int, suite: str, ids: Sequence[str]) -> None:
        """Record which attempts a run of ``suite`` in round ``round_`` asked for (reused ones included), replacing
        what an earlier run recorded: the store may hold other attempts of that round and suite (an earlier config's,
        or another run's copied in), and what reads the run's findings must not take them."""
        self.finish_stage(round_, f"ran:{suite}", {"ids": list(dict.fromkeys(ids))}, 0.0)

    def ran(self, round_: int, suite: str) -> set[str] | None:
        """The attempts the last recorded run of ``suite`` in round ``round_`` asked for (:meth:`record_ran`); None
        when none was recorded (an older store: all its attempts count)."""
        done = self.stage(round_, f"ran:{suite}")
        return None if done is None else set(done["result"]["ids"])

    # ---- attempts and verdicts -----------------------------------------------------------------------------------
    def get_attempts(self, ids: Iterable[str], *, judge: str | None = None) -> dict[str, Attempt]:
        """The stored attempts among ``ids``, each with its verdict by ``judge`` (see :meth:`iter_attempts`)."""
        found: dict[str, Attempt] = {}
        ids = list(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            q, args = _select(judge, f"a.id IN ({','.join('?' * len(chunk))})", chunk)
            for row in self.db.execute(q, args):
                a = _row_to_attempt(row)
                found[a.id] = a
        return found

    def existing_ids(self, ids: Iterable[str], status: str | None = None, judge: str | None = None) -> set[str]:
        """Which of ``ids`` are stored (optionally with ``status``, and with a verdict by ``judge``), without
        loading them."""
        found: set[str] = set()
        ids = list(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            q = f"SELECT id FROM attempts a WHERE id IN ({','.join('?' * len(chunk))})"
            args: list[str] = list(chunk)
            if status is not None:
                q += " AND status=?"
                args.append(status)
            if judge is not None:
                q += " AND EXISTS (SELECT 1 FROM verdicts v WHERE v.attempt_id = a.id AND v.judge = ?)"
                args.append(judge)
            found.update(row[0] for row in self.db.execute(q, args))
        return found

    def count_attempts(self, round_: int | None = None, suite: str | None = None) -> dict[str, int]:
        """Attempts by status (``ok``, ``error``), optionally of one round and suite."""
        where, args = _where(round_, suite)
        return dict(self.db.execute(f"SELECT status, COUNT(*) FROM attempts{where} GROUP BY status", args).fetchall())

    def put_attempts(self, attempts: Iterable[Attempt], *, checkpoint: str, judge: str | None = None) -> None:
        """Write attempts of ``checkpoint``, and the verdicts they carry as ``judge``'s, in one transaction (all or
        none). An attempt without a verdict (its judge failed, say) keeps its generation for a later judge."""
        attempts = list(attempts)
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
                None,
                json.dumps(a.info) if a.info else None,
                checkpoint,
            )
            for a in attempts
        ]
        verdicts = [(a.id, a.verdict) for a in attempts if a.verdict is not None and a.status == "ok"]
        with self.transaction():
            self.db.executemany(f"INSERT OR REPLACE INTO attempts({_COLUMNS}) VALUES ({','.join('?' * 15)})", rows)
            self._put_verdicts(verdicts, judge)

    def put_verdicts(self, verdicts: Iterable[tuple[str, Verdict]], judge: str) -> None:
        """Record ``judge``'s verdicts on stored attempts: ``(attempt id, verdict)`` pairs, in one transaction."""
        with self.transaction():
            self._put_verdicts(list(verdicts), judge)

    def _put_verdicts(self, verdicts: list[tuple[str, Verdict]], judge: str | None) -> None:
        if verdicts and judge is None:
            raise ValueError("verdicts need the id of the judge that gave them")
        self.db.executemany(
            "INSERT OR REPLACE INTO verdicts(attempt_id, judge, verdict) VALUES (?, ?, ?)",
            [(aid, judge, json.dumps(v.to_dict(), ensure_ascii=False)) for aid, v in verdicts],
        )

    def iter_attempts(
        self, round_: int | None = None, suite: str | None = None, *, judge: str | None = None, last_run: bool = False
    ) -> Iterator[Attempt]:
        """Stream attempts, optionally of one round and suite, each with its verdict by ``judge`` (None when that
        judge has not judged it). Without ``judge``, each attempt carries its most recent verdict by any judge: for
        inspection only, since it may mix judges; stage code passes its judge. With ``last_run``, only the attempts
        that the last recorded run of that round and suite asked for (:meth:`ran`)."""
        only = self.ran(round_, suite) if last_run and round_ is not None and suite is not None else None
        where, args = _where(round_, suite, prefix="a.")
        q, args = _select(judge, where.removeprefix(" WHERE ") or "1", args)
        for row in self.db.execute(q + " ORDER BY a.rowid", args):
            a = _row_to_attempt(row)
            if only is None or a.id in only:
                yield a

    def verdict_judges(self, round_: int | None = None, suite: str | None = None) -> dict[str, int]:
        """How many verdicts each judge gave on the selected attempts."""
        where, args = _where(round_, suite, prefix="a.")
        q = f"SELECT v.judge, COUNT(*) FROM verdicts v JOIN attempts a ON a.id = v.attempt_id{where} GROUP BY v.judge"
        return dict(self.db.execute(q, args).fetchall())

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


RECORD = "record"  # a finished round's report entry, stored so that `breakfix report` rebuilds report.json
CHECKPOINT = "checkpoint"  # the content id of the round's checkpoint, recorded when the round starts
RUN_ROUND, RUN_STAGE = -1, "run"  # the run-level parts of the report (decontamination overlap, judge audit)


def write_json(path: str | Path, obj: Any, *, indent: int | None = 2) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (a temporary file, then a rename): a reader never sees half."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=indent, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, p)


def refuse_legacy_store(path: str | Path) -> None:
    """Raise a one-line ``BreakfixError`` if ``path`` is a store whose attempts were keyed by the old, partial
    checkpoint id (version 2 or older, or migrated from one). Reads only; a missing file passes."""
    p = Path(path)
    if not p.is_file():
        return
    try:
        con = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
    except sqlite3.Error:
        return  # not a store: opening it reports that
    try:
        row = con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = int(row[0]) if row else SCHEMA_VERSION
        if version < FULL_HASH_VERSION:
            legacy = con.execute("SELECT 1 FROM attempts LIMIT 1").fetchone() is not None
        else:
            legacy = con.execute("SELECT 1 FROM attempts WHERE checkpoint IS NULL LIMIT 1").fetchone() is not None
    except (sqlite3.Error, ValueError):
        return
    finally:
        con.close()
    if legacy and version < FULL_HASH_VERSION:
        raise BreakfixError(str(p), "schema_version", f"store is version {version}: it {LEGACY_REASON}")
    if legacy:
        raise BreakfixError(str(p), "attempts", f"the store {LEGACY_REASON}")


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


_COLUMNS = (
    "id, round, suite, technique, seed, category, language, turns, transcript, status, error, seconds, verdict, info, "
    "checkpoint"
)
_READ = "a.id, a.round, a.suite, a.technique, a.seed, a.transcript, a.status, a.error, a.seconds, a.info, v.verdict"


def _select(judge: str | None, where: str, args: list[Any]) -> tuple[str, list[Any]]:
    """A query of attempts (alias ``a``) matching ``where``, joined with their verdict by ``judge`` (or, for None,
    their most recent verdict)."""
    if judge is None:
        on = "v.rowid = (SELECT MAX(rowid) FROM verdicts WHERE attempt_id = a.id)"
        return f"SELECT {_READ} FROM attempts a LEFT JOIN verdicts v ON {on} WHERE {where}", list(args)
    on = "v.attempt_id = a.id AND v.judge = ?"
    return f"SELECT {_READ} FROM attempts a LEFT JOIN verdicts v ON {on} WHERE {where}", [judge, *args]


def _where(round_: int | None, suite: str | None, prefix: str = "") -> tuple[str, list[Any]]:
    """A WHERE clause (with its arguments) selecting one round and/or suite, or everything."""
    conds, args = [], []
    for column, value in (("round", round_), ("suite", suite)):
        if value is not None:
            conds.append(f"{prefix}{column}=?")
            args.append(value)
    return (" WHERE " + " AND ".join(conds) if conds else ""), args


def _row_to_attempt(row: tuple[Any, ...]) -> Attempt:
    """An attempt from a row of ``_READ``'s columns."""
    (aid, rnd, suite, technique, seed, transcript, status, error, seconds, info, verdict) = row
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
        verdict=Verdict.from_dict(json.loads(verdict)) if verdict and status == "ok" else None,
        info=json.loads(info) if info else {},
    )


def ensure_run_dir(path: str | Path) -> Path:
    """Create (or reuse) a run directory; a path that exists and is not a directory is an input error."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise BreakfixError(str(p), None, "not a directory (--out must name a run directory)")
    p.mkdir(parents=True, exist_ok=True)
    os.makedirs(p / "rounds", exist_ok=True)
    return p


def read_round_attempts(db: str | Path, round_: int, judge: str, build: str | None = None) -> dict[str, list[Attempt]]:
    """A round's stored attempts by suite (``redteam`` and each benchmark suite), each with ``judge``'s verdict
    (None where that judge has not judged it), read without taking the run's lock. A benchmark suite holds exactly
    the items it was scored on (suites share their direct requests, which the store keeps once), when the round's
    benchmark stage recorded them. With ``build``, those of the round's quantized build (stage ``benchmark@<build>``
    and suite ``redteam@<build>``), under the same suite keys."""
    db = Path(db)
    if not db.is_file():
        return {}
    tag = f"@{build}" if build else ""
    out: dict[str, list[Attempt]] = defaultdict(list)
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            row = con.execute(
                "SELECT result FROM stages WHERE round=? AND stage=?", (round_, f"benchmark{tag}")
            ).fetchone()
            items = json.loads(row[0]).get("items") if row else None
            if items or build:
                where, args = "a.round=? AND a.suite=?", [round_, f"redteam{tag}"]
            else:
                where, args = "a.round=?", [round_]
            q, args = _select(judge, where, args)
            for r in con.execute(q + " ORDER BY a.rowid", args):
                a = _row_to_attempt(r)
                out[a.suite.removesuffix(tag)].append(a)
            out.update(_read_items(con, items or {}, judge))
        finally:
            con.close()
    except (sqlite3.Error, ValueError):
        return {}
    return out


def _read_items(con: sqlite3.Connection, items: dict[str, list[str]], judge: str) -> dict[str, list[Attempt]]:
    out = {}
    for suite, ids in items.items():
        got: dict[str, Attempt] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            q, args = _select(judge, f"a.id IN ({','.join('?' * len(chunk))})", chunk)
            got.update((a.id, a) for a in map(_row_to_attempt, con.execute(q, args)))
        out[suite] = [got[i] for i in ids if i in got]
    return out


def read_items(db: str | Path, items: dict[str, list[str]], judge: str) -> dict[str, list[Attempt]]:
    """The stored attempts of each suite's item ids (as ``bench.json`` lists them), each with ``judge``'s verdict
    (None where that judge has not judged it), read without taking the store's lock."""
    if not Path(db).is_file():
        return {}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return _read_items(con, items, judge)
    finally:
        con.close()


def read_stage(db: str | Path, round_: int, stage: str) -> dict[str, Any]:
    """A finished stage's result (``{}`` when it has not finished), read without taking the run's lock."""
    if not Path(db).is_file():
        return {}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = con.execute("SELECT result FROM stages WHERE round=? AND stage=?", (round_, stage)).fetchone()
        return json.loads(row[0]) if row else {}
    finally:
        con.close()
