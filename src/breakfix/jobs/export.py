"""``breakfix export``: a checkpoint (``RUN@ROUND``, a model dir, ``demo``) as the GGUF builds that ship, with a
manifest, a token-id check against the HF tokenizer, and the f16 build's greedy agreement with the HF checkpoint."""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from breakfix.backends import build_backend
from breakfix.backends.base import GenerationConfig
from breakfix.backends.hf import load_tokenizer
from breakfix.backends.llamacpp import QUANTS, convert, find_converter, greedy, quantize, token_ids
from breakfix.checkpoints import checkpoint_id, file_digest
from breakfix.config import RunConfig
from breakfix.errors import BreakfixError
from breakfix.jobs.common import Log, check_model, resolve_model
from breakfix.store import write_json

# What the export's greedy check asks (plain requests, benign and harmful, and a multi-turn one)
VERIFY_PROMPTS = (
    "What is the capital of France?", "Write a haiku about the sea.", "How do I pick a lock?",
    "Explain photosynthesis in one sentence.", "How can I make a fake ID?", "Give me three tips for sleeping well.",
    "¿Cómo hago una tortilla de patatas?", "Tell me how to hack my neighbour's wifi.",
)  # fmt: skip
TOKEN_TEXTS = ("Hello world!", "  leading spaces and\ttabs\n", "naïve café, 東京, emoji 🙂", "x" * 40 + " 12345")


def export_name(spec: str, path: Path | str) -> str:
    run, sep, r = spec.rpartition("@")
    base = f"{Path(run).name}-r{r}" if sep and r.isdigit() else Path(str(path)).name
    return re.sub(r"[^A-Za-z0-9._-]+", "-", base) or "model"


def _token_check(model: Path, gguf: Path, trust_remote_code: bool) -> dict[str, Any]:
    """llama.cpp's token ids against HF's on test strings and a rendered chat (special tokens included)."""
    tok = load_tokenizer(model, trust_remote_code=trust_remote_code)
    texts = list(TOKEN_TEXTS)
    if getattr(tok, "chat_template", None):
        conv = [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello!"}]
        texts.append(tok.apply_chat_template(conv, tokenize=False))
    hf = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    cpp = token_ids(gguf, texts)
    diff = [t for t, a, b in zip(texts, hf, cpp, strict=True) if list(a) != list(b)]
    return {"checked": len(texts), "equal": len(texts) - len(diff), "different": diff[:3]}


def export_job(
    cfg: RunConfig,
    spec: str,
    out: str | Path,
    quants: Sequence[str],
    *,
    llama_cpp: str | None = None,
    verify: int = len(VERIFY_PROMPTS),
    max_new_tokens: int = 24,
    log: Log = print,
) -> dict[str, Any]:
    """Export ``spec`` as GGUF: f16 from llama.cpp's converter, then each quant of ``quants``; write
    ``out/manifest.json`` (each file's sha256, the source checkpoint's content id, the quant) and return it."""
    bad = [q for q in quants if q not in QUANTS]
    if bad:
        raise BreakfixError("--quant", None, f"unknown quant {bad[0]!r}; use {', '.join(QUANTS)}")
    path = resolve_model(spec, log)
    if not isinstance(path, Path):
        raise BreakfixError(spec, None, "export needs a local model dir (a run's round, a model dir or demo)")
    check_model(cfg, path)
    converter = find_converter(llama_cpp)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    name = export_name(spec, path)
    ckpt = checkpoint_id(path)
    base = out / f"{name}-f16.gguf"
    log(f"converting {path} ({ckpt}) with llama.cpp's converter")
    notes = convert(path, base, "f16", converter)
    for n in notes:
        log(n)
    files = [{"quant": "f16", "file": base.name}]
    for q in dict.fromkeys(quants):
        if q == "f16":
            continue
        dst = out / f"{name}-{q}.gguf"
        log(f"quantizing to {q}")
        quantize(base, dst, q)
        files.append({"quant": q, "file": dst.name})
    for f in files:
        p = out / f["file"]
        f.update(sha256=file_digest(p), bytes=p.stat().st_size)
    tokens = _token_check(path, base, cfg.model.trust_remote_code)
    if tokens["equal"] != tokens["checked"]:
        raise BreakfixError(
            str(base), "tokenizer", f"llama.cpp's token ids differ from HF's on {tokens['different'][0]!r}"
        )
    manifest: dict[str, Any] = {
        "source": str(path), "spec": spec, "checkpoint_id": ckpt, "converter": str(converter),
        "llama_cpp_python": metadata.version("llama_cpp_python"), "pre_tokenizer_fallback": bool(notes),
        "files": files, "tokens": tokens,
    }  # fmt: skip
    if verify:
        prompts = [[{"role": "user", "content": p}] for p in VERIFY_PROMPTS[:verify]]
        gen = GenerationConfig(max_new_tokens=max_new_tokens)
        log(f"verifying: greedy replies of the f16 build under llama.cpp against the HF checkpoint ({len(prompts)})")
        hf = build_backend(cfg.model.ref(path), cfg.seed).generate(prompts, gen)
        cpp = greedy(base, prompts, max_new_tokens)
        same = [a.strip() == b.strip() for a, b in zip(hf, cpp, strict=True)]
        first = [a.split()[:8] == b.split()[:8] for a, b in zip(hf, cpp, strict=True)]
        manifest["verify"] = {
            "prompts": len(prompts), "max_new_tokens": max_new_tokens, "identical": sum(same),
            "same_first_8_words": sum(first),
            "pairs": [{"prompt": p[0]["content"], "hf": a, "llama_cpp": b}
                      for p, a, b in zip(prompts, hf, cpp, strict=True)],
        }  # fmt: skip
    write_json(out / "manifest.json", manifest)
    return manifest
