"""Rendering a command's result: tables and one-line summaries."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.console import Console
from rich.table import Table


def print_redteam(result: dict[str, Any]) -> None:
    """The red team's ASR by technique, category and language, and its account."""
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


def print_bench(result: dict[str, Any], model: str, baseline: bool) -> None:
    """The bench table: each suite's value, interval, judge-corrected rate and undetermined count (and the baseline
    with its paired p-value), the prefill depths, and a note on the corrected rates."""
    from breakfix.suites.gate import metric_value

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


def print_audit(result: dict[str, Any], source: str) -> None:
    """A judge audit: counts, each view's scores and confusion table, the groups, and accuracy by language."""
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


def print_compare(result: dict[str, Any]) -> None:
    """Two sides' metrics with n, the difference, its p-value and test."""
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


def print_registry() -> None:
    """What is registered, by kind, with its origin."""
    from breakfix import registry

    console = Console(width=None if sys.stdout.isatty() else 160)
    table = Table(title="registered", title_justify="left")
    for col in ("kind", "name", "from", "what"):
        table.add_column(col)
    for e in registry.entries():
        table.add_row(e.kind, e.name + (" (hidden)" if e.meta.get("hidden") else ""), e.origin, e.summary)
    console.print(table)


def print_world(info: dict[str, Any]) -> None:
    """A world's splits (what ``breakfix datasets prepare`` describes)."""
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
