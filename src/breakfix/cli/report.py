"""``breakfix report`` and ``breakfix compare``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from breakfix.cli.common import app, fail
from breakfix.cli.render import print_compare
from breakfix.errors import BreakfixError


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (breakfix run / demo).")],
    redact: Annotated[bool, typer.Option(help="Leave every prompt and model response out of the HTML.")] = False,
    html: Annotated[Path | None, typer.Option(help="Write the HTML here instead of RUN_DIR/report.html.")] = None,
) -> None:
    """Rebuild report.json from the run's store and re-render report.html (from report.json for a run whose store
    predates stored round records)."""
    from breakfix.report.data import report_from_store, write_report

    path = run_dir / "report.json"
    try:
        if not run_dir.is_dir():
            raise BreakfixError(str(run_dir), None, "not a directory")
        if html is not None and not html.parent.is_dir():
            raise BreakfixError(str(html), None, "its folder does not exist")
        data = report_from_store(run_dir)
        if data is None:  # no store, or one from before round records: re-render the report.json there is
            if not path.is_file():
                hint = "; `breakfix redteam` writes redteam.json" if (run_dir / "redteam.json").is_file() else ""
                raise BreakfixError(
                    str(run_dir), None, f"not a run directory (no finished round, no report.json){hint}"
                )
            data = _read_report(path)
        write_report(data, run_dir, redact=redact, html_path=html)
        typer.echo(f"wrote {path} and {html or run_dir / 'report.html'}" + (" (redacted)" if redact else ""))
    except BreakfixError as e:
        fail(e)


def _read_report(path: Path) -> dict:  # type: ignore[type-arg]
    """A report.json, validated against the schema; a ``BreakfixError`` when it is not one."""
    from breakfix.report.data import validate_report

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        validate_report(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BreakfixError(str(path), None, f"not valid JSON ({e.__class__.__name__})") from None
    except Exception as e:  # jsonschema.ValidationError
        field = "/".join(str(x) for x in getattr(e, "absolute_path", [])) or None
        reason = f"breaks schema breakfix.report/1 ({getattr(e, 'message', e)})"
        raise BreakfixError(str(path), field, reason) from None
    return data


@app.command()
def compare(
    a: Annotated[
        str,
        typer.Argument(help="RUN_DIR (its last round), RUN_DIR@ROUND, RUN_DIR@ROUND:BUILD or RUN_DIR@ROUND/CANDIDATE."),
    ],
    b: Annotated[str, typer.Argument(help="RUN_DIR or RUN_DIR@ROUND, compared with A.")],
    out: Annotated[Path | None, typer.Option("--json", help="Write the comparison as JSON.")] = None,
    judge: Annotated[
        str | None, typer.Option(help="Score both sides with this judge (default: theirs if shared, else A's).")
    ] = None,
) -> None:
    """Put two runs, or two rounds of a run, side by side: each metric with its n, the difference and its
    significance (McNemar on paired held-out items, else Fisher's exact test). Both sides are scored by one judge:
    stored replies are re-judged when the runs used different judges."""

    from breakfix.jobs.compare import compare as do_compare
    from breakfix.store import write_json

    try:
        result = do_compare(a, b, judge=judge)
    except BreakfixError as e:
        fail(e)
        return
    print_compare(result)
    if out is not None:
        write_json(out, result)
        typer.echo(f"wrote {out}")
