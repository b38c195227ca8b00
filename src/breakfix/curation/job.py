"""``breakfix curate``: one round's training data from a run directory or a findings file."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from breakfix.config import RunConfig, parse_config
from breakfix.curation.datasets import read_jsonl, write_dataset
from breakfix.curation.decontam import HeldoutIndex
from breakfix.curation.stage import curate_round, heldout_texts, helpful_rows
from breakfix.demo.world import DemoWorld
from breakfix.errors import BreakfixError
from breakfix.types import Attempt, Finding, Seed

_FINDING_FIELDS = {
    "attempt_id": str,
    "category": str,
    "technique": str,
    "language": str,
    "seed_id": str,
    "seed_text": str,
    "prompt": list,
    "response": str,
}


def load_findings(path: str | Path) -> list[Finding]:
    """Read a findings JSONL (as ``breakfix redteam`` and the cycle write it); a ``BreakfixError`` names the line
    and field of the first bad row."""
    from breakfix.seeds.jsonl import iter_jsonl

    p = Path(path)
    out: list[Finding] = []
    for n, obj in iter_jsonl(p, "finding"):
        for key, typ in _FINDING_FIELDS.items():
            if not isinstance(obj.get(key), typ):
                raise BreakfixError(str(p), f"line {n}: {key}", f"missing or not a {typ.__name__}")
        prompt = obj["prompt"]
        if not prompt or not all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in prompt):
            raise BreakfixError(str(p), f"line {n}: prompt", "must be a non-empty list of chat messages")
        if prompt[-1].get("role") != "user":
            raise BreakfixError(str(p), f"line {n}: prompt", "must end with the user turn the response answers")
        out.append(
            Finding(
                attempt_id=obj["attempt_id"],
                round=int(obj.get("round", 0)),
                category=obj["category"],
                technique=obj["technique"],
                language=obj["language"],
                turns=int(obj.get("turns", sum(m.get("role") == "user" for m in prompt))),
                seed_id=obj["seed_id"],
                seed_text=obj["seed_text"],
                prompt=prompt,
                response=obj["response"],
                severity=int(obj.get("severity", 0)),
            )
        )
    if not out:
        raise BreakfixError(str(p), None, "no findings in the file")
    return out


def _stored_config(run_dir: Path) -> RunConfig | None:
    from breakfix.store import Store

    with Store(run_dir / "run.db") as store:
        raw = store.get_meta("config")
    return parse_config(json.loads(raw), str(run_dir / "run.db")) if raw else None


def direct_attempts(
    cfg: RunConfig, findings: Sequence[Finding], model: str, judge: Any, store_path: Path, round_: int
) -> list[Attempt]:
    """The model's judged answers to the un-attacked seeds of ``findings`` (what self-distillation needs when only a
    findings file is at hand), run by the attack engine and kept in the store at ``store_path`` (a rerun reuses
    them)."""
    from breakfix.attacks.engine import execute
    from breakfix.attacks.plans import plans_for
    from breakfix.backends import build_backend
    from breakfix.backends.base import GenerationConfig
    from breakfix.demo.model import build_demo_model
    from breakfix.store import Store, checkpoint_id

    path = str(build_demo_model()) if model == "demo" else model
    seeds = {
        f.seed_id: Seed(id=f.seed_id, text=f.seed_text, category=f.category, language=f.language) for f in findings
    }
    store_path.parent.mkdir(parents=True, exist_ok=True)
    with Store(store_path, refuse_legacy=True) as store:
        return execute(
            plans_for(seeds.values(), ["direct"], cfg.seed),
            build_backend(cfg.model.ref(path), cfg.seed),
            judge,
            store,
            checkpoint=checkpoint_id(path),
            round_=round_,
            suite="redteam",
            gen=GenerationConfig(**cfg.generation.model_dump()),
            label="self-distillation: plain seeds",
        )


def curate_job(
    source: str | Path,
    out: str | Path,
    *,
    cfg: RunConfig | None = None,
    overrides: dict[str, Any] | None = None,
    round_: int | None = None,
    model: str | None = None,
    replay: Sequence[str | Path] = (),
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Curate ``source`` (a run dir with ``run.db``, or a findings JSONL) into ``out``: ``sft.jsonl``, ``dpo.jsonl``,
    a dataset card and ``curation.json`` (with ``model``, also the model's plain-seed answers in ``run.db``). The
    config is ``cfg``, else the run's stored one, else the default, with ``overrides`` laid over its ``curation``
    block. Every input is read and checked before anything is written. A run's stored generations that the
    configured judge has not judged are judged now (and the verdicts stored)."""
    from breakfix.attacks.engine import judged_attempts
    from breakfix.judges import build_judge
    from breakfix.redteam import is_defect, to_finding
    from breakfix.store import Store

    src = Path(source)
    attempts: list[Attempt] = []
    replay_dirs = [Path(d) for d in replay]
    if src.is_dir():
        if not (src / "run.db").is_file():
            raise BreakfixError(str(src), None, "not a run directory (no run.db)")
        cfg = cfg or _stored_config(src) or RunConfig()
        with Store(src / "run.db") as store:
            last = store.last_round("redteam")
            if last is None:
                raise BreakfixError(str(src), "run.db", "no red-team attempts to curate")
            r = last if round_ is None else round_
            if round_ is not None and not 0 <= round_ <= last:
                raise BreakfixError("--round", None, f"must be between 0 and {last}")
            judge = build_judge(cfg)
            attempts, stats = judged_attempts(store, judge, r, "redteam")
            if stats.rejudged:
                log(f"judged {stats.rejudged} stored replies with {judge.id} ({stats.verdicts_reused} verdicts reused)")
        findings = [to_finding(a) for a in attempts if is_defect(a)]
        prev = src / "rounds" / str(r - 1)
        if cfg.curation.replay and r > 0 and (prev / "sft.jsonl").is_file() and not replay_dirs:
            replay_dirs = [prev]
    elif src.is_file():
        cfg = cfg or RunConfig()
        findings = load_findings(src)
        r = round_ if round_ is not None else max(f.round for f in findings)
    else:
        raise BreakfixError(str(src), None, "no such run directory or findings file")
    if overrides:
        data = cfg.model_dump(mode="json")
        data["curation"].update(overrides)
        cfg = parse_config(data, "command line")
    replay_sft: list[dict[str, Any]] = []
    replay_dpo: list[dict[str, Any]] = []
    for d in replay_dirs:
        for name, rows in (("sft.jsonl", replay_sft), ("dpo.jsonl", replay_dpo)):
            if not (d / name).is_file():
                raise BreakfixError(str(d), name, "missing: not a curated dataset dir")
            rows += [x for x in read_jsonl(d / name) if (x.get("meta") or {}).get("category") != "benign"]
    world = DemoWorld(cfg.seed)
    judge = build_judge(cfg)  # with overrides applied (they touch curation only)
    helpful = helpful_rows(cfg, world)
    index = HeldoutIndex(heldout_texts(cfg, world))
    references: dict[str, str] = {}
    if not attempts:
        # a findings file: demo-world seeds carry reference answers; a model answers the plain seeds if given
        references = {s.id: str(s.meta["reference"]) for s in world.seeds("redteam") if s.meta.get("reference")}
        if model:
            log(f"self-distillation: asking {model} the {len({f.seed_id for f in findings})} un-attacked seeds")
            attempts = direct_attempts(cfg, findings, model, judge, Path(out) / "run.db", r)
    log(f"curating {len(findings)} findings (round {r})")
    res = curate_round(
        cfg,
        judge,
        round_=r,
        findings=findings,
        attempts=attempts,
        references=references,
        helpful=helpful,
        heldout=index,
        replay_sft=replay_sft,
        replay_dpo=replay_dpo,
    )
    out = Path(out)
    write_dataset(out, res.sft, res.dpo, res.stats, f"{cfg.name}: safety data from {src.name}")
    summary = {"source": str(src), "round": r, "findings": len(findings), **res.stats}
    tmp = out / "curation.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    tmp.replace(out / "curation.json")
    return summary
