"""Benchmark: HFBackend generation throughput as a ratio to raw batched `model.generate` on the same prompts.

Usage: python benchmarks/bench_generation.py [--model DIR] [--batch-size 64] [--repeats 3]

Both paths run in this process on the same prompts (the demo's held-out suite prompts), batch size and greedy
settings; each is timed `--repeats` times, alternating, and the best time of each is compared. Goal: ratio >= 0.9.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("BREAKFIX_NO_PROGRESS", "1")


def main() -> None:
    import torch

    from breakfix.backends.base import GenerationConfig
    from breakfix.backends.hf import HFBackend
    from breakfix.demo.model import build_demo_model
    from breakfix.demo.world import DemoWorld
    from breakfix.jobs.bench import suite_plans

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=None)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    args = ap.parse_args()

    model_dir = args.model or build_demo_model()
    backend = HFBackend(model_dir, batch_size=args.batch_size)
    plans = [
        p for ps in suite_plans(DemoWorld(), ["harmful", "jailbreak", "overrefusal", "capability"]).values() for p in ps
    ]
    convs = [[{"role": "user", "content": p.turns[0]}] for p in plans]
    gen = GenerationConfig(max_new_tokens=args.max_new_tokens)
    tok, model = backend.tokenizer, backend.model

    def raw() -> int:
        """The plain recipe: chat template, left-padded batches in input order, model.generate, decode."""
        n_tokens = 0
        prompts = [tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in convs]
        for i in range(0, len(prompts), args.batch_size):
            enc = tok(prompts[i : i + args.batch_size], return_tensors="pt", padding=True, add_special_tokens=False)
            with torch.inference_mode():
                out = model.generate(
                    **enc,
                    max_new_tokens=args.max_new_tokens,
                    do_sample=False,
                    pad_token_id=tok.pad_token_id,
                    eos_token_id=backend._stop_ids,
                )
            new = out[:, enc["input_ids"].shape[1] :]
            n_tokens += int((new != tok.pad_token_id).sum())
            tok.batch_decode(new, skip_special_tokens=True)
        return n_tokens

    def ours() -> None:
        backend.generate(convs, gen)

    raw()  # warm-up
    ours()
    t_raw, t_ours = [], []
    for _ in range(args.repeats):
        s = time.perf_counter()
        n_tokens = raw()
        t_raw.append(time.perf_counter() - s)
        s = time.perf_counter()
        ours()
        t_ours.append(time.perf_counter() - s)
    best_raw, best_ours = min(t_raw), min(t_ours)
    print(
        f"prompts: {len(convs)}, batch size {args.batch_size}, max_new_tokens {args.max_new_tokens}, "
        f"threads {torch.get_num_threads()}"
    )
    print(f"raw model.generate: {best_raw:.3f} s ({n_tokens / best_raw:.0f} new tokens/s)")
    print(f"HFBackend.generate: {best_ours:.3f} s")
    print(f"throughput ratio (HFBackend / raw): {best_raw / best_ours:.2f}  (goal >= 0.9)")


if __name__ == "__main__":
    main()
