"""Training settings: what configs say about SFT, DPO and how a stage is launched (pydantic only; the trainers that
use them live in ``breakfix.training``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, model_validator

from breakfix.errors import BreakfixError


class TrainSettings(BaseModel):
    """Settings every breakfix trainer shares; ``SFTSettings`` and ``DPOSettings`` add their own.

    ``batch_size`` is per device, as TRL's ``per_device_train_batch_size``: under ``accelerate launch`` with N
    processes, one optimizer step sees ``N * batch_size * gradient_accumulation_steps`` rows.
    """

    model_config = {"extra": "forbid"}

    epochs: float = Field(1.0, gt=0)
    learning_rate: float = Field(1e-4, gt=0)
    batch_size: int = Field(16, ge=1, description="rows per device per step")
    gradient_accumulation_steps: int = Field(1, ge=1)
    max_length: int = Field(256, ge=16)
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="warmup steps as a share of all steps")
    freeze_embeddings: bool = True
    lora: bool = Field(False, description="train a LoRA adapter (PEFT), then merge it; the adapter is kept too")
    lora_r: int = Field(16, ge=1)
    lora_alpha: int | None = Field(None, ge=1, description="default: 2 * lora_r")
    lora_dropout: float = Field(0.0, ge=0, lt=1)
    lora_target_modules: list[str] | Literal["all-linear"] = "all-linear"
    gradient_checkpointing: bool | None = Field(None, description="activation checkpointing (default: on)")
    bf16: bool | None = Field(None, description="default: on when the GPU supports bf16")
    trust_remote_code: bool = Field(False, description="run the model dir's own code (on with model.trust_remote_code)")
    report_to: list[str] = Field(
        default_factory=list,
        description="tensorboard, wandb, mlflow, ... (passed to TRL; each reads its usual environment variables, "
        "such as TENSORBOARD_LOGGING_DIR, WANDB_PROJECT, MLFLOW_TRACKING_URI)",
    )


class SFTSettings(TrainSettings):
    """SFT hyper-parameters (breakfix's defaults suit the demo model; lower the learning rate for big models)."""

    epochs: float = Field(2.0, gt=0)
    learning_rate: float = Field(2e-4, gt=0)


class DPOSettings(TrainSettings):
    """DPO hyper-parameters. ``loss_type`` and ``loss_weights`` pass straight to TRL's ``DPOConfig``."""

    epochs: float = Field(1.0, gt=0)
    learning_rate: float = Field(1e-4, gt=0)
    beta: float = Field(0.1, gt=0)
    loss_type: list[str] = Field(default_factory=lambda: ["sigmoid", "sft"], min_length=1)
    loss_weights: list[float] | None = None

    @model_validator(mode="after")
    def _weights(self) -> DPOSettings:
        if self.loss_weights is not None and len(self.loss_weights) != len(self.loss_type):
            raise ValueError(f"loss_weights needs one weight per loss_type ({len(self.loss_type)})")
        return self


class LaunchSettings(BaseModel):
    """How a training stage is launched.

    Args:
        accelerate_config: An ``accelerate config`` YAML (DDP, FSDP, DeepSpeed, multi-node). Its settings apply.
        num_processes: Processes to launch (overrides the config's ``num_processes``). More than one without a
            config launches DDP on this machine: over NCCL on GPUs, over gloo on CPUs.
        main_process_port: The rendezvous port (default: the config's, or a free one).
    """

    model_config = {"extra": "forbid"}

    accelerate_config: str | None = None
    num_processes: int | None = Field(None, ge=1)
    main_process_port: int | None = Field(None, ge=1, le=65535)

    @property
    def distributed(self) -> bool:
        return self.accelerate_config is not None or (self.num_processes or 1) > 1


def read_accelerate_config(path: str) -> dict[str, Any]:
    """An accelerate config as a mapping; a missing or malformed file is a :class:`BreakfixError`."""
    p = Path(path)
    if not p.is_file():
        raise BreakfixError(path, None, "accelerate config not found")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise BreakfixError(path, None, f"invalid accelerate config ({type(e).__name__})") from None
    if not isinstance(data, dict):
        raise BreakfixError(path, None, "accelerate config must be a YAML mapping")
    n = data.setdefault("num_processes", 1)
    if not isinstance(n, int) or n < 1:
        raise BreakfixError(path, "num_processes", "must be a positive integer")
    return data
