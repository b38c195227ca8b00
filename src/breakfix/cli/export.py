"""``breakfix export``: a checkpoint as the GGUF builds that ship."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from breakfix.cli.common import MaxNewTokens, app, config_data, fail
from breakfix.config import parse_config
from breakfix.errors import BreakfixError


def _last_round(spec: str) -> str:
    """``RUN_DIR`` (a run directory without ``@R``) as ``RUN_DIR@<its last round>``; any other spec as it is."""
    from breakfix.jobs.compare import load_side

    if "@" in spec or not (Path(spec) / "report.json").is_file():
        return spec
    return f"{spec}@{load_side(spec)['round']}"


@app.command()
def export(
    run: Annotated[str | None, typer.Argument(help="RUN_DIR@ROUND (RUN_DIR: its last round), or demo.")] = None,
    out: Annotated[Path | None, typer.Option(help="Directory for the GGUF files and manifest.json.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Any HF model dir (instead of RUN).")] = None,
    gguf: Annotated[bool, typer.Option("--gguf", help="Export as GGUF (the format llama.cpp serves).")] = True,
    quant: Annotated[str, typer.Option(help="Comma-separated builds: f16 plus llama.cpp quants.")] = "f16,q8_0,q4_k_m",
    llama_cpp: Annotated[
        str | None, typer.Option(help="llama-cpp-python's sdist (.tar.gz) or a llama.cpp checkout (the converter).")
    ] = None,
    verify: Annotated[int, typer.Option(help="Prompts for the greedy check of f16 against HF (0: none).")] = 8,
    max_new_tokens: MaxNewTokens = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config (model settings).")] = None,
) -> None:
    """Export a checkpoint as GGUF with llama.cpp's converter and quantizer: the files, a manifest (sha256, source
    checkpoint id, quant), a token-id check against HF, and the f16 build's greedy agreement with the checkpoint."""
    from breakfix.jobs.export import export_job
    from breakfix.progress import console

    try:
        if not gguf:
            raise BreakfixError("--gguf", None, "GGUF is the one export format")
        if (run is None) == (model is None):
            raise BreakfixError("RUN", None, "give a run (RUN_DIR@ROUND) or --model DIR, not both or neither")
        if out is None:
            raise BreakfixError("--out", None, "missing: the directory for the GGUF files")
        spec = model or _last_round(run or "")
        cfg = parse_config(config_data(config), str(config) if config else "--model")
        result = export_job(
            cfg, spec, out, [q.strip() for q in quant.split(",") if q.strip()], llama_cpp=llama_cpp, verify=verify,
            max_new_tokens=max_new_tokens or 24, log=lambda m: console.print(m),
        )  # fmt: skip
    except BreakfixError as e:
        fail(e)
        return
    for f in result["files"]:
        typer.echo(f"{f['quant']:8s} {f['file']}  {f['bytes'] / 2**20:.1f} MiB  sha256 {f['sha256'][:16]}")
    t = result["tokens"]
    typer.echo(f"token ids: llama.cpp equals HF on {t['equal']}/{t['checked']} test strings")
    if "verify" in result:
        v = result["verify"]
        typer.echo(
            f"greedy check (f16 under llama.cpp vs HF, {v['max_new_tokens']} new tokens): {v['identical']}/"
            f"{v['prompts']} identical, {v['same_first_8_words']}/{v['prompts']} share their first 8 words"
        )
    typer.echo(f"wrote {out / 'manifest.json'}")
