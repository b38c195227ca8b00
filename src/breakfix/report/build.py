"""Build ``report.json`` (schema ``breakfix.report/1``) and ``report.html`` from a run's rounds."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
from collections.abc import Sequence
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from breakfix.config import parse_config
from breakfix.errors import BreakfixError
from breakfix.metrics import correct_redteam, correct_scores, targets_met
from breakfix.store import RECORD, RUN_ROUND, RUN_STAGE, Store
from breakfix.types import RoundRecord, content_key

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
    cfg: Any,
    rounds: Sequence[RoundRecord | dict[str, Any]],
    *,
    overlap: dict[str, int] | None,
    judge_audit: dict[str, Any] | None,
) -> dict[str, Any]:
    """The report of a run (``overlap`` and ``judge_audit`` are None while the run is unfinished), from its typed
    round records (or their JSON, as the store keeps them)."""
    records = [r if isinstance(r, RoundRecord) else RoundRecord.model_validate(r) for r in rounds]
    conf = cfg.model_dump(mode="json")
    run: dict[str, Any] = {
        "name": cfg.name,
        "seed": cfg.seed,
        "model": cfg.model.path,
        "judge": (judge_audit or {}).get("judge", cfg.judge_name),
        "versions": _versions(),
        "config": conf,
        "config_key": content_key(conf),
    }
    if judge_audit is not None:
        run["judge_audit"] = judge_audit
    if str(run["judge"]).startswith("refusal"):
        run["judge_note"] = REFUSAL_NOTE
    if overlap is not None:
        run["decontamination"] = overlap
    run["stop_reason"] = records[-1].stop_reason or ""
    last = records[-1]
    if last.validation is not None:  # the decisions read validation; held out is shown against the targets after
        run["targets"] = {
            "read": "validation",
            "met": bool(last.targets_met),
            "misses": list(last.misses or ([] if last.round else ["round 0: no fix trained"])),
            "heldout_read_by_decisions": False,
        }
        if last.benchmarks and records[0].benchmarks and last.round > 0:
            met, misses = targets_met(
                {k: v.to_json() for k, v in last.benchmarks.items()},
                {k: v.to_json() for k, v in records[0].benchmarks.items()},
                cfg.cycle.targets,
            )
            run["targets"]["heldout"] = {"met": met, "misses": misses}
    rounds_json = [r.to_json() for r in records]
    for r in rounds_json:  # every rate the judge decides, corrected for its error (when the audit can)
        for block in [r, *(r.get("builds") or {}).values()]:
            correct_scores(block.get("benchmarks", {}), judge_audit)
            correct_redteam(block.get("redteam"), judge_audit)
    report = {"schema": SCHEMA_ID, "run": run, "rounds": rounds_json}
    validate_report(report)
    return report


REFUSAL_NOTE = (
    "The refusal judge measures refusal, not harm: on harmful prompts every reply that does not refuse counts as a "
    "defect, harmful or not, and a harmful reply that opens with a refusal counts as safe. Use a harm judge "
    "(llama_guard, wildguard, llm) to measure harm."
)


def write_report(report: dict[str, Any], out: Path, *, redact: bool = False, html_path: Path | None = None) -> None:
    """Write ``report.json`` and ``report.html`` (or ``html_path``) atomically. The HTML's findings browser reads
    ``out/rounds/<r>/findings.jsonl``; ``redact`` leaves every prompt and response out of it."""
    html_path = html_path or out / "report.html"
    for path, text in (
        (out / "report.json", json.dumps(report, indent=2, ensure_ascii=False)),
        (html_path, render_html(report, run_dir=out, redact=redact)),
    ):
        tmp = path.parent / f".{path.name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)


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


def _corrected(c: dict[str, Any]) -> str:
    """A judge-corrected rate as the HTML shows it: the estimate and its interval, or why there is none."""
    if c.get("rate") is None:
        return f"n/a ({c.get('warning', 'no estimate')})"
    lo, hi = c["ci95"]
    return f"{c['rate']:.3f} [{lo:.3f}, {hi:.3f}]"


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    _plt().close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _err(val: float, ci: list[float] | None) -> tuple[float, float]:
    return (val - ci[0], ci[1] - val) if ci else (0.0, 0.0)


def plot_suites(report: dict[str, Any]) -> str:
    """One small chart per suite: its metric per round with 95% intervals. Returns a base64 PNG."""
    plt = _plt()
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
                lo.append(_err(val, ci)[0])
                hi.append(_err(val, ci)[1])
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
    return _png(fig)


def category_rounds(report: dict[str, Any]) -> tuple[str, list[str], list[list[float | None]]]:
    """The category x round table of defect rates: the held-out ``harmful`` suite's DR-1 by category, or the red
    team's ASR by category when the run has no harmful suite. Returns (source, categories, rows of rates)."""
    rounds = report["rounds"]
    if all("harmful" in r["benchmarks"] for r in rounds):
        source, per_round = "held-out harmful DR-1", [r["benchmarks"]["harmful"].get("by_category", {}) for r in rounds]
    else:
        source, per_round = "red-team ASR", [r["redteam"].get("by_category", {}) for r in rounds]
    cats = sorted({c for x in per_round for c in x}, key=lambda c: (len(c), c))
    table = [[(x[c]["rate"] if c in x else None) for x in per_round] for c in cats]
    return source, cats, table


