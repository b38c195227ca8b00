"""Local Hugging Face transformers backend: batched generation with left padding and chat templates."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from breakfix.backends.base import GenerationConfig
from breakfix.errors import BreakfixError
from breakfix.types import Conversation


def check_model_dir(path: str | Path, allow_pickle: bool = False) -> Path:
    """Validate a local HF model dir before loading it; raise ``BreakfixError`` naming the problem.

    Args:
        path: The directory.
        allow_pickle: Accept ``pytorch_model.bin`` weights (pickle) when no safetensors exist.
    """
    p = Path(path)
    if not p.exists():
        raise BreakfixError(str(p), None, "model path does not exist")
    if not p.is_dir():
        raise BreakfixError(str(p), None, "model path is not a directory")
    if not (p / "config.json").exists():
        raise BreakfixError(str(p), "config.json", "missing: not a Hugging Face model directory")
    try:
        json.loads((p / "config.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BreakfixError(str(p / "config.json"), None, f"not valid JSON ({e.__class__.__name__})") from None
    has_st = any(p.glob("*.safetensors"))
    has_pickle = any(p.glob("*.bin")) or any(p.glob("*.pt"))
    if not has_st and has_pickle and not allow_pickle:
        raise BreakfixError(
            str(p), "weights", "only pickle weights (*.bin); refused by default, opt in with model.allow_pickle"
        )
    if not has_st and not has_pickle:
        raise BreakfixError(str(p), "weights", "no *.safetensors weights found")
    if not any((p / f).exists() for f in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")):
        raise BreakfixError(str(p), "tokenizer", "missing tokenizer files")
    return p


def load_pretrained(
    src: str | Path, *, dtype: Any = "auto", trust_remote_code: bool = False, allow_pickle: bool = False
) -> tuple[Any, Any]:
    """A tokenizer and causal LM from a model dir or hub id: no remote code and safetensors only unless the caller
    opts in. A dir that cannot be loaded (a broken tokenizer or config, bad weights) is a ``BreakfixError``."""
    from transformers import AutoModelForCausalLM

    tokenizer = load_tokenizer(src, trust_remote_code=trust_remote_code)
    try:  # use_safetensors: True refuses pickle; None (opted in) prefers safetensors and falls back to pickle
        model = AutoModelForCausalLM.from_pretrained(
            str(src), dtype=dtype, trust_remote_code=trust_remote_code, use_safetensors=None if allow_pickle else True
        )
    except _LOAD_ERRORS as e:
        raise _load_error(src, "model", e) from None
    return tokenizer, model


def gguf_to_hf(path: str | Path, cache: str | Path | None = None) -> Path:
    """A model dir made once from a ``.gguf`` file (cached by the file's content key): transformers dequantizes
    the GGUF to float32 (it needs the ``gguf`` package), and the weights go into the plain model class of the same
    architecture, which transformers can save and train (a GGUF-loaded model keeps a quantization config that
    ``save_pretrained`` refuses)."""
    import hashlib
    import os
    import shutil

    p = Path(path)
    if not p.is_file():
        raise BreakfixError(str(p), None, "GGUF file not found")
    h = hashlib.sha256(f"{p.resolve()}:{p.stat().st_size}:{p.stat().st_mtime_ns}".encode()).hexdigest()[:16]
    root = Path(cache or os.environ.get("BREAKFIX_CACHE", Path.home() / ".cache" / "breakfix"))
    dest = root / "gguf" / f"{p.stem}-{h}"
    if (dest / "config.json").is_file():
        return dest
    try:
        import gguf  # noqa: F401
    except ImportError:
        raise BreakfixError(str(p), None, "reading a .gguf model needs the gguf package (pip install gguf)") from None
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(p.parent), gguf_file=p.name)
        loaded = AutoModelForCausalLM.from_pretrained(str(p.parent), gguf_file=p.name, dtype="float32")
    except _LOAD_ERRORS as e:
        raise _load_error(p, "gguf", e) from None
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = type(loaded)(config)
    plain.load_state_dict(loaded.state_dict())
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    plain.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    os.replace(tmp, dest)
    return dest


_LOAD_ERRORS = (OSError, ValueError, KeyError, TypeError, AttributeError, json.JSONDecodeError)


def _load_error(src: str | Path, what: str, e: BaseException) -> BreakfixError:
    detail = (str(e).splitlines() or [""])[0][:200]
    return BreakfixError(str(src), what, f"cannot load ({e.__class__.__name__}: {detail})")


def render_chat(tokenizer: Any, conversation: Conversation) -> str:
    """``conversation`` through ``tokenizer``'s chat template: with the generation prompt, or, when it ends with an
    assistant turn (a prefill), with that turn left open (``continue_final_message``)."""
    if conversation and conversation[-1]["role"] == "assistant":
        return tokenizer.apply_chat_template(conversation, tokenize=False, continue_final_message=True)
    return tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)


def continuation_ids(tokenizer: Any, context: str, continuations: Sequence[str]) -> list[tuple[list[int], int]]:
    """For each continuation, the token ids of ``context + continuation`` and where the continuation's tokens start,
    as lm-evaluation-harness encodes multiple choice: the context and the whole are encoded apart, and the
    continuation's tokens are those past the context's (from the context's last token when the two merge)."""
    ctx_ids = tokenizer(context, add_special_tokens=False)["input_ids"]
    rows = []
    for cont in continuations:
        whole = tokenizer(context + cont, add_special_tokens=False)["input_ids"]
        start = len(ctx_ids) if whole[: len(ctx_ids)] == ctx_ids else len(ctx_ids) - 1
        rows.append((whole, max(1, start)))
    return rows


def load_tokenizer(src: str | Path, *, trust_remote_code: bool = False) -> Any:
    """A model dir's (or hub id's) tokenizer; one that cannot be loaded is a ``BreakfixError``."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(src), trust_remote_code=trust_remote_code)
    except _LOAD_ERRORS as e:
        raise _load_error(src, "tokenizer", e) from None


class HFBackend:
    """Generate with a local (or hub) causal LM through transformers.

    Any HF causal LM dir works, including ``microsoft/Phi-3.5-mini-instruct``. Loading uses
    ``trust_remote_code=False`` and safetensors only unless the caller opts in.

    Args:
        model: A local directory or a hub id.
        batch_size: Conversations per ``generate`` call.
        device: ``"cpu"``, ``"cuda"``, ... ; default picks CUDA when available.
        dtype: ``"auto"``, ``"float32"``, ``"bfloat16"`` or ``"float16"``.
        trust_remote_code: Allow model code from the hub.
        allow_pickle: Allow non-safetensors weights.
    """

    def __init__(
        self,
        model: str | Path,
        batch_size: int = 32,
        device: str | None = None,
        dtype: str = "auto",
        trust_remote_code: bool = False,
        allow_pickle: bool = False,
    ) -> None:
        import torch

        src = str(model)
        if Path(src).exists() or src.startswith((".", "/")):
            check_model_dir(src, allow_pickle=allow_pickle)
        self.id = src
        self.batch_size = batch_size
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        torch_dtype = {"auto": "auto", "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[
            dtype
        ]
        if self.device == "cpu" and dtype == "auto":
            torch_dtype = torch.float32
        self.tokenizer, self.model = load_pretrained(
            src, dtype=torch_dtype, trust_remote_code=trust_remote_code, allow_pickle=allow_pickle
        )
        self.model.to(self.device).eval()
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._stop_ids = self._stop_token_ids()

    def _stop_token_ids(self) -> list[int]:
        ids = self.model.generation_config.eos_token_id
        ids = [ids] if isinstance(ids, int) else list(ids or [])
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in ids:
            ids.append(self.tokenizer.eos_token_id)
        return ids

    def render(self, conversation: Conversation) -> str:
        """The prompt text for a conversation: the chat template with the generation prompt, or, when the
        conversation ends with an assistant turn (a prefill), that turn left open for the model to continue."""
        return render_chat(self.tokenizer, conversation)

    def generate(
        self,
        conversations: Sequence[Conversation],
        config: GenerationConfig = GenerationConfig(),
        on_batch: Callable[[int], None] | None = None,
    ) -> list[str]:
        """Reply to each conversation. Prompts are sorted by length and batched, so padding stays small.

        Args:
            conversations: The chats to continue.
            config: Generation settings.
            on_batch: Called with the number of conversations finished after each batch.
        """
        import torch

        prompts = [self.render(c) for c in conversations]
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        out: list[str] = [""] * len(prompts)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            enc = self.tokenizer(
                [prompts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False
            ).to(self.device)
            kwargs: dict[str, object] = {
                "max_new_tokens": config.max_new_tokens,
                "do_sample": config.do_sample,
                "pad_token_id": self.tokenizer.pad_token_id,
                "eos_token_id": self._stop_ids,
            }
            if config.do_sample:
                torch.manual_seed(config.seed + start)
                kwargs.update(temperature=config.temperature, top_p=config.top_p)
            else:
                kwargs.update(temperature=None, top_p=None, top_k=None)
            with torch.inference_mode():
                gen = self.model.generate(**enc, **kwargs)
            new = gen[:, enc["input_ids"].shape[1] :]
            texts = self.tokenizer.batch_decode(new, skip_special_tokens=True)
            for i, t in zip(idx, texts, strict=True):
                out[i] = t.strip()
            if on_batch:
                on_batch(len(idx))
        return out

    def loglikelihood(self, conversation: Conversation, continuations: Sequence[str]) -> list[float]:
        """The log-probability of each continuation as the reply to ``conversation``, summed over its tokens, as
        lm-evaluation-harness scores multiple choice: the context and the whole are encoded apart, and the
        continuation's tokens are those past the context's."""
        import torch

        rows = continuation_ids(self.tokenizer, self.render(conversation), continuations)
        out: list[float] = []
        pad = self.tokenizer.pad_token_id or 0
        for b in range(0, len(rows), self.batch_size):
            part = rows[b : b + self.batch_size]
            width = max(len(w) for w, _ in part)
            ids = torch.tensor([w + [pad] * (width - len(w)) for w, _ in part], device=self.device)
            mask = torch.tensor([[1] * len(w) + [0] * (width - len(w)) for w, _ in part], device=self.device)
            with torch.inference_mode():
                logp = torch.log_softmax(self.model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
            for i, (w, start) in enumerate(part):
                target = torch.tensor(w[start:], device=self.device)
                out.append(float(logp[i, start - 1 : len(w) - 1].gather(1, target[:, None]).sum()))
        return out

    def first_token_probs(self, conversations: Sequence[Conversation], candidates: Sequence[str]) -> list[list[float]]:
        """For each conversation, the probability that the reply starts with each candidate string.

        Each candidate is represented by the first token of its encoding (as guard models are scored: Llama Guard's
        ``safe``/``unsafe``, ShieldGemma's ``Yes``/``No``). Probabilities come from the softmax over the whole
        vocabulary at the first generated position.
        """
        import torch

        ids = []
        for c in candidates:
            tok = self.tokenizer(c, add_special_tokens=False)["input_ids"]
            if not tok:
                raise ValueError(f"candidate {c!r} encodes to no token")
            ids.append(tok[0])
        prompts = [self.render(c) for c in conversations]
        out: list[list[float]] = []
        for start in range(0, len(prompts), self.batch_size):
            enc = self.tokenizer(
                prompts[start : start + self.batch_size], return_tensors="pt", padding=True, add_special_tokens=False
            ).to(self.device)
            with torch.inference_mode():
                logits = self.model(**enc).logits[:, -1, :].float()  # left padding: the last position is the next token
            probs = torch.softmax(logits, dim=-1)[:, ids]
            out.extend(probs.cpu().tolist())
        return out
