"""Post-training as the cycle and ``breakfix train`` run it: SFT, then DPO (with its SFT term), each stage in this
process or through ``accelerate launch``."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from breakfix.training.common import TrainResult
from breakfix.training.launch import train_stage

if TYPE_CHECKING:
    from breakfix.config import TrainingConfig


def train_pipeline(
    cfg: TrainingConfig,
    model_dir: str | Path,
    sft_rows: list[dict[str, Any]],
    dpo_rows: list[dict[str, Any]],
    out: str | Path,
    *,
    seed: int = 0,
    label: str = "",
) -> tuple[dict[str, Any], list[tuple[str, TrainResult]]]:
    """Train ``model_dir`` by ``cfg.method`` into the safetensors dir ``out``; the SFT checkpoint of ``sft+dpo``
    lives beside ``out`` until DPO has read it. With LoRA, ``out`` holds the merged weights, the last stage's
    adapter in ``adapter/`` and, after SFT then DPO, the SFT adapter in ``adapter-sft/`` (each relative to the
    checkpoint its stage started from). Returns the report's ``training`` block and each stage's result."""
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
        res = train_stage("sft", current, sft_rows, mid, cfg.sft, seed=seed, label=f"{prefix}SFT", launch=launch)
        stages.append(("sft", res))
        current = mid
    if "dpo" in method and dpo_rows:
        res = train_stage("dpo", current, dpo_rows, out, cfg.dpo, seed=seed, label=f"{prefix}DPO", launch=launch)
        stages.append(("dpo", res))
        if current != Path(model_dir):
            if (current / "adapter").is_dir():  # keep the SFT stage's LoRA adapter beside the DPO one
                shutil.copytree(current / "adapter", out / "adapter-sft", dirs_exist_ok=True)
            shutil.rmtree(current, ignore_errors=True)
    elif current != out:
        shutil.copytree(current, out, dirs_exist_ok=True)  # nothing to train: the checkpoint carries over
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
