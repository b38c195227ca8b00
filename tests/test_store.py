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
        st.put_attempts([_attempt(1), _attempt(2, "error")], checkpoint="c", judge="j")
        got = st.get_attempts(["a1", "a2", "a3"], judge="j")
    assert set(got) == {"a1", "a2"}
    assert got["a1"].verdict.severity == 5 and got["a1"].seed.meta == {"kind": "harmful"}
    assert got["a2"].status == "error" and got["a2"].error == "boom" and got["a2"].verdict is None
    with Store(tmp_path / "run.db") as st:
        assert [a.id for a in st.iter_attempts(0, "redteam", judge="j")] == ["a1", "a2"]


def test_verdicts_are_kept_per_judge(tmp_path):
    other = Verdict(refusal=True, harmful=False, severity=0, category="S1", label="refusal", rationale="", judge="k")
    with Store(tmp_path / "run.db") as st:
        st.put_attempts([_attempt(1)], checkpoint="c", judge="j")
        assert st.get_attempts(["a1"], judge="k")["a1"].verdict is None  # judge k has not judged it
        assert st.existing_ids(["a1"], status="ok", judge="k") == set()
        assert st.existing_ids(["a1"], status="ok", judge="j") == {"a1"}
        st.put_verdicts([("a1", other)], "k")
        assert st.get_attempts(["a1"], judge="k")["a1"].verdict == other
        assert st.get_attempts(["a1"], judge="j")["a1"].verdict.severity == 5  # j's verdict is still j's
        assert next(st.iter_attempts()).verdict == other  # no judge: the latest verdict, for inspection
        assert st.verdict_judges(0, "redteam") == {"j": 1, "k": 1}
        with pytest.raises(ValueError, match="id of the judge"):
            st.put_attempts([_attempt(2)], checkpoint="c")


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
            st.put_attempts([_attempt(4), bad], checkpoint="c", judge="j")
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
        store.put_attempts([a], checkpoint="c")
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


def _version_2_store(path):
    """A store as breakfix wrote it before checkpoint ids hashed every byte: one judged attempt and a finished
    stage."""
    import sqlite3

    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('schema_version', '2');"
        "CREATE TABLE stages (round INTEGER NOT NULL, stage TEXT NOT NULL, result TEXT NOT NULL, "
        "seconds REAL NOT NULL, finished_at REAL NOT NULL, PRIMARY KEY (round, stage));"
        "INSERT INTO stages VALUES (0, 'benchmark', '{}', 1.0, 0.0);"
        "CREATE TABLE attempts (id TEXT PRIMARY KEY, round INTEGER NOT NULL, suite TEXT NOT NULL, "
        "technique TEXT NOT NULL, seed TEXT NOT NULL, category TEXT NOT NULL, language TEXT NOT NULL, "
        "turns INTEGER NOT NULL, transcript TEXT NOT NULL, status TEXT NOT NULL, error TEXT, seconds REAL NOT NULL, "
        "verdict TEXT, info TEXT);"
        """INSERT INTO attempts VALUES ('a', 0, 'redteam', 'direct', '{"id": "s", "text": "t", "category": "S1"}', """
        """'S1', 'en', 1, '[{"role": "user", "content": "t"}, {"role": "assistant", "content": "Sure."}]', 'ok', """
        """NULL, 0.1, '{"refusal": false, "harmful": true, "severity": 4, "category": "S1", "label": "compliance", """
        """"rationale": "", "judge": "refusal/2:4"}', NULL);"""
    )
    db.commit()
    db.close()


def test_a_version_2_store_is_refused_for_new_work_before_anything_changes(tmp_path):
    import sqlite3

    from breakfix.errors import BreakfixError

    _version_2_store(tmp_path / "run.db")
    before = (tmp_path / "run.db").read_bytes()
    with pytest.raises(BreakfixError, match="before checkpoint ids hashed every weight byte") as e:
        Store(tmp_path / "run.db", refuse_legacy=True)
    assert str(e.value).startswith(f"{tmp_path / 'run.db'}: schema_version: store is version 2")
    assert "\n" not in str(e.value)
    assert (tmp_path / "run.db").read_bytes() == before  # refused before migrating
    with sqlite3.connect(tmp_path / "run.db") as con:
        assert con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("2",)


def test_a_version_2_store_is_migrated_for_reading_with_its_verdicts_rekeyed_by_judge(tmp_path):
    from breakfix.errors import BreakfixError

    _version_2_store(tmp_path / "run.db")
    with Store(tmp_path / "run.db") as store:  # a reader (report, compare, curate) migrates it
        assert store.legacy_attempts() == 1
        (a,) = store.iter_attempts(0, "redteam", judge="refusal/2:4")
        assert a.verdict is not None and a.verdict.severity == 4
        assert next(store.iter_attempts(0, "redteam", judge="demo-judge/1")).verdict is None
    with pytest.raises(BreakfixError, match="its attempts cannot be reused"):  # migrated, still never reused
        Store(tmp_path / "run.db", refuse_legacy=True)
