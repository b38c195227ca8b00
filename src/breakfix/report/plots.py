"""The report's charts (matplotlib, as inline PNG): suites by round, categories, techniques, prefill depth, the
safety/over-refusal trade-off, and the candidates of each round."""

from __future__ import annotations

import base64
import io
from typing import Any


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
