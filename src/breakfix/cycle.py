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
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rich.markup import escape

from breakfix.backends import build_backend
from breakfix.config import RunConfig
from breakfix.curation.datasets import read_jsonl, write_dataset, write_jsonl
from breakfix.curation.decontam import HeldoutIndex
from breakfix.curation.pairs import full_reply
from breakfix.engine import RunStats, execute, plans_for
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
from breakfix.jobs.curate import base_answers, curate_round, helpful_rows, on_policy, round_findings
from breakfix.jobs.redteam import redteam, redteam_seeds, redteam_techniques, twin_seeds
from breakfix.jobs.select import (
    RULES,
    DriftReference,
    balanced_score,
    candidate_drift,
    choose,
    drift_reference,
    recipes,
    targets_met,
)
from breakfix.jobs.train import train_candidates
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
    Candidate,
    CurationSummary,
    Finding,
    Judge,
    RedTeamSummary,
    RoundRecord,
    Seed,
    Selection,
    SuiteScores,
    TrainSummary,
    content_key,
)
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
        self._resolved: Path | str | None = None  # the user's model, resolved by run()
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
            return Path(self._resolved if self._resolved is not None else resolve_model(self.cfg.model.path, self.log))
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

    def _served(self, stack: ExitStack, gguf: Path, ref: Any) -> Callable[[], Any]:
        """A backend for a build served by a llama.cpp server that starts only when a stage has work left."""
        from breakfix.backends.llamacpp import llama_server

        backend: Any = None

        def served() -> Any:
            nonlocal backend
            if backend is None:
                base = stack.enter_context(llama_server(gguf, log=self.log))
                backend = build_backend(ref.model_copy(update={"base_urls": [base]}), self.cfg.seed)
            return backend

        return served

    def _build_files(
        self, store: Store, r: int, model_dir: Path, seconds: dict[str, float], say: bool = False
    ) -> dict[str, Any]:
        """Round ``r``'s GGUF builds (``cycle.verify_builds``), exported once (stage ``export``, files in
        ``rounds/<r>/gguf/``): by quant."""
        from breakfix.jobs.export import export_job

        rd = self._round_dir(r)

        def do_export() -> dict[str, Any]:
            return export_job(
                self.cfg, str(model_dir), rd / "gguf", self.cfg.cycle.verify_builds, llama_cpp=self.cfg.cycle.llama_cpp,
                max_new_tokens=min(24, self.gen.max_new_tokens), log=self.log,
            )  # fmt: skip

        manifest, seconds["export"] = self._stage(
            store, r, "export", do_export, valid=lambda m: all((rd / "gguf" / f["file"]).is_file() for f in m["files"])
        )  # files deleted since: export again
        v = manifest.get("verify")
        if v and say:
            self.log(f"  export: f16 under llama.cpp vs HF, {v['identical']}/{v['prompts']} greedy replies identical")
        return {f["quant"]: f for f in manifest["files"]}

    def _build_ref(self, r: int, f: dict[str, Any]) -> tuple[Path, Any, str]:
        from breakfix.backends.llamacpp import served_ref

        gguf = self._round_dir(r) / "gguf" / f["file"]
        ref, bckpt = served_ref(gguf)
        if bckpt != f"gguf:sha256:{f['sha256']}":
            raise BreakfixError(str(gguf), None, "the build changed since this round exported it; use a new --out")
        return gguf, ref, bckpt

    def _verify_builds(
        self,
        store: Store,
        r: int,
        model_dir: Path,
        seeds: list[Seed],
        techniques: list[str],
        helpers: Helpers,
        seconds: dict[str, float],
    ) -> dict[str, BuildRecord]:
        """Round ``r``'s quantized builds, for the round's decisions: export the checkpoint as GGUF once, then serve
        each build with a real llama.cpp server and run the validation suites (stage ``validation@<build>``: the
        targets hold for every build that ships) and the red team (``redteam@<build>``, findings in
        ``rounds/<r>/findings@<build>.jsonl``, paired with the checkpoint's own red team by McNemar). The held-out
        suites come after the decisions (:meth:`_score_builds`)."""
        files = self._build_files(store, r, model_dir, seconds, say=True)
        full_red = list(store.iter_attempts(r, "redteam", judge=self.judge.id, last_run=True))
        rd = self._round_dir(r)
        out: dict[str, BuildRecord] = {}
        for q in self.cfg.cycle.verify_builds:
            gguf, ref, bckpt = self._build_ref(r, files[q])
            with ExitStack() as stack:
                served = self._served(stack, gguf, ref)

                def do_val(bckpt: str = bckpt, q: str = q) -> dict[str, Any]:
                    return self._validate(store, r, served, bckpt, build=q)

                val, seconds[f"validation@{q}"] = self._stage(store, r, f"validation@{q}", do_val)

                def do_red(q: str = q, bckpt: str = bckpt) -> dict[str, Any]:
                    summary, stats = redteam(
                        seeds, techniques, attack_context(self.cfg, served(), self.judge, helpers), store,
                        checkpoint=bckpt, round_=r, findings_path=rd / f"findings@{q}.jsonl", seed_value=self.cfg.seed,
                        label=f"round {r}: red team ({q})", suite=f"redteam@{q}",
                    )  # fmt: skip
                    red = list(store.iter_attempts(r, f"redteam@{q}", judge=self.judge.id, last_run=True))
                    n, only_full, only_build = paired_redteam(full_red, red).get(None, (0, 0, 0))
                    return {
                        "redteam": summary,
                        "judging": stats.judging(self.judge.id),
                        "paired": {"n": n, "only_candidate": only_build, "only_baseline": only_full,
                                   "p_value": mcnemar_exact(only_build, only_full)},
                    }  # fmt: skip

                red, seconds[f"redteam@{q}"] = self._stage(store, r, f"redteam@{q}", do_red)
            f = files[q]
            out[q] = BuildRecord(
                quant=q, file=f"rounds/{r}/gguf/{f['file']}", sha256=f["sha256"], checkpoint_id=bckpt,
                validation={k: SuiteScores.model_validate(x) for k, x in val["validation"].items()},
                redteam=RedTeamSummary.model_validate(red["redteam"]), paired={"redteam": red["paired"]},
                judging={"validation": _counts(val["judging"]), "redteam": _counts(red["judging"])},
            )  # fmt: skip
            self.log(_bench_line(r, val["validation"]).replace("benchmark:", f"{q} validation:", 1)
                     + f"; red-team ASR {out[q].redteam.asr:.3f}" + _paired_note(out[q].paired))  # fmt: skip
        return out

    def _score_builds(self, store: Store, rec: RoundRecord, helpers: Helpers, full_items: dict[str, list[str]]) -> None:
        """The held-out suites of round ``rec.round``'s builds (stage ``benchmark@<build>``), each suite paired
        with the checkpoint's own items (McNemar): for the report, after every decision."""
        r = rec.round
        files = self._build_files(store, r, Path(rec.checkpoint), rec.seconds)
        full = store.get_attempts([i for ids in full_items.values() for i in ids], judge=self.judge.id)
        full_suites = {s: [full[i] for i in ids if i in full] for s, ids in full_items.items()}
        for q, b in (rec.builds or {}).items():
            gguf, ref, bckpt = self._build_ref(r, files[q])
            with ExitStack() as stack:
                served = self._served(stack, gguf, ref)

                def do_bench(q: str = q, bckpt: str = bckpt) -> dict[str, Any]:
                    stats = RunStats()
                    attempts = benchmark_attempts(
                        self.world, served(), self.judge, store, checkpoint=bckpt, round_=r, gen=self.gen,
                        suites=self.cfg.benchmarks.suites, simulator=helpers.simulator,
                        simulator_turns=self.cfg.benchmarks.simulator_turns, stats=stats,
                        limit=self.cfg.benchmarks.limits(), build=q,
                    )  # fmt: skip
                    return {
                        "benchmarks": score_suites(attempts),
                        "judging": stats.judging(self.judge.id),
                        "items": {suite: [a.id for a in xs] for suite, xs in attempts.items()},
                        "paired": paired(attempts, full_suites),
                    }

                done, rec.seconds[f"benchmark@{q}"] = self._stage(store, r, f"benchmark@{q}", do_bench)
            b.benchmarks = {k: SuiteScores.model_validate(x) for k, x in done["benchmarks"].items()}
            b.paired = {**done["paired"], **b.paired}
            b.judging = {"benchmark": _counts(done["judging"]), **(b.judging or {})}
            self.log(_bench_line(r, done["benchmarks"]).replace("benchmark:", f"{q} held out:", 1)
                     + _paired_note(b.paired))  # fmt: skip

    # ---- validation, candidates and the choice ----------------------------------------------------------------------
    def _validate(
        self, store: Store, r: int, backend: Callable[[], Any], ckpt: str, build: str | None = None,
        label: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """A checkpoint (or build) on the validation suites: scores, judging account and item ids."""
        stats = RunStats()
        attempts = benchmark_attempts(
            self.world, backend(), self.judge, store, checkpoint=ckpt, round_=r, gen=self.gen,
            suites=self.cfg.cycle.selection.suites, stats=stats, limit=self.cfg.cycle.selection.limits(), build=build,
            split="validation", label=label,
        )  # fmt: skip
        return {
            "validation": score_suites(attempts),
            "judging": stats.judging(self.judge.id),
            "items": {suite: [a.id for a in xs] for suite, xs in attempts.items()},
        }

    def _drift_reference(self, store: Store, base_dir: Path, items0: dict[str, list[str]]) -> DriftReference:
        """The round-0 model on the benign validation prompts that drift is measured on (its own replies); made
        once per process."""
        if getattr(self, "_drift_ref", None) is None:
            got = store.get_attempts([i for ids in items0.values() for i in ids])
            self._drift_ref = drift_reference(base_dir, list(got.values()), self.cfg.cycle.selection.drift_prompts)
        return self._drift_ref

    def _refine(
        self, store: Store, r: int, cands: list[dict[str, Any]], records: list[Candidate], probes: Sequence[Seed],
        data: tuple[list[dict[str, Any]], list[dict[str, Any]]], cdir: Path, chosen_ok: bool, rec: RoundRecord,
    ) -> dict[str, Any] | None:  # fmt: skip
        """``cycle.selection.refine``: the best candidate so far answers the benign ``probes`` (stage
        ``probe:<name>``); its refusals become on-policy DPO pairs (the base model's answer over its own refusal),
        and a DPO-only continuation from it on those pairs and the round's DPO pairs (stage ``train:refine``) is
        one more candidate, returned; None when it refused nothing that has a helpful answer."""
        i, _ = choose([c.to_json() for c in records], self.cfg.cycle.selection.rule)
        best = cands[i]
        root = cdir / "refine"

        def do_probe() -> dict[str, Any]:
            path = self.out / best["path"]
            if not path.is_dir():
                raise BreakfixError(str(path), None, "the candidate to refine is gone; delete the round to redo it")
            backend = self._backend(path)
            attempts = execute(
                plans_for(probes, ["direct"], self.cfg.seed), backend, self.judge, store,
                checkpoint=checkpoint_id(path), round_=r, suite=f"probe:{best['name']}", gen=self.gen,
                label=f"round {r}: {best['name']} on the benign probes",
            )  # fmt: skip
            if hasattr(backend, "close"):
                backend.close()
            pairs, account = on_policy(store, self.judge, self.world, attempts, r)
            root.mkdir(parents=True, exist_ok=True)
            write_jsonl(root / "on_policy.jsonl", pairs)
            return {"from": best["name"], **account}

        account, rec.seconds["probe"] = self._stage(store, r, f"probe:{best['name']}", do_probe)
        rec.refine = account
        self.log(f"  refine: {best['name']} refused {account['refusals']} of {account['probes']} benign probes; "
                 f"{account['pairs']} on-policy pairs")  # fmt: skip
        if not account["pairs"]:
            return None
        rcfg = self.cfg.model_copy(deep=True)
        rcfg.training.method = "dpo"

        def do_train() -> dict[str, Any]:
            pairs = read_jsonl(root / "on_policy.jsonl")
            res = train_candidates(
                rcfg, store, r, self.out / best["path"], [], pairs + list(data[1]), root, count=1,
                label=f"round {r} (refine {best['name']})", metrics_prefix="refine:", log=self.log,
            )  # fmt: skip
            res["candidates"] = [{**t, "path": os.path.relpath(t["path"], self.out)} for t in res["candidates"]]
            return res

        res, secs = self._stage(
            store, r, "train:refine", do_train,
            valid=lambda res: chosen_ok or all((self.out / c["path"]).is_dir() for c in res["candidates"]),
        )  # fmt: skip
        rec.seconds["train"] = rec.seconds.get("train", 0.0) + secs
        c = res["candidates"][-1]
        return {**c, "name": "refine", "recipe": "refine", "overrides": {}, "refined_from": best["name"],
                "training": res["training"]}  # fmt: skip

    def _fix(
        self,
        store: Store,
        r: int,
        model_dir: Path,
        next_dir: Path,
        data: tuple[list[dict[str, Any]], list[dict[str, Any]]],
        curate_with: Callable[[RunConfig], tuple[list[dict[str, Any]], list[dict[str, Any]]]],
        val0: dict[str, Any],
        drift_ref: Callable[[], DriftReference],
        rec: RoundRecord,
        probes: Sequence[Seed] = (),
    ) -> None:
        """Round ``r``'s fix: train each recipe with snapshots (stage ``train``, or ``train:<recipe>`` for a search
        point), score every candidate on validation with its drift (stage ``candidate:<name>``), keep one by the
        rule (stage ``select``: its model becomes ``next_dir``), and record them all in ``rec``. The candidates'
        other model dirs are deleted once the choice is recorded (a LoRA adapter is kept)."""
        sel_cfg = self.cfg.cycle.selection
        cdir = self._round_dir(r) / "candidates"
        all_recipes = recipes(self.cfg)
        count = min(sel_cfg.snapshots, max(1, sel_cfg.max_candidates // len(all_recipes)))
        selected = store.stage(r, "select")
        chosen_ok = selected is not None and (next_dir / "config.json").is_file()
        cands: list[dict[str, Any]] = []
        trained: dict[str, Any] = {}
        for name, overrides, rcfg in all_recipes:
            root = cdir / name

            def rows(rcfg: RunConfig = rcfg, overrides: dict[str, float] = overrides, root: Path = root) -> Any:
                if "safety_share" not in overrides:
                    return data
                sft, dpo = curate_with(rcfg)  # the SFT mix changes with the safety share
                write_dataset(root, sft, dpo, {"sft": len(sft), "dpo": len(dpo)}, f"{self.cfg.name}: round {r}, {name}")
                return sft, dpo

            def do_train(
                name: str = name, rcfg: RunConfig = rcfg, root: Path = root, rows: Any = rows
            ) -> dict[str, Any]:
                sft, dpo = rows()
                res = train_candidates(
                    rcfg, store, r, model_dir, sft, dpo, root, count=count, every=sel_cfg.snapshot_every,
                    label=f"round {r}" + ("" if name == "fix" else f" ({name})"),
                    metrics_prefix="" if name == "fix" else f"{name}:", log=self.log,
                )  # fmt: skip
                res["candidates"] = [{**t, "path": os.path.relpath(t["path"], self.out)} for t in res["candidates"]]
                return res

            stage = "train" if name == "fix" else f"train:{name}"
            res, secs = self._stage(
                store, r, stage, do_train,
                valid=lambda res: chosen_ok or all((self.out / c["path"]).is_dir() for c in res["candidates"]),
            )  # fmt: skip
            rec.seconds["train"] = rec.seconds.get("train", 0.0) + secs
            trained[name] = res["training"]
            for c in res["candidates"]:
                full = c["name"] if name == "fix" else f"{name}/{c['name']}"
                cands.append({**c, "name": full, "recipe": name, "overrides": overrides})
        records: list[Candidate] = []

        def score(c: dict[str, Any]) -> None:
            def do_cand(c: dict[str, Any] = c) -> dict[str, Any]:
                path = self.out / c["path"]
                ckpt = checkpoint_id(path)
                backend: Any = None

                def get() -> Any:
                    nonlocal backend
                    backend = backend or self._backend(path)
                    return backend

                done = self._validate(store, r, get, ckpt, label=f"round {r}: candidate {c['name']}")
                if backend is not None and hasattr(backend, "close"):
                    backend.close()
                drift = candidate_drift(drift_ref(), path, label=f"round {r}: drift of {c['name']}")
                return {**done, "checkpoint_id": ckpt, "drift": drift}

            done, secs = self._stage(store, r, f"candidate:{c['name']}", do_cand)
            rec.seconds["candidates"] = rec.seconds.get("candidates", 0.0) + secs
            kl = (done["drift"] or {}).get("kl")
            met, misses = targets_met(done["validation"], val0, self.cfg, kl)
            cand = Candidate(
                name=c["name"], recipe=c["recipe"], overrides=c["overrides"], stage=c["stage"], step=c["step"],
                checkpoint_id=done["checkpoint_id"],
                validation={k: SuiteScores.model_validate(x) for k, x in done["validation"].items()},
                drift=done["drift"], targets_met=met, misses=misses, balanced=balanced_score(done["validation"]),
                refined_from=c.get("refined_from"),
            )  # fmt: skip
            records.append(cand)
            self.log(_bench_line(r, done["validation"]).replace("benchmark:", f"candidate {c['name']}:", 1)
                     + (f", drift {kl:.4f}" if kl is not None else "")
                     + ("; meets the targets" if met else f"; misses {len(misses)} target(s)"))  # fmt: skip

        for c in cands:
            score(c)
        if sel_cfg.refine and probes:
            refined = self._refine(store, r, cands, records, probes, data, cdir, chosen_ok, rec)
            if refined is not None:
                trained["refine"] = refined.pop("training")
                cands.append(refined)
                score(refined)

        def do_select() -> dict[str, Any]:
            i, why = choose([c.to_json() for c in records], sel_cfg.rule)
            src = self.out / cands[i]["path"]
            tmp = next_dir.with_name(".model.tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(src, tmp, ignore=shutil.ignore_patterns(".*"))
            shutil.rmtree(next_dir, ignore_errors=True)
            os.replace(tmp, next_dir)
            return {"chosen": records[i].name, "index": i, "reason": why}

        sel, rec.seconds["select"] = self._stage(
            store, r, "select", do_select, valid=lambda _: (next_dir / "config.json").is_file()
        )
        i = sel["index"]
        records[i].chosen = True
        rec.candidates = records
        rec.selection = Selection(
            rule=sel_cfg.rule, rule_text=RULES[sel_cfg.rule], chosen=sel["chosen"], reason=sel["reason"],
            targets_met=records[i].targets_met, misses=records[i].misses,
        )  # fmt: skip
        chosen_recipe = cands[i]["recipe"]
        rec.training = TrainSummary.model_validate(
            {**trained[chosen_recipe], "recipe": chosen_recipe, **({"recipes": trained} if len(trained) > 1 else {})}
        )
        for c in cands:  # the others are recorded, not kept as full models (a LoRA adapter is small: kept)
            path = self.out / c["path"]
            for item in path.iterdir() if path.is_dir() else []:
                if item.name not in ("adapter", "adapter-sft"):
                    shutil.rmtree(item) if item.is_dir() else item.unlink()
        shutil.rmtree(cdir / ".trainer-sft", ignore_errors=True)
        self.log(f"  chose {sel['chosen']} ({sel['reason']})" + ("" if records[i].targets_met else
                 f"; it misses: {escape('; '.join(records[i].misses))}"))  # fmt: skip

    # ---- the loop ---------------------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Run (or resume) the loop and write ``report.json`` and ``report.html``. Returns the report.

        Every decision (the targets, stopping, which candidate fix to keep) reads the validation split. The held-out
        suites are scored once per round after all the decisions, for the report."""
        if self.cfg.model_entry is None:  # a bad model path fails here, before anything is written
            self._resolved = resolve_model(self.cfg.model.path, self.log)  # once: _base_model takes it
            check_model(self.cfg, self._resolved)
        check_audit_labels(self.cfg)
        if self.cfg.cycle.verify_builds:  # llama.cpp and its converter are here: checked before anything is written
            from breakfix.backends.llamacpp import check_gguf_tools

            check_gguf_tools(self.cfg.cycle.llama_cpp, field="cycle.llama_cpp")
        redteam_seed_list, seed_source = redteam_seeds(self.cfg, self.world)
        twins, twin_info = twin_seeds(self.cfg, self.world, redteam_seed_list, self.log)
        redteam_seed_list += twins
        if twins:
            seed_source += f", and {len(twins)} benign twins of its harmful seeds"
        techniques = redteam_techniques(self.cfg, self.world)
        helpful = helpful_rows(self.cfg, self.world) if self.cfg.cycle.max_rounds else []  # bad data: before writing
        heldout = heldout_texts(self.cfg, self.world)
        validation = heldout_texts(self.cfg, self.world, split="validation")
        if not validation:
            raise BreakfixError(
                "world", self.cfg.world_name, "has no validation split for cycle.selection.suites "
                f"({', '.join(self.cfg.cycle.selection.suites)}); the cycle's decisions read validation only",
            )  # fmt: skip
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

            # training data stays clear of everything the run scores: held out and validation
            index = HeldoutIndex(heldout + validation)
            self.log(f"red team: {len(redteam_seed_list)} seeds from {seed_source}; judge {self.judge.id}")
            helpers = Helpers(self.cfg)  # once per run, not once per round

            model_dir = self._base_model()
            base_dir = model_dir
            rounds: list[RoundRecord] = []
            val0: dict[str, Any] | None = None
            items0: dict[str, list[str]] = {}
            replay_sft: list[dict[str, Any]] = []
            replay_dpo: list[dict[str, Any]] = []
            training_rows: list[str] = []
            drift: dict[str, Any] | None = None
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
                done, rec.seconds["validation"] = self._stage(
                    store, r, "validation", lambda: self._validate(store, r, get_backend, ckpt)
                )
                val = done["validation"]
                judging["validation"] = _counts(done["judging"])
                rec.validation = {k: SuiteScores.model_validate(v) for k, v in val.items()}
                if val0 is None:
                    val0, items0 = val, done["items"]
                    drift = {"kl": 0.0, "nll_change": 0.0, "tokens": 0, "prompts": 0}
                rec.drift = drift
                self.log(_bench_line(r, val).replace("benchmark:", "validation:", 1))

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
                        store, r, model_dir, redteam_seed_list, techniques, helpers, rec.seconds
                    )
                kl = (drift or {}).get("kl") if r > 0 else None
                met, misses = targets_met(val, val0, self.cfg, kl) if r > 0 else (False, ["round 0"])
                for q, b in (rec.builds or {}).items():  # the targets hold for every build that ships, too
                    b_met, b_misses = targets_met(b.to_json()["validation"], val0, self.cfg)
                    b.targets_met, b.misses = b_met, b_misses
                    misses += [f"{q}: {m}" for m in b_misses] if r > 0 else []
                    met = met and b_met
                rec.targets_met = met
                rec.misses = misses if r > 0 else None
                if met or r >= self.cfg.cycle.max_rounds:
                    rec.stop_reason = "targets met" if met else "round limit reached"
                    rounds.append(rec)
                    store.finish_stage(r, RECORD, rec.to_json(), 0.0)
                    self.log(f"  stop: {rec.stop_reason}" + ("" if met else f" ({escape('; '.join(misses))})"))
                    break
                self.log(f"  targets not met on validation: {escape('; '.join(misses))}")

                def curation(cfg: RunConfig, r: int = r) -> Any:
                    findings, attempts, _ = round_findings(store, self.judge, r, self.cfg.cycle.verify_builds)
                    return curate_round(
                        cfg, self.judge, round_=r, findings=findings, attempts=attempts, helpful=helpful,
                        heldout=index, replay_sft=replay_sft, replay_dpo=replay_dpo, translator=helpers.translator,
                        base_answers=base_answers(store, self.judge) if r > 0 and cfg.curation.on_policy else {},
                        twins=twin_info,
                    )  # fmt: skip

                def curate_with(cfg: RunConfig) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
                    res = curation(cfg)
                    return res.sft, res.dpo

                def do_curate() -> dict[str, Any]:
                    res = curation(self.cfg)
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
                if curated.get("safety_sft_bounded_out"):
                    self.log(
                        f"  [yellow]note[/]: {curated['safety_sft_bounded_out']} safety rows were left out of the SFT "
                        f"mix (they stay DPO pairs): the helpful data ({curated['helpful_pool']} rows) fills a "
                        f"{self.cfg.curation.safety_share:.0%} share only {self.cfg.curation.max_helpful_repeats}x "
                        "over; give more (files.helpful or curation.helpful_dataset) to keep them"
                    )
                elif curated.get("helpful_repeats", 0) > 1:
                    self.log(
                        f"  [yellow]note[/]: the helpful data ({curated['helpful_pool']} rows) was repeated "
                        f"{curated['helpful_repeats']}x to fill the mix; give more (files.helpful or "
                        "curation.helpful_dataset) or raise curation.safety_share"
                    )

                if backend is not None and hasattr(backend, "close"):
                    backend.close()  # vLLM holds GPU memory that training needs
                    backend = None
                next_dir = self._round_dir(r + 1) / "model"
                self._fix(
                    store, r, model_dir, next_dir, (sft_rows, dpo_rows), curate_with, val0,
                    lambda: self._drift_reference(store, base_dir, items0), rec,
                    probes=[s for s in redteam_seed_list if not s.harmful],
                )  # fmt: skip
                tr = rec.training
                assert tr is not None and rec.candidates is not None
                drift = next(c.drift for c in rec.candidates if c.chosen)
                self.log(f"  trained {tr.method}: {tr.steps} steps in {tr.seconds:.1f}s; "
                         f"{len(rec.candidates)} candidate(s) scored on validation")  # fmt: skip
                rounds.append(rec)
                store.finish_stage(r, RECORD, rec.to_json(), 0.0)
                model_dir = next_dir
                r += 1

            # the report: each round's held-out suites, scored once, after every decision was made
            for rec in rounds:
                self._score_heldout(store, rec, helpers)
                store.finish_stage(rec.round, RECORD, rec.to_json(), 0.0)

            overlap = {
                "heldout_prompts": len(heldout),
                "validation_prompts": len(validation),
                "redteam_seeds": HeldoutIndex([s.text for s in redteam_seed_list]).count(heldout),
                "redteam_seeds_in_validation": HeldoutIndex([s.text for s in redteam_seed_list]).count(validation),
                "training_rows": HeldoutIndex(training_rows).count(heldout) if training_rows else 0,
                "training_rows_in_validation": HeldoutIndex(training_rows).count(validation) if training_rows else 0,
                "validation_in_heldout": HeldoutIndex(validation).count(heldout),
            }
            audit = audit_judge(
                self.cfg.judge_name, self.judge, self.world, self.cfg.judges.audit_labels, self.cfg.judges.audit_task
            )
            store.finish_stage(RUN_ROUND, RUN_STAGE, {"overlap": overlap, "judge_audit": audit}, 0.0)
            report = build_report(self.cfg, rounds, overlap=overlap, judge_audit=audit)
            write_report(report, self.out)
            return report

    def _score_heldout(self, store: Store, rec: RoundRecord, helpers: Helpers) -> None:
        """Round ``rec.round``'s checkpoint (and builds) on the held-out suites (stage ``benchmark``), for the
        report: no decision reads these."""
        r = rec.round
        backend: Any = None

        def do_benchmark() -> dict[str, Any]:
            nonlocal backend
            stats = RunStats()
            backend = self._backend(Path(rec.checkpoint))
            attempts = benchmark_attempts(
                self.world, backend, self.judge, store, checkpoint=str(rec.checkpoint_id), round_=r, gen=self.gen,
                suites=self.cfg.benchmarks.suites, simulator=helpers.simulator,
                simulator_turns=self.cfg.benchmarks.simulator_turns, stats=stats, limit=self.cfg.benchmarks.limits(),
            )  # fmt: skip
            return {
                "benchmarks": score_suites(attempts),
                "judging": stats.judging(self.judge.id),
                "items": {suite: [a.id for a in xs] for suite, xs in attempts.items()},  # for re-judging
            }

        done, rec.seconds["benchmark"] = self._stage(store, r, "benchmark", do_benchmark)
        if backend is not None and hasattr(backend, "close"):
            backend.close()
        rec.benchmarks = {k: SuiteScores.model_validate(v) for k, v in done["benchmarks"].items()}
        rec.judging = {**(rec.judging or {}), "benchmark": _counts(done["judging"])}
        self.log(_bench_line(r, done["benchmarks"]).replace("benchmark:", f"round {r} held out:", 1))
        if rec.builds:
            self._score_builds(store, rec, helpers, done.get("items", {}))


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
