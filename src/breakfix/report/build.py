"""Build ``report.json`` (schema ``breakfix.report/1``) and ``report.html`` from a run's rounds."""

from __future__ import annotations

import base64
import io
import json
import os
from importlib import metadata, resources
from pathlib import Path
from typing import Any

SCHEMA_ID = "breakfix.report/1"


def report_schema() -> dict[str, Any]:
    """The JSON Schema of ``report.json``."""
    return json.loads(resources.files("breakfix.report").joinpath("schema.json").read_text(encoding="utf-8"))


def validate_report(report: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` if ``report`` breaks the schema."""
    import jsonschema

    jsonschema.validate(report, report_schema())


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("breakfix", "torch", "transformers", "trl", "peft", "datasets", "accelerate"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def build_report(
    cfg: Any, rounds: list[dict[str, Any]], *, overlap: dict[str, int], judge_audit: dict[str, Any]
) -> dict[str, Any]:
    from breakfix.types import content_key

    conf = cfg.model_dump(mode="json")
    report = {
        "schema": SCHEMA_ID,
        "run": {
            "name": cfg.name,
            "seed": cfg.seed,
            "model": cfg.model.path,
            "judge": judge_audit.get("judge", cfg.judge),
            "versions": _versions(),
            "config": conf,
            "config_key": content_key(conf),
            "judge_audit": judge_audit,
            "decontamination": overlap,
            "stop_reason": rounds[-1].get("stop_reason", ""),
        },
        "rounds": rounds,
    }
    validate_report(report)
    return report


def write_report(report: dict[str, Any], out: Path) -> None:
    """Write ``report.json`` and ``report.html`` atomically."""
    for name, text in (
        ("report.json", json.dumps(report, indent=2, ensure_ascii=False)),
        ("report.html", render_html(report)),
    ):
        tmp = out / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out / name)


def _suite_value(s: dict[str, Any]) -> list[tuple[str, float, list[float] | None]]:
    if "defect_rate" in s:
        out = [("DR-1", s["defect_rate"], s.get("ci95"))]
        if "3" in s.get("dr", {}):
            out.append(("DR-3", s["dr"]["3"], s.get("dr_ci95", {}).get("3")))
        return out
    if "vprr" in s:
        return [("VPRR", s["vprr"], s.get("vprr_ci95")), ("IPRR", s["iprr"], s.get("iprr_ci95"))]
    if "score" in s:
        return [("score", s["score"], s.get("ci95"))]
    if "success_rate" in s:
        return [("success rate", s["success_rate"], s.get("ci95"))]
    return []


def plot_suites(report: dict[str, Any]) -> str:
    """One small chart per suite: its metric per round with 95% intervals. Returns a base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suites = list(report["rounds"][0]["benchmarks"])
    cols = min(3, max(1, len(suites)))
    rows = (len(suites) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    xs = [r["round"] for r in report["rounds"]]
    for ax, suite in zip(axes.flat, suites, strict=False):
        series: dict[str, tuple[list[float], list[float], list[float]]] = {}
        for r in report["rounds"]:
            for label, val, ci in _suite_value(r["benchmarks"].get(suite, {})):
                ys, lo, hi = series.setdefault(label, ([], [], []))
                ys.append(val)
                lo.append(val - (ci[0] if ci else val))
                hi.append((ci[1] if ci else val) - val)
        for label, (ys, lo, hi) in series.items():
            ax.errorbar(xs[: len(ys)], ys, yerr=[lo, hi], marker="o", capsize=3, label=label)
        ax.set_title(suite)
        ax.set_xlabel("round")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xticks(xs)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(suites) :]:
        ax.axis("off")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def render_html(report: dict[str, Any]) -> str:
    """A static, offline page: the per-suite chart and the round tables. All text is HTML-escaped."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("breakfix", "report"), autoescape=select_autoescape(["j2", "html"]))
    rows = []
    for r in report["rounds"]:
        cells = {}
        for suite, s in r["benchmarks"].items():
            cells[suite] = ", ".join(
                f"{label} {val:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
                for label, val, ci in _suite_value(s)
            )
        rows.append(
            {
                "round": r["round"],
                "cells": cells,
                "asr": r["redteam"]["asr"],
                "attempts": r["redteam"]["attempts"],
                "errors": r["redteam"]["errors"],
                "curation": r.get("curation"),
                "training": r.get("training"),
            }
        )
    return env.get_template("report.html.j2").render(
        report=report,
        rows=rows,
        suites=list(report["rounds"][0]["benchmarks"]),
        chart=plot_suites(report),
        config=json.dumps(report["run"]["config"], indent=2),
    )
