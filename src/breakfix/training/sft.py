"""Supervised fine-tuning with TRL's SFTTrainer (completion-only or assistant-only loss), full or LoRA."""

from __future__ import annotations

from pathlib import Path

from breakfix.settings import SFTSettings
from breakfix.training.common import (
    Snapshots,
    TrainResult,
    load_for_training,
    save_trained,
    train_with,
    trainer_args,
)
from breakfix.training.prefilled import any_open_turn, sft_features
from breakfix.types import SFTRow

__all__ = ["SFTSettings", "train_sft"]


def train_sft(
    model_dir: str | Path,
    rows: list[SFTRow],
    out_dir: str | Path,
    settings: SFTSettings,
    seed: int = 0,
    progress_label: str = "SFT",
    snapshots: Snapshots | None = None,
) -> TrainResult:
    """Fine-tune ``model_dir`` on ``rows`` and save a safetensors HF dir at ``out_dir``.

    Rows are conversational prompt-completion (``{"prompt": [...], "completion": [...]}``, loss on the completion
    only) or chats (``{"messages": [...]}``, loss on the assistant turns only, which needs a chat template with
    ``{% generation %}`` markers); one format per call. A prompt may end with an open assistant turn (a recovery
    example's opening), which the completion continues; the opening gets no loss. Under ``accelerate launch`` every
    process calls this, and the main process saves.
    """
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    tokenizer, model = load_for_training(model_dir, settings)
    keys = ("prompt", "completion") if "completion" in rows[0] else ("messages",)
    if "completion" in rows[0] and any_open_turn(rows):  # recovery rows: breakfix tokenizes (training/prefilled.py)
        data = Dataset.from_list(sft_features(tokenizer, rows))
        args = SFTConfig(completion_only_loss=True, **trainer_args(settings, out_dir, "sft", seed))
    else:
        data = Dataset.from_list([{k: r[k] for k in keys} for r in rows])
        args = SFTConfig(assistant_only_loss="messages" in keys, **trainer_args(settings, out_dir, "sft", seed))
    trainer, cb, seconds = train_with(
        SFTTrainer,
        model,
        tokenizer,
        args,
        data,
        settings,
        progress_label,
        snapshots.callback("sft", tokenizer, model_dir) if snapshots else None,
    )
    tokens = int(sum(len(x) for x in trainer.train_dataset["input_ids"]) * settings.epochs)
    save_trained(trainer, tokenizer, out_dir)
    return TrainResult(steps=trainer.state.global_step, seconds=seconds, tokens=tokens, logs=cb.logs)
