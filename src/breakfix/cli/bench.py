"""``breakfix bench``: benchmark, compare with a baseline, gate a release."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from breakfix.cli.common import Limit, MaxNewTokens, app, config_data, fail, overlay, world_data
from breakfix.cli.render import print_bench
from breakfix.config import parse_config
from breakfix.errors import BreakfixError


# over 80 lines: the signature declares the command's 15 options; the body parses, calls the job and renders
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

    from breakfix.jobs.bench import bench_job
    from breakfix.jobs.common import build_world
    from breakfix.progress import console as log_console
    from breakfix.suites.gate import check_gates, parse_gate, write_junit

    try:
        from breakfix.jobs.bench import file_suite

        data = overlay(config_data(config), max_new_tokens, limit)
        world_data(data, world)
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
        fail(e)
        return
    print_bench(result, model, bool(baseline))
    b = result["model"]["benchmarks"]
    for g in gate_results:
        typer.echo(f"gate {g['gate']}: {g['value']:.4f} {'ok' if g['passed'] else 'FAILED'}")
    if junit is not None:
        write_junit(junit, gate_results, b, name=str(model))
        typer.echo(f"wrote {junit}")
    typer.echo(f"wrote {out / 'bench.json'}")
    if any(not g["passed"] for g in gate_results):
        raise typer.Exit(1)
