"""The break-fix loop: benchmark, red team, curate, post-train, repeat; resumable round by round.

Round r describes checkpoint M_r (round 0 is the base model): its benchmark scores, its red-team attempts and
findings, and, unless the loop stops there, the data curated from those findings and the training that turns M_r
into M_{r+1}. ``rounds/<r>/`` holds ``findings.jsonl``, ``sft.jsonl``, ``dpo.jsonl`` and ``model/`` (M_r).

Every stage is a job (:mod:`breakfix.jobs`) that owns its store stage; a rerun on the same directory skips finished
stages and reuses stored attempts, so it never redoes finished work. This module keeps the loop, resuming and the
targets, and calls jobs only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape

from breakfix import registry
from breakfix.checkpoints import checkpoint_id
from breakfix.config import RunConfig
from breakfix.errors import BreakfixError
from breakfix.jobs.bench import bench_line, heldout_texts, score_heldout, validate
from breakfix.jobs.common import (
    Helpers,
    Log,
    RunContext,
    base_model,
    build_judge,
    build_world,
    check_audit_labels,
    check_model,
    claim_run,
    judging_counts,
    resolve_model,
)
from breakfix.jobs.curate import RoundData, curate_stage, helpful_rows
from breakfix.jobs.fix import FixInputs, drift_reference_once, fix
from breakfix.jobs.redteam import redteam_round, redteam_techniques, seeds_with_twins
from breakfix.jobs.report import finish_run, overlap, report_from_store
from breakfix.jobs.select import targets_met
from breakfix.jobs.serve import check_gguf_tools, score_builds, verify_builds
from breakfix.progress import console
from breakfix.store import RECORD, Store, ensure_run_dir, refuse_legacy_store
from breakfix.types import Drift, Judge, RoundRecord, Seed, SuiteScores
from breakfix.world import World

__all__ = ["Cycle", "report_from_store", "targets_met"]


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

    def _check(self) -> Path | str | None:
        """Everything that can fail on bad input, before anything is written; the user's model, resolved once."""
        resolved = None
        if self.cfg.model_entry is None:  # a bad model path fails here
            resolved = resolve_model(self.cfg.model.path, self.log)
            check_model(self.cfg, resolved)
        check_audit_labels(self.cfg)
        if self.cfg.cycle.verify_builds:  # llama.cpp and its converter are here
            check_gguf_tools(self.cfg.cycle.llama_cpp, field="cycle.llama_cpp")
        return resolved

    def _seeds(self) -> tuple[list[Seed], str, list[str], dict[str, Any] | None]:
        """The red team's seeds (with the benign twins of its harmful ones), where they came from, its techniques, and
        the twins' account."""
        seeds, source, twin_info = seeds_with_twins(self.cfg, self.world, self.log)
        return seeds, source, redteam_techniques(self.cfg, self.world), twin_info

    def run(self) -> dict[str, Any]:
        """Run (or resume) the loop and write ``report.json`` and ``report.html``. Returns the report.

        Every decision (the targets, stopping, which candidate fix to keep) reads the validation split. The held-out
        suites are scored once per round after all the decisions, for the report. What the run adds to the registry
        (its world's red-team templates and openers) is a run-local view, gone when it returns."""
        with registry.run_local():
            return self._run()

    def _run(self) -> dict[str, Any]:
        resolved = self._check()
        cfg = self.cfg
        seeds, source, techniques, twin_info = self._seeds()
        helpful = helpful_rows(cfg, self.world) if cfg.cycle.max_rounds else []  # bad data: before writing
        heldout = heldout_texts(cfg, self.world)
        validation = heldout_texts(cfg, self.world, split="validation")
        if not validation:
            raise BreakfixError(
                "world", cfg.world_name, "has no validation split for cycle.selection.suites "
                f"({', '.join(cfg.cycle.selection.suites)}); the cycle's decisions read validation only",
            )  # fmt: skip
        refuse_legacy_store(self.out / "run.db")
        if note := cfg.judge_note():
            self.log(note)
        ensure_run_dir(self.out)
        with Store(self.out / "run.db", refuse_legacy=True) as store:
            ctx = RunContext(cfg, self.out, self.log, self.world, self.judge, store, Helpers(cfg))
            claim_run(ctx)
            self.log(f"red team: {len(seeds)} seeds from {source}; judge {self.judge.id}")
            # training data stays clear of everything the run scores: held out and validation
            data = RoundData.for_run(helpful, heldout + validation, twin_info)
            rounds = self._loop(ctx, base_model(cfg, self.out, resolved, self.log), seeds, techniques, data)
            # the report: each round's held-out suites, scored once, after every decision was made
            for rec in rounds:
                items = score_heldout(ctx, rec)
                if rec.builds:
                    score_builds(ctx, rec, items)
                store.finish_stage(rec.round, RECORD, rec.to_json(), 0.0)
            return finish_run(ctx, rounds, overlap(heldout, validation, seeds, data.training_texts))

    def _loop(
        self, ctx: RunContext, model_dir: Path, seeds: list[Seed], techniques: list[str], data: RoundData
    ) -> list[RoundRecord]:
        """The rounds, until the validation targets are met or the round limit: each measures its checkpoint and,
        unless the loop stops there, curates and trains the next one."""
        cfg, base_dir = self.cfg, model_dir
        rounds: list[RoundRecord] = []
        val0: dict[str, dict[str, Any]] | None = None  # round 0's validation score blocks
        items0: dict[str, list[str]] = {}
        drift: Drift | None = None
        drift_ref = None
        r = 0
        while True:
            ckpt = checkpoint_id(model_dir)
            ctx.same_checkpoint(r, model_dir, ckpt)
            rec = RoundRecord(round=r, checkpoint=str(model_dir), checkpoint_id=ckpt)
            backend = ctx.lazy_backend(model_dir)
            self.log(f"[bold]round {r}[/]: {model_dir}")
            done, rec.seconds["validation"] = ctx.stage(r, "validation", lambda: validate(ctx, r, backend, ckpt))
            val = done["validation"]
            rec.validation = {k: SuiteScores.model_validate(v) for k, v in val.items()}
            if val0 is None:
                val0, items0 = val, done["items"]
                drift = Drift(kl=0.0, nll_change=0.0, tokens=0, prompts=0)
                drift_ref = drift_reference_once(ctx, base_dir, items0)
            rec.drift = drift
            self.log(bench_line(r, val).replace("benchmark:", "validation:", 1))
            rec.judging = {"judge": self.judge.id, "validation": judging_counts(done["judging"])}
            redteam_round(ctx, r, backend, ckpt, seeds, techniques, rec)
            if cfg.cycle.verify_builds:
                rec.builds = verify_builds(ctx, r, model_dir, seeds, techniques, ctx.helpers, rec.seconds)
            met, misses = self._targets(rec, val, val0, drift)
            if met or r >= cfg.cycle.max_rounds:
                rec.stop_reason = "targets met" if met else "round limit reached"
                rounds.append(rec)
                ctx.store.finish_stage(r, RECORD, rec.to_json(), 0.0)
                self.log(f"  stop: {rec.stop_reason}" + ("" if met else f" ({escape('; '.join(misses))})"))
                return rounds
            self.log(f"  targets not met on validation: {escape('; '.join(misses))}")
            rows, curate_with = curate_stage(ctx, r, data, rec)
            backend.close()  # vLLM holds GPU memory that training needs
            next_dir = ctx.round_dir(r + 1) / "model"
            assert drift_ref is not None
            inp = FixInputs(model_dir, next_dir, rows, curate_with, val0, drift_ref,
                            probes=[s for s in seeds if not s.harmful])  # fmt: skip
            fix(ctx, r, inp, rec)
            tr = rec.training
            assert tr is not None and rec.candidates is not None
            drift = next(c.drift for c in rec.candidates if c.chosen)
            self.log(f"  trained {tr.method}: {tr.steps} steps in {tr.seconds:.1f}s; "
                     f"{len(rec.candidates)} candidate(s) scored on validation")  # fmt: skip
            rounds.append(rec)
            ctx.store.finish_stage(r, RECORD, rec.to_json(), 0.0)
            model_dir = next_dir
            r += 1

    def _targets(
        self, rec: RoundRecord, val: dict[str, Any], val0: dict[str, Any], drift: Drift | None
    ) -> tuple[bool, list[str]]:
        """Whether round ``rec.round`` meets the validation targets (and every build that ships does), and the
        misses; round 0 is the base model, measured, never a stop by targets."""
        r = rec.round
        kl = (drift or {}).get("kl") if r > 0 else None
        met, misses = targets_met(val, val0, self.cfg, kl) if r > 0 else (False, ["round 0"])
        for q, b in (rec.builds or {}).items():  # the targets hold for every build that ships, too
            b_met, b_misses = targets_met(b.to_json()["validation"], val0, self.cfg)
            b.targets_met, b.misses = b_met, b_misses
            misses += [f"{q}: {m}" for m in b_misses] if r > 0 else []
            met = met and b_met
        rec.targets_met = met
        rec.misses = misses if r > 0 else None
        return met, misses
