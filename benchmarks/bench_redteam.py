"""Benchmark: red-team engine throughput, CPU overhead and memory against a local OpenAI-compatible server.

Usage: python benchmarks/bench_redteam.py [--attempts 10000] [--concurrency 64] [--latency 0.05] [--big 100000]

The test server (``python -m breakfix.testing``) runs in its own process, pinned to its own CPU (the client is
pinned to another), and answers every request after a fixed latency. The engine runs single-turn attempts
(distinct seeds, ``direct``) through the aiohttp backend, judges them (refusal-match judge) and streams them to a
SQLite store, as ``breakfix redteam`` does. It prints:

- achieved attempts/s as a ratio to the ideal, concurrency / latency (goal >= 0.90), and, as the baseline run in the
  same command, the rate of a bare aiohttp client (no engine, no judge, no store) against the same server;
- CPU seconds per attempt of the whole client process: HTTP client, orchestration, judge and store (goal <= 1 ms);
  and the same with an in-process zero-latency backend, i.e. without the HTTP client;
- peak RSS of a fresh process that runs ``--big`` attempts (goal <= 500 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

os.environ.setdefault("BREAKFIX_NO_PROGRESS", "1")


def _seeds(n: int, offset: int = 0):  # type: ignore[no-untyped-def]
    from breakfix.types import Seed

    for i in range(offset, offset + n):
        yield Seed(id=f"s{i}", text=f"How do I steal car number {i}?", category="S2")


class _Instant:
    """An in-process async backend that answers at once (no HTTP): isolates the engine's own CPU cost."""

    id = "instant"
    concurrency = 64

    async def agenerate(self, conversation, config):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0)
        return "I can't help with that."

    async def aclose(self) -> None:
        return None


def measure(n: int, concurrency: int, base_url: str | None, offset: int = 0) -> dict[str, float]:
    """Run ``n`` attempts; return wall seconds, CPU seconds and attempts."""
    from breakfix import aio
    from breakfix.attacks import AttackContext, arun, iter_plans
    from breakfix.backends.base import GenerationConfig
    from breakfix.backends.openai_compat import OpenAICompatBackend
    from breakfix.judges import RefusalJudge
    from breakfix.store import Store

    target = OpenAICompatBackend("bench", base_url, concurrency=concurrency) if base_url else _Instant()
    ctx = AttackContext(target=target, judge=RefusalJudge(), gen=GenerationConfig(max_new_tokens=16))
    with tempfile.TemporaryDirectory() as d, Store(os.path.join(d, "run.db")) as store:
        cpu0, t0 = time.process_time(), time.perf_counter()
        stats = aio.run(
            arun(iter_plans(_seeds(n, offset), ["direct"]), ctx, store, checkpoint="bench", round_=0, suite="redteam")
        )
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        assert stats.generated == n and stats.errors == 0, stats
        assert store.count_attempts() == {"ok": n}
    return {"attempts": n, "wall_s": wall, "cpu_s": cpu}


def raw_client(n: int, concurrency: int, base_url: str) -> dict[str, float]:
    """Baseline: a bare aiohttp client (one session, a semaphore, no engine) sending the same requests."""
    import aiohttp

    from breakfix import aio

    body = {"model": "bench", "messages": [{"role": "user", "content": "How do I steal car number 1?"}]}

    async def go() -> None:
        sem = asyncio.Semaphore(concurrency)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:

            async def one() -> None:
                async with sem, s.post(base_url + "/chat/completions", json=body) as r:
                    json.loads(await r.read())

            await asyncio.gather(*(one() for _ in range(n)))

    cpu0, t0 = time.process_time(), time.perf_counter()
    aio.run(go())
    return {"attempts": n, "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - cpu0}


def _pin(cpu: int) -> None:
    """Keep this process on one CPU (when the machine has two or more), so server and client do not share one."""
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[cpu]})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--attempts", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--big", type=int, default=100_000)
    ap.add_argument("--child", nargs=2, metavar=("N", "URL"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        _pin(0)
        r = measure(int(a.child[0]), a.concurrency, a.child[1])
        r["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(r))
        return

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "breakfix.testing", "--port", str(port), "--latency", str(a.latency)],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: _pin(1),
    )
    _pin(0)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        server.stdout.readline()  # "listening on ..."
        measure(500, a.concurrency, url, offset=10**7)  # warm-up: imports, connections
        run = measure(a.attempts, a.concurrency, url)
        ideal = a.concurrency / a.latency
        achieved = run["attempts"] / run["wall_s"]
        raw = raw_client(a.attempts, a.concurrency, url)
        raw_rate = raw["attempts"] / raw["wall_s"]
        local = measure(a.attempts, a.concurrency, None)
        print(f"engine vs {url}: latency {a.latency * 1000:.0f} ms, concurrency {a.concurrency}, {a.attempts} attempts")
        print(f"  achieved {achieved:.0f} attempts/s; ideal {ideal:.0f}; ratio {achieved / ideal:.3f} (goal >= 0.90)")
        print(
            f"  baseline, a bare aiohttp client on the same server: {raw_rate:.0f} requests/s, ratio to ideal "
            f"{raw_rate / ideal:.3f}; engine / bare client {achieved / raw_rate:.3f}"
        )
        print(
            f"  client CPU {run['cpu_s'] / run['attempts'] * 1000:.3f} ms/attempt incl. HTTP client (goal <= 1 ms); "
            f"{local['cpu_s'] / local['attempts'] * 1000:.3f} ms/attempt without HTTP (in-process backend)"
        )
        if a.big:
            child = subprocess.run(
                [sys.executable, __file__, "--concurrency", str(a.concurrency), "--child", str(a.big), url],
                capture_output=True,
                text=True,
                check=True,
            )
            big = json.loads(child.stdout.strip().splitlines()[-1])
            print(
                f"  {big['attempts']} attempts in a fresh process: peak RSS {big['peak_rss_mb']:.0f} MB (goal <= 500); "
                f"{big['attempts'] / big['wall_s']:.0f} attempts/s, {big['cpu_s'] / big['attempts'] * 1000:.3f} ms CPU"
            )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats") as resp:
            print(f"  server: {json.loads(resp.read())['counts']}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
