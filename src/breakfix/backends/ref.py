"""What names a model to the backends: :class:`ModelRef` (a target, attacker, converter or judge model), and the GGUF
builds llama.cpp makes (:data:`QUANTS`). Configs hold these; the backends read them. This module imports nothing of
breakfix above the registry, so that the config layer can build on it."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from breakfix.registry import require
from breakfix.types import StrictModel

__all__ = ["QUANTS", "ModelRef"]

# quant name -> llama.cpp's LLAMA_FTYPE_MOSTLY_* value
QUANTS = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q8_0": 7, "q5_0": 8, "q5_1": 9, "q2_k": 10, "q3_k_m": 12,
          "q4_k_s": 14, "q4_k_m": 15, "q5_k_s": 16, "q5_k_m": 17, "q6_k": 18}  # fmt: skip


class ModelRef(StrictModel):
    """A model used as a target, attacker, converter or judge: a local HF dir or hub id (``hf``), vLLM's offline
    engine (``vllm``), or an OpenAI-compatible endpoint (``openai``: vLLM/TGI servers, Ollama, llama.cpp, APIs)."""

    kind: str = Field("openai", description="a registered backend: hf, vllm, openai, or a plug-in's")
    path: str | None = Field(None, description="hf / vllm: a model dir or hub id; llamacpp: the served GGUF file")
    model: str | None = Field(None, description="openai: the served model name")
    base_urls: list[str] = Field(default_factory=list, description="openai: one or more base URLs ending in /v1")
    api_key_env: str | None = Field(None, description="openai: the environment variable holding the API key")
    concurrency: int = Field(64, ge=1, le=4096)
    rpm: float | None = Field(None, gt=0, description="openai: requests per minute per base URL")
    timeout: float = Field(60.0, gt=0)
    max_retries: int = Field(4, ge=0, le=20)
    backoff_base: float = Field(0.5, ge=0)
    backoff_max: float = Field(30.0, gt=0)
    batch_size: int = Field(32, ge=1)
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    tensor_parallel_size: int = Field(1, ge=1)
    gpu_memory_utilization: float = Field(0.85, gt=0, le=1)
    trust_remote_code: bool = False
    allow_pickle: bool = False
    tokenizer: str | None = Field(
        None,
        description="openai: an HF model dir or hub id whose chat template renders prompts for /v1/completions "
        "(prefill continuations, and the multiple-choice log-likelihoods of the capability suite)",
    )

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        return require("backend", v)

    @field_validator("base_urls")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        for u in v:
            if not u.startswith(("http://", "https://")):
                raise ValueError(f"base URL {u!r} must start with http:// or https://")
        return v

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
            raise ValueError("must name an environment variable (the key itself never goes in a config)")
        return v

    @model_validator(mode="after")
    def _complete(self) -> ModelRef:
        if self.kind in ("openai", "llamacpp") and (not self.model or not self.base_urls):
            raise ValueError(f"an {self.kind} model needs 'model' and 'base_urls'")
        if self.kind == "llamacpp" and not self.path:
            raise ValueError("a llamacpp model needs 'path' (the GGUF file the server serves)")
        if self.kind in ("hf", "vllm") and not self.path:
            raise ValueError(f"a {self.kind} model needs 'path'")
        return self
