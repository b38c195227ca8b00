"""The attack engine: run plans against a target with bounded concurrency, judge them, and stream every attempt to
the store exactly once.

- Every plan becomes one coroutine; the engine keeps the target's ``concurrency`` of them in flight. A batched
  backend (HF, vLLM) is wrapped by :class:`~breakfix.backends.base.Batched`, so the requests in flight at once are
  generated as one batch.
- An attempt is keyed by (checkpoint, technique, seed, user turns, generation config), plus the attacker and
  converter models for adaptive plans. One already in the store is reused and never generated again, so a run
  resumes where it stopped. An attempt stored as ``error`` (an outage, say) is tried again by the next run and its
  row replaced, so each key has exactly one row.
- A failure of the target, the attacker, a converter or the judge marks that attempt ``error`` with a reason. It is
  never judged, never counted as safe, and no exception escapes the run (except an interrupt, after what is done
  has been written).
- Nothing is held: plans are read lazily, attempts are written in batches and passed to ``on_attempt``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from breakfix import aio
from breakfix.attacks import converters, multiturn, xpia
from breakfix.attacks.plans import Plan
from breakfix.backends.base import AsyncBackend, Backend, GenerationConfig, as_async
from breakfix.judges.base import Judge
from breakfix.progress import task_progress
from breakfix.store import Store
from breakfix.types import Attempt, Conversation, Seed, Verdict, content_key


@dataclass
class AttackContext:
    """The models an attack run uses.

    Args:
        target: The model under test.
        judge: Scores each final response (sync ``judge`` in batches, or async ``ajudge`` per item).
        gen: The target's generation settings.
        attacker: Writes Crescendo and PAIR turns.
        converter_model: Runs LLM-driven converters (translation, tense, paraphrase).
        attacker_gen: The attacker's and converter model's generation settings.
        crescendo_turns: Crescendo's turn budget.
        crescendo_backtracks: Crescendo's backtrack budget.
        pair_iterations: PAIR's refinement rounds.
        pair_streams: PAIR's parallel streams.
        simulator_turns: User messages in a simulated multi-turn conversation (the attacker plays the user).
        concurrency: Attempts in flight (default: the target's own ``concurrency``).
    """

    target: Backend | AsyncBackend
    judge: Judge
    gen: GenerationConfig
    attacker: Backend | AsyncBackend | None = None
    converter_model: Backend | AsyncBackend | None = None
    attacker_gen: GenerationConfig = field(
        default_factory=lambda: GenerationConfig(max_new_tokens=256, do_sample=True, temperature=1.0)
    )
    crescendo_turns: int = 5
    crescendo_backtracks: int = 3
    pair_iterations: int = 3
    pair_streams: int = 1
    simulator_turns: int = 3
    concurrency: int | None = None

    def plan_extra(self, plan: Plan) -> list[Any]:
        """What besides the turns decides an adaptive plan's outcome (part of its key)."""
        if plan.kind == "convert":
            return [plan.seed.text, plan.seed_value, _id(self.converter_model), self.attacker_gen.to_dict()]
        if plan.kind == "crescendo":
            extra = [self.crescendo_turns, self.crescendo_backtracks]
        elif plan.kind == "pair":
            extra = [self.pair_iterations] + ([self.pair_streams] if self.pair_streams > 1 else [])
        elif plan.kind == "simulate":
            extra = [self.simulator_turns]
        else:
            return []
        return [plan.seed.text, _id(self.attacker), self.attacker_gen.to_dict(), getattr(self.judge, "id", "?"), *extra]


def _id(backend: object) -> str | None:
    return getattr(backend, "id", None)


def attempt_id(checkpoint: str, plan: Plan, gen: GenerationConfig | dict[str, Any], extra: Sequence[Any] = ()) -> str:
    gen_dict = gen.to_dict() if isinstance(gen, GenerationConfig) else gen
    parts: list[Any] = ["attempt/1", checkpoint, plan.technique, plan.seed.id, list(plan.turns), gen_dict]
    if extra:
        parts.append(list(extra))
    return content_key(*parts)


@dataclass
class RunStats:
    """What one engine run did."""

    planned: int = 0
    reused: int = 0
    generated: int = 0
    errors: int = 0
    seconds: float = 0.0
    reasons: Counter[str] = field(default_factory=Counter)


class _Runner:
    def __init__(self, ctx: AttackContext) -> None:
        self.ctx = ctx
        self.target = as_async(ctx.target)
        self.attacker = as_async(ctx.attacker) if ctx.attacker is not None else None
        self.converter = as_async(ctx.converter_model) if ctx.converter_model is not None else None
        self.ajudge = getattr(ctx.judge, "ajudge", None)

    async def score(self, seed: Seed, prompt: Conversation, response: str) -> Verdict:
        if self.ajudge is not None:
            return await self.ajudge(seed, prompt, response)
        return self.ctx.judge.judge([(seed, prompt, response)])[0]

    async def run(self, plan: Plan) -> tuple[Conversation, Verdict | None, dict[str, Any]]:
        """The transcript, the verdict when the attack decided it, and extra facts."""
        ctx = self.ctx
        if plan.kind in ("crescendo", "pair", "simulate"):
            if self.attacker is None:
                raise ValueError(f"{plan.kind} needs an attacker model (redteam.attacker or benchmarks.simulator)")
            if plan.kind == "simulate":
                out = await multiturn.simulate(
                    plan.seed, self.target, self.attacker, self.score, ctx.gen, ctx.attacker_gen, ctx.simulator_turns
                )
            elif plan.kind == "crescendo":
                out = await multiturn.crescendo(
                    plan.seed, self.target, self.attacker, self.score, ctx.gen, ctx.attacker_gen,
                    ctx.crescendo_turns, ctx.crescendo_backtracks,
                )  # fmt: skip
            else:
                out = await multiturn.pair(
                    plan.seed, self.target, self.attacker, self.score, ctx.gen, ctx.attacker_gen,
                    ctx.pair_iterations, ctx.pair_streams,
                )  # fmt: skip
            return out.transcript, out.verdict, out.info
        turns = plan.turns
        info: dict[str, Any] = {}
        if plan.kind == "convert":
            chain = plan.technique.partition(":")[2]
            text = await converters.apply_chain_async(
                plan.seed.text, chain, f"{plan.seed_value}:{plan.seed.id}", self.converter
            )
            turns = (text,)
        conv: Conversation = []
        for turn in turns:
            conv.append({"role": "user", "content": turn})
            reply = await self.target.agenerate(list(conv), ctx.gen)
            conv.append({"role": "assistant", "content": reply})
        verdict = None
        if plan.canary is not None:
            hit = xpia.followed(conv[-1]["content"], plan.canary)
            info["canary"] = plan.canary
            verdict = Verdict(
                refusal=False,
                harmful=hit,
                severity=4 if hit else 0,
                category=plan.seed.category,
                label="injection_followed" if hit else "injection_ignored",
                rationale=f"canary {plan.canary} {'present' if hit else 'absent'} in the reply",
                judge="xpia-canary/1",
            )
        elif self.ajudge is not None:
            verdict = await self.ajudge(plan.seed, conv[:-1], conv[-1]["content"])
        return conv, verdict, info

    async def aclose(self) -> None:
        for b in {id(x): x for x in (self.target, self.attacker, self.converter) if x is not None}.values():
            await b.aclose()
        close_judge = getattr(self.ctx.judge, "aclose", None)
        if close_judge is not None:
            await close_judge()


def _reason(e: BaseException) -> str:
    reason = getattr(e, "reason", None) or f"{e.__class__.__name__}: {e}"
    return str(reason)[:500]


async def arun(
    plans: Iterable[Plan],
    ctx: AttackContext,
    store: Store,
    *,
    checkpoint: str,
    round_: int,
    suite: str,
    total: int | None = None,
    label: str | None = None,
    on_attempt: Callable[[Attempt], None] | None = None,
    flush_every: int = 32,
    chunk: int = 1024,
) -> RunStats:
    """Run ``plans`` and stream their attempts to ``store`` (and to ``on_attempt``, reused ones included).

    Args:
        plans: What to run (read lazily).
        ctx: The target, judge and helper models.
        store: Where attempts go, committed every ``flush_every``.
        checkpoint: A stable id of the target's weights (part of each attempt's key).
        round_: Round number recorded with each attempt.
        suite: ``"redteam"`` or the benchmark suite key.
        total: The number of plans, for the progress bar.
        label: Progress bar label.
        on_attempt: Called with every attempt once it is stored.
    """
    runner = _Runner(ctx)
    concurrency = max(1, ctx.concurrency or runner.target.concurrency)
    stats = RunStats()
    gen_dict = ctx.gen.to_dict()
    started = time.perf_counter()
    queue: asyncio.Queue[tuple[str, Plan] | None] = asyncio.Queue(maxsize=2 * concurrency)
    buffer: list[Attempt] = []
    last_flush = time.monotonic()

    def emit(attempts: list[Attempt]) -> None:
        if on_attempt is not None:
            for a in attempts:
                on_attempt(a)

    def flush() -> None:
        nonlocal last_flush
        if not buffer:
            return
        batch = buffer[:]
        buffer.clear()
        todo = [a for a in batch if a.status == "ok" and a.verdict is None]
        if todo:
            try:
                verdicts = ctx.judge.judge([(a.seed, a.prompt, a.response) for a in todo])
                for a, v in zip(todo, verdicts, strict=True):
                    a.verdict = v
            except Exception as e:  # a judge failure is an error, not "safe"
                for a in todo:
                    a.status, a.error = "error", f"judge: {_reason(e)}"
                    stats.errors += 1
                    stats.reasons["judge"] += 1
        store.put_attempts(batch)
        last_flush = time.monotonic()
        emit(batch)
        bar.advance(len(batch))

    async def produce() -> None:
        it = iter(plans)
        while block := list(itertools.islice(it, chunk)):
            ids = [attempt_id(checkpoint, p, gen_dict, ctx.plan_extra(p)) for p in block]
            stats.planned += len(block)
            if on_attempt is not None:
                have = {k: a for k, a in store.get_attempts(ids).items() if a.status == "ok"}
            else:
                have = dict.fromkeys(store.existing_ids(ids, status="ok"))
            fresh: set[str] = set()
            for aid, p in zip(ids, block, strict=True):
                if aid in have or aid in fresh:
                    continue
                fresh.add(aid)
                await queue.put((aid, p))
            reused = [a for a in have.values() if a is not None]
            stats.reused += len(have)
            emit(reused)
            bar.advance(len(block) - len(fresh))
        for _ in range(concurrency):
            await queue.put(None)

    async def work() -> None:
        while (item := await queue.get()) is not None:
            aid, p = item
            t0 = time.perf_counter()
            status, error, verdict, info = "ok", None, None, {}
            transcript: Conversation = []
            try:
                transcript, verdict, info = await runner.run(p)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # recorded on the attempt; never escapes, never "safe"
                status, error = "error", _reason(e)
                stats.errors += 1
                stats.reasons[error.split(" ", 1)[0].split(":", 1)[0]] += 1
            stats.generated += 1
            buffer.append(
                Attempt(
                    id=aid,
                    round=round_,
                    suite=suite,
                    technique=p.technique,
                    seed=p.seed,
                    transcript=transcript or [{"role": "user", "content": t} for t in p.turns[:1]],
                    status=status,  # type: ignore[arg-type]
                    error=error,
                    seconds=time.perf_counter() - t0,
                    verdict=verdict if status == "ok" else None,
                    info=info,
                )
            )
            if len(buffer) >= flush_every or time.monotonic() - last_flush > 1.0:
                flush()

    with task_progress(label or f"{suite}: attacking", total=total) as bar:
        try:
            await asyncio.gather(produce(), *(work() for _ in range(concurrency)))
        finally:
            flush()
            await runner.aclose()
    stats.seconds = time.perf_counter() - started
    return stats


def run(plans: Iterable[Plan], ctx: AttackContext, store: Store, **kwargs: Any) -> RunStats:
    """Blocking form of :func:`arun`."""
    return aio.run(arun(plans, ctx, store, **kwargs))


def execute(
    plans: Sequence[Plan],
    backend: Backend | AsyncBackend,
    judge: Judge,
    store: Store,
    *,
    checkpoint: str,
    round_: int,
    suite: str,
    gen: GenerationConfig,
    label: str | None = None,
    ctx: AttackContext | None = None,
) -> list[Attempt]:
    """Run ``plans`` (skipping those already stored) and return all their attempts in plan order.

    For runs small enough to hold in memory (benchmark suites); large red-team runs stream with :func:`arun`.
    """
    ctx = ctx or AttackContext(target=backend, judge=judge, gen=gen)
    got: dict[str, Attempt] = {}
    run(
        plans, ctx, store, checkpoint=checkpoint, round_=round_, suite=suite, total=len(plans), label=label,
        on_attempt=lambda a: got.__setitem__(a.id, a),
    )  # fmt: skip
    return [got[attempt_id(checkpoint, p, ctx.gen, ctx.plan_extra(p))] for p in plans]
