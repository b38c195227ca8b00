"""Supervised fine-tuning with TRL's SFTTrainer (assistant-only loss)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field


class SFTSettings(BaseModel):
    """SFT hyper-parameters (breakfix's defaults for the demo model; raise epochs or lower lr for big models)."""

    model_config = {"extra": "forbid"}

    epochs: float = Field(2.0, gt=0)
    learning_rate: float = Field(2e-4, gt=0)
    batch_size: int = Field(16, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    max_length: int = Field(256, ge=16)
    warmup_ratio: float = Field(0.05, ge=0, le=1)
    freeze_embeddings: bool = True
    lora: bool = False
    lora_r: int = Field(16, ge=1)
    report_to: list[str] = Field(default_factory=list)


@dataclass
class TrainResult:
    steps: int
    seconds: float
    tokens: int
    logs: list[dict[str, Any]]

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


def train_sft(
    model_dir: str | Path,
    rows: list[dict[str, Any]],
    out_dir: str | Path,
    settings: SFTSettings,
    seed: int = 0,
    progress_label: str = "SFT",
) -> TrainResult:
    """Fine-tune ``model_dir`` on ``rows`` and save a safetensors HF dir at ``out_dir``.

    Rows are conversational prompt-completion (``{"prompt": [...], "completion": [...]}``, loss on the completion
    only) or chats (``{"messages": [...]}``, loss on every assistant turn); one format per call.
    """
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

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
    keys = ("prompt", "completion") if "completion" in rows[0] else ("messages",)
    data = Dataset.from_list([{k: r[k] for k in keys} for r in rows])
    args = SFTConfig(
        output_dir=str(Path(out_dir).parent / ".trainer-sft"),
        num_train_epochs=settings.epochs,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        learning_rate=settings.learning_rate,
        warmup_steps=settings.warmup_ratio,
        max_length=settings.max_length,
        assistant_only_loss="messages" in keys,
        report_to=settings.report_to,
        seed=seed,
        data_seed=seed,
        **trainer_common(),
    )
    cb = ProgressCallback(progress_label)
    peft_config = _lora(settings)
    with quiet_training_logs():
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=data,
            processing_class=tokenizer,
            callbacks=[cb],
            peft_config=peft_config,
        )
        drop_console_printer(trainer)
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
    tokens = int(sum(len(x) for x in trainer.train_dataset["input_ids"]) * settings.epochs)
    save_model(trainer.model, tokenizer, out_dir)
    return TrainResult(steps=trainer.state.global_step, seconds=seconds, tokens=tokens, logs=cb.logs)


def _lora(settings: SFTSettings) -> Any:
    if not settings.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=settings.lora_r, lora_alpha=2 * settings.lora_r, target_modules="all-linear", task_type="CAUSAL_LM"
    )
