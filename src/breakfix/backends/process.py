"""Servers that breakfix starts itself (a llama.cpp server): started on a loopback port, waited for, watched while a
run uses them, and stopped by their pid on success, on error and on Ctrl-C.

A watched server that exits is said at once, in one line: the exit code or signal and its last lines of output.
A client of its URL (:class:`~breakfix.backends.openai_compat.OpenAICompatBackend`) asks :func:`server_watch`
before each request and after each failure, and raises :class:`~breakfix.errors.ServerDied` instead of retrying a
process that is gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from breakfix.errors import BreakfixError

# base URL -> a function that says why the process serving it is gone (None while it runs)
_WATCHED: dict[str, Callable[[], str | None]] = {}


@contextmanager
def watch_server(base_url: str, gone: Callable[[], str | None]) -> Iterator[None]:
    """While the block runs, ``gone`` watches the process that serves ``base_url``: it returns None while the
    process runs and the one-line reason once it has exited."""
    key = base_url.rstrip("/")
    _WATCHED[key] = gone
    try:
        yield
    finally:
        _WATCHED.pop(key, None)


def server_watch(base_url: str) -> Callable[[], str | None] | None:
    """The watch of the process serving ``base_url``, or None when breakfix did not start it."""
    return _WATCHED.get(base_url.rstrip("/"))


def exit_cause(returncode: int) -> str:
    """A process's exit in words: ``exited with code 1`` or ``was killed by SIGSEGV``."""
    if returncode >= 0:
        return f"exited with code {returncode}"
    try:
        return f"was killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"was killed by signal {-returncode}"


def last_lines(fd: int, n: int = 3) -> str:
    """The last ``n`` non-blank lines a process wrote to the file ``fd``, joined on one line (read with ``pread``,
    which leaves the writer's file offset alone)."""
    size = os.fstat(fd).st_size
    data = os.pread(fd, 8192, max(0, size - 8192)).decode("utf-8", "replace")
    lines = [x.strip() for x in data.splitlines() if x.strip()][-n:]
    return " | ".join(lines)[-600:] or "no output"


@contextmanager
def served_process(
    cmd: Sequence[str],
    base_url: str,
    *,
    name: str,
    serves: str,
    source: str,
    timeout: float = 120.0,
    log: Any = None,
) -> Iterator[str]:
    """Start ``cmd`` (a server that will listen at ``base_url``, a ``/v1`` URL), wait until ``GET base_url/models``
    answers, and yield ``base_url`` while watching the process (:func:`watch_server`); stop it on leaving.

    Args:
        cmd: The server's command line.
        base_url: Where it serves, ending in ``/v1``.
        name: What it is, for messages ("llama.cpp server").
        serves: What it serves, for messages (a file name).
        source: The file or argument a failure to start is reported against.
        timeout: Seconds to wait for ``/models`` to answer.
        log: Called with one line once the server answers.
    """
    logf = tempfile.TemporaryFile()
    proc = subprocess.Popen(list(cmd), stdout=logf, stderr=subprocess.STDOUT)

    def gone() -> str | None:
        code = proc.poll()
        if code is None:
            return None
        cause = f"{exit_cause(code)}; its last output: {last_lines(logf.fileno())}"
        return f"the {name} (pid {proc.pid}) serving {serves} {cause}"

    try:
        deadline = time.monotonic() + timeout
        while True:
            if (why := gone()) is not None:
                raise BreakfixError(source, "server", why)
            try:
                with urllib.request.urlopen(base_url + "/models", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BreakfixError(source, "server", f"the {name} gave no answer on {base_url}/models in {timeout:g}s")
            time.sleep(0.2)
        if log is not None:
            log(f"{name} (pid {proc.pid}) serves {serves} on {base_url}")
        with watch_server(base_url, gone):
            yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        logf.close()
