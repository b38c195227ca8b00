"""Score a finished ``bench_real.py`` run's round 0 and last round on another capability set, after the fact: the
held-out split of an openai/evals set (naughty_strings by default), paired (McNemar), written to
``OUT/capability_bench/bench.json``. ``proof_table.py`` reads it in place of the run's own capability figures.

    python benchmarks/rebench_capability.py runs/real --wheels wheels/

For runs made before ``bench_real.py`` took naughty_strings as its capability set. The run's own choice of fix read
its own capability set; only the reported figure changes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml
from bench_real import WHEELS  # this folder's: the script's own directory is on sys.path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path, help="a bench_real.py --out")
    ap.add_argument("--wheels", type=Path, required=True, help="the folder with the evals wheel")
    ap.add_argument("--capability", default="naughty_strings", help="an openai/evals set in the wheel")
    ap.add_argument("--limit", type=int, default=400, help="held-out items at most")
    args = ap.parse_args()
    member = f"evals/registry/data/{args.capability}/samples.jsonl"
    data = args.out / "data"
    if not (data / member).is_file():
        with zipfile.ZipFile(args.wheels / WHEELS["evals"]) as z:
            z.extract(member, data)
    cfg = yaml.safe_load((args.out / "config.yaml").read_text(encoding="utf-8"))
    cfg["files"]["capability"] = [f"evals:{data / member}"]
    cfg["benchmarks"]["suites"] = ["capability"]
    cfg["benchmarks"]["suite_limits"] = {"capability": args.limit}
    path = args.out / "capability.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    run = args.out / "run"
    last = len(json.loads((run / "report.json").read_text(encoding="utf-8"))["rounds"]) - 1
    cmd = [sys.executable, "-m", "breakfix", "bench", "--config", str(path), "--model", f"{run}@{last}",
           "--baseline", f"{run}@0", "--out", str(args.out / "capability_bench")]  # fmt: skip
    subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
