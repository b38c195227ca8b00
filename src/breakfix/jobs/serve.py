"""Serving a GGUF build, in one place: ``breakfix redteam --gguf``, ``breakfix bench --gguf`` and the cycle's
quantized builds (``cycle.verify_builds``) all start a real llama.cpp server here. The cycle's builds are exported
once per round (stage ``export``), checked against the content id the export recorded, scored on the validation
suites and red-teamed for the round's decisions (:func:`verify_builds`), and scored on the held-out suites for the
report (:func:`score_builds`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from breakfix.backends import build_backend
from breakfix.backends.base import ModelRef
from breakfix.errors import BreakfixError
from breakfix.jobs.bench import bench_line, heldout_stage, validate
from breakfix.jobs.common import Helpers, LazyBackend, Log, RunContext, attack_context, judging_counts
from breakfix.jobs.export import export_job
from breakfix.jobs.redteam import redteam
from breakfix.metrics import mcnemar_exact, paired_redteam
from breakfix.types import BuildRecord, RedTeamSummary, RoundRecord, ScoredStage, Seed, SuiteScores

__all__ = ["check_gguf_tools", "gguf_ref", "serve_gguf", "score_builds", "verify_builds"]


def gguf_ref(gguf: Path) -> tuple[ModelRef, str]:
    """The endpoint settings for a build under a llama.cpp server (its base URL is filled in once the server is up)
    and the build's content id (``gguf:sha256:...``). A missing file fails here, before a server starts."""
    from breakfix.backends.llamacpp import served_ref

    ref, ckpt = served_ref(gguf)
    return ref, ckpt


@contextmanager
def serve_gguf(gguf: Path, log: Log, ref: ModelRef | None = None) -> Iterator[ModelRef]:
    """A real llama.cpp server for ``gguf`` while the block runs: yields the endpoint settings with its base URL."""
    from breakfix.backends.llamacpp import llama_server

    ref = ref or gguf_ref(gguf)[0]
    with llama_server(gguf, log=log) as base:
        yield ref.model_copy(update={"base_urls": [base]})


def check_gguf_tools(llama_cpp: str | None, field: str) -> None:
    """llama.cpp's converter and quantizer are here (checked before a run writes anything)."""
    from breakfix.backends.llamacpp import check_gguf_tools as check

    check(llama_cpp, field=field)


def _served(ctx: RunContext, stack: ExitStack, gguf: Path, ref: ModelRef) -> LazyBackend:
    """A backend for a build whose server starts only when a stage has work left (and stops with ``stack``)."""
    return LazyBackend(lambda: build_backend(stack.enter_context(serve_gguf(gguf, ctx.log, ref)), ctx.cfg.seed))


def build_files(ctx: RunContext, r: int, model_dir: Path, seconds: dict[str, float], say: bool = False) -> dict:
    """Round ``r``'s GGUF builds (``cycle.verify_builds``), exported once (stage ``export``, files in
    ``rounds/<r>/gguf/``): by quant."""
    rd = ctx.round_dir(r)
    cyc = ctx.cfg.cycle

    def do_export() -> dict[str, Any]:
        return export_job(
            ctx.cfg, str(model_dir), rd / "gguf", cyc.verify_builds, llama_cpp=cyc.llama_cpp,
            max_new_tokens=min(24, ctx.gen.max_new_tokens), log=ctx.log,
        )  # fmt: skip

    manifest, seconds["export"] = ctx.stage(
        r, "export", do_export, valid=lambda m: all((rd / "gguf" / f["file"]).is_file() for f in m["files"])
    )  # files deleted since: export again
    v = manifest.get("verify")
    if v and say:
        ctx.log(f"  export: f16 under llama.cpp vs HF, {v['identical']}/{v['prompts']} greedy replies identical")
    return {f["quant"]: f for f in manifest["files"]}


def _build_ref(ctx: RunContext, r: int, f: dict[str, Any]) -> tuple[Path, ModelRef, str]:
    gguf = ctx.round_dir(r) / "gguf" / f["file"]
    ref, bckpt = gguf_ref(gguf)
    if bckpt != f"gguf:sha256:{f['sha256']}":
        raise BreakfixError(str(gguf), None, "the build changed since this round exported it; use a new --out")
    return gguf, ref, bckpt


