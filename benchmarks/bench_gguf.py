"""Does quantization undo the fix, and does ``cycle.verify_builds`` close the gap? Measured on the shipped builds.

Two worlds:

    export BREAKFIX_LLAMA_CPP=llama_cpp_python-0.3.36.tar.gz   # the sdist: pip download --no-binary :all: ...
    python benchmarks/bench_gguf.py demo --out runs/gguf-demo
    python benchmarks/bench_gguf.py real --real runs/real --out runs/gguf-real

``demo`` runs the quick demo cycle (suites harmful, jailbreak, overrefusal, capability; one fix round) twice: A as it
is, B with ``cycle.verify_builds: [q4_k_m]``. ``real`` takes a finished ``benchmarks/bench_real.py`` output
directory (its ``config.yaml`` and ``run/``: SmolLM2-135M-Instruct before and after its cycle).

For rounds 0 and 1 of A (or of the real run) it exports f16, q8_0 and q4_k_m with ``breakfix export`` and runs
``breakfix bench --gguf BUILD --baseline CHECKPOINT`` on the held-out suites: each build's value next to the HF
checkpoint's, with the paired McNemar p-value. For ``demo`` it then compares A's round-1 q4_k_m build with B's
(``breakfix compare``, paired on the same items). Last, endpoint throughput: the same prompts through the HF backend
(batched) and through the llama.cpp server that breakfix starts (one request at a time), in one process, as
requests/s and new tokens/s, and the export's greedy agreement from its manifest. Figures go to stdout and
``OUT/figures.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

BF = [sys.executable, "-m", "breakfix"]
SUITES = ["harmful", "jailbreak", "overrefusal", "capability"]
QUANTS = ["f16", "q8_0", "q4_k_m"]


def sh(*args: str, out: Path | None = None) -> None:
    print("$ breakfix " + " ".join(args[:6]) + (" ..." if len(args) > 6 else ""), flush=True)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
    log = open(out, "a", encoding="utf-8") if out else None  # noqa: SIM115
    try:
        subprocess.run([*BF, *args], check=True, stdout=log, stderr=subprocess.STDOUT if log else None)
    finally:
        if log:
            log.close()


def headline(s: dict[str, Any]) -> tuple[str, float, int]:
    if "defect_rate" in s:
        return "DR-1", s["defect_rate"], s["n"]
    if "vprr" in s:
        return "VPRR", s["vprr"], s.get("vprr_n", s["n"])
    return "score", s["score"], s["n"]


def measure_builds(config: Path, rounds: dict[str, str], out: Path, llama_cpp: str) -> dict[str, Any]:
    """Export each round's checkpoint and bench each build against it (paired)."""
    figures: dict[str, Any] = {}
    for label, spec in rounds.items():
        d = out / label
        gguf = d / "gguf"
        if not (gguf / "manifest.json").is_file():
            t0 = time.perf_counter()
            sh("export", spec, "--out", str(gguf), "--quant", ",".join(QUANTS), "--llama-cpp", llama_cpp,
               "--verify", "8", "--max-new-tokens", "32", "-c", str(config), out=d / "log.txt")  # fmt: skip
            print(f"  export {label}: {time.perf_counter() - t0:.0f} s")
        manifest = json.loads((gguf / "manifest.json").read_text())
        figures[label] = {"verify": {k: v for k, v in manifest["verify"].items() if k != "pairs"}, "builds": {},
                          "tokens": manifest["tokens"]}  # fmt: skip
        prev = None
        for f in manifest["files"]:
            q, bd = f["quant"], d / f"bench-{f['quant']}"
            if prev is not None and not (bd / "bench.db").exists():  # the baseline's replies are reused
                bd.mkdir(parents=True, exist_ok=True)
                shutil.copy(prev / "bench.db", bd / "bench.db")
            if not (bd / "bench.json").is_file():
                t0 = time.perf_counter()
                sh("bench", "-c", str(config), "--gguf", str(gguf / f["file"]), "--baseline", spec, "--out", str(bd),
                   out=d / "log.txt")  # fmt: skip
                print(f"  bench {label} {q}: {time.perf_counter() - t0:.0f} s")
            prev = bd
            b = json.loads((bd / "bench.json").read_text())
            rows = {}
            for suite in SUITES:
                if suite not in b["model"]["benchmarks"]:
                    continue
                metric, v, n = headline(b["model"]["benchmarks"][suite])
                _, v0, _ = headline(b["baseline"]["benchmarks"][suite])
                p = b["paired"].get(suite, {})
                rows[suite] = {"metric": metric, "hf": v0, "build": v, "n": n, "p": p.get("p_value"),
                               "only_build": p.get("only_candidate"), "only_hf": p.get("only_baseline")}  # fmt: skip
            figures[label]["builds"][q] = {"mib": round(f["bytes"] / 2**20, 1), "suites": rows}
    return figures


