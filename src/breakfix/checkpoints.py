"""A checkpoint's content id: a hash of every byte of its weights, config and tokenizer, so that the store keys a
generation by the weights that made it (a hub id: by the commit the local HF cache resolves it to)."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from breakfix.errors import BreakfixError

__all__ = ["checkpoint_files", "checkpoint_id", "file_digest"]

# What decides a checkpoint's replies: its weights, its config, and its tokenizer and chat template. Training state
# files that trainers leave beside the weights (optimizer, RNG, arguments) do not.
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.gguf", "*.pt", "*.pth")
MODEL_FILES = (
    "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
    "added_tokens.json", "chat_template.jinja", "chat_template.json", "tokenizer.model", "vocab.json", "merges.txt",
)  # fmt: skip
NOT_MODEL = {"training_args.bin", "optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json"}
_ID_CACHE: dict[tuple[Any, ...], str] = {}


def checkpoint_files(model_dir: Path) -> list[Path]:
    """The files whose bytes make a checkpoint's content id: every weight file, the config and the tokenizer."""
    found = {f for pattern in WEIGHT_PATTERNS for f in model_dir.glob(pattern)}
    found |= {model_dir / name for name in MODEL_FILES}
    return sorted(f for f in found if f.is_file() and f.name not in NOT_MODEL)


def file_digest(path: Path) -> str:
    """The sha256 of a file's bytes (hex)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def checkpoint_id(model: Path | str) -> str:
    """A content id of a checkpoint: ``sha256:`` and a hash of every byte of its weight, config and tokenizer files
    (:func:`checkpoint_files`), so it changes whenever any weight does. Files are hashed in parallel (about 0.75 s
    per GB here: ``benchmarks/bench_checkpoint_id.py``), and a file is not hashed twice in one process while its
    size, mtime and inode stay the same.

    A hub id that is not a local directory is ``hub:<id>@<commit>`` when the local HF cache knows the commit its
    ``main`` resolves to, else ``hub:<id>`` (the revision is then unknown: the hub may serve new weights under it).
    """
    path = Path(model)
    if not path.is_dir():
        commit = _hub_commit(str(model))
        return f"hub:{model}@{commit}" if commit else f"hub:{model}"
    files = checkpoint_files(path)
    if not any(f.match(p) for f in files for p in WEIGHT_PATTERNS):
        raise BreakfixError(str(path), None, "no weight files (*.safetensors, *.bin, *.gguf) to identify")
    keys = [(str(f.resolve()), st.st_size, st.st_mtime_ns, st.st_ino) for f in files for st in [f.stat()]]
    todo = [f for f, k in zip(files, keys, strict=True) if k not in _ID_CACHE]
    if todo:
        with ThreadPoolExecutor(max_workers=min(len(todo), os.cpu_count() or 1)) as pool:
            digests = dict(zip(todo, pool.map(file_digest, todo), strict=True))
        for f, k in zip(files, keys, strict=True):
            if f in digests:
                _ID_CACHE[k] = digests[f]
    h = hashlib.sha256()
    for f, k in zip(files, keys, strict=True):
        h.update(f"{f.name}\0{k[1]}\0{_ID_CACHE[k]}\n".encode())
    return "sha256:" + h.hexdigest()[:32]


def _hub_commit(repo_id: str) -> str | None:
    """The commit that ``repo_id``'s ``main`` resolves to in the local HF cache (no network), if known."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - a dependency of transformers
        return None
    try:
        found = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # an id the hub would not accept: transformers reports it when loading
        return None
    if isinstance(found, str):  # .../models--org--name/snapshots/<commit>/config.json
        return Path(found).parent.name
    return None
