"""The train job: post-train a model on a curated dataset dir (SFT rows and DPO pairs), alone or distributed; what
``breakfix train`` runs and what the cycle runs each round."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from breakfix.config import RunConfig
from breakfix.errors import BreakfixError
from breakfix.jobs.common import Log, check_model, resolve_model
from breakfix.seeds.jsonl import iter_jsonl
from breakfix.store import Store, write_json
from breakfix.training.common import Snapshots
from breakfix.training.pipeline import plan_snapshots, train_pipeline
from breakfix.types import DPORow, SFTRow


def _messages(value: Any, src: str, where: str, roles: tuple[str, ...]) -> None:
    if not isinstance(value, list) or not value:
        raise BreakfixError(src, where, "must be a non-empty list of chat messages")
    for i, m in enumerate(value):
        if not isinstance(m, dict) or m.get("role") not in roles or not isinstance(m.get("content"), str):
            raise BreakfixError(src, f"{where}[{i}]", f"each message needs a role ({'/'.join(roles)}) and content")


def load_training_rows(path: Path, kind: str) -> list[Any]:  # SFT rows or DPO pairs, by kind
    """Read ``sft.jsonl`` (prompt-completion or messages) or ``dpo.jsonl`` (prompt, chosen, rejected) and check each
    row's shape; a ``BreakfixError`` names the line and field of the first bad row."""
    rows: list[Any] = []
    src = str(path)
    conv = ("system", "user", "assistant")
    for n, obj in iter_jsonl(path):
        if kind == "sft" and "messages" in obj:
            _messages(obj["messages"], src, f"line {n}: messages", conv)
        else:
            for key in ("prompt", "completion") if kind == "sft" else ("prompt", "chosen", "rejected"):
                if key not in obj:
                    raise BreakfixError(src, f"line {n}: {key}", "required")
                _messages(obj[key], src, f"line {n}: {key}", conv if key == "prompt" else ("assistant",))
        rows.append(obj)
    if rows and len({"messages" in r for r in rows}) > 1:
        raise BreakfixError(src, None, "mixes 'messages' rows with prompt-completion rows; use one format")
    return rows


def train_job(
    cfg: RunConfig,
    data: str | Path,
    model: str,
    out: str | Path,
    log: Log = print,
) -> dict[str, Any]:
    """Train ``model`` on the curated dataset dir ``data`` (or a run dir's last curated round) by ``cfg.training``
    into ``out/model`` (a safetensors HF
    dir; with LoRA also ``out/model/adapter``); store the metrics in ``out/run.db`` and write ``out/train.json``."""
    d = Path(data)
    if not d.is_dir():
        raise BreakfixError(str(d), None, "not a dataset directory (sft.jsonl / dpo.jsonl)")
    if (d / "rounds").is_dir() and not any((d / f).is_file() for f in ("sft.jsonl", "dpo.jsonl")):
        # a run directory: its last curated round
        curated = [r for r in (d / "rounds").iterdir() if r.name.isdigit() and (r / "dpo.jsonl").is_file()]
        if not curated:
            raise BreakfixError(str(d), "rounds", "no curated round (sft.jsonl / dpo.jsonl) in this run")
        d = max(curated, key=lambda r: int(r.name))
        log(f"training on the data of {d}")
    method = cfg.training.method.split("+")
    sft = load_training_rows(d / "sft.jsonl", "sft") if "sft" in method and (d / "sft.jsonl").is_file() else []
    dpo = load_training_rows(d / "dpo.jsonl", "dpo") if "dpo" in method and (d / "dpo.jsonl").is_file() else []
    if not sft and not dpo:
        raise BreakfixError(str(d), None, f"no rows for method {cfg.training.method} (sft.jsonl / dpo.jsonl)")
    model_dir = resolve_model(model, log)  # a registered model, a model dir or a hub id
    check_model(cfg, model_dir)  # fails before anything is written
    launch = cfg.training.launch()
    log(
        f"training {model} by {cfg.training.method} on {len(sft)} SFT rows and {len(dpo)} DPO pairs"
        + (f" through accelerate launch ({launch.model_dump(exclude_none=True)})" if launch.distributed else "")
    )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stats, stages = train_pipeline(cfg.training, model_dir, sft, dpo, out / "model", seed=cfg.seed)
    with Store(out / "run.db") as store:
        for name, res in stages:
            store.put_metrics(0, name, res.logs)
    result = {"model": str(model), "data": str(d), "output": str(out / "model"), "training": stats}
    result["logs"] = {name: res.logs for name, res in stages}
    write_json(out / "train.json", result)
    return result


def train_candidates(
    cfg: RunConfig,
    store: Store,
    r: int,
    model_dir: Path,
    sft_rows: list[SFTRow],
    dpo_rows: list[DPORow],
    root: Path,
    *,
    count: int,
    every: int | None = None,
    label: str = "",
    metrics_prefix: str = "",
    log: Log = print,
) -> dict[str, Any]:
    """Round ``r``'s fix by ``cfg.training``, from ``model_dir``, saving ``count`` candidates along the way
    (:func:`breakfix.training.pipeline.plan_snapshots`; every ``every`` steps instead, the latest ``count`` kept)
    under ``root``; the metrics go to the store. Returns ``{"training": the report's block, "candidates": [{"name",
    "stage", "step", "path"}, ...]}`` in training order, the last one the end of training."""
    plan = plan_snapshots(cfg.training, len(sft_rows), len(dpo_rows), count=count, every=every)
    if cfg.training.launch().distributed and plan:
        log("  [yellow]note[/]: a launched (distributed) training run takes no snapshots between its stages' ends")
        plan = {}
    snaps = Snapshots(root=root, steps=plan, taken=[])
    stats, stages = train_pipeline(
        cfg.training, model_dir, sft_rows, dpo_rows, root / "final", seed=cfg.seed + r, label=label, snapshots=snaps
    )
    for name, res in stages:
        store.put_metrics(r, metrics_prefix + name, res.logs)
    taken = snaps.taken[-count:] if every is not None else snaps.taken
    return {"training": stats, "candidates": taken}
