"""Backends: local HF transformers, vLLM's offline engine, and OpenAI-compatible endpoints, behind one protocol.

Each kind registers a factory ``(ModelRef, seed) -> Backend`` with ``@breakfix.registry.backend``; a config's
``kind`` names one. The factories import their heavy dependencies (torch, transformers, vLLM) only when called, so
a run against an endpoint never loads them.
"""

from __future__ import annotations

from pathlib import Path

from breakfix import registry
from breakfix.backends.base import (
    QUANTS,
    AsyncBackend,
    Backend,
    BackendError,
    Batched,
    GenerationConfig,
    ModelRef,
    as_async,
)

__all__ = [
    "QUANTS", "AsyncBackend", "Backend", "BackendError", "Batched", "GenerationConfig", "ModelRef", "as_async",
    "build_backend",
]  # fmt: skip


def build_backend(ref: ModelRef, seed: int = 0) -> Backend | AsyncBackend:
    """The backend a config's :class:`~breakfix.config.ModelRef` describes (heavy imports happen only here)."""
    return registry.get("backend", ref.kind).obj(ref, seed)


@registry.backend("openai")
def openai_backend(ref: ModelRef, seed: int = 0) -> AsyncBackend:
    """An OpenAI-compatible endpoint (vLLM/TGI servers, Ollama, llama.cpp, hosted APIs), async with retries."""
    from breakfix.backends.openai_compat import OpenAICompatBackend  # aiohttp: only endpoint runs need it

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
        tokenizer=ref.tokenizer,
    )


@registry.backend("llamacpp")
def llamacpp_backend(ref: ModelRef, seed: int = 0) -> AsyncBackend:
    """A GGUF build under a llama.cpp server (``bench --gguf``, ``cycle.verify_builds``): replies through its
    OpenAI-compatible API, multiple-choice log-likelihoods from the same file in this process."""
    from breakfix.backends.llamacpp import ServedBuild

    assert ref.path is not None
    return ServedBuild(openai_backend(ref, seed), Path(ref.path), ref.tokenizer)  # type: ignore[arg-type]


@registry.backend("vllm", local=True)
def vllm_backend(ref: ModelRef, seed: int = 0) -> Backend:
    """vLLM's offline engine on local GPUs (tensor parallel)."""
    from breakfix.backends.vllm import VLLMBackend  # optional dependency

    assert ref.path is not None
    return VLLMBackend(
        ref.path,
        tensor_parallel_size=ref.tensor_parallel_size,
        dtype=ref.dtype,
        gpu_memory_utilization=ref.gpu_memory_utilization,
        trust_remote_code=ref.trust_remote_code,
        seed=seed,
    )


@registry.backend("hf", local=True)
def hf_backend(ref: ModelRef, seed: int = 0) -> Backend:
    """A local HF model dir or hub id, batched generate with transformers."""
    from breakfix.backends.hf import HFBackend, check_model_dir  # torch and transformers: heavy

    path = ref.path
    assert path is not None
    if Path(path).exists() or path.startswith((".", "/")):
        check_model_dir(path, allow_pickle=ref.allow_pickle)
    return HFBackend(
        path,
        batch_size=ref.batch_size,
        dtype=ref.dtype,
        trust_remote_code=ref.trust_remote_code,
        allow_pickle=ref.allow_pickle,
    )