def print_builds(figures: dict[str, Any]) -> None:
    print("\n| round | build | MiB | " + " | ".join(SUITES) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in SUITES) + " |")
    for label, f in figures.items():
        for q, b in f["builds"].items():
            cells = []
            for s in SUITES:
                r = b["suites"].get(s)
                cells.append(
                    "" if r is None else f"{r['hf']:.3f} → {r['build']:.3f} (n {r['n']}, p {r['p']:.2g})"
                )  # fmt: skip
            print(f"| {label} | {q} | {b['mib']} | " + " | ".join(cells) + " |")
        v = f["verify"]
        print(f"| {label} | export check | | greedy f16 vs HF: {v['identical']}/{v['prompts']} identical, "
              f"{v['same_first_8_words']}/{v['prompts']} same first 8 words; token ids {f['tokens']['equal']}/"
              f"{f['tokens']['checked']} | | |")  # fmt: skip


def throughput(config: Path, hf_spec: str, gguf: Path, n: int, max_new_tokens: int) -> dict[str, Any]:
    """The same prompts through the HF backend and through a llama.cpp server breakfix starts: requests/s and new
    tokens/s (tokens counted with the HF tokenizer on both sides), in this one process."""
    from breakfix.backends import build_backend
    from breakfix.backends.base import GenerationConfig
    from breakfix.backends.hf import load_tokenizer
    from breakfix.backends.llamacpp import llama_server, served_ref
    from breakfix.config import load_config
    from breakfix.jobs.common import resolve_model
    from breakfix.jobs.export import VERIFY_PROMPTS

    cfg = load_config(config)
    path = resolve_model(hf_spec, print)
    prompts = [[{"role": "user", "content": VERIFY_PROMPTS[i % len(VERIFY_PROMPTS)] + f" ({i})"}] for i in range(n)]
    gen = GenerationConfig(max_new_tokens=max_new_tokens)
    tok = load_tokenizer(path)
    out: dict[str, Any] = {"prompts": n, "max_new_tokens": max_new_tokens}
    hf = build_backend(cfg.model.ref(path), 0)
    hf.generate(prompts[:2], gen)  # warm-up
    t0 = time.perf_counter()
    replies = hf.generate(prompts, gen)
    out["hf"] = _rates(time.perf_counter() - t0, replies, tok, cfg.model.batch_size)
    ref, _ = served_ref(gguf)
    with llama_server(gguf) as base:
        server = build_backend(ref.model_copy(update={"base_urls": [base]}), 0)
        server.generate(prompts[:2], gen)
        t0 = time.perf_counter()
        replies = server.generate(prompts, gen)
        out["llama_cpp_server"] = _rates(time.perf_counter() - t0, replies, tok, 1)
    out["server_over_hf_tokens_per_s"] = round(
        out["llama_cpp_server"]["tokens_per_s"] / out["hf"]["tokens_per_s"], 2
    )  # fmt: skip
    return out


def _rates(seconds: float, replies: list[str], tok: Any, concurrency: int) -> dict[str, Any]:
    tokens = sum(len(tok(r, add_special_tokens=False)["input_ids"]) for r in replies)
    return {
        "seconds": round(seconds, 2), "requests_per_s": round(len(replies) / seconds, 2),
        "tokens_per_s": round(tokens / seconds, 1), "new_tokens": tokens, "batch_or_concurrency": concurrency,
    }  # fmt: skip


