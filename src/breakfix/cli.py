"""The ``breakfix`` command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from breakfix.config import RunConfig, demo_config, load_config, parse_config, read_config_data
from breakfix.errors import BreakfixError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Safety-align language models with the break-fix cycle.",
)


def _fail(e: BreakfixError) -> None:
    typer.echo(f"error: {e}", err=True)
    raise typer.Exit(e.exit_code)  # 2 for bad input; 1 for a server breakfix started that died


def _run(cfg: RunConfig, out: Path) -> None:
    from breakfix.cycle import Cycle  # each command imports only its own job (an endpoint red team loads no torch)
    from breakfix.jobs.common import build_world
    from breakfix.progress import console

    report = Cycle(cfg, out, world=build_world(cfg)).run()
    last = report["rounds"][-1]
    console.print(
        f"[green]done[/]: {len(report['rounds'])} round(s), {report['run']['stop_reason']}; "
        f"report at {out / 'report.json'} and {out / 'report.html'}"
    )
    b = last["benchmarks"]
    if "harmful" in b:
        console.print(
            f"last round: harmful DR-1 {b['harmful']['defect_rate']:.3f} "
            f"(round 0: {report['rounds'][0]['benchmarks']['harmful']['defect_rate']:.3f})"
        )


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Run directory (resumed if it exists).")] = Path("runs/demo"),
    quick: Annotated[bool, typer.Option(help="A smaller cycle (fewer techniques, one fix round).")] = False,
    seed: Annotated[int, typer.Option(help="The run's seed (the world's samples, training order and init).")] = 0,
) -> None:
    """Build the tiny demo model (cached), run the break-fix cycle on it, and write the report."""
    try:
        _run(demo_config(quick=quick, seed=seed), out)
    except BreakfixError as e:
        _fail(e)


@app.command()
def run(
    config: Annotated[Path, typer.Option("--config", "-c", help="YAML run config.")],
    out: Annotated[Path, typer.Option("--out", help="Run directory (resumed if it exists).")],
    max_new_tokens: MaxNewTokens = None,
    limit: Limit = None,
    template_path: TemplatePath = None,
) -> None:
    """Run (or resume) the break-fix cycle described by a YAML config."""
    try:
        data = _overlay(read_config_data(config), max_new_tokens, limit, template_path)
        _run(parse_config(data, str(config)), out)
    except BreakfixError as e:
        _fail(e)


def _print_redteam(result: dict) -> None:  # type: ignore[type-arg]
    from rich.console import Console
    from rich.table import Table

    out = Console(width=None if sys.stdout.isatty() else 120)
    s = result["summary"]
    for group in ("technique", "category", "language"):
        table = Table(title=f"ASR by {group}", title_justify="left")
        for col in (group, "judged", "defects", "ASR", "95% CI"):
            table.add_column(col, justify="left" if col == group else "right")
        for key, r in s[f"by_{group}"].items():
            table.add_row(key, str(r["n"]), str(r["k"]), f"{r['rate']:.3f}", f"{r['ci95'][0]:.3f}-{r['ci95'][1]:.3f}")
        out.print(table)
    run = result["run"]
    errors = ", ".join(f"{k} {v}" for k, v in s["error_reasons"].items()) or "none"
    typer.echo(
        f"attempts {s['attempts']} (generated {run['generated']}, from store {run['reused']}: "
        f"{run['verdicts_reused']} verdicts reused, {run['rejudged']} re-judged); judged {s['judged']}, "
        f"defects {s['defects']}, ASR {s['asr']:.3f}; errors {s['errors']} ({errors}); "
        f"benign over-refusals {s['benign_refusals']}/{s['benign_probes']}"
    )


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
        data = _overlay(_config_data(config), max_new_tokens, limit, template_path)
        _world_data(data, world)
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
        _print_redteam(result)
        typer.echo(f"wrote {out / 'redteam.json'} and {out / 'findings.jsonl'}")
    except BreakfixError as e:
        _fail(e)


@app.command()
def bench(
    model: Annotated[str, typer.Option(help="A model dir, hub id, RUN_DIR@ROUND, or 'demo'.")] = "demo",
    suite: Annotated[
        list[str] | None,
        typer.Option(
            help="A suite, or NAME=<loader>:<file> to score that file as the suite (repeatable; default: the config's)."
        ),
    ] = None,
    world: Annotated[
        str | None, typer.Option(help="Where the suites come from: a registered world, or a config with files:.")
    ] = None,
    max_new_tokens: MaxNewTokens = None,
    limit: Limit = None,
    baseline: Annotated[str | None, typer.Option(help="Compare with this checkpoint (paired McNemar test).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Where bench.db and bench.json go.")] = Path("runs/bench"),
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config: model, judge.")] = None,
    judge: Annotated[
        str | None, typer.Option(help="Judge (default: the config's; else demo for demo models, refusal otherwise).")
    ] = None,
    fail_above: Annotated[
        list[str] | None,
        typer.Option(help="Gate KEY=VALUE, e.g. harmful=0.05; harmful=+0.02 is a rise over --baseline."),
    ] = None,
    fail_below: Annotated[
        list[str] | None,
        typer.Option(help="Gate KEY=VALUE, e.g. capability=0.8; capability=-0.05 is a fall below --baseline."),
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="Write the gates as JUnit XML.")] = None,
    gguf: Annotated[
        Path | None,
        typer.Option(help="Benchmark this GGUF build under a real llama.cpp server that breakfix starts and stops."),
    ] = None,
) -> None:
    """Benchmark a model on the held-out suites; compare with a baseline; gate a release (exit 1 on a broken gate)."""
    from rich.console import Console
    from rich.table import Table

    from breakfix.jobs.bench import bench_job
    from breakfix.jobs.common import build_world
    from breakfix.progress import console as log_console
    from breakfix.suites.gate import check_gates, metric_value, parse_gate, write_junit

    try:
        from breakfix.jobs.bench import file_suite

        data = _overlay(_config_data(config), max_new_tokens, limit)
        _world_data(data, world)
        if judge:
            data["judge"] = judge
        extra = dict(file_suite(s) for s in suite or [] if "=" in s)
        if suite:
            data.setdefault("benchmarks", {})["suites"] = [s.partition("=")[0] for s in suite]
        cfg = parse_config(data, str(config) if config else "command line")
        gates = [parse_gate(g, True) for g in fail_above or []] + [parse_gate(g, False) for g in fail_below or []]
        if gguf is None:
            result = bench_job(
                cfg, model, out, cfg.benchmarks.suites, baseline, log=lambda m: log_console.print(m),
                world=build_world(cfg), extra=extra,
            )  # fmt: skip
        else:
            from breakfix.jobs.serve import gguf_ref, serve_gguf

            model = str(gguf)
            ref, ckpt = gguf_ref(gguf)
            world_ = build_world(cfg)  # bad data fails before the server starts
            with serve_gguf(gguf, lambda m: log_console.print(m), ref) as served:
                result = bench_job(
                    cfg, model, out, cfg.benchmarks.suites, baseline, log=lambda m: log_console.print(m),
                    world=world_, extra=extra, served=(served, ckpt),
                )  # fmt: skip
        gate_results = check_gates(
            result["model"]["benchmarks"], gates, result["baseline"]["benchmarks"] if baseline else None
        )
    except BreakfixError as e:
        _fail(e)
        return
    console = Console(width=None if sys.stdout.isatty() else 120)
    table = Table(title=f"{model} (judge {result['judge']})", title_justify="left")
    cols = ["suite", "n", "value", "95% CI", "corrected (95% CI)", "undetermined"]
    cols += ["baseline", "p (McNemar)"] if baseline else []
    for c in cols:
        table.add_column(c, justify="left" if c == "suite" else "right")
    b = result["model"]["benchmarks"]
    for name, s in b.items():
        for key in ["vprr", "iprr"] if name == "overrefusal" else [name]:
            label = f"{name} {key}" if name == "overrefusal" else name
            ci = s.get(f"{key}_ci95") if name == "overrefusal" else s.get("ci95")
            interval = f"{ci[0]:.3f}-{ci[1]:.3f}" if ci else ""  # a plug-in suite may give no interval
            corr = s.get("corrected", {}).get("defect_rate" if "defect_rate" in s else key)
            fixed = (
                "" if corr is None else "n/a" if corr["rate"] is None
                else f"{corr['rate']:.3f} ({corr['ci95'][0]:.3f}-{corr['ci95'][1]:.3f})"
            )  # fmt: skip
            row = [label, str(s.get(f"{key}_n", s["n"])), f"{metric_value(b, key):.3f}", interval, fixed,
                   str(s.get("undetermined", 0))]  # fmt: skip
            if baseline:
                base = result["baseline"]["benchmarks"]
                p = result["paired"].get(name, {}).get("p_value")
                row += [f"{metric_value(base, key):.3f}", f"{p:.3g}" if p is not None and key != "iprr" else ""]
            table.add_row(*row)
        for d, r in s.get("by_depth", {}).items():  # the prefill suite, depth by depth (gate key prefill:<d>)
            row = [f"  {name}:{d}", str(r["n"]), f"{r['rate']:.3f}", f"{r['ci95'][0]:.3f}-{r['ci95'][1]:.3f}", "", ""]
            if baseline:
                row += [f"{result['baseline']['benchmarks'][name]['by_depth'].get(d, {}).get('rate', 0.0):.3f}", ""]
            table.add_row(*row)
    console.print(table)
    warning = next((c.get("warning") for s in b.values() for c in s.get("corrected", {}).values() if c.get("warning")),
                   None)  # fmt: skip
    audit = result.get("judge_audit") or {}
    if warning:
        typer.echo(f"judge-corrected rates: none ({warning})")
    elif audit.get("labels"):
        typer.echo(f"judge-corrected rates use the judge's audit on {audit['labels']}")
    for g in gate_results:
        typer.echo(f"gate {g['gate']}: {g['value']:.4f} {'ok' if g['passed'] else 'FAILED'}")
    if junit is not None:
        write_junit(junit, gate_results, b, name=str(model))
        typer.echo(f"wrote {junit}")
    typer.echo(f"wrote {out / 'bench.json'}")
    if any(not g["passed"] for g in gate_results):
        raise typer.Exit(1)


TUNABLE = ("concurrency", "timeout", "max_retries", "backoff_base", "backoff_max")  # of a served build's endpoint
MaxNewTokens = Annotated[int | None, typer.Option(help="New tokens per reply at most (generation.max_new_tokens).")]
Limit = Annotated[
    int | None, typer.Option(help="Items per suite and red-team seeds at most (a sample stratified by category).")
]
TemplatePath = Annotated[
    list[str] | None, typer.Option(help="PyRIT template YAML file or folder for the red team (repeatable).")
]


def _overlay(
    data: dict[str, Any],
    max_new_tokens: int | None = None,
    limit: int | None = None,
    template_path: list[str] | None = None,
) -> dict[str, Any]:
    """Lay the speed and size options over a config mapping (before its one parse)."""
    if max_new_tokens is not None:
        data.setdefault("generation", {})["max_new_tokens"] = max_new_tokens
    if limit is not None:
        data.setdefault("benchmarks", {})["limit"] = limit
        data.setdefault("redteam", {})["limit"] = limit
    if template_path:
        rt = data.setdefault("redteam", {})
        rt["template_paths"] = list(rt.get("template_paths") or []) + list(template_path)
    return data


def _world_data(data: dict[str, Any], world: str | None) -> None:
    """``--world``: a registered world's name, or a YAML config whose ``world`` and ``files`` blocks are taken."""
    if world is None:
        return
    if world.endswith((".yaml", ".yml")) or Path(world).is_file():
        other = read_config_data(world)
        if "files" not in other and "world" not in other:
            raise BreakfixError(world, "world", "this config names no world and has no files: block")
        for key in ("world", "files"):
            if key in other:
                data[key] = other[key]
        data.setdefault("world", "files" if "files" in other else other.get("world"))
    else:
        data["world"] = world


