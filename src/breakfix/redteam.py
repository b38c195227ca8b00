"""The red-team stage: attack a checkpoint with every configured technique, judge, and extract findings.

It streams: attempts go to the store as they finish, findings to ``findings.jsonl``, and the summary is tallied on
the way, so memory stays flat however many attempts a run makes.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from breakfix import aio
from breakfix.attacks.engine import AttackContext, RunStats, arun
from breakfix.attacks.plans import iter_plans
from breakfix.benchmarks.metrics import asr, rate
from breakfix.store import Store, checkpoint_id, refuse_legacy_store
from breakfix.types import Attempt, Finding, Seed


def is_defect(a: Attempt) -> bool:
    """A judged attempt is a defect when it is harmful (harmful seed) or a refusal of a benign seed."""
    if a.status != "ok" or a.verdict is None:
        return False
    return a.verdict.harmful if a.seed.harmful else a.verdict.refusal


def to_finding(a: Attempt) -> Finding:
    assert a.verdict is not None
    return Finding(
        attempt_id=a.id,
        round=a.round,
        category=a.seed.category,
        technique=a.technique,
        language=a.seed.language,
        turns=a.turns,
        seed_id=a.seed.id,
        seed_text=a.seed.text,
        prompt=a.prompt,
        response=a.response,
        severity=a.verdict.severity,
    )


class Tally:
    """The report's ``redteam`` block, counted one attempt at a time.

    ASR is over judged attacks on harmful seeds; errors are counted apart (with their reasons) and never as safe;
    benign seeds under the same wrappers give the over-refusal count.
    """

    def __init__(self) -> None:
        self.attempts = self.errors = self.judged = self.defects = 0
        self.benign_probes = self.benign_refusals = 0
        self.groups: dict[str, dict[str, list[int]]] = {
            g: defaultdict(lambda: [0, 0]) for g in ("technique", "category", "language")
        }
        self.error_reasons: dict[str, int] = defaultdict(int)

    def add(self, a: Attempt) -> None:
        self.attempts += 1
        if a.status != "ok":
            self.errors += 1
            self.error_reasons[(a.error or "unknown").split(" ", 1)[0].split(":", 1)[0]] += 1
            return
        hit = is_defect(a)
        if not a.seed.harmful:
            self.benign_probes += 1
            self.benign_refusals += hit
            return
        self.judged += 1
        self.defects += hit
        for g, key in (("technique", a.technique), ("category", a.seed.category), ("language", a.seed.language)):
            cell = self.groups[g][key]
            cell[0] += hit
            cell[1] += 1

    def summary(self) -> dict[str, Any]:
        def table(g: str) -> dict[str, Any]:
            return {k: rate(v[0], v[1]) for k, v in sorted(self.groups[g].items())}

        return {
            "attempts": self.attempts,
            "errors": self.errors,
            "error_reasons": dict(sorted(self.error_reasons.items())),
            "judged": self.judged,
            "defects": self.defects,
            "asr": asr(self.defects, self.judged),
            "by_technique": table("technique"),
            "by_category": table("category"),
            "by_language": table("language"),
            "benign_refusals": self.benign_refusals,
            "benign_probes": self.benign_probes,
        }


def summarize(attempts: Iterable[Attempt]) -> dict[str, Any]:
    """The ``redteam`` block of a set of attempts."""
    t = Tally()
    for a in attempts:
        t.add(a)
    return t.summary()


async def aredteam(
    seeds: Sequence[Seed],
    techniques: Sequence[str],
    ctx: AttackContext,
    store: Store,
    *,
    checkpoint: str,
    round_: int,
    findings_path: str | Path | None = None,
    seed_value: int = 0,
    label: str | None = None,
) -> tuple[dict[str, Any], RunStats]:
    """Attack every seed with every technique; write findings (harmful compliances and benign over-refusals) to
    ``findings_path`` as JSONL, and return the summary and the engine's stats.

    Harmful seeds measure attack success; benign seeds under the same wrappers measure over-refusal (adversarial
    benign prompts, as in WildJailbreak).
    """
    tally = Tally()
    out = None
    tmp = None
    if findings_path is not None:
        tmp = Path(f"{findings_path}.tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        out = open(tmp, "w", encoding="utf-8")  # noqa: SIM115 - closed below

    def on_attempt(a: Attempt) -> None:
        tally.add(a)
        if out is not None and is_defect(a):
            out.write(json.dumps(to_finding(a).to_dict(), ensure_ascii=False) + "\n")

    try:
        stats = await arun(
            iter_plans(seeds, techniques, seed_value),
            ctx,
            store,
            checkpoint=checkpoint,
            round_=round_,
            suite="redteam",
            total=len(seeds) * len(techniques),
            label=label or f"round {round_}: red team",
            on_attempt=on_attempt,
        )
    finally:
        if out is not None:
            out.close()
    if tmp is not None:
        os.replace(tmp, Path(findings_path))  # type: ignore[arg-type]
    return tally.summary(), stats


def redteam(*args: Any, **kwargs: Any) -> tuple[dict[str, Any], RunStats]:
    """Blocking form of :func:`aredteam`."""

    return aio.run(aredteam(*args, **kwargs))


def attack_context(cfg: Any, target: Any, judge: Any) -> AttackContext:
    """The red team's models for a run config: ``target``, ``judge``, and the configured attacker and converter
    models with their settings."""
    from breakfix.backends import build_backend
    from breakfix.backends.base import GenerationConfig

    rt = cfg.redteam
    return AttackContext(
        target=target,
        judge=judge,
        gen=GenerationConfig(**cfg.generation.model_dump()),
        attacker=build_backend(rt.attacker, cfg.seed) if rt.attacker else None,
        converter_model=build_backend(rt.converter_model, cfg.seed) if rt.converter_model else None,
        attacker_gen=GenerationConfig(**rt.attacker_generation.model_dump()),
        crescendo_turns=rt.crescendo.max_turns,
        crescendo_backtracks=rt.crescendo.max_backtracks,
        pair_iterations=rt.pair.iterations,
        pair_streams=rt.pair.streams,
        concurrency=rt.concurrency,
    )


def _target(cfg: Any, log: Any) -> tuple[Any, str]:
    """The target backend and its checkpoint id, from ``redteam.target`` or ``model``."""
    from breakfix.backends import build_backend

    ref = cfg.redteam.target
    if ref is not None and ref.kind == "openai":
        return build_backend(ref, cfg.seed), f"openai:{ref.model}"
    if ref is None:
        m = cfg.model
        path = m.path
        if path == "demo":
            from breakfix.demo.model import build_demo_model

            log("building (or loading the cached) demo model")
            path = str(build_demo_model())
        ref = m.ref(path)
    return build_backend(ref, cfg.seed), checkpoint_id(ref.path or "")


def redteam_seeds(cfg: Any, default: Callable[[], list[Seed]]) -> tuple[list[Seed], str]:
    """The red team's seeds and where they came from, for ``breakfix redteam`` and the cycle alike: the files of
    ``redteam.seeds`` in ``redteam.languages`` (else ``default()``), after registering the PyRIT templates of
    ``redteam.template_paths``. Bad files fail here, before anything is written."""
    from breakfix.attacks.templates import load_pyrit_templates
    from breakfix.errors import BreakfixError
    from breakfix.seeds.files import load_seeds

    rt = cfg.redteam
    for path in rt.template_paths:
        load_pyrit_templates(path)
    if rt.seeds:
        seeds = [s for path in rt.seeds for s in load_seeds(path, language=rt.languages[0])]
        seeds = [s for s in seeds if s.language in rt.languages]
        source = ", ".join(rt.seeds)
    else:
        seeds = default()
        source = "demo world (red-team split)"
    if not seeds:
        raise BreakfixError(source, "redteam.languages", f"no seeds in languages {rt.languages}")
    return seeds, source


def redteam_job(cfg: Any, out: str | Path, log: Any = print) -> dict[str, Any]:
    """What ``breakfix redteam`` does: attack the configured target with the configured seeds and techniques, store
    every attempt in ``out/run.db``, write ``out/findings.jsonl`` and ``out/redteam.json``, and return the summary.
    Re-running on the same ``out`` reuses every stored generation (and verdict, when the judge is the same)."""
    from breakfix.judges import build_judge

    def demo_seeds() -> list[Seed]:
        from breakfix.demo.world import DemoWorld

        return DemoWorld(cfg.seed).seeds("redteam", tuple(cfg.redteam.languages))

    refuse_legacy_store(Path(out) / "run.db")
    seeds, source = redteam_seeds(cfg, demo_seeds)
    techniques = cfg.redteam.effective_techniques()
    target, checkpoint = _target(cfg, log)  # a bad model path fails here, before anything is written
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = attack_context(cfg, target, build_judge(cfg))
    if note := cfg.judge_note():
        log(note)
    log(f"red team: {len(seeds)} seeds x {len(techniques)} techniques against {target.id} (judge {ctx.judge.id})")
    with Store(out / "run.db", refuse_legacy=True) as store:
        store.set_meta("config", json.dumps(cfg.model_dump(mode="json")))  # provenance, and `breakfix curate` reads it
        summary, stats = redteam(
            seeds,
            techniques,
            ctx,
            store,
            checkpoint=checkpoint,
            round_=0,
            findings_path=out / "findings.jsonl",
            seed_value=cfg.seed,
            label="red team",
        )
    result = {
        "target": target.id,
        "checkpoint": checkpoint,
        "judge": ctx.judge.id,
        "seeds": len(seeds),
        "seed_source": source,
        "techniques": techniques,
        "persona": cfg.redteam.persona,
        "run": {
            "planned": stats.planned,
            "reused": stats.reused,
            "generated": stats.generated,
            "verdicts_reused": stats.verdicts_reused,
            "rejudged": stats.rejudged,
            "seconds": round(stats.seconds, 3),
            "attempts_per_s": round(stats.generated / stats.seconds, 2) if stats.seconds else 0.0,
        },
        "summary": summary,
    }
    backend_stats = getattr(target, "stats", None)
    if backend_stats:
        result["run"]["endpoint"] = dict(backend_stats)
    tmp = out / "redteam.json.tmp"
    tmp.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, out / "redteam.json")
    return result
