"""A round's fix: train each recipe with snapshots, score every candidate on validation with its drift, optionally
refine the best one on its own refusals of benign probes, and keep one by the stated rule (:mod:`breakfix.jobs.select`).
Each step is a store stage of the round, so a resumed run redoes nothing it finished."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from rich.markup import escape

from breakfix.checkpoints import checkpoint_id
from breakfix.config import RunConfig
from breakfix.curation.datasets import read_jsonl, write_dataset, write_jsonl
from breakfix.engine import execute, plans_for
from breakfix.errors import BreakfixError
from breakfix.jobs.bench import bench_line, validate
from breakfix.jobs.common import RunContext
from breakfix.jobs.curate import on_policy
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
from breakfix.types import (
    Candidate,
    DPORow,
    RoundRecord,
    ScoredStage,
    Seed,
    Selection,
    SFTRow,
    SuiteScores,
    TrainSummary,
)  # fmt: skip

__all__ = ["FixInputs", "fix", "drift_reference_once"]


class Trained(TypedDict, total=False):
    """A candidate as training saved it: its name, training stage, step and model dir (relative to the run), and the
    recipe (with its overrides) that made it; a ``refine`` candidate also names the one it continues from."""

    name: str
    stage: str
    step: int
    path: str
    recipe: str
    overrides: dict[str, float]
    refined_from: str
    training: dict[str, Any]


Rows = tuple[list[SFTRow], list[DPORow]]  # SFT rows and DPO pairs, as written to the JSONL files


@dataclass
class FixInputs:
    """What a round's fix reads: its checkpoint and where the kept one goes, the round's curated data (and how to
    curate it again under another config, for a search point that changes the SFT mix), the round-0 validation
    scores the targets compare with, the drift reference, and the benign probes that ``refine`` asks."""

    model_dir: Path
    next_dir: Path
    data: Rows
    curate_with: Callable[[RunConfig], Rows]
    val0: dict[str, dict[str, Any]]  # round 0's validation score blocks, by suite
    drift_ref: Callable[[], DriftReference]
    probes: Sequence[Seed] = ()


def drift_reference_once(ctx: RunContext, base_dir: Path, items0: dict[str, list[str]]) -> Callable[[], DriftReference]:
    """The round-0 model on the benign validation prompts that drift is measured on (its own replies), made when first
    asked for and then kept."""
    ref: list[DriftReference] = []

    def get() -> DriftReference:
        if not ref:
            got = ctx.store.get_attempts([i for ids in items0.values() for i in ids])
            ref.append(drift_reference(base_dir, list(got.values()), ctx.cfg.cycle.selection.drift_prompts))
        return ref[0]

    return get


def _candidates_kept(ctx: RunContext, chosen_ok: bool) -> Callable[[dict[str, Any]], bool]:
    """A finished training stage stays valid while the round's choice is made (its model kept) or every candidate
    it saved is still there; else it trains again."""
    return lambda res: chosen_ok or all((ctx.out / c["path"]).is_dir() for c in res["candidates"])


def _relative(ctx: RunContext, res: dict[str, Any]) -> dict[str, Any]:
    res["candidates"] = [{**t, "path": os.path.relpath(t["path"], ctx.out)} for t in res["candidates"]]
    return res


def _train_recipes(ctx: RunContext, r: int, inp: FixInputs, chosen_ok: bool, rec: RoundRecord) -> tuple[list, dict]:
    """Train each recipe (stage ``train``, or ``train:<recipe>`` for a search point); the candidates in training
    order and each recipe's training block."""
    sel_cfg = ctx.cfg.cycle.selection
    cdir = ctx.round_dir(r) / "candidates"
    all_recipes = recipes(ctx.cfg)
    count = min(sel_cfg.snapshots, max(1, sel_cfg.max_candidates // len(all_recipes)))
    cands: list[Trained] = []
    trained: dict[str, dict[str, Any]] = {}  # recipe -> its training block (JSON: TrainSummary)
    for name, overrides, rcfg in all_recipes:
        root = cdir / name

        def rows(rcfg: RunConfig = rcfg, overrides: dict[str, float] = overrides, root: Path = root) -> Rows:
            if "safety_share" not in overrides:
                return inp.data
            sft, dpo = inp.curate_with(rcfg)  # the SFT mix changes with the safety share
            write_dataset(root, sft, dpo, {"sft": len(sft), "dpo": len(dpo)}, f"{ctx.cfg.name}: round {r}, {name}")
            return sft, dpo

        def do_train(name: str = name, rcfg: RunConfig = rcfg, root: Path = root, rows: Any = rows) -> dict[str, Any]:
            sft, dpo = rows()
            return _relative(ctx, train_candidates(
                rcfg, ctx.store, r, inp.model_dir, sft, dpo, root, count=count, every=sel_cfg.snapshot_every,
                label=f"round {r}" + ("" if name == "fix" else f" ({name})"),
                metrics_prefix="" if name == "fix" else f"{name}:", log=ctx.log,
            ))  # fmt: skip

        res, secs = ctx.stage(
            r, "train" if name == "fix" else f"train:{name}", do_train,
            valid=_candidates_kept(ctx, chosen_ok),
        )  # fmt: skip
        rec.seconds["train"] = rec.seconds.get("train", 0.0) + secs
        trained[name] = res["training"]
        for c in res["candidates"]:
            full = c["name"] if name == "fix" else f"{name}/{c['name']}"
            cands.append({**c, "name": full, "recipe": name, "overrides": overrides})
    return cands, trained


def _score(ctx: RunContext, r: int, c: Trained, inp: FixInputs, rec: RoundRecord) -> Candidate:
    """One candidate on the validation suites with its drift (stage ``candidate:<name>``), against the targets."""

    def do_cand() -> ScoredStage:
        path = ctx.out / c["path"]
        ckpt = checkpoint_id(path)
        backend = ctx.lazy_backend(path)
        done = validate(ctx, r, backend, ckpt, label=f"round {r}: candidate {c['name']}")
        backend.close()
        drift = candidate_drift(inp.drift_ref(), path, label=f"round {r}: drift of {c['name']}")
        return {**done, "checkpoint_id": ckpt, "drift": drift}

    done, secs = ctx.stage(r, f"candidate:{c['name']}", do_cand)
    rec.seconds["candidates"] = rec.seconds.get("candidates", 0.0) + secs
    kl = (done["drift"] or {}).get("kl")
    met, misses = targets_met(done["validation"], inp.val0, ctx.cfg, kl)
    ctx.log(bench_line(r, done["validation"]).replace("benchmark:", f"candidate {c['name']}:", 1)
            + (f", drift {kl:.4f}" if kl is not None else "")
            + ("; meets the targets" if met else f"; misses {len(misses)} target(s)"))  # fmt: skip
    return Candidate(
        name=c["name"], recipe=c["recipe"], overrides=c["overrides"], stage=c["stage"], step=c["step"],
        checkpoint_id=done["checkpoint_id"],
        validation={k: SuiteScores.model_validate(x) for k, x in done["validation"].items()},
        drift=done["drift"], targets_met=met, misses=misses, balanced=balanced_score(done["validation"]),
        refined_from=c.get("refined_from"),
    )  # fmt: skip


def _refine(
    ctx: RunContext, r: int, cands: list[Trained], records: list[Candidate], inp: FixInputs, chosen_ok: bool,
    rec: RoundRecord,
) -> Trained | None:  # fmt: skip
    """``cycle.selection.refine``: the best candidate so far answers the benign probes (stage ``probe:<name>``); its
    refusals become on-policy DPO pairs (the base model's answer over its own refusal), and a DPO-only continuation
    from it on those pairs and the round's DPO pairs (stage ``train:refine``) is one more candidate, returned; None
    when it refused nothing that has a helpful answer."""
    i, _ = choose(records, ctx.cfg.cycle.selection.rule)
    best = cands[i]
    root = ctx.round_dir(r) / "candidates" / "refine"

    def do_probe() -> dict[str, Any]:
        path = ctx.out / best["path"]
        if not path.is_dir():
            raise BreakfixError(str(path), None, "the candidate to refine is gone; delete the round to redo it")
        backend = ctx.lazy_backend(path)
        attempts = execute(
            plans_for(inp.probes, ["direct"], ctx.cfg.seed), backend(), ctx.judge, ctx.store,
            checkpoint=checkpoint_id(path), round_=r, suite=f"probe:{best['name']}", gen=ctx.gen,
            label=f"round {r}: {best['name']} on the benign probes",
        )  # fmt: skip
        backend.close()
        pairs, account = on_policy(ctx.store, ctx.judge, ctx.world, attempts, r)
        root.mkdir(parents=True, exist_ok=True)
        write_jsonl(root / "on_policy.jsonl", pairs)
        return {"from": best["name"], **account}

    account, rec.seconds["probe"] = ctx.stage(r, f"probe:{best['name']}", do_probe)
    rec.refine = account
    ctx.log(f"  refine: {best['name']} refused {account['refusals']} of {account['probes']} benign probes; "
            f"{account['pairs']} on-policy pairs")  # fmt: skip
    if not account["pairs"]:
        return None
    rcfg = ctx.cfg.model_copy(deep=True)
    rcfg.training.method = "dpo"

    def do_train() -> dict[str, Any]:
        pairs = read_jsonl(root / "on_policy.jsonl")
        return _relative(ctx, train_candidates(
            rcfg, ctx.store, r, ctx.out / best["path"], [], pairs + list(inp.data[1]), root, count=1,
            label=f"round {r} (refine {best['name']})", metrics_prefix="refine:", log=ctx.log,
        ))  # fmt: skip

    res, secs = ctx.stage(r, "train:refine", do_train, valid=_candidates_kept(ctx, chosen_ok))
    rec.seconds["train"] = rec.seconds.get("train", 0.0) + secs
    c = res["candidates"][-1]
    return {**c, "name": "refine", "recipe": "refine", "overrides": {}, "refined_from": best["name"],
            "training": res["training"]}  # fmt: skip


def fix(ctx: RunContext, r: int, inp: FixInputs, rec: RoundRecord) -> None:
    """Round ``r``'s fix: train each recipe with snapshots, score every candidate on validation with its drift
    (stage ``candidate:<name>``), keep one by the rule (stage ``select``: its model becomes ``inp.next_dir``), and
    record them all in ``rec``. The candidates' other model dirs are deleted once the choice is recorded (a LoRA
    adapter is kept)."""
    sel_cfg = ctx.cfg.cycle.selection
    cdir = ctx.round_dir(r) / "candidates"
    chosen_ok = ctx.store.stage(r, "select") is not None and (inp.next_dir / "config.json").is_file()
    cands, trained = _train_recipes(ctx, r, inp, chosen_ok, rec)
    records = [_score(ctx, r, c, inp, rec) for c in cands]
    if sel_cfg.refine and inp.probes:
        refined = _refine(ctx, r, cands, records, inp, chosen_ok, rec)
        if refined is not None:
            trained["refine"] = refined.pop("training")
            cands.append(refined)
            records.append(_score(ctx, r, refined, inp, rec))

    def do_select() -> dict[str, Any]:
        i, why = choose(records, sel_cfg.rule)
        tmp = inp.next_dir.with_name(".model.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(ctx.out / cands[i]["path"], tmp, ignore=shutil.ignore_patterns(".*"))
        shutil.rmtree(inp.next_dir, ignore_errors=True)
        os.replace(tmp, inp.next_dir)
        return {"chosen": records[i].name, "index": i, "reason": why}

    sel, rec.seconds["select"] = ctx.stage(
        r, "select", do_select, valid=lambda _: (inp.next_dir / "config.json").is_file()
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
        path = ctx.out / c["path"]
        for item in path.iterdir() if path.is_dir() else []:
            if item.name not in ("adapter", "adapter-sft"):
                shutil.rmtree(item) if item.is_dir() else item.unlink()
    shutil.rmtree(cdir / ".trainer-sft", ignore_errors=True)
    ctx.log(f"  chose {sel['chosen']} ({sel['reason']})" + ("" if records[i].targets_met else
            f"; it misses: {escape('; '.join(records[i].misses))}"))  # fmt: skip
