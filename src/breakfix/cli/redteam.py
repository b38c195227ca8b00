"""``breakfix redteam``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from breakfix.cli.common import TUNABLE, Limit, MaxNewTokens, TemplatePath, app, config_data, fail, overlay, world_data
from breakfix.cli.render import print_redteam
from breakfix.config import parse_config
from breakfix.errors import BreakfixError


class _RegistryHelp(TyperCommand):
    """A command whose ``--help`` lists the registered techniques, personas and judges (plug-ins' included), read from
    the registry when help is shown: loading the registry imports every stage, which only ``--help`` pays for."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        from breakfix import registry

        def techniques() -> str:
            return ", ".join(n + (":<arg>" if getattr(registry.get("technique", n).obj, "takes_arg", False) else "")
                             for n in registry.names("technique"))  # fmt: skip

        listed = {
            "technique": lambda: f"A technique (repeatable): {techniques()}.",
            "judge": lambda: (
                f"A registered judge: {', '.join(registry.names('judge'))} (default: the model's own, else refusal)."
            ),
            "persona": lambda: f"Adversary preset: {', '.join(registry.names('persona'))}.",
        }
        for param in self.params:
            if param.name in listed:
                param.help = listed[param.name]()  # type: ignore[attr-defined]
        super().format_help(ctx, formatter)


# over 80 lines: the signature declares the command's 17 options; the body parses, calls the job and renders
@app.command(cls=_RegistryHelp)
def redteam(
    out: Annotated[Path, typer.Option("--out", help="Run directory (resumed if it exists).")],
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML run config.")] = None,
    model: Annotated[str | None, typer.Option(help="Target: a HF model dir, hub id, or 'demo'.")] = None,
    vllm: Annotated[bool, typer.Option("--vllm", help="Generate with vLLM's offline engine (GPU).")] = False,
    endpoint: Annotated[
        list[str] | None, typer.Option(help="Target: an OpenAI-compatible base URL (repeat for replicas).")
    ] = None,
    served_model: Annotated[str | None, typer.Option(help="The endpoint's model name.")] = None,
    api_key_env: Annotated[str | None, typer.Option(help="Environment variable with the endpoint's API key.")] = None,
    persona: Annotated[str | None, typer.Option(help="Adversary preset (breakfix plugins lists them).")] = None,
    technique: Annotated[list[str] | None, typer.Option(help="A technique (repeatable; breakfix plugins).")] = None,
    seeds: Annotated[
        list[str] | None,
        typer.Option(help="Seed file: JSONL, CSV, TXT, PyRIT .prompt or <loader>:<path> (repeatable)."),
    ] = None,
    language: Annotated[list[str] | None, typer.Option(help="Seed language to keep (repeatable).")] = None,
    judge: Annotated[
        str | None,
        typer.Option(help="A registered judge (breakfix plugins lists them; default: the model's own, else refusal)."),
    ] = None,
    concurrency: Annotated[int | None, typer.Option(help="Attempts in flight.")] = None,
    world: Annotated[
        str | None, typer.Option(help="Where the seeds come from: a registered world, or a config with files:.")
    ] = None,
    max_new_tokens: MaxNewTokens = None,
    limit: Limit = None,
    template_path: TemplatePath = None,
    gguf: Annotated[
        Path | None, typer.Option(help="Target: this GGUF build under a real llama.cpp server (started and stopped).")
    ] = None,
) -> None:
    """Red-team a model (local HF dir, vLLM, any OpenAI-compatible endpoint, or a GGUF build under llama.cpp); print
    ASR by technique, category and language; store every attempt and write findings.jsonl and redteam.json.
    Re-running resumes."""
    from breakfix.jobs.common import build_world
    from breakfix.jobs.redteam import redteam_job
    from breakfix.progress import console

    try:
        source = str(config) if config else "command line"
        data = overlay(config_data(config), max_new_tokens, limit, template_path)
        world_data(data, world)
        rt = data.setdefault("redteam", {})
        if model is not None:
            data.setdefault("model", {})["path"] = model
            rt.pop("target", None)
        if vllm:
            data.setdefault("model", {})["backend"] = "vllm"
        if endpoint:
            if not served_model:
                raise BreakfixError("--served-model", None, "required with --endpoint")
            rt["target"] = {"kind": "openai", "model": served_model, "base_urls": endpoint, "api_key_env": api_key_env}
            if concurrency:
                rt["target"]["concurrency"] = concurrency
        if gguf is not None:
            from breakfix.jobs.serve import gguf_ref

            own = {k: v for k, v in (rt.get("target") or {}).items() if k in TUNABLE}  # the config may tune retries
            rt["target"] = {**gguf_ref(gguf)[0].model_dump(mode="json", exclude_defaults=True), **own}
        for key, value in (("persona", persona), ("techniques", technique), ("languages", language)):
            if value:
                rt[key] = value
        if seeds:
            rt["seeds"] = [str(s) for s in seeds]
        if concurrency:
            rt["concurrency"] = concurrency
        if judge:
            data["judge"] = judge
        cfg = parse_config(data, source)  # no judge: the model's own (demo for the demo), refusal for any other
        world_ = build_world(cfg)
        if gguf is None:
            result = redteam_job(cfg, out, log=lambda m: console.print(m), world=world_)
        else:
            from breakfix.jobs.serve import serve_gguf

            assert cfg.redteam.target is not None
            with serve_gguf(gguf, lambda m: console.print(m), cfg.redteam.target) as target:
                cfg = cfg.model_copy(update={"redteam": cfg.redteam.model_copy(update={"target": target})})
                result = redteam_job(cfg, out, log=lambda m: console.print(m), world=world_)
        print_redteam(result)
        typer.echo(f"wrote {out / 'redteam.json'} and {out / 'findings.jsonl'}")
    except BreakfixError as e:
        fail(e)
