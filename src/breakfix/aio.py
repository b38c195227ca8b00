"""Running coroutines: on uvloop when it is installed (Linux and macOS), else on asyncio's default loop.

uvloop cuts the per-request cost of the event loop; against a local 50 ms server it took a plain aiohttp client from
0.87-0.88 to 0.91-0.93 of the ideal request rate at concurrency 64 (``benchmarks/bench_redteam.py``). Set
``BREAKFIX_NO_UVLOOP=1`` to use the default loop. :func:`free_port` finds a loopback port for a local server.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for a server breakfix starts: accelerate's main process, llama.cpp's server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory, or None for asyncio's default."""
    if os.environ.get("BREAKFIX_NO_UVLOOP"):
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the fastest available loop."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(coro)


def new_event_loop() -> asyncio.AbstractEventLoop:
    factory = loop_factory()
    return factory() if factory else asyncio.new_event_loop()
