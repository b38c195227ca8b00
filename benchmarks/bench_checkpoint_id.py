"""Benchmark: the cost of a checkpoint id that hashes every byte, on a 1 GiB checkpoint (or --model DIR).

Usage: python benchmarks/bench_checkpoint_id.py [--gib 1.0] [--shards 1] [--model DIR] [--repeats 3]

Without --model it writes a checkpoint of --gib GiB of float32 weights in --shards safetensors files to a temporary
folder. In this process it then times, alternating, `--repeats` times each (best time counts):
- the baseline: reading every byte of the same files (what any full hash must at least do);
- `checkpoint_id` with its in-process memo cleared (a cold id: every byte hashed);
- `checkpoint_id` again with the memo (a second call in one process: only a stat of each file).
It prints seconds, GB/s and the ratio of each to the baseline. The page cache is warm for all three, so the read
baseline is memory bandwidth, not disk.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def _read_all(files: list[Path]) -> int:
    n = 0
    for f in files:
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 24):
                n += len(chunk)
    return n


def main() -> None:
    import torch
    from safetensors.torch import save_file

    from breakfix import checkpoints

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--model", default=None)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        model = Path(args.model) if args.model else Path(tmp)
        if not args.model:
            per_shard = int(args.gib * (1 << 30) / 4 / args.shards)
            for i in range(args.shards):
                save_file({"w": torch.randn(per_shard)}, str(model / f"model-{i:05d}.safetensors"))
            (model / "config.json").write_text("{}")
        files = checkpoints.checkpoint_files(model)
        size = sum(f.stat().st_size for f in files)
        best = {"read every byte (baseline)": float("inf"), "checkpoint_id, cold": float("inf"),
                "checkpoint_id, memo": float("inf")}  # fmt: skip
        for _ in range(args.repeats):
            t = time.perf_counter()
            _read_all(files)
            best["read every byte (baseline)"] = min(best["read every byte (baseline)"], time.perf_counter() - t)
            checkpoints._ID_CACHE.clear()
            t = time.perf_counter()
            cold = checkpoints.checkpoint_id(model)
            best["checkpoint_id, cold"] = min(best["checkpoint_id, cold"], time.perf_counter() - t)
            t = time.perf_counter()
            assert checkpoints.checkpoint_id(model) == cold
            best["checkpoint_id, memo"] = min(best["checkpoint_id, memo"], time.perf_counter() - t)
    base = best["read every byte (baseline)"]
    print(f"checkpoint: {size / 1e9:.3f} GB in {len(files)} files ({args.shards} weight shards); id {cold}")
    for name, seconds in best.items():
        print(f"{name:28s} {seconds:8.4f} s  {size / seconds / 1e9:8.2f} GB/s  {seconds / base:7.2f} x baseline")


if __name__ == "__main__":
    main()
