"""``breakfix curate`` and ``breakfix train``: a round's data and its post-training."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from breakfix.cli.common import app, config_data, fail
from breakfix.config import parse_config
from breakfix.errors import BreakfixError


@app.command()
def curate(
    source: Annotated[Path, typer.Argument(help="A run directory (run.db) or a findings JSONL file.")],
    out: Annotated[Path, typer.Option("--out", help="Where sft.jsonl, dpo.jsonl and the dataset card go.")],
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML config (default: the run's own, if stored).")
    ] = None,
    round_: Annotated[int | None, typer.Option("--round", help="Round to curate (default: the last).")] = None,
    model: Annotated[
        str | None, typer.Option(help="With a findings file: the model whose own refusals to distil (dir or 'demo').")
    ] = None,
    helpful: Annotated[
        str | None, typer.Option(help="Helpfulness chats to mix in: JSONL, dataset dir/file or hub id.")
    ] = None,
    replay: Annotated[list[Path] | None, typer.Option(help="An earlier curated dir to replay (repeatable).")] = None,
    safety_share: Annotated[float | None, typer.Option(help="Share of safety rows in the SFT mix.")] = None,
    no_benign_contrast: Annotated[bool, typer.Option("--no-benign-contrast", help="Refusal-only data.")] = False,
) -> None:
    """Turn red-team findings into SFT rows and DPO pairs: safe responses, benign contrast, dedup, decontamination,
    balance and mixing. Writes datasets that TRL and the HF hub read as they are, with a dataset card."""
    from breakfix.jobs.curate import curate_job
    from breakfix.progress import console

    try:
        cfg = None
        overrides = {
            k: v
            for k, v in (
                ("helpful_dataset", helpful),
                ("safety_share", safety_share),
                ("benign_contrast", False if no_benign_contrast else None),
            )
            if v is not None
        }
        if config is not None:
            cfg = parse_config(config_data(config), str(config))
        summary = curate_job(
            source,
            out,
            cfg=cfg,
            overrides=overrides,
            round_=round_,
            model=model,
            replay=replay or [],
            log=lambda m: console.print(m),
        )
    except BreakfixError as e:
        fail(e)
        return
    typer.echo(
        f"{summary['findings']} findings -> {summary['sft']} SFT rows ({summary['safety_sft']} safety), "
        f"{summary['dpo']} DPO pairs ({summary['benign_dpo']} benign contrast)"
    )
    typer.echo(f"responses: {summary['response_sources']}; dropped: {summary['dropped_reasons'] or 'none'}")
    typer.echo(f"wrote {out / 'sft.jsonl'}, {out / 'dpo.jsonl'} and {out / 'README.md'}")


@app.command()
def train(
    data: Annotated[
        Path, typer.Argument(help="A curated dataset dir (sft.jsonl, dpo.jsonl), or a run dir (its last round).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Where model/, train.json and run.db go.")],
    model: Annotated[str, typer.Option(help="The model to train: a HF dir, hub id, or 'demo'.")] = "demo",
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config (its training block).")] = None,
    method: Annotated[str | None, typer.Option(help="sft+dpo, sft or dpo.")] = None,
    lora: Annotated[bool | None, typer.Option("--lora/--full", help="LoRA (merged after) or full fine-tuning.")] = None,
    accelerate_config: Annotated[
        Path | None, typer.Option(help="An accelerate config (DDP, FSDP, DeepSpeed); runs via accelerate launch.")
    ] = None,
    num_processes: Annotated[int | None, typer.Option(min=1, help="Processes for accelerate launch.")] = None,
) -> None:
    """Post-train a model on curated data with TRL: SFT (completion-only loss), then DPO with an SFT term; full or
    LoRA; in this process or across GPUs and nodes through accelerate launch."""
    from breakfix.jobs.train import train_job
    from breakfix.progress import console

    try:
        cfg_data = config_data(config)
        t = cfg_data.setdefault("training", {})
        if method:
            t["method"] = method
        if lora is not None:
            for stage in ("sft", "dpo"):
                t.setdefault(stage, {})["lora"] = lora
        if accelerate_config:
            t["accelerate_config"] = str(accelerate_config)
        if num_processes:
            t["num_processes"] = num_processes
        cfg = parse_config(cfg_data, str(config) if config else "command line")
        result = train_job(cfg, data, model, out, log=lambda m: console.print(m))
    except BreakfixError as e:
        fail(e)
        return
    tr = result["training"]
    for stage in ("sft", "dpo"):
        if stage in tr:
            st = tr[stage]
            typer.echo(
                f"{stage}: {st['steps']} steps, {st['seconds']:.1f}s, {st['tokens_per_s']:.0f} tokens/s, "
                f"loss {st['train_loss'] if st['train_loss'] is not None else float('nan'):.4f}"
            )
    typer.echo(f"wrote {result['output']} and {out / 'train.json'}")