def _config_data(config: Path | None) -> dict[str, Any]:
    """The config file's mapping (not yet validated), for the command's options to be laid over it before the one
    parse."""
    return read_config_data(config) if config else {}


@app.command()
def curate(
    source: Annotated[Path, typer.Argument(help="A run directory (run.db) or a findings JSONL file.")],
    out: Annotated[Path, typer.Option("--out", help="Where sft.jsonl, dpo.jsonl and the dataset card go.")],
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML config (default: the run's own, if stored).")
    ] = None,
    round_: Annotated[int | None, typer.Option("--round", help="Round to curate (default: the last).")] = None,
    model: Annotated[
        str | None, typer.Option(help="With a findings file: the model whose own refusals to distil (dir or 'demo').")
    ] = None,
    helpful: Annotated[
        str | None, typer.Option(help="Helpfulness chats to mix in: JSONL, dataset dir/file or hub id.")
    ] = None,
    replay: Annotated[list[Path] | None, typer.Option(help="An earlier curated dir to replay (repeatable).")] = None,
    safety_share: Annotated[float | None, typer.Option(help="Share of safety rows in the SFT mix.")] = None,
    no_benign_contrast: Annotated[bool, typer.Option("--no-benign-contrast", help="Refusal-only data.")] = False,
) -> None:
    """Turn red-team findings into SFT rows and DPO pairs: safe responses, benign contrast, dedup, decontamination,
    balance and mixing. Writes datasets that TRL and the HF hub read as they are, with a dataset card."""
    from breakfix.jobs.curate import curate_job
    from breakfix.progress import console

    try:
        cfg = None
        overrides = {
            k: v
            for k, v in (
                ("helpful_dataset", helpful),
                ("safety_share", safety_share),
                ("benign_contrast", False if no_benign_contrast else None),
            )
            if v is not None
        }
        if config is not None:
            cfg = parse_config(_config_data(config), str(config))
        summary = curate_job(
            source,
            out,
            cfg=cfg,
            overrides=overrides,
            round_=round_,
            model=model,
            replay=replay or [],
            log=lambda m: console.print(m),
        )
    except BreakfixError as e:
        _fail(e)
        return
    typer.echo(
        f"{summary['findings']} findings -> {summary['sft']} SFT rows ({summary['safety_sft']} safety), "
        f"{summary['dpo']} DPO pairs ({summary['benign_dpo']} benign contrast)"
    )
    typer.echo(f"responses: {summary['response_sources']}; dropped: {summary['dropped_reasons'] or 'none'}")
    typer.echo(f"wrote {out / 'sft.jsonl'}, {out / 'dpo.jsonl'} and {out / 'README.md'}")


@app.command()
def train(
    data: Annotated[
        Path, typer.Argument(help="A curated dataset dir (sft.jsonl, dpo.jsonl), or a run dir (its last round).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Where model/, train.json and run.db go.")],
    model: Annotated[str, typer.Option(help="The model to train: a HF dir, hub id, or 'demo'.")] = "demo",
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config (its training block).")] = None,
    method: Annotated[str | None, typer.Option(help="sft+dpo, sft or dpo.")] = None,
    lora: Annotated[bool | None, typer.Option("--lora/--full", help="LoRA (merged after) or full fine-tuning.")] = None,
    accelerate_config: Annotated[
        Path | None, typer.Option(help="An accelerate config (DDP, FSDP, DeepSpeed); runs via accelerate launch.")
    ] = None,
    num_processes: Annotated[int | None, typer.Option(min=1, help="Processes for accelerate launch.")] = None,
) -> None:
    """Post-train a model on curated data with TRL: SFT (completion-only loss), then DPO with an SFT term; full or
    LoRA; in this process or across GPUs and nodes through accelerate launch."""
    from breakfix.jobs.train import train_job
    from breakfix.progress import console

    try:
        cfg_data = _config_data(config)
        t = cfg_data.setdefault("training", {})
        if method:
            t["method"] = method
        if lora is not None:
            for stage in ("sft", "dpo"):
                t.setdefault(stage, {})["lora"] = lora
        if accelerate_config:
            t["accelerate_config"] = str(accelerate_config)
        if num_processes:
            t["num_processes"] = num_processes
        cfg = parse_config(cfg_data, str(config) if config else "command line")
        result = train_job(cfg, data, model, out, log=lambda m: console.print(m))
    except BreakfixError as e:
        _fail(e)
        return
    tr = result["training"]
    for stage in ("sft", "dpo"):
        if stage in tr:
            st = tr[stage]
            typer.echo(
                f"{stage}: {st['steps']} steps, {st['seconds']:.1f}s, {st['tokens_per_s']:.0f} tokens/s, "
                f"loss {st['train_loss'] if st['train_loss'] is not None else float('nan'):.4f}"
            )
    typer.echo(f"wrote {result['output']} and {out / 'train.json'}")


@app.command("judge-audit")
def judge_audit(
    labels: Annotated[
        str | None,
        typer.Option(
            help="Labelled JSONL, JSON array or CSV; or shipped (the held-out real replies, default), shipped-dev, "
            "shipped-all, synthetic (the hand-written six-language set)."
        ),
    ] = None,
    judge: Annotated[str, typer.Option(help="A registered judge: demo, refusal, llm, llama_guard, ...")] = "refusal",
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config (for judge_model).")] = None,
    response_col: Annotated[
        str | None, typer.Option(help="The column of model replies (default: found by name).")
    ] = None,
    label_col: Annotated[str | None, typer.Option(help="The column of human labels (default: found by name).")] = None,
    prompt_col: Annotated[str | None, typer.Option(help="The column of requests (default: found by name).")] = None,
    task: Annotated[
        str | None, typer.Option(help="What the labels say: refusal (1 = refusal) or harm (1 = harmful reply).")
    ] = None,
    group_by: Annotated[str | None, typer.Option(help="A column for per-group scores (model, category, ...).")] = None,
    off_topic: Annotated[
        bool, typer.Option(help="Count a reply unrelated to the request as a refusal (PyRIT's definition).")
    ] = False,
    predictions: Annotated[Path | None, typer.Option(help="Write every row with its prediction here (JSONL).")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the audit here as JSON.")] = None,
) -> None:
    """Score a judge against human labels: accuracy, precision, recall, F1, Cohen's kappa (binary and three-class),
    confusion matrices, and the counts that correct a run's rates for judge error."""
    import json

    from rich.console import Console
    from rich.table import Table

    from breakfix.judges import build_judge
    from breakfix.judges.audit import SHIPPED, audit, labels_id, load_labelled, rows_split, synthetic_rows, write_json

    named = {"shipped": "heldout", "shipped-dev": "dev", "shipped-all": None}
    try:
        data = _config_data(config)
        data["judge"] = judge
        if off_topic:
            data.setdefault("judges", {})["off_topic"] = True
        cfg = parse_config(data, str(config) if config else "--judge")
        if labels is None or labels in named:
            split = named[labels or "shipped"]
            rows = rows_split(SHIPPED, split)
            source = f"shipped real_refusal.jsonl ({split or 'all'})"
        elif labels == "synthetic":
            rows, source = synthetic_rows(), "shipped refusal_audit.jsonl (hand-written)"
        else:
            rows = load_labelled(
                labels, response_col=response_col, label_col=label_col, prompt_col=prompt_col, task=task
            )
            source = labels
        source = f"{source}, sha256 {labels_id(rows)}"
        result = audit(build_judge(cfg), rows, group_by=group_by, source=source)
    except BreakfixError as e:
        _fail(e)
        return
    preds = result.pop("predictions")
    console = Console(width=None if sys.stdout.isatty() else 120)
    views = [("three classes", result["three_class"])] if "three_class" in result else []
    views.append(("refusal vs compliance" if result["task"] == "refusal" else "harmful vs not", result["binary"]))
    typer.echo(
        f"{result['n']} rows from {source}: {result['scored']} scored, {result['empty']} empty responses, "
        f"{result['undetermined']} undetermined (left out of the scores)"
    )
    for title, sc in views:
        console.print(
            f"[bold]{title}[/]: n {sc['n']}, accuracy {sc['accuracy']:.3f}, Cohen's kappa {sc['kappa']:.3f}, "
            f"macro F1 {sc['macro_f1']:.3f}"
        )
        table = Table(title_justify="left")
        labels_ = list(sc["per_class"])
        for col in ["gold \\ predicted", *labels_, "precision", "recall", "F1"]:
            table.add_column(col, justify="right")
        for lab in labels_:
            pc = sc["per_class"][lab]
            table.add_row(
                lab, *(str(sc["confusion"][lab][p]) for p in labels_),
                f"{pc['precision']:.3f}", f"{pc['recall']:.3f}", f"{pc['f1']:.3f}",
            )  # fmt: skip
        console.print(table)
    if "by_group" in result:
        typer.echo(f"by {result['group_by']}:")
        for g, v in result["by_group"].items():
            typer.echo(
                f"  {g}: n {v['n']}, kappa {v['kappa']:.3f}, recall {v['recall']:.3f}, precision {v['precision']:.3f}"
            )
    langs = ", ".join(f"{k} {v['accuracy']:.3f} (n {v['n']})" for k, v in result["by_language"].items())
    typer.echo(f"judge {result['judge']}; accuracy by language: {langs}")
    if predictions is not None:
        predictions.parent.mkdir(parents=True, exist_ok=True)
        with open(predictions, "w", encoding="utf-8") as f:
            for r, p in zip(rows, preds, strict=True):
                f.write(json.dumps({**r, "predicted": p}, ensure_ascii=False) + "\n")
        typer.echo(f"wrote {predictions}")
    if out is not None:
        write_json(result, out)
        typer.echo(f"wrote {out}")


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
        cfg = parse_config(_config_data(config), str(config) if config else "--model")
        result = export_job(
            cfg, spec, out, [q.strip() for q in quant.split(",") if q.strip()], llama_cpp=llama_cpp, verify=verify,
            max_new_tokens=max_new_tokens or 24, log=lambda m: console.print(m),
        )  # fmt: skip
    except BreakfixError as e:
        _fail(e)
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


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (breakfix run / demo).")],
    redact: Annotated[bool, typer.Option(help="Leave every prompt and model response out of the HTML.")] = False,
    html: Annotated[Path | None, typer.Option(help="Write the HTML here instead of RUN_DIR/report.html.")] = None,
) -> None:
    """Rebuild report.json from the run's store and re-render report.html (from report.json for a run whose store
    predates stored round records)."""
    from breakfix.report.build import report_from_store, write_report

    path = run_dir / "report.json"
    try:
        if not run_dir.is_dir():
            raise BreakfixError(str(run_dir), None, "not a directory")
        if html is not None and not html.parent.is_dir():
            raise BreakfixError(str(html), None, "its folder does not exist")
        data = report_from_store(run_dir)
        if data is None:  # no store, or one from before round records: re-render the report.json there is
            if not path.is_file():
                hint = "; `breakfix redteam` writes redteam.json" if (run_dir / "redteam.json").is_file() else ""
                raise BreakfixError(
                    str(run_dir), None, f"not a run directory (no finished round, no report.json){hint}"
                )
            data = _read_report(path)
        write_report(data, run_dir, redact=redact, html_path=html)
        typer.echo(f"wrote {path} and {html or run_dir / 'report.html'}" + (" (redacted)" if redact else ""))
    except BreakfixError as e:
        _fail(e)


