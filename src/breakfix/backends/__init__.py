"""Backends: local HF transformers, vLLM's offline engine, and OpenAI-compatible endpoints, behind one protocol."""

from __future__ import annotations

from typing import TYPE_CHECKING

from breakfix.backends.base import AsyncBackend, Backend, BackendError, Batched, GenerationConfig, as_async

if TYPE_CHECKING:
    from breakfix.config import ModelRef

__all__ = ["AsyncBackend", "Backend", "BackendError", "Batched", "GenerationConfig", "as_async", "build_backend"]


def build_backend(ref: ModelRef, seed: int = 0) -> Backend | AsyncBackend:
    """The backend a config's :class:`~breakfix.config.ModelRef` describes (heavy imports happen only here)."""
    if ref.kind == "openai":
        from breakfix.backends.openai_compat import OpenAICompatBackend

        assert ref.model is not None
        return OpenAICompatBackend(
            ref.model,
            ref.base_urls,
            api_key_env=ref.api_key_env,
            concurrency=ref.concurrency,
            rpm=ref.rpm,
            timeout=ref.timeout,
            max_retries=ref.max_retries,
            backoff_base=ref.backoff_base,
            backoff_max=ref.backoff_max,
            seed=seed,
        )
    assert ref.path is not None
    if ref.kind == "vllm":
        from breakfix.backends.vllm import VLLMBackend

        return VLLMBackend(
            ref.path,
            tensor_parallel_size=ref.tensor_parallel_size,
            dtype=ref.dtype,
            gpu_memory_utilization=ref.gpu_memory_utilization,
            trust_remote_code=ref.trust_remote_code,
            seed=seed,
        )
    from pathlib import Path

    from breakfix.backends.hf import HFBackend, check_model_dir

    path = ref.path
    if Path(path).exists() or path.startswith((".", "/")):
        check_model_dir(path, allow_pickle=ref.allow_pickle)
    return HFBackend(
        path,
        batch_size=ref.batch_size,
        dtype=ref.dtype,
        trust_remote_code=ref.trust_remote_code,
        allow_pickle=ref.allow_pickle,
    )
