"""vLLM's offline engine: the fast path for local models on GPUs (an optional extra: ``pip install breakfix[vllm]``).

The import is guarded: without vLLM, building this backend raises a one-line ``BreakfixError``. Loading follows the
project's rules: ``trust_remote_code`` is off unless the caller opts in.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from breakfix.backends.base import GenerationConfig
from breakfix.errors import BreakfixError
from breakfix.types import Conversation


def sampling_kwargs(config: GenerationConfig) -> dict[str, Any]:
    """vLLM ``SamplingParams`` arguments for a :class:`GenerationConfig` (greedy is temperature 0)."""
    return {
        "max_tokens": config.max_new_tokens,
        "temperature": config.temperature if config.do_sample else 0.0,
        "top_p": config.top_p if config.do_sample else 1.0,
        "seed": config.seed,
    }


def vllm_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


class VLLMBackend:
    """Batched generation with ``vllm.LLM.chat`` (continuous batching inside one call).

    Args:
        model: A local model dir or a hub id.
        tensor_parallel_size: GPUs to shard the model over.
        dtype: ``"auto"``, ``"bfloat16"``, ``"float16"`` or ``"float32"``.
        gpu_memory_utilization: Fraction of GPU memory vLLM may take.
        max_model_len: Context length cap (None: the model's).
        trust_remote_code: Allow model code from the hub.
        seed: Engine seed.
    """

    def __init__(
        self,
        model: str | Path,
        *,
        tensor_parallel_size: int = 1,
        dtype: str = "auto",
        gpu_memory_utilization: float = 0.85,
        max_model_len: int | None = None,
        trust_remote_code: bool = False,
        seed: int = 0,
    ) -> None:
        try:
            from vllm import LLM
        except ImportError:
            raise BreakfixError(
                "model.backend", "vllm", "vLLM is not installed (pip install 'breakfix[vllm]', needs a GPU)"
            ) from None
        self.id = f"vllm:{model}"
        self.llm = LLM(
            model=str(model),
            tensor_parallel_size=tensor_parallel_size,
            dtype=dtype,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            trust_remote_code=trust_remote_code,
            seed=seed,
        )

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[str]:
        from vllm import SamplingParams

        params = SamplingParams(**sampling_kwargs(config))
        out: list[str] = [""] * len(conversations)
        for prefill in (False, True):  # a conversation ending with an assistant turn is continued (a prefill)
            idx = [i for i, c in enumerate(conversations) if bool(c and c[-1]["role"] == "assistant") == prefill]
            if not idx:
                continue
            outputs = self.llm.chat(
                [list(conversations[i]) for i in idx], params, use_tqdm=False,
                add_generation_prompt=not prefill, continue_final_message=prefill,
            )  # fmt: skip
            for i, o in zip(idx, outputs, strict=True):
                out[i] = o.outputs[0].text
        return out

    def close(self) -> None:
        """Free the engine and its GPU memory (before training in the same process)."""
        del self.llm
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass
