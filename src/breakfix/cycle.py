"""The break-fix loop: benchmark, red team, curate, post-train, repeat; resumable round by round.

Round r describes checkpoint M_r (round 0 is the base model): its benchmark scores, its red-team attempts and
findings, and, unless the loop stops there, the data curated from those findings and the training that turns M_r
into M_{r+1}. ``rounds/<r>/`` holds ``findings.jsonl``, ``sft.jsonl``, ``dpo.jsonl`` and ``model/`` (M_r).

Every stage is recorded in the store when it finishes; a rerun on the same directory skips finished stages and
reuses stored attempts, so it never redoes finished work.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rich.markup import escape

from breakfix.backends import build_backend
from breakfix.config import RunConfig
from breakfix.curation.datasets import read_jsonl, write_dataset
from breakfix.curation.decontam import HeldoutIndex
from breakfix.curation.pairs import full_reply
from breakfix.engine import RunStats
from breakfix.errors import BreakfixError
from breakfix.jobs.bench import benchmark_attempts, heldout_texts
from breakfix.jobs.common import (
    Helpers,
    Log,
    attack_context,
    audit_judge,
    build_judge,
    build_world,
    check_audit_labels,
    check_model,
    resolve_model,
)
from breakfix.jobs.curate import curate_round, helpful_rows, round_findings
from breakfix.jobs.redteam import redteam, redteam_seeds, redteam_techniques
from breakfix.jobs.train import train_round
from breakfix.metrics import mcnemar_exact, paired, paired_redteam, score_suites
from breakfix.progress import console
from breakfix.report.build import build_report, report_from_store, write_report
from breakfix.store import (
    CHECKPOINT,
    RECORD,
    RUN_ROUND,
    RUN_STAGE,
    Store,
    checkpoint_id,
    ensure_run_dir,
    refuse_legacy_store,
    write_json,
)
from breakfix.text import prompt_text
from breakfix.types import (
    BuildRecord,
    CurationSummary,
    Finding,
    Judge,
    RedTeamSummary,
    RoundRecord,
    Seed,
    SuiteScores,
    TrainSummary,
    content_key,
)
from breakfix.world import World

__all__ = ["Cycle", "report_from_store", "targets_met"]


def targets_met(bench: dict[str, Any], bench0: dict[str, Any], cfg: RunConfig) -> tuple[bool, list[str]]:
    """Whether round ``bench`` meets every configured target (relative ones against round 0)."""
    t = cfg.cycle.targets
    misses: list[str] = []
    for suite, limit in (
        ("harmful", t.harmful), ("jailbreak", t.jailbreak), ("multiturn", t.multiturn), ("prefill", t.prefill),
    ):  # fmt: skip
        if suite in bench and bench[suite]["defect_rate"] > limit:
            misses.append(f"{suite} DR-1 {bench[suite]['defect_rate']:.3f} > {limit}")
        for lang, r in bench.get(suite, {}).get("by_language", {}).items():
            if r["rate"] > t.per_language:
                misses.append(f"{suite}[{lang}] {r['rate']:.3f} > {t.per_language}")
    if "overrefusal" in bench:
        v, v0 = bench["overrefusal"]["vprr"], bench0["overrefusal"]["vprr"]
        if v > t.vprr or v > v0 + t.vprr_increase:
            misses.append(f"VPRR {v:.3f} above {t.vprr} or round 0 + {t.vprr_increase}")
    if "capability" in bench:
        c, c0 = bench["capability"]["score"], bench0["capability"]["score"]
        if c < t.capability_ratio * c0:
            misses.append(f"capability {c:.3f} < {t.capability_ratio} x {c0:.3f}")
    return (not misses, misses)


class Cycle:
    """One run of the break-fix loop in ``out_dir``.

    Args:
        cfg: The run config.
        out_dir: The run directory (created if needed; resumed if it holds a run of the same config).
        log: Where one-line progress messages go.
        world: Where seeds and held-out suites come from (default: the registered world the config names).
        judge: The judge (default: the one the config names).
    """

    def __init__(
        self,
        cfg: RunConfig,
        out_dir: str | Path,
        log: Log | None = None,
        world: World | None = None,
        judge: Judge | None = None,
    ) -> None:
        self.cfg = cfg
        self.out = Path(out_dir)
        self.log = log or (lambda msg: console.print(msg))
        self.world = world or build_world(cfg)
        self.judge = judge or build_judge(cfg)
        self.gen = cfg.generation.config()

    # ---- helpers ----------------------------------------------------------------------------------------------------
    def _earlier_replies(self, r: int) -> dict[str, str]:
        """The checkpoints' harmful replies of rounds before ``r`` (their ``findings.jsonl``), by seed id, the latest
        round's first: the prefill attack's openings from the model's own defects."""
        out: dict[str, str] = {}
        for k in range(r - 1, -1, -1):
            path = self._round_dir(k) / "findings.jsonl"
            for f in (Finding(**row) for row in (read_jsonl(path) if path.is_file() else [])):
                if f.category != "benign" and not f.build:
                    out.setdefault(f.seed_id, full_reply(f))
        return out

    def _round_dir(self, r: int) -> Path:
        d = self.out / "rounds" / str(r)
        d.mkdir(parents=True, exist_ok=True)
        return d

    def _stage(
        self, store: Store, r: int, name: str, fn: Callable[[], Any], valid: Callable[[Any], bool] | None = None
    ) -> tuple[Any, float]:
        """Run stage ``name`` of round ``r`` unless it is finished (and its result still ``valid``)."""
        done = store.stage(r, name)
        if done is not None and (valid is None or valid(done["result"])):
            return done["result"], done["seconds"]
        started = time.perf_counter()
        result = fn()
        seconds = round(time.perf_counter() - started, 3)
        store.finish_stage(r, name, result, seconds)
        return result, seconds

    def _same_checkpoint(self, store: Store, r: int, model_dir: Path, ckpt: str) -> None:
        """Record round ``r``'s checkpoint id when the round starts; on a resume, refuse a checkpoint whose content
        changed since (its finished stages measured other weights)."""
        seen = store.stage(r, CHECKPOINT)
        if seen is None:
            store.finish_stage(r, CHECKPOINT, {"checkpoint_id": ckpt}, 0.0)
        elif seen["result"]["checkpoint_id"] != ckpt:
            raise BreakfixError(
                str(model_dir),
                None,
                f"round {r}'s checkpoint changed since this run measured it (content id "
                f"{seen['result']['checkpoint_id']}, now {ckpt}); use a new --out",
            )

    def _base_model(self) -> Path:
        """M_0: a registered model is built (or taken from its cache) and copied into ``rounds/0/model``; a user's
        model dir or hub id is used where it is."""
        if self.cfg.model_entry is None:  # a dir, a .gguf (made into a dir once), or a hub id (loaded by transformers)
            return Path(resolve_model(self.cfg.model.path, self.log))
        cached = resolve_model(self.cfg.model.path, self.log)
        dest = self._round_dir(0) / "model"
        if not (dest / "config.json").exists():
            tmp = dest.with_name(".model.tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(cached, tmp)
            os.replace(tmp, dest)
        return dest

    def _backend(self, model_dir: Path) -> Any:
        return build_backend(self.cfg.model.ref(model_dir), self.cfg.seed)

    def _verify_builds(
        self,
        store: Store,
        r: int,
        model_dir: Path,
        ckpt: str,
        bench_items: dict[str, list[str]],
        seeds: list[Seed],
        techniques: list[str],
        helpers: Helpers,
        seconds: dict[str, float],
    ) -> dict[str, BuildRecord]:
        """Round ``r``'s quantized builds (``cycle.verify_builds``): export the checkpoint as GGUF once (stage
        ``export``, files in ``rounds/<r>/gguf/``), then serve each build with a real llama.cpp server and run the
        held-out suites (stage ``benchmark@<build>``) and the red team (``redteam@<build>``, findings in
        ``rounds/<r>/findings@<build>.jsonl``) on it; each suite and the red team is paired with the checkpoint's
        own items (McNemar)."""
        from breakfix.backends.llamacpp import llama_server, served_ref
        from breakfix.jobs.export import export_job

        builds = self.cfg.cycle.verify_builds
        rd = self._round_dir(r)

        def do_export() -> dict[str, Any]:
            return export_job(
                self.cfg, str(model_dir), rd / "gguf", builds, llama_cpp=self.cfg.cycle.llama_cpp,
                max_new_tokens=min(24, self.gen.max_new_tokens), log=self.log,
            )  # fmt: skip

        manifest, seconds["export"] = self._stage(
            store, r, "export", do_export, valid=lambda m: all((rd / "gguf" / f["file"]).is_file() for f in m["files"])
        )  # files deleted since: export again
        files = {f["quant"]: f for f in manifest["files"]}
        v = manifest.get("verify")
        if v:
            self.log(f"  export: f16 under llama.cpp vs HF, {v['identical']}/{v['prompts']} greedy replies identical")
        full = store.get_attempts([i for ids in bench_items.values() for i in ids], judge=self.judge.id)
        full_suites = {s: [full[i] for i in ids if i in full] for s, ids in bench_items.items()}
        full_red = list(store.iter_attempts(r, "redteam", judge=self.judge.id))
        out: dict[str, BuildRecord] = {}
        for q in builds:
            f = files[q]
            gguf = rd / "gguf" / f["file"]
            ref, bckpt = served_ref(gguf)
            if bckpt != f"gguf:sha256:{f['sha256']}":
                raise BreakfixError(str(gguf), None, "the build changed since this round exported it; use a new --out")
            with ExitStack() as stack:
                backend: Any = None

                def served() -> Any:
                    nonlocal backend
                    if backend is None:  # the server starts only when a stage has work left
                        base = stack.enter_context(llama_server(gguf, log=self.log))
                        backend = build_backend(ref.model_copy(update={"base_urls": [base]}), self.cfg.seed)
                    return backend

                def do_bench(q: str = q, bckpt: str = bckpt) -> dict[str, Any]:
                    stats = RunStats()
                    attempts = benchmark_attempts(
                        self.world, served(), self.judge, store, checkpoint=bckpt, round_=r, gen=self.gen,
                        suites=self.cfg.benchmarks.suites, simulator=helpers.simulator,
                        simulator_turns=self.cfg.benchmarks.simulator_turns, stats=stats,
                        limit=self.cfg.benchmarks.limit, build=q,
                    )  # fmt: skip
                    return {
                        "benchmarks": score_suites(attempts),
                        "judging": stats.judging(self.judge.id),
                        "items": {suite: [a.id for a in xs] for suite, xs in attempts.items()},
                        "paired": paired(attempts, full_suites),
                    }

                done, seconds[f"benchmark@{q}"] = self._stage(store, r, f"benchmark@{q}", do_bench)

                def do_red(q: str = q, bckpt: str = bckpt) -> dict[str, Any]:
                    summary, stats = redteam(
                        seeds, techniques, attack_context(self.cfg, served(), self.judge, helpers), store,
                        checkpoint=bckpt, round_=r, findings_path=rd / f"findings@{q}.jsonl", seed_value=self.cfg.seed,
                        label=f"round {r}: red team ({q})", suite=f"redteam@{q}",
                    )  # fmt: skip
                    red = list(store.iter_attempts(r, f"redteam@{q}", judge=self.judge.id))
                    n, only_full, only_build = paired_redteam(full_red, red).get(None, (0, 0, 0))
                    return {
                        "redteam": summary,
                        "judging": stats.judging(self.judge.id),
                        "paired": {"n": n, "only_candidate": only_build, "only_baseline": only_full,
                                   "p_value": mcnemar_exact(only_build, only_full)},
                    }  # fmt: skip

                red, seconds[f"redteam@{q}"] = self._stage(store, r, f"redteam@{q}", do_red)
            rec = BuildRecord(
                quant=q, file=f"rounds/{r}/gguf/{f['file']}", sha256=f["sha256"], checkpoint_id=bckpt,
                benchmarks={k: SuiteScores.model_validate(x) for k, x in done["benchmarks"].items()},
                redteam=RedTeamSummary.model_validate(red["redteam"]),
                paired={**done["paired"], "redteam": red["paired"]},
                judging={"benchmark": _counts(done["judging"]), "redteam": _counts(red["judging"])},
            )  # fmt: skip
            out[q] = rec
            self.log(_bench_line(r, done["benchmarks"]).replace("benchmark:", f"{q}:", 1)
                     + f"; red-team ASR {rec.redteam.asr:.3f}" + _paired_note(rec.paired))  # fmt: skip
        return out

    # ---- the loop ---------------------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Run (or resume) the loop and write ``report.json`` and ``report.html``. Returns the report."""
        if self.cfg.model_entry is None:  # a bad model path fails here, before anything is written
            check_model(self.cfg, resolve_model(self.cfg.model.path, self.log))
        check_audit_labels(self.cfg)
        if self.cfg.cycle.verify_builds:  # llama.cpp and its converter are here: checked before anything is written
            from breakfix.backends.llamacpp import check_gguf_tools

            check_gguf_tools(self.cfg.cycle.llama_cpp, field="cycle.llama_cpp")
        redteam_seed_list, seed_source = redteam_seeds(self.cfg, self.world)
        techniques = redteam_techniques(self.cfg, self.world)
        helpful = helpful_rows(self.cfg, self.world) if self.cfg.cycle.max_rounds else []  # bad data: before writing
        heldout = heldout_texts(self.cfg, self.world)
        refuse_legacy_store(self.out / "run.db")
        if note := self.cfg.judge_note():
            self.log(note)
        ensure_run_dir(self.out)
        with Store(self.out / "run.db", refuse_legacy=True) as store:
            cfg_key = content_key(self.cfg.model_dump(mode="json"))
            prev = store.get_meta("config_key")
            if prev is not None and prev != cfg_key:
                raise BreakfixError(
                    str(self.out),
                    "config",
                    "run directory holds a run of a different config; use a new --out or the same config",
                )
            store.set_meta("config_key", cfg_key)
            store.set_meta("config", json.dumps(self.cfg.model_dump(mode="json")))
            describe = getattr(self.world, "describe", None)
            if describe is not None:  # the world's splits, recorded with the run
                world_info = describe(self.cfg.benchmarks.suites)
                store.set_meta("world", json.dumps(world_info))
                write_json(self.out / "world.json", world_info)

            index = HeldoutIndex(heldout)
            self.log(f"red team: {len(redteam_seed_list)} seeds from {seed_source}; judge {self.judge.id}")
            helpers = Helpers(self.cfg)  # once per run, not once per round

            model_dir = self._base_model()
            rounds: list[RoundRecord] = []
            bench0: dict[str, Any] | None = None
            replay_sft: list[dict[str, Any]] = []
            replay_dpo: list[dict[str, Any]] = []
            training_rows: list[str] = []
            r = 0
            while True:
                rd = self._round_dir(r)
                ckpt = checkpoint_id(model_dir)
                self._same_checkpoint(store, r, model_dir, ckpt)
                rec = RoundRecord(round=r, checkpoint=str(model_dir), checkpoint_id=ckpt)
                judging: dict[str, Any] = {"judge": self.judge.id}
                backend: Any = None

                def get_backend(md: Path = model_dir) -> Any:
                    nonlocal backend
                    if backend is None:
                        backend = self._backend(md)
                    return backend

                self.log(f"[bold]round {r}[/]: {model_dir}")

                def do_benchmark() -> dict[str, Any]:
                    stats = RunStats()
                    attempts = benchmark_attempts(
                        self.world,
                        get_backend(),
                        self.judge,
                        store,
                        checkpoint=ckpt,
                        round_=r,
                        gen=self.gen,
                        suites=self.cfg.benchmarks.suites,
                        simulator=helpers.simulator,
                        simulator_turns=self.cfg.benchmarks.simulator_turns,
                        stats=stats,
                        limit=self.cfg.benchmarks.limit,
                    )
                    return {
                        "benchmarks": score_suites(attempts),
                        "judging": stats.judging(self.judge.id),
                        "items": {suite: [a.id for a in xs] for suite, xs in attempts.items()},  # for re-judging
                    }

                done, rec.seconds["benchmark"] = self._stage(store, r, "benchmark", do_benchmark)
                bench, bench_items = done["benchmarks"], done.get("items", {})
                judging["benchmark"] = _counts(done["judging"])
                rec.benchmarks = {k: SuiteScores.model_validate(v) for k, v in bench.items()}
                bench0 = bench0 or bench
                self.log(_bench_line(r, bench))

                def do_redteam() -> dict[str, Any]:
                    ctx = attack_context(self.cfg, get_backend(), self.judge, helpers)
                    ctx.replies = self._earlier_replies(r)  # prefill openings from the model's own defects
                    summary, stats = redteam(
                        redteam_seed_list,
                        techniques,
                        ctx,
                        store,
                        checkpoint=ckpt,
                        round_=r,
                        findings_path=rd / "findings.jsonl",
                        seed_value=self.cfg.seed,
                    )
                    return {"redteam": summary, "judging": stats.judging(self.judge.id)}

                done, rec.seconds["redteam"] = self._stage(store, r, "redteam", do_redteam)
                red = rec.redteam = RedTeamSummary.model_validate(done["redteam"])
                judging["redteam"] = _counts(done["judging"])
                rec.judging = judging
                self.log(f"  red team: {red.attempts} attempts, ASR {red.asr:.3f}, {red.errors} errors")

                if self.cfg.cycle.verify_builds:
                    rec.builds = self._verify_builds(
                        store, r, model_dir, ckpt, bench_items,
                        redteam_seed_list, techniques, helpers, rec.seconds,
                    )  # fmt: skip
                met, misses = targets_met(bench, bench0, self.cfg) if r > 0 else (False, ["round 0"])
                for q, b in (rec.builds or {}).items():  # the targets hold for every build that ships, too
                    b_met, b_misses = targets_met(b.to_json()["benchmarks"], bench0, self.cfg)
                    b.targets_met = b_met
                    misses += [f"{q}: {m}" for m in b_misses] if r > 0 else []
                    met = met and b_met
                rec.targets_met = met
                if met or r >= self.cfg.cycle.max_rounds:
                    rec.stop_reason = "targets met" if met else "round limit reached"
                    rounds.append(rec)
                    store.finish_stage(r, RECORD, rec.to_json(), 0.0)
                    self.log(f"  stop: {rec.stop_reason}" + ("" if met else f" ({'; '.join(misses)})"))
                    break
                self.log(f"  targets not met: {escape('; '.join(misses))}")  # harmful[es]: not rich markup

                def do_curate() -> dict[str, Any]:
                    findings, attempts, _ = round_findings(store, self.judge, r, self.cfg.cycle.verify_builds)
                    res = curate_round(
                        self.cfg,
                        self.judge,
                        round_=r,
                        findings=findings,
                        attempts=attempts,
                        helpful=helpful,
                        heldout=index,
                        replay_sft=replay_sft,
                        replay_dpo=replay_dpo,
                        translator=helpers.translator,
                    )
                    write_dataset(rd, res.sft, res.dpo, res.stats, f"{self.cfg.name}: round {r} safety data")
                    return res.stats

                curated, rec.seconds["curate"] = self._stage(store, r, "curate", do_curate)
                cur = rec.curation = CurationSummary.model_validate(curated)
                sft_rows, dpo_rows = read_jsonl(rd / "sft.jsonl"), read_jsonl(rd / "dpo.jsonl")
                training_rows += [prompt_text(x) for x in sft_rows] + [prompt_text(x) for x in dpo_rows]
                if self.cfg.curation.replay:  # curate() already deduplicated these against earlier rounds
                    replay_sft = [x for x in sft_rows if x["meta"].get("category") != "benign"]
                    replay_dpo = [x for x in dpo_rows if x["meta"].get("category") != "benign"]
                self.log(f"  curated: {cur.sft} SFT rows, {cur.dpo} DPO pairs")
                if curated.get("helpful_repeats", 0) > 1:
                    self.log(
                        f"  [yellow]note[/]: the helpful data ({curated['helpful_pool']} rows) was repeated "
                        f"{curated['helpful_repeats']}x to fill the mix; give more (files.helpful or "
                        "curation.helpful_dataset) or raise curation.safety_share"
                    )

                if backend is not None and hasattr(backend, "close"):
                    backend.close()  # vLLM holds GPU memory that training needs
                    backend = None
                next_dir = self._round_dir(r + 1) / "model"
                trained, rec.seconds["train"] = self._stage(
                    store, r, "train", lambda: train_round(self.cfg, store, r, model_dir, sft_rows, dpo_rows, next_dir)
                )
                tr = rec.training = TrainSummary.model_validate(trained)
                self.log(f"  trained {tr.method}: {tr.steps} steps in {tr.seconds:.1f}s")
                rounds.append(rec)
                store.finish_stage(r, RECORD, rec.to_json(), 0.0)
                model_dir = next_dir
                r += 1

            overlap = {
                "heldout_prompts": len(heldout),
                "redteam_seeds": HeldoutIndex([s.text for s in redteam_seed_list]).count(heldout),
                "training_rows": HeldoutIndex(training_rows).count(heldout) if training_rows else 0,
            }
            audit = audit_judge(
                self.cfg.judge_name, self.judge, self.world, self.cfg.judges.audit_labels, self.cfg.judges.audit_task
            )
            store.finish_stage(RUN_ROUND, RUN_STAGE, {"overlap": overlap, "judge_audit": audit}, 0.0)
            report = build_report(self.cfg, rounds, overlap=overlap, judge_audit=audit)
            write_report(report, self.out)
            return report


def _counts(judging: dict[str, Any]) -> dict[str, int]:
    """A stage's judging account without the judge id (the round's ``judging`` block names it once)."""
    return {k: v for k, v in judging.items() if k != "judge"}


def _paired_note(pairs: dict[str, Any]) -> str:
    """The paired tests against full precision that reach significance at 0.05, as a short note."""
    sig = [f"{k} p={v['p_value']:.3g}" for k, v in pairs.items() if v.get("p_value", 1.0) < 0.05]
    return f" (differs from full precision: {', '.join(sig)})" if sig else ""


def _bench_line(r: int, bench: dict[str, Any]) -> str:
    parts = []
    for k, v in bench.items():
        if "defect_rate" in v:
            parts.append(f"{k} {v['defect_rate']:.3f}")
        elif "vprr" in v:
            parts.append(f"VPRR {v['vprr']:.3f} IPRR {v['iprr']:.3f}")
        elif "score" in v:
            parts.append(f"capability {v['score']:.3f}")
    return f"  benchmark: {', '.join(parts)}"