def verify_builds(
    ctx: RunContext, r: int, model_dir: Path, seeds: Sequence[Seed], techniques: Sequence[str], helpers: Helpers,
    seconds: dict[str, float],
) -> dict[str, BuildRecord]:  # fmt: skip
    """Round ``r``'s quantized builds, for the round's decisions: export the checkpoint as GGUF once, then serve each
    build with a real llama.cpp server and run the validation suites (stage ``validation@<build>``: the targets hold
    for every build that ships) and the red team (``redteam@<build>``, findings in ``rounds/<r>/findings@<build>
    .jsonl``, paired with the checkpoint's own red team by McNemar). The held-out suites come after the decisions
    (:func:`score_builds`)."""
    files = build_files(ctx, r, model_dir, seconds, say=True)
    full_red = list(ctx.store.iter_attempts(r, "redteam", judge=ctx.judge.id, last_run=True))
    rd = ctx.round_dir(r)
    out: dict[str, BuildRecord] = {}
    for q in ctx.cfg.cycle.verify_builds:
        gguf, ref, bckpt = _build_ref(ctx, r, files[q])
        with ExitStack() as stack:
            served = _served(ctx, stack, gguf, ref)

            def do_val(bckpt: str = bckpt, q: str = q) -> ScoredStage:
                return validate(ctx, r, served, bckpt, build=q)

            val, seconds[f"validation@{q}"] = ctx.stage(r, f"validation@{q}", do_val)

            def do_red(q: str = q, bckpt: str = bckpt) -> dict[str, Any]:
                summary, stats = redteam(
                    list(seeds), list(techniques), attack_context(ctx.cfg, served(), ctx.judge, helpers), ctx.store,
                    checkpoint=bckpt, round_=r, findings_path=rd / f"findings@{q}.jsonl", seed_value=ctx.cfg.seed,
                    label=f"round {r}: red team ({q})", suite=f"redteam@{q}",
                )  # fmt: skip
                red = list(ctx.store.iter_attempts(r, f"redteam@{q}", judge=ctx.judge.id, last_run=True))
                n, only_full, only_build = paired_redteam(full_red, red).get(None, (0, 0, 0))
                return {
                    "redteam": summary,
                    "judging": stats.judging(ctx.judge.id),
                    "paired": {"n": n, "only_candidate": only_build, "only_baseline": only_full,
                               "p_value": mcnemar_exact(only_build, only_full)},
                }  # fmt: skip

            red, seconds[f"redteam@{q}"] = ctx.stage(r, f"redteam@{q}", do_red)
        f = files[q]
        out[q] = BuildRecord(
            quant=q, file=f"rounds/{r}/gguf/{f['file']}", sha256=f["sha256"], checkpoint_id=bckpt,
            validation={k: SuiteScores.model_validate(x) for k, x in val["validation"].items()},
            redteam=RedTeamSummary.model_validate(red["redteam"]), paired={"redteam": red["paired"]},
            judging={"validation": judging_counts(val["judging"]), "redteam": judging_counts(red["judging"])},
        )  # fmt: skip
        ctx.log(bench_line(r, val["validation"]).replace("benchmark:", f"{q} validation:", 1)
                + f"; red-team ASR {out[q].redteam.asr:.3f}" + _paired_note(out[q].paired))  # fmt: skip
    return out


def score_builds(ctx: RunContext, rec: RoundRecord, full_items: dict[str, list[str]]) -> None:
    """The held-out suites of round ``rec.round``'s builds (stage ``benchmark@<build>``), each suite paired with the
    checkpoint's own items (McNemar): for the report, after every decision."""
    r = rec.round
    files = build_files(ctx, r, Path(rec.checkpoint), rec.seconds)
    full = ctx.store.get_attempts([i for ids in full_items.values() for i in ids], judge=ctx.judge.id)
    full_suites = {s: [full[i] for i in ids if i in full] for s, ids in full_items.items()}
    for q, b in (rec.builds or {}).items():
        gguf, ref, bckpt = _build_ref(ctx, r, files[q])
        with ExitStack() as stack:
            served = _served(ctx, stack, gguf, ref)

            def do_bench(q: str = q, bckpt: str = bckpt) -> ScoredStage:
                return heldout_stage(ctx, r, served, bckpt, build=q, pair_with=full_suites)

            done, rec.seconds[f"benchmark@{q}"] = ctx.stage(r, f"benchmark@{q}", do_bench)
        b.benchmarks = {k: SuiteScores.model_validate(x) for k, x in done["benchmarks"].items()}
        b.paired = {**done["paired"], **b.paired}
        b.judging = {"benchmark": judging_counts(done["judging"]), **(b.judging or {})}
        ctx.log(bench_line(r, done["benchmarks"]).replace("benchmark:", f"{q} held out:", 1) + _paired_note(b.paired))


def _paired_note(pairs: dict[str, Any]) -> str:
    """The paired tests against full precision that reach significance at 0.05, as a short note."""
    sig = [f"{k} p={v['p_value']:.3g}" for k, v in pairs.items() if v.get("p_value", 1.0) < 0.05]
    return f" (differs from full precision: {', '.join(sig)})" if sig else ""
