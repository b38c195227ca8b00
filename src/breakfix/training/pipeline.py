"""Post-training as the cycle and ``breakfix train`` run it: SFT, then DPO (with its SFT term), each stage in this
process or through ``accelerate launch``."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from breakfix.training.common import Snapshots, TrainResult, materialize_snapshots
from breakfix.training.launch import train_stage
from breakfix.types import DPORow, SFTRow

if TYPE_CHECKING:
    from breakfix.config import TrainingConfig


def train_pipeline(
    cfg: TrainingConfig,
    model_dir: str | Path,
    sft_rows: list[SFTRow],
    dpo_rows: list[DPORow],
    out: str | Path,
    *,
    seed: int = 0,
    label: str = "",
    snapshots: Snapshots | None = None,
) -> tuple[dict[str, Any], list[tuple[str, TrainResult]]]:
    """Train ``model_dir`` by ``cfg.method`` into the safetensors dir ``out``; the SFT checkpoint of ``sft+dpo``
    lives beside ``out`` until DPO has read it. With LoRA, ``out`` holds the merged weights, the last stage's
    adapter in ``adapter/`` and, after SFT then DPO, the SFT adapter in ``adapter-sft/`` (each relative to the
    checkpoint its stage started from). Returns the report's ``training`` block and each stage's result.

    With ``snapshots``, each stage also saves the model at the planned steps (:func:`plan_snapshots`), the SFT
    checkpoint is kept after DPO has read it, and ``snapshots.taken`` lists every candidate (the stage ends
    included, ``out`` last) as full model dirs."""
    out = Path(out)
    method = cfg.method.split("+")
    launch = cfg.launch()
    prefix = f"{label}: " if label else ""
    stats: dict[str, Any] = {"method": cfg.method, "steps": 0, "seconds": 0.0, "tokens": 0}
    if launch.distributed:
        stats["launch"] = launch.model_dump(exclude_none=True)
    current = Path(model_dir)
    stages: list[tuple[str, TrainResult]] = []
    if "sft" in method and sft_rows:
        mid = out.parent / f"{out.name}-sft" if "dpo" in method and dpo_rows else out
        res = train_stage("sft", current, sft_rows, mid, cfg.sft, seed=seed, label=f"{prefix}SFT", launch=launch,
                          snapshots=snapshots)  # fmt: skip
        stages.append(("sft", res))
        _ended(snapshots, "sft", res, mid, cfg.sft)
        current = mid
    if "dpo" in method and dpo_rows:
        res = train_stage("dpo", current, dpo_rows, out, cfg.dpo, seed=seed, label=f"{prefix}DPO", launch=launch,
                          snapshots=snapshots)  # fmt: skip
        stages.append(("dpo", res))
        _ended(snapshots, "dpo", res, out, cfg.dpo)
        if current != Path(model_dir):
            if (current / "adapter").is_dir():  # keep the SFT stage's LoRA adapter beside the DPO one
                shutil.copytree(current / "adapter", out / "adapter-sft", dirs_exist_ok=True)
            if snapshots is None:  # else the SFT checkpoint is a candidate
                shutil.rmtree(current, ignore_errors=True)
    elif current != out:
        shutil.copytree(current, out, dirs_exist_ok=True)  # nothing to train: the checkpoint carries over
        if snapshots is not None:
            snapshots.taken[-1]["path"] = str(out)
    for name, res in stages:
        stats[name] = {
            "steps": res.steps,
            "seconds": round(res.seconds, 3),
            "tokens": res.tokens,
            "tokens_per_s": round(res.tokens_per_s, 1),
            "final_loss": res.final("loss"),
            "train_loss": res.final("train_loss"),
            "reward_margin": res.final("rewards/margins"),
            "reward_accuracy": res.final("rewards/accuracies"),
        }
        stats["steps"] += res.steps
        stats["seconds"] += res.seconds
        stats["tokens"] += res.tokens
    stats["seconds"] = round(stats["seconds"], 3)
    stats["tokens_per_s"] = round(stats["tokens"] / stats["seconds"], 1) if stats["seconds"] else 0.0
    return stats, stages


def _ended(snapshots: Snapshots | None, stage: str, res: TrainResult, path: Path, settings: Any) -> None:
    """A stage has ended: its LoRA snapshots become full model dirs, and its end is the next candidate."""
    if snapshots is None:
        return
    materialize_snapshots([t for t in snapshots.taken if t["stage"] == stage], settings)
    snapshots.taken.append({"name": f"{stage}-{res.steps}", "stage": stage, "step": res.steps, "path": str(path),
                            "end": True})  # fmt: skip


def estimated_steps(settings: Any, rows: int, processes: int = 1) -> int:
    """The optimizer steps a stage takes on ``rows`` rows (as the trainer counts them, to within a step)."""
    per_step = settings.batch_size * settings.gradient_accumulation_steps * processes
    return max(1, math.ceil(math.ceil(rows / per_step) * settings.epochs)) if rows else 0


def plan_snapshots(
    cfg: TrainingConfig, sft_rows: int, dpo_rows: int, *, count: int, every: int | None = None
) -> dict[str, list[int]]:
    """The intermediate steps at which each stage saves a candidate, so that a run of ``cfg.method`` yields
    ``count`` candidates in all (each stage's end is always one): spread evenly over all the run's steps, or, with
    ``every``, every that many steps of each stage (the latest ones kept when that is more than ``count``)."""
    method = cfg.method.split("+")
    n = cfg.launch().num_processes or 1
    steps = {
        "sft": estimated_steps(cfg.sft, sft_rows, n) if "sft" in method else 0,
        "dpo": estimated_steps(cfg.dpo, dpo_rows, n) if "dpo" in method else 0,
    }
    ends = [(st, k) for st, k in steps.items() if k]
    extra = max(0, count - len(ends))
    points: list[tuple[str, int]] = []
    if every is not None:
        points = [(st, s) for st, k in ends for s in range(every, k, every)]
        points = points[len(points) - extra :] if extra else []
    elif extra:
        total = sum(k for _, k in ends)
        for i in range(1, extra + 1):
            g = round(total * i / (extra + 1))
            for st, k in ends:
                if g < k:
                    if g > 0:
                        points.append((st, g))
                    break
                g -= k
    out: dict[str, list[int]] = {}
    for st, s in dict.fromkeys(points):
        out.setdefault(st, []).append(s)
    return out
