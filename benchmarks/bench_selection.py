"""Benchmark: the trade-off each round chose from. Prints, per round, every candidate fix's validation figures (harmful,
jailbreak and multi-turn DR-1, VPRR, IPRR, capability, benign drift, balanced score, the targets it missed) and the
kept candidate's held-out figures, which the report took once, after the choice (issue "Fix without over-refusal").

On the demo (runs ``breakfix demo`` into a fresh directory, or reads one):

    python benchmarks/bench_selection.py --demo [--seed 0] [--out runs/select-demo]

On any finished run, such as SmolLM2-135M-Instruct through ``benchmarks/bench_real.py --out runs/real``:

    python benchmarks/bench_selection.py --run runs/real
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _rate(scores: dict, suite: str, key: str = "defect_rate") -> str:
    return f"{scores[suite][key]:.3f}" if suite in scores else "-"


def _figures(scores: dict) -> list[str]:
    return [_rate(scores, "harmful"), _rate(scores, "jailbreak"), _rate(scores, "multiturn"),
            _rate(scores, "overrefusal", "vprr"), _rate(scores, "overrefusal", "iprr"),
            _rate(scores, "capability", "score")]  # fmt: skip


def print_run(run: Path) -> int:
    """Print the run's candidates and choices; returns how many rounds chose a candidate that missed a target."""
    report = json.loads((run / "report.json").read_text(encoding="utf-8"))
    rounds = report["rounds"]
    cols = ("round", "candidate", "taken at", "harmful", "jailbreak", "multiturn", "VPRR", "IPRR", "capability",
            "drift", "balanced", "kept", "targets missed")  # fmt: skip
    print(f"run {run}: {report['run']['name']}, rule: {report['run']['config']['cycle']['selection']['rule']}")
    print(" | ".join(cols))
    missed = 0
    for r in rounds:
        if r.get("validation") is not None:
            print(" | ".join([str(r["round"]), "(the round's model)", "-", *_figures(r["validation"]),
                              f"{(r.get('drift') or {}).get('kl', 0.0):.4f}", "-", "-",
                              "; ".join(r.get("misses") or []) or "-"]))  # fmt: skip
        for c in r.get("candidates") or []:
            drift = f"{c['drift']['kl']:.4f}" if c.get("drift") else "-"
            print(" | ".join([str(r["round"]), c["name"], f"{c['stage']} step {c['step']}", *_figures(c["validation"]),
                              drift, f"{c['balanced']:.3f}", "yes" if c["chosen"] else "",
                              "; ".join(c["misses"]) or "none"]))  # fmt: skip
        if r.get("selection") and not r["selection"]["targets_met"]:
            missed += 1
    print()
    print("held out (scored once per round, after every decision): round | model | " + " | ".join(cols[3:9]))
    for r in rounds:
        kept = "base" if r["round"] == 0 else rounds[r["round"] - 1]["selection"]["chosen"]
        print(" | ".join([str(r["round"]), kept, *_figures(r["benchmarks"])]))
    t = report["run"].get("targets", {})
    print(f"targets on validation: {'met' if t.get('met') else 'missed: ' + '; '.join(t.get('misses', []))}")
    if "heldout" in t:
        h = t["heldout"]
        print(f"targets on held out: {'met' if h['met'] else 'missed: ' + '; '.join(h['misses'])}")
    print(f"stop: {report['run']['stop_reason']}")
    return missed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, help="a finished run directory")
    ap.add_argument("--demo", action="store_true", help="run `breakfix demo` first")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="where the demo run goes (default: a temporary directory)")
    args = ap.parse_args()
    if args.demo:
        out = args.out or Path(tempfile.mkdtemp(prefix="bf-select-")) / "demo"
        exe = Path(sys.executable).with_name("breakfix")
        t0 = time.perf_counter()
        env = {**os.environ, "BREAKFIX_NO_PROGRESS": "1"}
        cmd = [str(exe), "demo", "--out", str(out), "--seed", str(args.seed)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"demo failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
        print(f"breakfix demo --seed {args.seed}: {time.perf_counter() - t0:.0f} s")
        args.run = out
    if args.run is None:
        ap.error("give --run DIR or --demo")
    print_run(args.run)


if __name__ == "__main__":
    main()
