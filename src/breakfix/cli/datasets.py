"""``breakfix datasets``: the loaders, and the world a config builds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from breakfix.cli.common import app, fail
from breakfix.cli.render import print_world
from breakfix.config import load_config
from breakfix.errors import BreakfixError

datasets_app = typer.Typer(
    no_args_is_help=False, invoke_without_command=True, help="The dataset loaders, and the world a config builds."
)


app.add_typer(datasets_app, name="datasets")


@datasets_app.callback()
def datasets(ctx: typer.Context) -> None:
    """List the loaders a files: config names (harmful and benign prompts, templates, openers, capability sets)."""
    if ctx.invoked_subcommand is not None:
        return
    from breakfix import registry

    def helps(family: str) -> dict[str, str]:
        return {name: e.summary for name, e in registry.loaders(family).items()}

    groups = [
        ("files.harmful / files.benign / --seeds", helps("seeds")),
        ("files.templates", helps("templates")),
        ("files.openers", {"text": "one opening turn a line", "jsonl": "rows with text",
                           "pyrit": "a PyRIT .prompt of jailbreak text (the skeleton key)"}),
        ("files.capability / --suite capability=", helps("capability")),
        ("files.documents / files.protected", {"(path)": "a .txt file, a folder of them, or a JSONL of name/text"}),
    ]  # fmt: skip
    for title, loaders in groups:
        typer.echo(title)
        for name, help_ in loaders.items():
            typer.echo(f"  {name:<12} {help_}")


@datasets_app.command("prepare")
def datasets_prepare(
    config: Annotated[Path, typer.Argument(help="A run config with world: files and a files: block.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write world.json here (default: beside nothing).")] = None,
) -> None:
    """Load, split and decontaminate a config's world; print the split counts by source, category and language, the
    overlaps dropped and a sample row per suite; write them as world.json. Nothing is generated."""
    from breakfix.jobs.common import build_world
    from breakfix.store import write_json

    try:
        cfg = load_config(config)
        world = build_world(cfg)
        describe = getattr(world, "describe", None)
        if describe is None:
            raise BreakfixError(str(config), "world", f"the {cfg.world_name} world does not describe its splits")
        info = describe(cfg.benchmarks.suites)
    except BreakfixError as e:
        fail(e)
        return
    print_world(info)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "world.json", info)
        typer.echo(f"wrote {out / 'world.json'}")


@datasets_app.command("twins")
def datasets_twins(
    config: Annotated[Path, typer.Argument(help="A run config: its red-team seeds and curation.twins.")],
    out: Annotated[Path, typer.Option("--out", help="Write the twins here, as JSONL.")],
) -> None:
    """Make the benign twins of a config's harmful red-team seeds (curation.twins: kinds, twins per seed, the
    generator), decontaminated against its validation and held-out prompts, and write them as JSONL for a person to
    read: each twin with its kind, trigger word and the harmful seed it mirrors."""
    from breakfix.curation.datasets import write_jsonl
    from breakfix.jobs.common import build_world
    from breakfix.jobs.redteam import redteam_seeds, twin_seeds

    try:
        cfg = load_config(config)
        cfg.curation.twins.enabled = True  # asked for by name: made whatever the world's default
        world = build_world(cfg)
        seeds, _ = redteam_seeds(cfg, world)
        twins, info = twin_seeds(cfg, world, seeds, typer.echo)
    except BreakfixError as e:
        fail(e)
        return
    by_id = {s.id: s for s in seeds}
    rows = [
        {"id": t.id, "text": t.text, "language": t.language, "kind": t.meta["twin_kind"], "trigger": t.meta["trigger"],
         "twin_of": t.meta["twin_of"], "twin_of_text": by_id[t.meta["twin_of"]].text,
         "twin_of_category": by_id[t.meta["twin_of"]].category, "generator": t.meta["generator"]}
        for t in twins
    ]  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(out, rows)
    typer.echo(f"{len(twins)} twins of {sum(s.harmful for s in seeds)} harmful seeds: by kind {info.get('by_kind')}; "
               f"dropped {info.get('dropped')}")  # fmt: skip
    typer.echo(f"wrote {out}")
