"""A server that breakfix started dies under a run: the run stops at once with the exit signal and the server's last
output on one line, records what was sent as errors, loses nothing, and the same run again retries the rest. A real
server process (breakfix's OpenAI-compatible test server) killed with a real signal; the llama.cpp server's own case
is in test_gguf_export.py."""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time

import pytest

from breakfix.aio import free_port
from breakfix.attacks import AttackContext, plan, run
from breakfix.backends.base import GenerationConfig
from breakfix.backends.openai_compat import OpenAICompatBackend
from breakfix.backends.process import served_process, server_watch
from breakfix.demo.judge import DemoJudge
from breakfix.errors import BreakfixError, ServerDied
from breakfix.store import Store
from breakfix.types import Seed

GEN = GenerationConfig(max_new_tokens=8)


def _server(latency: float):
    port = free_port()
    cmd = [sys.executable, "-m", "breakfix.testing", "--port", str(port), "--latency", str(latency)]
    return served_process(cmd, f"http://127.0.0.1:{port}/v1", name="test server", serves="scripted", source="test")


def _kill_after(pid: int, sig: int, delay: float) -> threading.Thread:
    t = threading.Thread(target=lambda: (time.sleep(delay), os.kill(pid, sig)), daemon=True)
    t.start()
    return t


def _server_pid(base: str) -> int:
    import psutil

    port = int(base.rsplit(":", 1)[1].split("/")[0])
    (pid,) = {c.pid for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port and c.pid}
    return pid


def test_a_server_killed_by_sigsegv_stops_the_run_at_once_and_a_rerun_finishes_it(tmp_path):
    seeds = [Seed(id=f"s{i}", text=f"How do I steal car number {i}?", category="S2") for i in range(60)]
    plans = [plan(s, "direct") for s in seeds]
    with Store(tmp_path / "run.db") as store:
        with _server(latency=0.1) as base:
            # retries with a long backoff: were the dead server retried blindly, the run would take minutes
            target = OpenAICompatBackend("scripted", base, concurrency=4, max_retries=4, backoff_base=20.0)
            ctx = AttackContext(target=target, judge=DemoJudge(), gen=GEN)
            _kill_after(_server_pid(base), signal.SIGSEGV, 0.8)
            t0 = time.monotonic()
            with pytest.raises(ServerDied) as died:
                run(plans, ctx, store, checkpoint="c", round_=0, suite="redteam")
            took = time.monotonic() - t0
            assert server_watch(base) is not None
        assert server_watch(base) is None  # the watch ends with the server's block
        message = str(died.value)
        assert "\n" not in message and "was killed by SIGSEGV" in message and "test server (pid" in message
        assert "its last output: " in message and "listening on" in message  # the server's own last line
        assert died.value.exit_code == 1 and took < 8, took
        rows = store.db.execute("SELECT status, error FROM attempts").fetchall()
        ok = [r for r in rows if r[0] == "ok"]
        errors = [r for r in rows if r[0] == "error"]
        assert ok and errors and len(rows) < len(plans)  # some answered, the in-flight ones failed, the rest unsent
        assert all("SIGSEGV" in r[1] for r in errors)
        with _server(latency=0.0) as base:  # the same command again: a new server on another port
            target = OpenAICompatBackend("scripted", base, concurrency=4)
            stats = run(plans, AttackContext(target=target, judge=DemoJudge(), gen=GEN), store, checkpoint="c",
                        round_=0, suite="redteam")  # fmt: skip
        assert stats.errors == 0 and stats.reused == len(ok) and stats.generated == len(plans) - len(ok)
        final = store.db.execute("SELECT status, COUNT(*) FROM attempts GROUP BY status").fetchall()
        assert final == [("ok", len(plans))]


def test_a_server_that_exits_before_answering_is_one_line_with_its_output(tmp_path):
    port = free_port()
    cmd = [sys.executable, "-c", "import sys; print('loading model'); print('bad magic in the file'); sys.exit(3)"]
    with pytest.raises(BreakfixError) as e, served_process(cmd, f"http://127.0.0.1:{port}/v1", name="x server",
                                                           serves="m.gguf", source="m.gguf"):  # fmt: skip
        pass
    assert re.fullmatch(
        r"m\.gguf: server: the x server \(pid \d+\) serving m\.gguf exited with code 3; its last output: "
        r"loading model \| bad magic in the file",
        str(e.value),
    ), str(e.value)
