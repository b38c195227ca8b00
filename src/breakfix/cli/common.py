"""What every command shares: the app, the one-line error exit, and the options laid over a config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from breakfix.config import read_config_data
from breakfix.errors import BreakfixError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Safety-align language models with the break-fix cycle.",
)


def fail(e: BreakfixError) -> None:
    typer.echo(f"error: {e}", err=True)
    raise typer.Exit(e.exit_code)  # 2 for bad input; 1 for a server breakfix started that died


TUNABLE = ("concurrency", "timeout", "max_retries", "backoff_base", "backoff_max")  # of a served build's endpoint


MaxNewTokens = Annotated[int | None, typer.Option(help="New tokens per reply at most (generation.max_new_tokens).")]


Limit = Annotated[
    int | None, typer.Option(help="Items per suite and red-team seeds at most (a sample stratified by category).")
]


TemplatePath = Annotated[
    list[str] | None, typer.Option(help="PyRIT template YAML file or folder for the red team (repeatable).")
]


def overlay(
    data: dict[str, Any],
    max_new_tokens: int | None = None,
    limit: int | None = None,
    template_path: list[str] | None = None,
) -> dict[str, Any]:
    """Lay the speed and size options over a config mapping (before its one parse)."""
    if max_new_tokens is not None:
        data.setdefault("generation", {})["max_new_tokens"] = max_new_tokens
    if limit is not None:
        data.setdefault("benchmarks", {})["limit"] = limit
        data.setdefault("redteam", {})["limit"] = limit
    if template_path:
        rt = data.setdefault("redteam", {})
        rt["template_paths"] = list(rt.get("template_paths") or []) + list(template_path)
    return data


def world_data(data: dict[str, Any], world: str | None) -> None:
    """``--world``: a registered world's name, or a YAML config whose ``world`` and ``files`` blocks are taken."""
    if world is None:
        return
    if world.endswith((".yaml", ".yml")) or Path(world).is_file():
        other = read_config_data(world)
        if "files" not in other and "world" not in other:
            raise BreakfixError(world, "world", "this config names no world and has no files: block")
        for key in ("world", "files"):
            if key in other:
                data[key] = other[key]
        data.setdefault("world", "files" if "files" in other else other.get("world"))
    else:
        data["world"] = world


def config_data(config: Path | None) -> dict[str, Any]:
    """The config file's mapping (not yet validated), for the command's options to be laid over it before the one
    parse."""
    return read_config_data(config) if config else {}
