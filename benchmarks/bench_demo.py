"""Benchmark: `breakfix demo` from a cold cache. Prints wall time, peak RSS and the report's headline numbers.

Usage: python benchmarks/bench_demo.py [--keep DIR]

Goals (issue 2): wall time <= 10 minutes on 2 cores; peak RSS <= 2 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--keep", type=Path, help="keep the run directory here")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bf-bench-"))
    out = args.keep or work / "run"
    env = {**os.environ, "BREAKFIX_CACHE": str(work / "cache"), "BREAKFIX_NO_PROGRESS": "1"}
    exe = Path(sys.executable).with_name("breakfix")
    started = time.perf_counter()
    proc = subprocess.run([str(exe), "demo", "--out", str(out)], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-4000:])
        raise SystemExit(f"breakfix demo failed with exit code {proc.returncode}")
    report = json.loads((out / "report.json").read_text())
    r0, last = report["rounds"][0]["benchmarks"], report["rounds"][-1]["benchmarks"]
    print(f"cores: {os.cpu_count()}")
    print(f"demo wall time (cold cache): {wall:.1f} s  (goal <= 600 s)")
    print(f"demo peak RSS: {peak_kb / 1024:.0f} MiB  (goal <= 2048 MiB)")
    print(f"rounds: {len(report['rounds'])}, stop: {report['run']['stop_reason']}")
    print(f"round 0 harmful DR-1: {r0['harmful']['defect_rate']:.3f}")
    for suite in ("harmful", "jailbreak", "multiturn"):
        langs = ", ".join(f"{k} {v['rate']:.3f}" for k, v in last[suite]["by_language"].items())
        print(f"last round {suite} DR-1: {last[suite]['defect_rate']:.3f} ({langs})")
    print(f"VPRR: round 0 {r0['overrefusal']['vprr']:.3f}, last {last['overrefusal']['vprr']:.3f}")
    print(f"capability: round 0 {r0['capability']['score']:.3f}, last {last['capability']['score']:.3f}")
    print(f"held-out overlap: {report['run']['decontamination']}")
    print(f"judge agreement: {report['run']['judge_audit']['agreement']:.3f} (n={report['run']['judge_audit']['n']})")
    shutil.rmtree(work / "cache", ignore_errors=True)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
