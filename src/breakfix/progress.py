"""Rich progress bars for every long step. Stages call ``task_progress``; the CLI decides whether bars show."""

from __future__ import annotations

import os
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