def _read_report(path: Path) -> dict:  # type: ignore[type-arg]
    """A report.json, validated against the schema; a ``BreakfixError`` when it is not one."""
    from breakfix.report.build import validate_report

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        validate_report(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BreakfixError(str(path), None, f"not valid JSON ({e.__class__.__name__})") from None
    except Exception as e:  # jsonschema.ValidationError
        field = "/".join(str(x) for x in getattr(e, "absolute_path", [])) or None
        reason = f"breaks schema breakfix.report/1 ({getattr(e, 'message', e)})"
        raise BreakfixError(str(path), field, reason) from None
    return data


@app.command()
def compare(
    a: Annotated[
        str,
        typer.Argument(help="RUN_DIR (its last round), RUN_DIR@ROUND, RUN_DIR@ROUND:BUILD or RUN_DIR@ROUND/CANDIDATE."),
    ],
    b: Annotated[str, typer.Argument(help="RUN_DIR or RUN_DIR@ROUND, compared with A.")],
    out: Annotated[Path | None, typer.Option("--json", help="Write the comparison as JSON.")] = None,
    judge: Annotated[
        str | None, typer.Option(help="Score both sides with this judge (default: theirs if shared, else A's).")
    ] = None,
) -> None:
    """Put two runs, or two rounds of a run, side by side: each metric with its n, the difference and its
    significance (McNemar on paired held-out items, else Fisher's exact test). Both sides are scored by one judge:
    stored replies are re-judged when the runs used different judges."""
    from rich.console import Console
    from rich.table import Table

    from breakfix.jobs.compare import compare as do_compare
    from breakfix.store import write_json

    try:
        result = do_compare(a, b, judge=judge)
    except BreakfixError as e:
        _fail(e)
        return
    rj = result["judging"]["rejudged"]
    if rj["a"] or rj["b"]:
        typer.echo(f"judge {result['judging']['judge']}: re-judged {rj['a']} stored replies of A and {rj['b']} of B")
    console = Console(width=None if sys.stdout.isatty() else 140)
    sa, sb = result["a"], result["b"]
    title = f"A = {sa['run']} round {sa['round']}   B = {sb['run']} round {sb['round']}"
    table = Table(title=title, title_justify="left")
    for c in ("metric", "A", "B", "B - A", "p", "test"):
        table.add_column(c, justify="left" if c in ("metric", "test") else "right")
    for row in result["rows"]:
        table.add_row(
            f"{row['name']} {row['metric']}",
            f"{row['a']:.3f} (n={row['a_n']})",
            f"{row['b']:.3f} (n={row['b_n']})",
            f"{row['diff']:+.3f}",
            f"{row['p']:.3g}" + (" *" if row["significant"] else ""),
            row["test"],
        )
    console.print(table)
    typer.echo(f"* significant at {result['alpha']}")
    if out is not None:
        write_json(out, result)
        typer.echo(f"wrote {out}")


datasets_app = typer.Typer(
    no_args_is_help=False, invoke_without_command=True, help="The dataset loaders, and the world a config builds."
)
app.add_typer(datasets_app, name="datasets")


@datasets_app.callback()
def datasets(ctx: typer.Context) -> None:
    """List the loaders a files: config names (harmful and benign prompts, templates, openers, capability sets)."""
    if ctx.invoked_subcommand is not None:
        return
    from breakfix.attacks.templates import TEMPLATE_LOADERS
    from breakfix.seeds.capability import CAPABILITY_HELP
    from breakfix.seeds.public import LOADER_HELP

    groups = [
        ("files.harmful / files.benign / --seeds", LOADER_HELP),
        ("files.templates", TEMPLATE_LOADERS),
        ("files.openers", {"text": "one opening turn a line", "jsonl": "rows with text",
                           "pyrit": "a PyRIT .prompt of jailbreak text (the skeleton key)"}),
        ("files.capability / --suite capability=", CAPABILITY_HELP),
        ("files.documents / files.protected", {"(path)": "a .txt file, a folder of them, or a JSONL of name/text"}),
    ]  # fmt: skip
    for title, loaders in groups:
        typer.echo(title)
        for name, help_ in loaders.items():
            typer.echo(f"  {name:<12} {help_}")


@datasets_app.command("prepare")
def datasets_prepare(
    config: Annotated[Path, typer.Argument(help="A run config with world: files and a files: block.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write world.json here (default: beside nothing).")] = None,
) -> None:
    """Load, split and decontaminate a config's world; print the split counts by source, category and language, the
    overlaps dropped and a sample row per suite; write them as world.json. Nothing is generated."""
    from breakfix.jobs.common import build_world
    from breakfix.store import write_json

    try:
        cfg = load_config(config)
        world = build_world(cfg)
        describe = getattr(world, "describe", None)
        if describe is None:
            raise BreakfixError(str(config), "world", f"the {cfg.world_name} world does not describe its splits")
        info = describe(cfg.benchmarks.suites)
    except BreakfixError as e:
        _fail(e)
        return
    for kind in ("harmful", "benign"):
        for split in ("redteam", "heldout"):
            c = info[kind][split]
            typer.echo(f"{kind} {split}: {c['n']} | sources {c['by_source']} | categories {c['by_category']} | "
                       f"languages {c['by_language']}")  # fmt: skip
    t = info["templates"]
    typer.echo(f"templates: {len(t['redteam'])} red team, {len(t['heldout'])} held out; openers {info['openers']}")
    typer.echo(f"capability: {info['capability']['n']} items {info['capability']['by_source']}; documents "
               f"{info['documents']}, protected {info['protected']}")  # fmt: skip
    typer.echo(f"overlaps dropped from the red-team split: {info['overlaps_dropped']}")
    typer.echo(f"suite items: {info.get('suites', {})} (a suite with none is absent from reports)")
    for suite, row in info["samples"].items():
        typer.echo(f"sample {suite}: {json.dumps(row, ensure_ascii=False)[:400]}")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "world.json", info)
        typer.echo(f"wrote {out / 'world.json'}")


