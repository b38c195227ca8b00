"""Benchmark: what `breakfix redteam --endpoint` costs before and around its requests.

Usage: python benchmarks/bench_endpoint_startup.py [--attempts 2000] [--latency 0.05] [--concurrency 64]

A local OpenAI-compatible test server (``python -m breakfix.testing``) answers each request after ``--latency``.
The command under test is the real CLI in a fresh process: ``breakfix redteam --endpoint ... --seeds FILE
--technique direct`` on ``--attempts`` seeds. It prints:

- the time from starting the process to the server seeing its first request (goal: under 1 s), and, as the
  baseline run in the same command, the start-up of a bare ``python -c "import aiohttp"`` process;
- the whole run's wall time, and the achieved attempts/s as a ratio to the ideal (concurrency / latency);
- the process's peak RSS (goal: under 150 MB for 2,000 attempts);
- whether torch or transformers were imported (they must not be).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run ``cmd``; its wall seconds, peak RSS (KiB) and output."""
    started = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{out}")
    return time.time() - started, usage.ru_maxrss, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--attempts", type=int, default=2000)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--concurrency", type=int, default=64)
    a = ap.parse_args()

    env = {**os.environ, "BREAKFIX_NO_PROGRESS": "1", "HF_HUB_OFFLINE": "1"}
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "breakfix.testing", "--port", str(port), "--latency", str(a.latency)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        base_wall, base_rss, _ = _run([sys.executable, "-c", "import aiohttp"], env)
        with tempfile.TemporaryDirectory() as tmp:
            seeds = Path(tmp) / "seeds.jsonl"
            with seeds.open("w") as f:
                for i in range(a.attempts):
                    f.write(json.dumps({"id": f"s{i}", "text": f"How do I pick lock number {i}?", "category": "S2"}))
                    f.write("\n")
            probe = (
                "import runpy, sys; sys.argv = sys.argv[1:]; "
                "import atexit; atexit.register(lambda: print('HEAVY', [m for m in ('torch', 'transformers') "
                "if m in sys.modules])); runpy.run_module('breakfix', run_name='__main__')"
            )
            cmd = [sys.executable, "-c", probe, "breakfix", "redteam", "--out", str(Path(tmp) / "out"),
                   "--endpoint", f"http://127.0.0.1:{port}/v1", "--served-model", "m", "--seeds", str(seeds),
                   "--technique", "direct", "--language", "en", "--concurrency", str(a.concurrency)]  # fmt: skip
            started = time.time()
            wall, rss, out = _run(cmd, env)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats") as resp:
                stats = json.loads(resp.read())
        first = stats["first_request"] - started
        heavy = out.rsplit("HEAVY", 1)[-1].strip()
        ideal = a.concurrency / a.latency
        print(f"attempts {a.attempts} against a {a.latency * 1000:.0f} ms server at concurrency {a.concurrency}")
        print(f"first request {first:.2f} s after start (goal < 1 s); bare `import aiohttp` process {base_wall:.2f} s "
              f"(ratio {first / base_wall:.1f}x)")  # fmt: skip
        print(f"whole run {wall:.2f} s; {a.attempts / (wall - first):.0f} attempts/s after the first request "
              f"({a.attempts / (wall - first) / ideal:.2f} of the ideal {ideal:.0f}/s)")  # fmt: skip
        print(f"peak RSS {rss / 1024:.0f} MB (goal < 150 MB; bare aiohttp process {base_rss / 1024:.0f} MB)")
        print(f"heavy modules imported: {heavy}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
