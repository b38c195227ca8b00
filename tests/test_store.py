import pytest

from breakfix.errors import RunInUseError
from breakfix.store import Store
from breakfix.types import Attempt, Seed, Verdict


def _attempt(i: int, status: str = "ok") -> Attempt:
    seed = Seed(id=f"s{i}", text=f"t{i}", category="S1", language="es", meta={"kind": "harmful"})
    v = Verdict(refusal=False, harmful=True, severity=5, category="S1", label="compliance", rationale="r", judge="j")
    return Attempt(
        id=f"a{i}",
        round=0,
        suite="redteam",
        technique="direct",
        seed=seed,
        transcript=[{"role": "user", "content": "u"}, {"role": "assistant", "content": "r"}],
        status=status,
        error=None if status == "ok" else "boom",
        verdict=v if status == "ok" else None,
    )


def test_attempts_round_trip(tmp_path):
    with Store(tmp_path / "run.db") as st:
        st.put_attempts([_attempt(1), _attempt(2, "error")])
        got = st.get_attempts(["a1", "a2", "a3"])
    assert set(got) == {"a1", "a2"}
    assert got["a1"].verdict.severity == 5 and got["a1"].seed.meta == {"kind": "harmful"}
    assert got["a2"].status == "error" and got["a2"].error == "boom" and got["a2"].verdict is None
    with Store(tmp_path / "run.db") as st:
        assert [a.id for a in st.iter_attempts(0, "redteam")] == ["a1", "a2"]


def test_stages_persist(tmp_path):
    with Store(tmp_path / "run.db") as st:
        assert st.stage(0, "benchmark") is None
        st.finish_stage(0, "benchmark", {"x": 1}, 2.5)
    with Store(tmp_path / "run.db") as st:
        assert st.stage(0, "benchmark") == {"result": {"x": 1}, "seconds": 2.5}


def test_second_process_gets_run_in_use(tmp_path):
    with Store(tmp_path / "run.db"):
        with pytest.raises(RunInUseError, match="in use"):
            Store(tmp_path / "run.db")


def test_failed_transaction_writes_nothing(tmp_path):
    with Store(tmp_path / "run.db") as st:
        bad = _attempt(3)
        bad.transcript = object()  # not JSON-serialisable
        with pytest.raises(TypeError):
            st.put_attempts([_attempt(4), bad])
        assert st.get_attempts(["a4"]) == {}


def test_a_version_1_store_is_migrated_in_place(tmp_path):
    import sqlite3

    from breakfix.store import SCHEMA_VERSION, Store

    db = sqlite3.connect(tmp_path / "run.db")
    db.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('schema_version', '1');"
        "CREATE TABLE attempts (id TEXT PRIMARY KEY, round INTEGER NOT NULL, suite TEXT NOT NULL, "
        "technique TEXT NOT NULL, seed TEXT NOT NULL, category TEXT NOT NULL, language TEXT NOT NULL, "
        "turns INTEGER NOT NULL, transcript TEXT NOT NULL, status TEXT NOT NULL, error TEXT, seconds REAL NOT NULL, "
        "verdict TEXT);"
        """INSERT INTO attempts VALUES ('a', 0, 'redteam', 'direct', '{"id": "s", "text": "t", "category": "S1"}', """
        """'S1', 'en', 1, '[{"role": "user", "content": "t"}]', 'ok', NULL, 0.1, NULL);"""
    )
    db.commit()
    db.close()
    with Store(tmp_path / "run.db") as store:
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
        (a,) = store.iter_attempts()
        assert a.id == "a" and a.info == {}
        a.info = {"backtracks": 2}
        store.put_attempts([a])
        assert store.get_attempts(["a"])["a"].info == {"backtracks": 2}


def test_a_store_newer_than_breakfix_is_refused_and_unlocked(tmp_path):
    from breakfix.errors import BreakfixError
    from breakfix.store import SCHEMA_VERSION

    with Store(tmp_path / "run.db") as st:
        st.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    with pytest.raises(BreakfixError, match="newer than this breakfix"):
        Store(tmp_path / "run.db")
    import fcntl

    with open(tmp_path / "run.db.lock") as lock:  # the refused store released its lock
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_every_older_version_has_a_migration():
    from breakfix.store import MIGRATIONS, SCHEMA_VERSION

    assert sorted(MIGRATIONS) == list(range(1, SCHEMA_VERSION))
