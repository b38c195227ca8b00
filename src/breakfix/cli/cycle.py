"""``breakfix demo`` and ``breakfix run``: the break-fix cycle."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from breakfix.cli.common import Limit, MaxNewTokens, TemplatePath, app, fail, overlay
from breakfix.config import RunConfig, demo_config, parse_config, read_config_data
from breakfix.errors import BreakfixError


def _run(cfg: RunConfig, out: Path) -> None:
    from breakfix.cycle import Cycle  # each command imports only its own job (an endpoint red team loads no torch)
    from breakfix.jobs.common import build_world
    from breakfix.progress import console

    report = Cycle(cfg, out, world=build_world(cfg)).run()
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
    seed: Annotated[int, typer.Option(help="The run's seed (the world's samples, training order and init).")] = 0,
) -> None:
    """Build the tiny demo model (cached), run the break-fix cycle on it, and write the report."""
    try:
        _run(demo_config(quick=quick, seed=seed), out)
    except BreakfixError as e:
        fail(e)


@app.command()
def run(
    config: Annotated[Path, typer.Option("--config", "-c", help="YAML run config.")],
    out: Annotated[Path, typer.Option("--out", help="Run directory (resumed if it exists).")],
    max_new_tokens: MaxNewTokens = None,
    limit: Limit = None,
    template_path: TemplatePath = None,
) -> None:
    """Run (or resume) the break-fix cycle described by a YAML config."""
    try:
        data = overlay(read_config_data(config), max_new_tokens, limit, template_path)
        _run(parse_config(data, str(config)), out)
    except BreakfixError as e:
        fail(e)
