"""Benchmark: breakfix's SFT and DPO training throughput against a plain TRL script, and peak RSS.

Both sides train the demo model on the same rows with the same settings (batch 16, 1 epoch, cosine schedule, no
activation checkpointing, fp32 on CPU, nothing frozen). Each run is its own process, so its peak RSS is its own;
runs alternate breakfix / plain TRL, and the ratio is the median over repeats. Tokens are counted the same way on
both sides (the tokenized rows the trainer holds, times epochs), and seconds are those of ``trainer.train()``.

Usage: python benchmarks/bench_training.py [--repeats 3] [--sft-rows 512] [--dpo-rows 256]

Goal (issue 5): tokens/s ratio breakfix / plain TRL >= 0.95 for SFT and for DPO.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = dict(epochs=1.0, batch_size=16, learning_rate=1e-4, max_length=256, warmup_ratio=0.05)
CHECKPOINTING = False  # both sides; activation checkpointing trades speed for memory the same way in each


def rows(stage: str, n: int) -> list[dict]:
    from breakfix.curation.pairs import chat_to_sft_row, dpo_row
    from breakfix.demo.world import DemoWorld, refusal_text

    helpful = DemoWorld(0).helpful_data()[:n]
    if stage == "sft":
        return [chat_to_sft_row(r["messages"], {}) for r in helpful]
    return [
        dpo_row(r["messages"][:-1], r["messages"][-1]["content"], refusal_text("default", "en"), {}) for r in helpful
    ]


def run_breakfix(stage: str, model_dir: str, data: list[dict], out: str) -> tuple[float, int]:
    from breakfix.training.dpo import DPOSettings, train_dpo
    from breakfix.training.sft import SFTSettings, train_sft

    if stage == "sft":
        res = train_sft(
            model_dir,
            data,
            out,
            SFTSettings(**SETTINGS, freeze_embeddings=False, gradient_checkpointing=CHECKPOINTING),
            progress_label="SFT",
        )
    else:
        res = train_dpo(
            model_dir,
            data,
            out,
            DPOSettings(**SETTINGS, freeze_embeddings=False, gradient_checkpointing=CHECKPOINTING),
            progress_label="DPO",
        )
    return res.seconds, res.tokens


def run_plain(stage: str, model_dir: str, data: list[dict], out: str) -> tuple[float, int]:
    """What a user's hand-written TRL script does."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    common = dict(
        output_dir=out + "-trainer",
        num_train_epochs=SETTINGS["epochs"],
        per_device_train_batch_size=SETTINGS["batch_size"],
        learning_rate=SETTINGS["learning_rate"],
        lr_scheduler_type="cosine",
        warmup_steps=SETTINGS["warmup_ratio"],
        max_length=SETTINGS["max_length"],
        logging_steps=5,
        save_strategy="no",
        use_cpu=True,
        bf16=False,  # TRL defaults bf16 on (also on CPU); breakfix trains fp32 without a bf16 GPU
        activation_checkpointing=CHECKPOINTING,
        report_to=[],
        seed=0,
        data_seed=0,
        disable_tqdm=True,
    )
    if stage == "sft":
        ds = Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]} for r in data])
        trainer = SFTTrainer(model=model, args=SFTConfig(**common), train_dataset=ds, processing_class=tok)
    else:
        ds = Dataset.from_list([{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in data])
        cfg = DPOConfig(beta=0.1, loss_type=["sigmoid", "sft"], **common)
        trainer = DPOTrainer(model=model, args=cfg, train_dataset=ds, processing_class=tok)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    trainer.save_model(out)
    t = trainer.train_dataset
    if stage == "sft":
        tokens = sum(len(x) for x in t["input_ids"])
    else:
        ids = zip(t["prompt_ids"], t["chosen_ids"], t["rejected_ids"], strict=True)
        tokens = sum(len(p) + len(c) + len(r) for p, c, r in ids)
    return seconds, int(tokens * SETTINGS["epochs"])


def worker(impl: str, stage: str, n: int, result: str) -> None:
    from breakfix.demo.model import build_demo_model

    model_dir = str(build_demo_model())
    data = rows(stage, n)
    with tempfile.TemporaryDirectory() as tmp:
        fn = run_breakfix if impl == "breakfix" else run_plain
        seconds, tokens = fn(stage, model_dir, data, str(Path(tmp) / "out"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(result).write_text(json.dumps({"seconds": seconds, "tokens": tokens, "peak_mib": peak}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sft-rows", type=int, default=512)
    ap.add_argument("--dpo-rows", type=int, default=256)
    ap.add_argument("--worker", nargs=4, metavar=("IMPL", "STAGE", "N", "RESULT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        impl, stage, n, result = args.worker
        worker(impl, stage, int(n), result)
        return
    from breakfix.demo.model import build_demo_model

    build_demo_model()  # build (or find) the cached model before timing anything
    env = {**os.environ, "BREAKFIX_NO_PROGRESS": "1", "PYTHONWARNINGS": "ignore", "HF_HUB_OFFLINE": "1"}
    print(f"cores: {os.cpu_count()}; settings: {SETTINGS}; repeats: {args.repeats}")
    for stage, n in (("sft", args.sft_rows), ("dpo", args.dpo_rows)):
        runs: dict[str, list[dict]] = {"breakfix": [], "plain": []}
        for _ in range(args.repeats):
            for impl in ("breakfix", "plain"):
                with tempfile.NamedTemporaryFile(suffix=".json") as f:
                    cmd = [sys.executable, __file__, "--worker", impl, stage, str(n), f.name]
                    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
                    if proc.returncode != 0:
                        raise SystemExit(f"{impl} {stage} failed:\n{proc.stderr[-3000:]}")
                    runs[impl].append(json.loads(Path(f.name).read_text()))
        ratios = [
            (b["tokens"] / b["seconds"]) / (p["tokens"] / p["seconds"])
            for b, p in zip(runs["breakfix"], runs["plain"], strict=True)
        ]
        for impl, rs in runs.items():
            tps = statistics.median(r["tokens"] / r["seconds"] for r in rs)
            peak = max(r["peak_mib"] for r in rs)
            print(f"{stage} {impl:8}: {rs[0]['tokens']} tokens, median {tps:,.0f} tokens/s, peak RSS {peak:.0f} MiB")
        print(
            f"{stage} ratio breakfix / plain TRL: median {statistics.median(ratios):.3f} "
            f"(runs: {', '.join(f'{r:.3f}' for r in ratios)}; goal >= 0.95)"
        )


if __name__ == "__main__":
    main()