@datasets_app.command("twins")
def datasets_twins(
    config: Annotated[Path, typer.Argument(help="A run config: its red-team seeds and curation.twins.")],
    out: Annotated[Path, typer.Option("--out", help="Write the twins here, as JSONL.")],
) -> None:
    """Make the benign twins of a config's harmful red-team seeds (curation.twins: kinds, twins per seed, the
    generator), decontaminated against its validation and held-out prompts, and write them as JSONL for a person to
    read: each twin with its kind, trigger word and the harmful seed it mirrors."""
    from breakfix.curation.datasets import write_jsonl
    from breakfix.jobs.common import build_world
    from breakfix.jobs.redteam import redteam_seeds, twin_seeds

    try:
        cfg = load_config(config)
        cfg.curation.twins.enabled = True  # asked for by name: made whatever the world's default
        world = build_world(cfg)
        seeds, _ = redteam_seeds(cfg, world)
        twins, info = twin_seeds(cfg, world, seeds, typer.echo)
    except BreakfixError as e:
        _fail(e)
        return
    by_id = {s.id: s for s in seeds}
    rows = [
        {"id": t.id, "text": t.text, "language": t.language, "kind": t.meta["twin_kind"], "trigger": t.meta["trigger"],
         "twin_of": t.meta["twin_of"], "twin_of_text": by_id[t.meta["twin_of"]].text,
         "twin_of_category": by_id[t.meta["twin_of"]].category, "generator": t.meta["generator"]}
        for t in twins
    ]  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(out, rows)
    typer.echo(f"{len(twins)} twins of {sum(s.harmful for s in seeds)} harmful seeds: by kind {info.get('by_kind')}; "
               f"dropped {info.get('dropped')}")  # fmt: skip
    typer.echo(f"wrote {out}")


