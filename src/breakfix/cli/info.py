"""``breakfix plugins`` and ``breakfix version``."""

from __future__ import annotations

import typer

from breakfix.cli.common import app
from breakfix.cli.render import print_registry


@app.command()
def plugins() -> None:
    """List what is registered (techniques, converters, judges, suites, backends, worlds, models, personas,
    templates, openers and dataset loaders) and where each came from: breakfix itself or a plug-in of the
    entry-point group breakfix.plugins."""

    from breakfix import registry

    print_registry()
    for origin, why in registry.failures():
        typer.echo(f"failed to load {origin}: {why}", err=True)


@app.command()
def version() -> None:
    """Print the installed version."""
    from importlib.metadata import version as v

    typer.echo(v("breakfix"))
