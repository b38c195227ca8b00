"""Preference optimisation with TRL's DPOTrainer; default loss ``["sigmoid", "sft"]`` (DPO plus an SFT term on the
chosen response, the successor of ``rpo_alpha``), full or LoRA."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from breakfix.settings import DPOSettings
from breakfix.training.common import TrainResult, load_for_training, save_trained, train_with, trainer_args

__all__ = ["DPOSettings", "train_dpo"]


def train_dpo(
    model_dir: str | Path,
    pairs: list[dict[str, Any]],
    out_dir: str | Path,
    settings: DPOSettings,
    seed: int = 0,
    progress_label: str = "DPO",
) -> TrainResult:
    """Train ``model_dir`` on preference ``pairs`` (explicit prompt, chosen, rejected); the reference model is
    ``model_dir`` itself (with LoRA, the base with the adapter disabled). Saves a safetensors HF dir at ``out_dir``."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    tokenizer, model = load_for_training(model_dir, settings)
    data = Dataset.from_list([{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in pairs])
    args = DPOConfig(
        beta=settings.beta,
        loss_type=settings.loss_type,
        loss_weights=settings.loss_weights,
        **trainer_args(settings, out_dir, "dpo", seed),
    )
    trainer, cb, seconds = train_with(DPOTrainer, model, tokenizer, args, data, settings, progress_label)
    ds = trainer.train_dataset
    per_row = (
        [
            len(p) + len(c) + len(r)
            for p, c, r in zip(ds["prompt_ids"], ds["chosen_ids"], ds["rejected_ids"], strict=True)
        ]
        if "prompt_ids" in ds.column_names
        else [0]
    )
    tokens = int(sum(per_row) * settings.epochs)
    save_trained(trainer, tokenizer, out_dir)
    return TrainResult(steps=trainer.state.global_step, seconds=seconds, tokens=tokens, logs=cb.logs)
