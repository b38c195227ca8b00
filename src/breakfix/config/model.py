"""The model under training and how it generates."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from breakfix import registry
from breakfix.backends.base import GenerationConfig, ModelRef
from breakfix.types import StrictModel


class ModelConfig(StrictModel):
    """The model to align: a registered model (``demo``: the plug-in's tiny model, built on first use), or a HF
    model dir / hub id."""

    path: str = "demo"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    trust_remote_code: bool = False
    allow_pickle: bool = False
    batch_size: int = Field(64, ge=1)
    backend: str = Field("hf", description="what generates during the cycle: a registered backend (training is HF)")
    tensor_parallel_size: int = Field(1, ge=1)
    gpu_memory_utilization: float = Field(0.5, gt=0, le=1)

    @field_validator("backend")
    @classmethod
    def _backend(cls, v: str) -> str:
        return registry.require("backend", v)

    def ref(self, path: str | Path) -> ModelRef:
        """These settings as a :class:`ModelRef` for the checkpoint at ``path``."""
        return ModelRef(
            kind=self.backend,
            path=str(path),
            batch_size=self.batch_size,
            dtype=self.dtype,
            trust_remote_code=self.trust_remote_code,
            allow_pickle=self.allow_pickle,
            tensor_parallel_size=self.tensor_parallel_size,
            gpu_memory_utilization=self.gpu_memory_utilization,
        )


class GenerationSettings(StrictModel):
    max_new_tokens: int = Field(48, ge=1, le=8192)
    do_sample: bool = False
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    seed: int = 0

    def config(self) -> GenerationConfig:
        """These settings as the backends' :class:`GenerationConfig`."""
        return GenerationConfig(**self.model_dump())
