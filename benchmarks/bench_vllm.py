"""Benchmark (GPU only): the vLLM backend against the HF backend on the same prompts and model.

Usage: python benchmarks/bench_vllm.py [--model DIR] [--repeat 8] [--max-new-tokens 48]

Needs ``pip install 'breakfix[vllm]'`` and a GPU; exits with a message otherwise. The model defaults to the demo
model (a ``Phi3ForCausalLM``); pass any small HF chat model dir. Both backends generate greedily for the demo's
held-out suite prompts (repeated ``--repeat`` times); the script prints prompts/s and new tokens/s of each, their
ratio, and how many replies are identical.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("BREAKFIX_NO_PROGRESS", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--repeat", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=256)
    a = ap.parse_args()

    from breakfix.backends.vllm import vllm_available

    if not vllm_available():
        sys.exit("vLLM is not installed (pip install 'breakfix[vllm]'); this benchmark needs it and a GPU")
    import torch

    if not torch.cuda.is_available():
        sys.exit("no CUDA GPU: this benchmark needs one")

    from breakfix.backends.base import GenerationConfig
    from breakfix.backends.hf import HFBackend
    from breakfix.backends.vllm import VLLMBackend
    from breakfix.demo.model import build_demo_model
    from breakfix.demo.world import DemoWorld
    from breakfix.jobs.bench import suite_plans

    model = a.model or str(build_demo_model())
    plans = [p for ps in suite_plans(DemoWorld(), ["harmful", "jailbreak", "capability"]).values() for p in ps]
    convs = [[{"role": "user", "content": p.turns[0]}] for p in plans] * a.repeat
    gen = GenerationConfig(max_new_tokens=a.max_new_tokens)

    vllm = VLLMBackend(model, gpu_memory_utilization=0.3)
    vllm.generate(convs[:32], gen)  # warm-up (CUDA graphs, caches)
    t0 = time.perf_counter()
    out_v = vllm.generate(convs, gen)
    t_v = time.perf_counter() - t0
    vllm.close()

    hf = HFBackend(model, batch_size=a.batch_size, device="cuda")
    hf.generate(convs[:32], gen)
    t0 = time.perf_counter()
    out_h = hf.generate(convs, gen)
    t_h = time.perf_counter() - t0

    tok = hf.tokenizer
    n_v = sum(len(tok(x, add_special_tokens=False)["input_ids"]) for x in out_v)
    n_h = sum(len(tok(x, add_special_tokens=False)["input_ids"]) for x in out_h)
    same = sum(x.strip() == y.strip() for x, y in zip(out_v, out_h, strict=True))
    print(f"model {model}; {len(convs)} prompts; max_new_tokens {a.max_new_tokens}; {torch.cuda.get_device_name()}")
    print(f"vLLM: {t_v:.2f} s, {len(convs) / t_v:.0f} prompts/s, {n_v / t_v:.0f} new tokens/s")
    print(f"HF:   {t_h:.2f} s, {len(convs) / t_h:.0f} prompts/s, {n_h / t_h:.0f} new tokens/s (batch {a.batch_size})")
    print(f"vLLM / HF speed: {t_h / t_v:.2f}x; identical greedy replies: {same}/{len(convs)}")


if __name__ == "__main__":
    main()
