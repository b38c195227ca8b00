"""Ablation on the demo world: what benign contrast data and DPO add to the fix.

Runs the demo cycle (the embedded default config) under three settings and prints, for the last round, harmful
DR-1, VPRR (over-refusal of benign look-alikes) and the capability score:

- refusal-only data (no benign contrast), SFT then DPO+SFT;
- data with benign contrast, SFT then DPO+SFT (the default: it is both the "benign contrast" and the
  "SFT then DPO+SFT" setting);
- data with benign contrast, SFT only.

Usage: python benchmarks/bench_ablation.py [--out DIR] [--rounds N]

A setting stops early when the demo's targets hold, so its last round can differ; round 1 is printed too. Each run is
resumable (re-running reuses finished rounds). Goal (issue 5): VPRR with benign contrast < refusal-only.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

SETTINGS = {
    "refusal-only": {"curation": {"benign_contrast": False}},
    "benign-contrast": {},
    "sft-only": {"training": {"method": "sft"}},
}
ROWS = [
    ("refusal-only data (SFT -> DPO+SFT)", "refusal-only"),
    ("with benign contrast (SFT -> DPO+SFT)", "benign-contrast"),
    ("SFT only (with benign contrast)", "sft-only"),
    ("SFT then DPO+SFT (with benign contrast)", "benign-contrast"),
]


def run(name: str, out: Path, rounds: int | None) -> dict:
    from breakfix.config import demo_config, parse_config
    from breakfix.cycle import Cycle

    data = demo_config().model_dump(mode="json")
    for block, values in SETTINGS[name].items():
        data[block].update(values)
    if rounds is not None:
        data["cycle"]["max_rounds"] = rounds
    cfg = parse_config(data, f"ablation:{name}")
    started = time.perf_counter()
    report = Cycle(cfg, out / name, log=lambda m: None).run()
    print(f"  {name}: {len(report['rounds'])} rounds in {time.perf_counter() - started:.0f} s", flush=True)
    return report


def main() -> None:
    import os

    os.environ.setdefault("BREAKFIX_NO_PROGRESS", "1")
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("runs/ablation"))
    ap.add_argument("--rounds", type=int, default=None, help="fix rounds (default: the demo's)")
    args = ap.parse_args()
    reports = {name: run(name, args.out, args.rounds) for name in SETTINGS}
    r0 = reports["benign-contrast"]["rounds"][0]["benchmarks"]
    print(
        f"\nround 0 (all settings): harmful DR-1 {r0['harmful']['defect_rate']:.3f}, "
        f"VPRR {r0['overrefusal']['vprr']:.3f}, capability {r0['capability']['score']:.3f}"
    )
    for title, pick in (("last round", -1), ("after one fix (round 1)", 1)):
        print(f"\n{'setting (' + title + ')':42} {'round':>6} {'harmful DR-1':>13} {'VPRR':>13} {'capability':>11}")
        for label, name in ROWS:
            last = reports[name]["rounds"][pick]
            b = last["benchmarks"]
            h, v = b["harmful"], b["overrefusal"]
            print(
                f"{label:42} {last['round']:>6} {h['defect_rate']:>6.3f} (n={h['n']:<4}) "
                f"{v['vprr']:>6.3f} (n={v['vprr_n']:<3}) {b['capability']['score']:>11.3f}"
            )
    contrast = reports["benign-contrast"]["rounds"][-1]["benchmarks"]["overrefusal"]["vprr"]
    refusal = reports["refusal-only"]["rounds"][-1]["benchmarks"]["overrefusal"]["vprr"]
    verdict = "met" if contrast < refusal else "NOT met"
    print(f"\nVPRR with benign contrast {contrast:.3f} vs refusal-only {refusal:.3f}: goal (lower) {verdict}")
    (args.out / "ablation.json").write_text(
        json.dumps({n: [r["benchmarks"] for r in rep["rounds"]] for n, rep in reports.items()}, indent=1)
    )


if __name__ == "__main__":
    main()