@app.command()
def plugins() -> None:
    """List what is registered (techniques, converters, judges, suites, backends, worlds, models, personas) and
    where each came from: breakfix itself or a plug-in of the entry-point group breakfix.plugins."""
    from rich.console import Console
    from rich.table import Table

    from breakfix import registry

    console = Console(width=None if sys.stdout.isatty() else 160)
    table = Table(title="registered", title_justify="left")
    for col in ("kind", "name", "from", "what"):
        table.add_column(col)
    for e in registry.entries():
        table.add_row(e.kind, e.name + (" (hidden)" if e.meta.get("hidden") else ""), e.origin, e.summary)
    console.print(table)
    for origin, why in registry.failures():
        typer.echo(f"failed to load {origin}: {why}", err=True)


@app.command()
def version() -> None:
    """Print the installed version."""
    from importlib.metadata import version as v

    typer.echo(v("breakfix"))


def main() -> None:
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*")
    # transformers reads these when (and only if) a command imports it: an endpoint red team never does
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:  # typer >= 0.20 vendors click
        from typer._click.exceptions import UsageError
    except ImportError:  # pragma: no cover - older typer
        from click.exceptions import UsageError

    try:
        code = app(standalone_mode=False)
    except UsageError as e:  # one line, like every other input error, instead of click's box
        where = e.ctx.command_path if e.ctx is not None else "breakfix"
        hint = f" (see '{where} --help')" if e.ctx is not None else ""
        if e.format_message():  # empty after no_args_is_help has printed the help
            typer.echo(f"error: {where}: {e.format_message()}{hint}", err=True)
        sys.exit(2)
    except (FileExistsError, NotADirectoryError, IsADirectoryError, PermissionError) as e:  # a bad path given
        typer.echo(f"error: {e.filename or '?'}: {e.strerror or e}", err=True)
        sys.exit(2)
    except (KeyboardInterrupt, typer.Abort):
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
