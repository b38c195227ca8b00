"""Rich progress bars for every long step. Stages call ``task_progress``; the CLI decides whether bars show."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True, soft_wrap=True)  # log lines stay whole (greppable); the terminal wraps them


def enabled() -> bool:
    """Bars show unless ``BREAKFIX_NO_PROGRESS`` is set."""
    return not os.environ.get("BREAKFIX_NO_PROGRESS")


class _Bar:
    def __init__(self, progress: Progress | None, task: int | None) -> None:
        self._p, self._t = progress, task

    def advance(self, n: int = 1) -> None:
        if self._p is not None and self._t is not None:
            self._p.advance(self._t, n)

    def update(self, completed: int, total: int | None = None) -> None:
        if self._p is not None and self._t is not None:
            self._p.update(self._t, completed=completed, total=total)


class _LineBar:
    """Progress for a log that is not a terminal (CI, ``nohup``, ``tee``): one plain line when a step starts, then
    one each time another tenth of it is done or ``BREAKFIX_PROGRESS_SECONDS`` (default 30) have passed since the
    last line, whichever comes first, and one when it ends."""

    def __init__(self, description: str, total: int | None) -> None:
        self.description, self.total, self.done = description, total, 0
        self.start = self.last = time.monotonic()
        self.every = float(os.environ.get("BREAKFIX_PROGRESS_SECONDS", "30"))
        self.next_tenth = 1
        self._line("started")

    def _line(self, what: str) -> None:
        of = f"/{self.total}" if self.total else ""
        console.print(f"{self.description}: {self.done}{of} {what} ({time.monotonic() - self.start:.0f}s)",
                      highlight=False, markup=False)  # fmt: skip
        self.last = time.monotonic()

    def advance(self, n: int = 1) -> None:
        self.update(self.done + n)

    def update(self, completed: int, total: int | None = None) -> None:
        self.done, self.total = completed, total if total is not None else self.total
        tenth = int(10 * self.done / self.total) if self.total else 0
        if tenth >= self.next_tenth or time.monotonic() - self.last >= self.every:
            self.next_tenth = tenth + 1
            self._line("done")

    def close(self) -> None:
        self._line("finished")


@contextmanager
def task_progress(description: str, total: int | None, show: bool = True) -> Iterator[_Bar]:
    """A progress bar for one long step.

    Args:
        description: What the step does.
        total: Number of units of work, if known.
        show: Set False to suppress the bar for this step.
    """
    if not (show and enabled()):
        yield _Bar(None, None)
        return
    if not console.is_terminal:
        bar = _LineBar(description, total)
        try:
            yield bar  # type: ignore[misc]
        finally:
            bar.close()
        return
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    )
    with progress:
        task = progress.add_task(description, total=total)
        yield _Bar(progress, task)
