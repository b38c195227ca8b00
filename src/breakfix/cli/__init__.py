"""The ``breakfix`` command line: one module per command group (parse, call a job, render), the rendering in
:mod:`breakfix.cli.render`. Importing a command module registers its commands on :data:`app`, in help order."""

from __future__ import annotations

import os
import sys

import typer

# importing a command module registers its commands: this order is the order of `breakfix --help`
# isort: off
from breakfix.cli import cycle, redteam, bench, data, judge, export, report, datasets, info  # noqa: F401

# isort: on
from breakfix.cli.common import app

__all__ = ["app", "main"]


def main() -> None:
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*")
    # transformers reads these when (and only if) a command imports it: an endpoint red team never does
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:  # typer >= 0.20 vendors click
        from typer._click.exceptions import UsageError
    except ImportError:  # pragma: no cover - older typer
        from click.exceptions import UsageError

    try:
        code = app(standalone_mode=False)
    except UsageError as e:  # one line, like every other input error, instead of click's box
        where = e.ctx.command_path if e.ctx is not None else "breakfix"
        hint = f" (see '{where} --help')" if e.ctx is not None else ""
        if e.format_message():  # empty after no_args_is_help has printed the help
            typer.echo(f"error: {where}: {e.format_message()}{hint}", err=True)
        sys.exit(2)
    except (FileExistsError, NotADirectoryError, IsADirectoryError, PermissionError) as e:  # a bad path given
        typer.echo(f"error: {e.filename or '?'}: {e.strerror or e}", err=True)
        sys.exit(2)
    except (KeyboardInterrupt, typer.Abort):
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
