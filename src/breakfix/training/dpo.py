"""Preference optimisation with TRL's DPOTrainer; default loss ``["sigmoid", "sft"]`` (DPO plus an SFT term)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from breakfix.training.sft import TrainResult


class DPOSettings(BaseModel):
    """DPO hyper-parameters. ``loss_type`` and ``loss_weights`` pass straight to TRL's ``DPOConfig``."""

    model_config = {"extra": "forbid"}

    epochs: float = Field(1.0, gt=0)
    learning_rate: float = Field(1e-4, gt=0)
    batch_size: int = Field(16, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    max_length: int = Field(256, ge=16)
    beta: float = Field(0.1, gt=0)
    loss_type: list[str] = Field(default_factory=lambda: ["sigmoid", "sft"])
    loss_weights: list[float] | None = None
    warmup_ratio: float = Field(0.05, ge=0, le=1)
    freeze_embeddings: bool = True
    report_to: list[str] = Field(default_factory=list)


def train_dpo(
    model_dir: str | Path,
    pairs: list[dict[str, Any]],
    out_dir: str | Path,
    settings: DPOSettings,
    seed: int = 0,
    progress_label: str = "DPO",
) -> TrainResult:
    """Train ``model_dir`` on preference ``pairs`` (explicit prompt, chosen, rejected); the reference model is
    ``model_dir`` itself. Saves a safetensors HF dir at ``out_dir``."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from breakfix.training.common import (
        ProgressCallback,
        drop_console_printer,
        freeze_embeddings,
        quiet_training_logs,
        save_model,
        trainer_common,
    )

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    if settings.freeze_embeddings:
        freeze_embeddings(model)
    data = Dataset.from_list([{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in pairs])
    args = DPOConfig(
        output_dir=str(Path(out_dir).parent / ".trainer-dpo"),
        num_train_epochs=settings.epochs,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        learning_rate=settings.learning_rate,
        warmup_steps=settings.warmup_ratio,
        max_length=settings.max_length,
        beta=settings.beta,
        loss_type=settings.loss_type,
        loss_weights=settings.loss_weights,
        report_to=settings.report_to,
        seed=seed,
        data_seed=seed,
        **trainer_common(),
    )
    cb = ProgressCallback(progress_label)
    with quiet_training_logs():
        trainer = DPOTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer, callbacks=[cb])
        drop_console_printer(trainer)
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
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
    save_model(trainer.model, tokenizer, out_dir)
    return TrainResult(steps=trainer.state.global_step, seconds=seconds, tokens=tokens, logs=cb.logs)
