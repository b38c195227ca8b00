"""Execute plans against a backend, turn by turn and in batches; judge, and store every attempt once.

An attempt is keyed by (checkpoint, technique, user turns, generation config): one already in the store is reused,
never generated again. A backend failure marks the attempts of that batch ``error`` with a reason; they are never
judged and never counted as safe.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from breakfix.attacks.plans import Plan
from breakfix.backends.base import Backend, GenerationConfig
from breakfix.judges.base import Judge
from breakfix.progress import task_progress
from breakfix.store import Store
from breakfix.types import Attempt, Conversation, content_key


def attempt_id(checkpoint: str, plan: Plan, gen: GenerationConfig) -> str:
    return content_key("attempt/1", checkpoint, plan.technique, plan.seed.id, list(plan.turns), gen.to_dict())


def execute(
    plans: Sequence[Plan],
    backend: Backend,
    judge: Judge,
    store: Store,
    *,
    checkpoint: str,
    round_: int,
    suite: str,
    gen: GenerationConfig,
    chunk: int = 512,
    label: str | None = None,
) -> list[Attempt]:
    """Run ``plans`` (skipping those already stored) and return all their attempts in plan order.

    Args:
        plans: What to run.
        backend: The target.
        judge: Scores each final response.
        store: Where attempts go; committed per chunk.
        checkpoint: A stable id of the target's weights (part of each attempt's key).
        round_: Round number recorded with each attempt.
        suite: ``"redteam"`` or the benchmark suite key.
        gen: Generation settings (part of each attempt's key).
        chunk: Plans per committed chunk.
        label: Progress bar label.
    """
    ids = [attempt_id(checkpoint, p, gen) for p in plans]
    have = store.get_attempts(ids)
    todo = [(i, p) for i, p in zip(ids, plans, strict=True) if i not in have]
    with task_progress(label or f"{suite}: attacking", total=len(plans)) as bar:
        bar.advance(len(plans) - len(todo))
        for start in range(0, len(todo), chunk):
            part = todo[start : start + chunk]
            done = _run_chunk(part, backend, judge, round_, suite, gen)
            store.put_attempts(done)
            for a in done:
                have[a.id] = a
            bar.advance(len(part))
    return [have[i] for i in ids]


def _run_chunk(
    part: list[tuple[str, Plan]], backend: Backend, judge: Judge, round_: int, suite: str, gen: GenerationConfig
) -> list[Attempt]:
    convs: list[Conversation] = [[] for _ in part]
    errors: list[str | None] = [None] * len(part)
    started = time.perf_counter()
    max_turns = max(len(p.turns) for _, p in part)
    for t in range(max_turns):
        live = [k for k, (_, p) in enumerate(part) if t < len(p.turns) and errors[k] is None]
        for k in live:
            convs[k].append({"role": "user", "content": part[k][1].turns[t]})
        try:
            replies = backend.generate([convs[k] for k in live], gen)
        except Exception as e:  # a backend failure is recorded per attempt, never swallowed as "safe"
            for k in live:
                errors[k] = f"{e.__class__.__name__}: {e}"[:500]
            continue
        for k, reply in zip(live, replies, strict=True):
            convs[k].append({"role": "assistant", "content": reply})
    seconds = (time.perf_counter() - started) / max(1, len(part))
    attempts = [
        Attempt(
            id=aid,
            round=round_,
            suite=suite,
            technique=p.technique,
            seed=p.seed,
            transcript=convs[k],
            status="error" if errors[k] else "ok",
            error=errors[k],
            seconds=seconds,
        )
        for k, (aid, p) in enumerate(part)
    ]
    ok = [a for a in attempts if a.status == "ok"]
    verdicts = judge.judge([(a.seed, a.prompt, a.response) for a in ok])
    for a, v in zip(ok, verdicts, strict=True):
        a.verdict = v
    return attempts
