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
