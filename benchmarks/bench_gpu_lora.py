"""GPU benchmark: SFT then DPO with LoRA in bf16 on a ~100M-parameter Phi-3-architecture model.

The model is ``Phi3ForCausalLM`` built from a config (random weights; throughput and memory do not depend on what
the weights know) with the demo tokenizer, trained through breakfix's own training path on demo-world data. Prints
parameters, tokens/s and peak GPU memory of each stage.

Usage: python benchmarks/bench_gpu_lora.py [--sft-rows 2048] [--dpo-rows 1024] [--batch 16]
       python benchmarks/bench_gpu_lora.py --tiny   # a 2-layer model on CPU: checks the script, measures nothing

Needs a CUDA GPU with bf16 (issue 5's GPU check); without one it says so and exits 0.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def build(out: Path, tiny: bool) -> int:
    """A Phi-3 model of ~100M parameters (or a tiny one) with the demo tokenizer, saved to ``out``."""
    import torch
    from transformers import Phi3Config, Phi3ForCausalLM

    from breakfix.demo.tokenizer import train_tokenizer
    from breakfix.demo.world import DemoWorld

    tok = train_tokenizer(DemoWorld(0).base_corpus(n_harmful_rep=1, n_benign_rep=1), vocab_size=1024)
    size = (
        dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128)
        if tiny
        else dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
    )
    cfg = Phi3Config(
        vocab_size=len(tok),
        num_key_value_heads=size["num_attention_heads"],
        max_position_embeddings=1024,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        **size,
    )
    torch.manual_seed(0)
    model = Phi3ForCausalLM(cfg)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return sum(p.numel() for p in model.parameters())


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sft-rows", type=int, default=2048)
    ap.add_argument("--dpo-rows", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--tiny", action="store_true", help="a 2-layer model on CPU, to check the script")
    args = ap.parse_args()
    gpu = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if not gpu and not args.tiny:
        print("no CUDA GPU with bf16 here: nothing measured (run with --tiny to check the script on CPU)")
        return
    from breakfix.curation.pairs import chat_to_sft_row, dpo_row
    from breakfix.demo.world import DemoWorld, refusal_text
    from breakfix.training.dpo import DPOSettings, train_dpo
    from breakfix.training.sft import SFTSettings, train_sft

    helpful = DemoWorld(0).helpful_data()
    n_sft, n_dpo = (64, 32) if args.tiny else (args.sft_rows, args.dpo_rows)
    sft = [chat_to_sft_row(r["messages"], {}) for r in helpful[:n_sft]]
    dpo = [
        dpo_row(r["messages"][:-1], r["messages"][-1]["content"], refusal_text("default", "en"), {})
        for r in helpful[n_sft : n_sft + n_dpo]
    ]
    common = dict(epochs=1, batch_size=args.batch, lora=True, lora_r=16, max_length=256, bf16=gpu)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        params = build(base, args.tiny)
        print(f"device: {torch.cuda.get_device_name() if gpu else 'cpu'}; model: Phi3ForCausalLM, {params / 1e6:.1f}M")
        current = base
        for stage, fn, settings, data in (
            ("SFT", train_sft, SFTSettings(**common, learning_rate=2e-4), sft),
            ("DPO+SFT", train_dpo, DPOSettings(**common, learning_rate=5e-5), dpo),
        ):
            if gpu:
                torch.cuda.reset_peak_memory_stats()
            started = time.perf_counter()
            out = Path(tmp) / stage
            res = fn(current, data, out, settings, progress_label=stage)
            wall = time.perf_counter() - started
            mem = f"{torch.cuda.max_memory_allocated() / 2**30:.2f} GiB peak allocated" if gpu else "cpu"
            print(
                f"{stage}: {len(data)} rows, {res.steps} steps, {res.tokens:,} tokens, "
                f"{res.tokens_per_s:,.0f} tokens/s (train {res.seconds:.1f} s, "
                f"with load and merge-save {wall:.1f} s), {mem}, "
                f"final loss {res.final('train_loss')}"
            )
            assert (out / "adapter" / "adapter_config.json").is_file()
            current = out


if __name__ == "__main__":
    main()