def plot_heatmap(report: dict[str, Any]) -> str:
    """The category x round heatmap, annotated with each rate."""
    plt = _plt()
    source, cats, table = category_rounds(report)
    rounds = [r["round"] for r in report["rounds"]]
    fig, ax = plt.subplots(figsize=(1.2 * len(rounds) + 3.0, 0.42 * max(1, len(cats)) + 1.4))
    data = [[v if v is not None else float("nan") for v in row] for row in table] or [[float("nan")] * len(rounds)]
    im = ax.imshow(data, cmap="Reds", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(rounds)), [f"round {r}" for r in rounds])
    ax.set_yticks(range(len(cats)), cats)
    for i, row in enumerate(table):
        for j, v in enumerate(row):
            if v is not None:
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8, color="white" if v > 0.5 else "black")
    ax.set_title(source + " by category")
    fig.colorbar(im, ax=ax, fraction=0.05)
    return _png(fig)


def plot_techniques(report: dict[str, Any]) -> str:
    """Red-team ASR per technique (horizontal bars, one per round), with 95% intervals."""
    plt = _plt()
    rounds = report["rounds"]
    techs = sorted({t for r in rounds for t in r["redteam"].get("by_technique", {})})
    fig, ax = plt.subplots(figsize=(6.0, 0.32 * max(1, len(techs)) * max(1, len(rounds)) + 1.6))
    height = 0.8 / max(1, len(rounds))
    for k, r in enumerate(rounds):
        by = r["redteam"].get("by_technique", {})
        ys = [i - (k - (len(rounds) - 1) / 2) * height for i in range(len(techs))]
        xs = [by[t]["rate"] if t in by else 0.0 for t in techs]
        errs = [_err(by[t]["rate"], by[t].get("ci95")) if t in by else (0.0, 0.0) for t in techs]
        xerr = list(zip(*errs, strict=True)) if errs else None
        ax.barh(ys, xs, height, xerr=xerr, capsize=2, label=f"round {r['round']}")
    ax.set_yticks(range(len(techs)), techs, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("attack success rate")
    ax.set_xlim(0, 1.02)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("red-team ASR per technique")
    return _png(fig)


def plot_prefill(report: dict[str, Any]) -> str | None:
    """The prefill suite's DR-1 against the pre-filled depth, one line per round (and per quantized build), with
    95% intervals; None when no round ran the suite."""
    lines = []
    for r in report["rounds"]:
        sides = [(f"round {r['round']}", r["benchmarks"])]
        sides += [(f"round {r['round']} {q}", b["benchmarks"]) for q, b in (r.get("builds") or {}).items()]
        lines += [(label, b["prefill"]["by_depth"]) for label, b in sides if "by_depth" in b.get("prefill", {})]
    if not lines:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    for label, by in lines:
        depths = sorted(by, key=int)
        ys = [by[d]["rate"] for d in depths]
        errs = [_err(by[d]["rate"], by[d].get("ci95")) for d in depths]
        ax.errorbar([int(d) for d in depths], ys, yerr=list(zip(*errs, strict=True)), marker="o", capsize=3,
                    label=label)  # fmt: skip
    ax.set_xlabel("pre-filled depth (words of a compliant answer)")
    ax.set_ylabel("DR-1 (lower is better)")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("prefill: defect rate by depth")
    return _png(fig)


def tradeoff_points(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per round: the headline defect rate (harmful DR-1, else jailbreak, else the red team's ASR) against VPRR."""
    pts = []
    for r in report["rounds"]:
        b = r["benchmarks"]
        if "overrefusal" not in b:
            continue
        o = b["overrefusal"]
        suite = next((s for s in ("harmful", "jailbreak", "multiturn") if s in b), None)
        dr, ci, label = (
            (b[suite]["defect_rate"], b[suite].get("ci95"), f"{suite} DR-1")
            if suite
            else (r["redteam"]["asr"], None, "red-team ASR")
        )
        pts.append({"round": r["round"], "vprr": o["vprr"], "vprr_ci": o.get("vprr_ci95"), "dr": dr, "dr_ci": ci,
                    "label": label})  # fmt: skip
    return pts


def plot_tradeoff(report: dict[str, Any]) -> str | None:
    """Defect rate against VPRR, one point per round (with 95% intervals), joined in round order; None without
    an over-refusal suite."""
    pts = tradeoff_points(report)
    if not pts:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.0, 4.0))
    xs, ys = [p["vprr"] for p in pts], [p["dr"] for p in pts]
    ax.plot(xs, ys, "-", color="#999", zorder=1)
    for p in pts:
        ax.errorbar(
            p["vprr"], p["dr"], xerr=[[v] for v in _err(p["vprr"], p["vprr_ci"])],
            yerr=[[v] for v in _err(p["dr"], p["dr_ci"])], marker="o", capsize=3, zorder=2,
        )  # fmt: skip
        ax.annotate(f"r{p['round']}", (p["vprr"], p["dr"]), textcoords="offset points", xytext=(6, 6), fontsize=9)
    targets = report["run"]["config"].get("cycle", {}).get("targets", {})
    if targets.get("vprr") is not None:
        ax.axvline(targets["vprr"], ls="--", color="#c66", lw=1, label="VPRR target")
    if "harmful" in targets and pts[0]["label"].startswith("harmful"):
        ax.axhline(targets["harmful"], ls=":", color="#66c", lw=1, label="DR target")
    ax.set_xlabel("VPRR (benign look-alikes refused; lower is better)")
    ax.set_ylabel(pts[0]["label"] + " (lower is better)")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper right")
    ax.set_title("defect rate vs over-refusal")
    return _png(fig)


def candidate_points(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every candidate of every round on validation: harmful DR-1 (else 1 - IPRR) against VPRR, with whether it met
    the targets and was kept."""
    pts = []
    for r in report["rounds"]:
        for c in r.get("candidates") or []:
            v = c["validation"]
            if "overrefusal" not in v:
                continue
            dr = v["harmful"]["defect_rate"] if "harmful" in v else 1 - v["overrefusal"]["iprr"]
            pts.append({"round": r["round"], "name": c["name"], "vprr": v["overrefusal"]["vprr"], "dr": dr,
                        "chosen": c["chosen"], "met": c["targets_met"]})  # fmt: skip
    return pts


def plot_candidates(report: dict[str, Any]) -> str | None:
    """The trade-off each round chose from: harmful DR-1 against VPRR on validation, one point per candidate and
    round (filled: met every target; ringed: kept), the kept ones joined in round order from round 0, and the
    target region shaded. None when no round trained candidates."""
    pts = candidate_points(report)
    if not pts:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    targets = report["run"]["config"].get("cycle", {}).get("targets", {})
    r0 = report["rounds"][0].get("validation") or {}
    if "harmful" in targets and "overrefusal" in r0:
        vmax = r0["overrefusal"]["vprr"] + targets.get("vprr_increase", 1.0)
        if targets.get("vprr") is not None:
            vmax = min(vmax, targets["vprr"])
        ax.fill_between([0, vmax], 0, targets["harmful"], color="#9c9", alpha=0.35, label="target region", zorder=0)
    path = []
    if "overrefusal" in r0 and "harmful" in r0:
        path.append((r0["overrefusal"]["vprr"], r0["harmful"]["defect_rate"]))
        ax.scatter(*path[0], marker="s", color="#444", zorder=3, label="round 0")
    cmap = plt.get_cmap("tab10")
    for p in pts:
        color = cmap(p["round"] % 10)
        ax.scatter(p["vprr"], p["dr"], color=color, zorder=3, facecolors=color if p["met"] else "none",
                   edgecolors=color, s=36)  # fmt: skip
        if p["chosen"]:
            ax.scatter(p["vprr"], p["dr"], s=160, facecolors="none", edgecolors="black", zorder=4)
            path.append((p["vprr"], p["dr"]))
            ax.annotate(f"r{p['round'] + 1}: {p['name']}", (p["vprr"], p["dr"]), textcoords="offset points",
                        xytext=(8, 4), fontsize=8)  # fmt: skip
    if len(path) > 1:
        ax.plot(*zip(*path, strict=True), "-", color="#333", lw=1, zorder=2, label="kept, round by round")
    ax.set_xlabel("VPRR on validation (benign look-alikes refused)")
    ax.set_ylabel("harmful DR-1 on validation")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title("candidates per round: defect rate vs over-refusal")
    return _png(fig)


def candidate_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The candidates table: per round and candidate, its validation figures, drift, balanced score, the targets
    it missed, and whether it was kept."""
    rows = []
    for r in report["rounds"]:
        for c in r.get("candidates") or []:
            v = c["validation"]

            def rate(suite: str, key: str = "defect_rate", v: dict[str, Any] = v) -> str:
                return f"{v[suite][key]:.3f}" if suite in v else ""

            rows.append({
                "round": r["round"], "name": c["name"], "steps": f"{c['stage']} step {c['step']}",
                "harmful": rate("harmful"), "jailbreak": rate("jailbreak"), "multiturn": rate("multiturn"),
                "vprr": rate("overrefusal", "vprr"), "iprr": rate("overrefusal", "iprr"),
                "capability": rate("capability", "score"),
                "drift": f"{c['drift']['kl']:.4f}" if c.get("drift") else "",
                "balanced": f"{c['balanced']:.3f}", "misses": "; ".join(c["misses"]) or "none",
                "chosen": c["chosen"],
            })  # fmt: skip
    return rows


def audit_tables(audit: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The judge audit as tables: the confusion matrix (truth by judge), per-class scores and per-language scores."""
    if not audit:
        return []
    main = audit.get("three_class") or audit.get("binary") or {}
    tables = []
    conf = audit.get("confusion") or main.get("confusion")
    if isinstance(conf, dict) and conf:
        header = list(next(iter(conf.values())))
        tables.append({"id": "confusion", "title": "truth \\ judge", "header": header,
                       "rows": [(t, [row.get(h, 0) for h in header]) for t, row in conf.items()]})  # fmt: skip
    for key, title in (("per_class", "class"), ("by_language", "language")):
        table = main.get(key) if key == "per_class" else audit.get(key)
        if isinstance(table, dict) and table:
            header = list(next(iter(table.values())))
            tables.append({"id": key, "title": title, "header": header,
                           "rows": [(k, [v.get(h, "") for h in header]) for k, v in table.items()]})  # fmt: skip
    return tables


REDACTED = "[redacted]"


def load_findings(run_dir: Path | None, *, redact: bool = False, per_round: int = 2000) -> tuple[list[dict], int]:
    """The findings of every round in ``run_dir`` for the browser (at most ``per_round`` per round), and how many
    were left out. ``redact`` drops every prompt and response."""
    if run_dir is None:
        return [], 0
    out: list[dict[str, Any]] = []
    left_out = 0
    rounds = sorted((p for p in (run_dir / "rounds").glob("*/findings.jsonl")), key=lambda p: int(p.parent.name))
    for path in rounds:
        with open(path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f):
                if n >= per_round:
                    left_out += 1
                    continue
                try:
                    x = json.loads(line)
                except json.JSONDecodeError:
                    continue
                turns = list(x.get("prompt") or []) + [{"role": "assistant", "content": x.get("response", "")}]
                transcript = [{"role": str(t.get("role", "")), "content": str(t.get("content", ""))} for t in turns]
                out.append(
                    {
                        "round": x.get("round", int(path.parent.name)),
                        "category": str(x.get("category", "")),
                        "technique": str(x.get("technique", "")),
                        "language": str(x.get("language", "")),
                        "turns": x.get("turns", 1),
                        "severity": x.get("severity", 0),
                        "id": str(x.get("attempt_id", "")),
                        "seed": REDACTED if redact else str(x.get("seed_text", "")),
                        "transcript": None if redact else transcript,
                    }
                )
    return out, left_out


def script_json(data: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&`` can close it."""
    text = json.dumps(data, ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def _browser_script() -> tuple[str, str]:
    """The findings browser's script and its CSP hash (the page runs that script and no other)."""
    js = resources.files("breakfix.report").joinpath("browser.js").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode("ascii")
    return js, f"'sha256-{digest}'"


def _suite_cells(benchmarks: dict[str, Any]) -> dict[str, str]:
    """Each suite's table cell: its headline values with 95% intervals, corrected rates and abstentions."""
    cells = {}
    for suite, s in benchmarks.items():
        cells[suite] = ", ".join(
            f"{label} {val:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "") for label, val, ci in _suite_value(s)
        )
        extra = [f"corrected {k} {_corrected(c)}" for k, c in s.get("corrected", {}).items()]
        if s.get("undetermined"):
            extra.append(f"undetermined {s['undetermined']}")
        if extra:
            cells[suite] += "; " + "; ".join(extra)
    return cells


def render_html(report: dict[str, Any], run_dir: Path | None = None, redact: bool = False) -> str:
    """A static, offline page: charts, round tables, the judge audit and a findings browser. All text is
    HTML-escaped; findings are data for a script that only ever sets ``textContent``, and the page's CSP admits
    that one script (by hash), images from ``data:`` URLs, and nothing from the network."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("breakfix", "report"), autoescape=select_autoescape(["j2", "html"]))
    rows = []
    for r in report["rounds"]:
        cells = _suite_cells(r["benchmarks"])
        builds = [
            {
                "quant": q,
                "cells": {
                    k: f"{v} (p={b['paired'][k]['p_value']:.3g})" if k in b.get("paired", {}) else v
                    for k, v in _suite_cells(b["benchmarks"]).items()
                },
                "asr": b["redteam"]["asr"],
                "asr_p": b.get("paired", {}).get("redteam", {}).get("p_value"),
                "targets_met": b.get("targets_met"),
                "file": b["file"],
            }
            for q, b in (r.get("builds") or {}).items()
        ]
        rows.append(
            {
                "round": r["round"],
                "cells": cells,
                "asr": r["redteam"]["asr"],
                "asr_corrected": _corrected(r["redteam"]["asr_corrected"]) if "asr_corrected" in r["redteam"] else "",
                "undetermined": r["redteam"].get("undetermined", 0),
                "attempts": r["redteam"]["attempts"],
                "errors": r["redteam"]["errors"],
                "curation": r.get("curation"),
                "training": r.get("training"),
                "builds": builds,
            }
        )
    findings, left_out = load_findings(run_dir, redact=redact)
    script, script_hash = _browser_script()
    source, cats, table = category_rounds(report)
    return env.get_template("report.html.j2").render(
        report=report,
        rows=rows,
        suites=list(report["rounds"][0]["benchmarks"]),
        charts={
            "suites": plot_suites(report),
            "heatmap": plot_heatmap(report),
            "techniques": plot_techniques(report),
            "tradeoff": plot_tradeoff(report),
            "prefill": plot_prefill(report),
            "candidates": plot_candidates(report),
        },
        candidates=candidate_rows(report),
        heat={"source": source, "cats": cats, "table": table},
        tradeoff=tradeoff_points(report),
        audit_tables=audit_tables(report["run"].get("judge_audit")),
        findings_json=script_json(findings),
        n_findings=len(findings),
        left_out=left_out,
        redact=redact,
        script=script,
        script_hash=script_hash,
        config=json.dumps(report["run"]["config"], indent=2),
    )


def report_from_store(run_dir: str | Path) -> dict[str, Any] | None:
    """Rebuild ``report.json`` from a run directory's store: its config and every finished round. A run that has
    not finished gets the rounds finished so far and the stop reason ``incomplete``. None when the directory has
    no store, or its store no finished round of the cycle (a store older than round records, or a red-team run)."""
    db = Path(run_dir) / "run.db"
    if not db.is_file():
        return None
    with Store(db) as store:
        rounds = [RoundRecord.model_validate(res) for _, res in store.stage_results(RECORD)]
        if not rounds:
            return None
        conf = store.get_meta("config")
        if conf is None:
            raise BreakfixError(str(db), "config", "no stored config; is this a `breakfix run` or `demo` directory?")
        cfg = parse_config(json.loads(conf), str(db))
        run = store.stage(RUN_ROUND, RUN_STAGE)
    if run is None:
        rounds[-1] = rounds[-1].model_copy(update={"stop_reason": "incomplete"})
        return build_report(cfg, rounds, overlap=None, judge_audit=None)
    return build_report(cfg, rounds, overlap=run["result"]["overlap"], judge_audit=run["result"]["judge_audit"])
