"""``breakfix judge-audit``: a judge against human labels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from breakfix.cli.common import app, config_data, fail
from breakfix.cli.render import print_audit
from breakfix.config import parse_config
from breakfix.errors import BreakfixError


@app.command("judge-audit")
def judge_audit(
    labels: Annotated[
        str | None,
        typer.Option(
            help="Labelled JSONL, JSON array or CSV; or shipped (the held-out real replies, default), shipped-dev, "
            "shipped-all, synthetic (the hand-written six-language set)."
        ),
    ] = None,
    judge: Annotated[str, typer.Option(help="A registered judge: demo, refusal, llm, llama_guard, ...")] = "refusal",
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config (for judge_model).")] = None,
    response_col: Annotated[
        str | None, typer.Option(help="The column of model replies (default: found by name).")
    ] = None,
    label_col: Annotated[str | None, typer.Option(help="The column of human labels (default: found by name).")] = None,
    prompt_col: Annotated[str | None, typer.Option(help="The column of requests (default: found by name).")] = None,
    task: Annotated[
        str | None, typer.Option(help="What the labels say: refusal (1 = refusal) or harm (1 = harmful reply).")
    ] = None,
    group_by: Annotated[str | None, typer.Option(help="A column for per-group scores (model, category, ...).")] = None,
    off_topic: Annotated[
        bool, typer.Option(help="Count a reply unrelated to the request as a refusal (PyRIT's definition).")
    ] = False,
    predictions: Annotated[Path | None, typer.Option(help="Write every row with its prediction here (JSONL).")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the audit here as JSON.")] = None,
) -> None:
    """Score a judge against human labels: accuracy, precision, recall, F1, Cohen's kappa (binary and three-class),
    confusion matrices, and the counts that correct a run's rates for judge error."""

    from breakfix.judges import build_judge
    from breakfix.judges.audit import SHIPPED, audit, labels_id, load_labelled, rows_split, synthetic_rows, write_json

    named = {"shipped": "heldout", "shipped-dev": "dev", "shipped-all": None}
    try:
        data = config_data(config)
        data["judge"] = judge
        if off_topic:
            data.setdefault("judges", {})["off_topic"] = True
        cfg = parse_config(data, str(config) if config else "--judge")
        if labels is None or labels in named:
            split = named[labels or "shipped"]
            rows = rows_split(SHIPPED, split)
            source = f"shipped real_refusal.jsonl ({split or 'all'})"
        elif labels == "synthetic":
            rows, source = synthetic_rows(), "shipped refusal_audit.jsonl (hand-written)"
        else:
            rows = load_labelled(
                labels, response_col=response_col, label_col=label_col, prompt_col=prompt_col, task=task
            )
            source = labels
        source = f"{source}, sha256 {labels_id(rows)}"
        result = audit(build_judge(cfg), rows, group_by=group_by, source=source)
    except BreakfixError as e:
        fail(e)
        return
    preds = result.pop("predictions")
    print_audit(result, source)
    if predictions is not None:
        predictions.parent.mkdir(parents=True, exist_ok=True)
        with open(predictions, "w", encoding="utf-8") as f:
            for r, p in zip(rows, preds, strict=True):
                f.write(json.dumps({**r, "predicted": p}, ensure_ascii=False) + "\n")
        typer.echo(f"wrote {predictions}")
    if out is not None:
        write_json(result, out)
        typer.echo(f"wrote {out}")
