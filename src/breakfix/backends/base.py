"""The Backend protocols: anything that turns conversations into assistant replies.

Two shapes exist. A *batched* backend (local HF transformers, vLLM) takes many conversations at once and returns
their replies; an *async* backend (an OpenAI-compatible endpoint) answers one conversation per coroutine, many in
flight. The attack engine speaks the async shape; :func:`as_async` adapts a batched backend to it by collecting the
requests that are in flight at the same moment into micro-batches.

It also holds what names a model to the backends: :class:`ModelRef` (a target, attacker, converter or judge model)
and the GGUF builds llama.cpp makes (:data:`QUANTS`). Configs hold these; the backends read them. This module
imports nothing of breakfix above the registry, so that the config layer can build on it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from pydantic import Field, field_validator, model_validator

from breakfix.registry import require
from breakfix.types import Conversation, StrictModel


@dataclass(frozen=True)
class GenerationConfig:
    """How to generate. Greedy by default; sampling is seeded.

    Args:
        max_new_tokens: Longest reply.
        do_sample: Sample instead of greedy decoding.
        temperature: Sampling temperature.
        top_p: Nucleus sampling mass.
        seed: Seed for sampling (each batch reseeds from it, so results do not depend on batch order).
    """

    max_new_tokens: int = 64
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


class BackendError(Exception):
    """A generation failed for good (after any retries). ``reason`` is short and safe to store."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@runtime_checkable
class Backend(Protocol):
    """Generates the next assistant message for each conversation, in one batch."""

    id: str

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[str]: ...


@runtime_checkable
class AsyncBackend(Protocol):
    """Generates the next assistant message of one conversation; many calls may be in flight at once.

    ``concurrency`` is how many calls the engine should keep in flight. ``aclose`` releases connections.
    """

    id: str
    concurrency: int

    async def agenerate(self, conversation: Conversation, config: GenerationConfig) -> str: ...

    async def aclose(self) -> None: ...


class Batched:
    """Adapts a batched :class:`Backend` to :class:`AsyncBackend`.

    Calls that arrive while the loop is busy are gathered (up to ``max_batch``) and generated together in a worker
    thread, so a batched backend sees batches as large as the engine's concurrency allows. Requests with different
    generation configs go to different batches. A batch that fails is split until the failure is isolated.

    Args:
        backend: The batched backend.
        max_batch: The most conversations passed to one ``generate`` call.
    """

    def __init__(self, backend: Backend, max_batch: int = 512) -> None:
        self.backend = backend
        self.id = backend.id
        self.max_batch = max_batch
        self.concurrency = max_batch
        self._pending: list[tuple[Conversation, GenerationConfig, asyncio.Future[str]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def agenerate(self, conversation: Conversation, config: GenerationConfig) -> str:
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending.append((conversation, config, fut))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        while self._pending:
            # let every coroutine that is ready enqueue its request before the batch is cut
            size = -1
            while size != len(self._pending) and len(self._pending) < self.max_batch:
                size = len(self._pending)
                await asyncio.sleep(0)
            config = self._pending[0][1]
            batch = [p for p in self._pending if p[1] == config][: self.max_batch]
            taken = {id(p[2]) for p in batch}
            self._pending = [p for p in self._pending if id(p[2]) not in taken]
            try:
                await self._generate(batch, config)
            except BaseException as e:  # cancelled: no caller may wait forever
                for _, _, fut in batch + self._pending:
                    if not fut.done():
                        fut.set_exception(BackendError(f"generation stopped ({e.__class__.__name__})"))
                self._pending = []
                raise

    async def _generate(
        self, batch: list[tuple[Conversation, GenerationConfig, asyncio.Future[str]]], config: GenerationConfig
    ) -> None:
        """Generate ``batch``; when it fails, split it in halves and retry each, so one bad conversation (or a batch
        too large for memory) fails only itself. At most ``2 * len(batch) - 1`` calls."""
        try:
            replies = await asyncio.to_thread(self.backend.generate, [c for c, _, _ in batch], config)
            if len(replies) != len(batch):
                raise RuntimeError(f"backend returned {len(replies)} replies for {len(batch)} conversations")
        except Exception as e:
            if len(batch) > 1:
                half = len(batch) // 2
                await self._generate(batch[:half], config)
                await self._generate(batch[half:], config)
                return
            reason = f"{e.__class__.__name__}: {e}"[:500]
            if not batch[0][2].done():
                batch[0][2].set_exception(BackendError(reason))
            return
        for (_, _, fut), reply in zip(batch, replies, strict=True):
            if not fut.done():
                fut.set_result(reply)

    async def aloglikelihood(self, conversation: Conversation, continuations: Sequence[str]) -> list[float]:
        """The backend's ``loglikelihood`` in a worker thread; a ``BackendError`` when it has none."""
        fn = getattr(self.backend, "loglikelihood", None)
        if fn is None:
            raise BackendError(f"{self.id} gives no log-likelihoods (multiple-choice scoring needs a local HF model)")
        return await asyncio.to_thread(fn, conversation, continuations)

    async def aclose(self) -> None:
        return None


def as_async(backend: Backend | AsyncBackend, max_batch: int = 512) -> AsyncBackend:
    """``backend`` itself when it is async, else a :class:`Batched` adapter around it."""
    if hasattr(backend, "agenerate"):
        return backend  # type: ignore[return-value]
    return Batched(backend, max_batch=max_batch)  # type: ignore[arg-type]


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
