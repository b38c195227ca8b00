"""The ``breakfix`` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from breakfix.errors import BreakfixError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Safety-align language models with the break-fix cycle.",
)


def _fail(e: BreakfixError) -> None:
    typer.echo(f"error: {e}", err=True)
    raise typer.Exit(2)


def _run(cfg, out: Path) -> None:  # type: ignore[no-untyped-def]
    from breakfix.cycle import Cycle
    from breakfix.progress import console

    report = Cycle(cfg, out).run()
    last = report["rounds"][-1]
    console.print(
        f"[green]done[/]: {len(report['rounds'])} round(s), {report['run']['stop_reason']}; "
        f"report at {out / 'report.json'} and {out / 'report.html'}"
    )
    b = last["benchmarks"]
    if "harmful" in b:
        console.print(
            f"last round: harmful DR-1 {b['harmful']['defect_rate']:.3f} "
            f"(round 0: {report['rounds'][0]['benchmarks']['harmful']['defect_rate']:.3f})"
        )


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Run directory (resumed if it exists).")] = Path("runs/demo"),
    quick: Annotated[bool, typer.Option(help="A smaller cycle (fewer techniques, one fix round).")] = False,
) -> None:
    """Build the tiny demo model (cached), run the break-fix cycle on it, and write the report."""
    from breakfix.config import demo_config

    try:
        _run(demo_config(quick=quick), out)
    except BreakfixError as e:
        _fail(e)


@app.command()
def run(
    config: Annotated[Path, typer.Option("--config", "-c", help="YAML run config.")],
    out: Annotated[Path, typer.Option("--out", help="Run directory (resumed if it exists).")],
) -> None:
    """Run (or resume) the break-fix cycle described by a YAML config."""
    from breakfix.config import load_config

    try:
        _run(load_config(config), out)
    except BreakfixError as e:
        _fail(e)


@app.command()
def report(run_dir: Annotated[Path, typer.Argument(help="A run directory with report.json.")]) -> None:
    """Re-render report.html from a run directory's report.json."""
    from breakfix.report.build import validate_report, write_report

    path = run_dir / "report.json"
    try:
        if not path.is_file():
            raise BreakfixError(str(path), None, "not found; run the cycle first")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            validate_report(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise BreakfixError(str(path), None, f"not valid JSON ({e.__class__.__name__})") from None
        except Exception as e:  # jsonschema.ValidationError
            field = "/".join(str(x) for x in getattr(e, "absolute_path", [])) or None
            reason = f"breaks schema breakfix.report/1 ({getattr(e, 'message', e)})"
            raise BreakfixError(str(path), field, reason) from None
        write_report(data, run_dir)
        typer.echo(f"wrote {run_dir / 'report.html'}")
    except BreakfixError as e:
        _fail(e)


@app.command()
def version() -> None:
    """Print the installed version."""
    from importlib.metadata import version as v

    typer.echo(v("breakfix"))


def main() -> None:
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:
        pass
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
