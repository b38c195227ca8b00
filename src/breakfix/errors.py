"""User-facing errors. The CLI prints them on one line and exits with code 2, with no traceback."""

from __future__ import annotations


class BreakfixError(Exception):
    """Bad input from the user: a config, dataset, model path or argument.

    Args:
        source: The file (or argument) at fault.
        field: The field, key or line within it.
        reason: What is wrong, in a few words.
    """

    exit_code = 2

    def __init__(self, source: str, field: str | None, reason: str) -> None:
        self.source = str(source)
        self.field = field
        self.reason = reason
        where = self.source if not field else f"{self.source}: {field}"
        super().__init__(f"{where}: {reason}")


class RunInUseError(BreakfixError):
    """Another process holds the run directory's lock."""


class ServerDied(BreakfixError):
    """A server that breakfix started and a run waits on (a llama.cpp server) exited. No retry can reach it, so the
    run stops at once: the attempts already sent are recorded as errors, and the same command retries them. The CLI
    prints it on one line and exits with code 1 (the input was not at fault)."""

    exit_code = 1