def demo(args: argparse.Namespace) -> dict[str, Any]:
    from breakfix.config import demo_config

    cfg = demo_config(quick=True).model_dump(mode="json", exclude_defaults=True)
    cfg.update(world="demo", judge="demo")  # bench's sides are a GGUF file and a round: name the demo's judge
    cfg.setdefault("benchmarks", {})["suites"] = SUITES
    cfg.setdefault("cycle", {})["max_rounds"] = 1
    a_cfg, b_cfg = args.out / "a.yaml", args.out / "b.yaml"
    a_cfg.write_text(yaml.safe_dump(cfg))
    cfg["cycle"].update(verify_builds=["q4_k_m"], llama_cpp=args.llama_cpp)
    b_cfg.write_text(yaml.safe_dump(cfg))
    t0 = time.perf_counter()
    sh("run", "-c", str(a_cfg), "--out", str(args.out / "A"), out=args.out / "A.log")
    t_a = time.perf_counter() - t0
    rounds = {"r0": f"{args.out / 'A'}@0", "r1": f"{args.out / 'A'}@1"}
    figures: dict[str, Any] = {"rounds": measure_builds(a_cfg, rounds, args.out, args.llama_cpp)}
    t0 = time.perf_counter()
    sh("run", "-c", str(b_cfg), "--out", str(args.out / "B"), out=args.out / "B.log")
    t_b = time.perf_counter() - t0
    figures["cycle_seconds"] = {"A wall": round(t_a, 1), "B wall": round(t_b, 1)}  # a resumed run's wall is short
    for name in ("A", "B"):  # the stages' own seconds, summed over rounds (export, benchmark@q4_k_m, ... for B)
        stages: dict[str, float] = {}
        for r in json.loads((args.out / name / "report.json").read_text())["rounds"]:
            for stage, sec in r["seconds"].items():
                key = stage.split("@")[0] + ("@build" if "@" in stage else "")
                stages[key] = stages.get(key, 0.0) + sec
        figures["cycle_seconds"][f"{name} stages"] = {k: round(v, 1) for k, v in stages.items()}
    figures["verify_builds"] = {}
    for name, a, b in (
        ("q4_k_m build: A r1 vs B r1", str(args.out / "r1" / "bench-q4_k_m"), f"{args.out / 'B'}@1:q4_k_m"),
        ("full precision: A r1 vs B r1", f"{args.out / 'A'}@1", f"{args.out / 'B'}@1"),
    ):
        dst = args.out / f"compare-{len(figures['verify_builds'])}.json"
        subprocess.run([*BF, "compare", a, b, "--json", str(dst)], check=True, stdout=subprocess.DEVNULL)
        figures["verify_builds"][name] = json.loads(dst.read_text())["rows"]
    report_b = json.loads((args.out / "B" / "report.json").read_text())
    figures["B_rounds"] = [
        {"round": r["round"], "full": {s: headline(r["benchmarks"][s])[1] for s in SUITES if s in r["benchmarks"]},
         "q4_k_m": {s: headline(r["builds"]["q4_k_m"]["benchmarks"][s])[1] for s in SUITES},
         "p": {s: r["builds"]["q4_k_m"]["paired"][s]["p_value"] for s in SUITES},
         "dpo_rows_from_build": sum(1 for line in (args.out / "B" / "rounds" / str(r["round"]) / "dpo.jsonl").open()
                                    if json.loads(line)["meta"].get("build")) if r.get("curation") else None}
        for r in report_b["rounds"]
    ]  # fmt: skip
    gguf = args.out / "r0" / "gguf"
    files = {f["quant"]: f["file"] for f in json.loads((gguf / "manifest.json").read_text())["files"]}
    figures["throughput"] = throughput(a_cfg, f"{args.out / 'A'}@0", gguf / files["q4_k_m"], args.n, 48)
    return figures


def real(args: argparse.Namespace) -> dict[str, Any]:
    config = args.real / "config.yaml"
    cfg = yaml.safe_load(config.read_text())
    if args.limit:
        cfg["benchmarks"]["limit"] = args.limit
    mine = args.out / "config.yaml"
    mine.write_text(yaml.safe_dump(cfg))
    rounds = {"r0": cfg["model"]["path"], "r1": str(args.real / "run" / "rounds" / "1" / "model")}
    figures: dict[str, Any] = {"rounds": measure_builds(mine, rounds, args.out, args.llama_cpp)}
    gguf = args.out / "r0" / "gguf"
    files = {f["quant"]: f["file"] for f in json.loads((gguf / "manifest.json").read_text())["files"]}
    for q in ("f16", "q4_k_m"):
        figures[f"throughput_{q}"] = throughput(mine, rounds["r0"], gguf / files[q], args.n, 48)
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("world", choices=["demo", "real"])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--real", type=Path, help="a bench_real.py output dir (config.yaml, run/)")
    ap.add_argument("--llama-cpp", default=os.environ.get("BREAKFIX_LLAMA_CPP"), help="llama-cpp-python's sdist")
    ap.add_argument("--limit", type=int, default=None, help="held-out items per suite (real: default the run's)")
    ap.add_argument("--n", type=int, default=32, help="prompts for the throughput check")
    args = ap.parse_args()
    if not args.llama_cpp:
        sys.exit("error: --llama-cpp (or BREAKFIX_LLAMA_CPP): llama-cpp-python's sdist, for the converter")
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("BREAKFIX_NO_PROGRESS", "1")
    if args.world == "real" and not args.real:
        sys.exit("error: real needs --real DIR (the output of benchmarks/bench_real.py)")
    figures = demo(args) if args.world == "demo" else real(args)
    (args.out / "figures.json").write_text(json.dumps(figures, indent=2))
    print_builds(figures["rounds"])
    for k, v in figures.items():
        if k != "rounds":
            print(f"\n{k}: {json.dumps(v, indent=1)[:3000]}")


if __name__ == "__main__":
    main()
