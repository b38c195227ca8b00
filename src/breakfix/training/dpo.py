"""Preference optimisation with TRL's DPOTrainer; default loss ``["sigmoid", "sft"]`` (DPO plus an SFT term on the
chosen response, the successor of ``rpo_alpha``), full or LoRA."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from breakfix.settings import DPOSettings
from breakfix.training.common import (
    Snapshots,
    TrainResult,
    load_for_training,
    save_trained,
    train_with,
    trainer_args,
)
from breakfix.training.prefilled import any_open_turn, dpo_features
from breakfix.types import DPORow

__all__ = ["DPOSettings", "train_dpo"]


def train_dpo(
    model_dir: str | Path,
    pairs: list[DPORow],
    out_dir: str | Path,
    settings: DPOSettings,
    seed: int = 0,
    progress_label: str = "DPO",
    snapshots: Snapshots | None = None,
) -> TrainResult:
    """Train ``model_dir`` on preference ``pairs`` (explicit prompt, chosen, rejected); the reference model is
    ``model_dir`` itself (with LoRA, the base with the adapter disabled). Saves a safetensors HF dir at ``out_dir``."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    tokenizer, model = load_for_training(model_dir, settings)
    trainer_cls: Any = DPOTrainer
    if any_open_turn(pairs):  # recovery pairs: breakfix tokenizes (training/prefilled.py)
        data = Dataset.from_list(dpo_features(tokenizer, pairs, settings.max_length))
        trainer_cls = _tokenized_trainer(DPOTrainer)
    else:
        data = Dataset.from_list([{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in pairs])
    args = DPOConfig(
        beta=settings.beta,
        loss_type=settings.loss_type,
        loss_weights=settings.loss_weights,
        **trainer_args(settings, out_dir, "dpo", seed),
    )
    trainer, cb, seconds = train_with(
        trainer_cls,
        model,
        tokenizer,
        args,
        data,
        settings,
        progress_label,
        snapshots.callback("dpo", tokenizer, model_dir) if snapshots else None,
    )
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


def _tokenized_trainer(base: Any) -> Any:
    """``DPOTrainer`` taking a dataset that breakfix tokenized (``prompt_ids``, ``chosen_ids``, ``rejected_ids``):
    TRL's preparation, which would re-render the prompt with a generation prompt, is skipped for it."""

    class TokenizedDPOTrainer(base):  # type: ignore[misc, valid-type]
        def _prepare_dataset(self, dataset: Any, processing_class: Any, args: Any, dataset_name: str) -> Any:
            if "prompt_ids" in dataset.column_names:
                return dataset
            return super()._prepare_dataset(dataset, processing_class, args, dataset_name)

    return TokenizedDPOTrainer
