"""The engine: turn seeds into plans through the registered techniques, run the plans against a target with bounded
concurrency, judge them, and stream every attempt to the store exactly once. The red team and the held-out suites
both run through it.

- Every plan becomes one coroutine; the engine keeps the target's ``concurrency`` of them in flight. A batched
  backend (HF, vLLM) is wrapped by :class:`~breakfix.backends.base.Batched`, so the requests in flight at once are
  generated as one batch.
- An attempt is keyed by (checkpoint, technique, seed, user turns, generation config), plus the attacker and
  converter models for adaptive plans. One already in the store is reused and never generated again, so a run
  resumes where it stopped. An attempt stored as ``error`` (an outage, say) is tried again by the next run and its
  row replaced, so each key has exactly one row.
- Verdicts are keyed by (attempt, judge id). A stored generation that the run's judge has not judged is re-judged,
  not regenerated; a judge failure keeps the generation, so a later run only re-judges it.
- A failure of the target, the attacker, a converter or the judge marks that attempt ``error`` with a reason. It is
  never judged, never counted as safe, and no exception escapes the run (except an interrupt, after what is done
  has been written).
- Except a server that breakfix started and that has died (:class:`~breakfix.errors.ServerDied`): the attempts it
  failed are recorded as errors, the plans not yet sent are left for the next run, and the run stops at once with
  that one-line cause instead of failing every remaining plan against a process that is gone.
- Nothing is held: plans are read lazily, attempts are written in batches and passed to ``on_attempt``."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from breakfix import aio
from breakfix.backends.base import AsyncBackend, Backend, GenerationConfig
from breakfix.engine.stats import RunStats
from breakfix.engine.techniques import AttackContext, Runner, decided_verdict
from breakfix.errors import ServerDied
from breakfix.progress import task_progress
from breakfix.store import Store
from breakfix.types import Attempt, Conversation, Judge, Plan, Verdict, content_key


def _id(backend: object) -> str | None:
    return getattr(backend, "id", None)


def attempt_id(checkpoint: str, plan: Plan, gen: GenerationConfig | dict[str, Any], extra: Sequence[Any] = ()) -> str:
    gen_dict = gen.to_dict() if isinstance(gen, GenerationConfig) else gen
    parts: list[Any] = ["attempt/1", checkpoint, plan.technique, plan.seed.id, list(plan.turns), gen_dict]
    if extra:
        parts.append(list(extra))
    return content_key(*parts)


def judge_attempts(judge: Judge, attempts: Sequence[Attempt]) -> list[Verdict]:
    """Verdicts on finished attempts: the canary check for XPIA attempts (their ``info`` holds the canary), the
    judge's batch call for the rest."""
    out: list[Verdict | None] = [decided_verdict(a) for a in attempts]
    rest = [i for i, v in enumerate(out) if v is None]
    if rest:
        got = judge.judge([(attempts[i].seed, attempts[i].prompt, attempts[i].response) for i in rest])
        for i, v in zip(rest, got, strict=True):
            out[i] = v
    return [v for v in out if v is not None]


def judge_unjudged(
    judge: Judge, attempts: Sequence[Attempt], on_chunk: Callable[[list[Attempt]], None] | None = None
) -> int:
    """Give each finished attempt that has no verdict ``judge``'s verdict (:func:`judge_attempts`, 256 at a time,
    each chunk passed to ``on_chunk`` once judged); return how many were judged."""
    todo = [a for a in attempts if a.status == "ok" and a.verdict is None]
    for start in range(0, len(todo), 256):
        part = todo[start : start + 256]
        for a, v in zip(part, judge_attempts(judge, part), strict=True):
            a.verdict = v
        if on_chunk is not None:
            on_chunk(part)
    return len(todo)


def judged_attempts(
    store: Store,
    judge: Judge,
    round_: int | None = None,
    suite: str | None = None,
    keep: Callable[[Attempt], bool] | None = None,
    last_run: bool = False,
) -> tuple[list[Attempt], RunStats]:
    """A round's stored attempts, each with ``judge``'s verdict: stored verdicts are reused, stored generations that
    ``judge`` has not judged are judged now and their verdicts stored. Generation errors stay errors. With ``keep``,
    only the attempts it keeps (once judged) are held: the rest stream past. With ``last_run``, only the attempts
    that the round's last run of ``suite`` asked for are read (:meth:`Store.ran`)."""
    attempts = [
        a
        for a in store.iter_attempts(round_, suite, judge=judge.id, last_run=last_run)
        if keep is None or a.verdict is None or keep(a)
    ]
    stats = RunStats(planned=len(attempts), reused=len(attempts))
    stats.verdicts_reused = sum(a.status == "ok" and a.verdict is not None for a in attempts)
    todo = sum(a.status == "ok" and a.verdict is None for a in attempts)

    with task_progress(f"re-judging with {judge.id}", total=todo, show=bool(todo)) as bar:

        def store_verdicts(part: list[Attempt]) -> None:
            store.put_verdicts([(a.id, v) for a in part if (v := a.verdict) is not None], judge.id)
            bar.advance(len(part))

        stats.rejudged = judge_unjudged(judge, attempts, store_verdicts)
    if keep is not None:
        attempts = [a for a in attempts if keep(a)]
    return attempts, stats


def _reason(e: BaseException) -> str:
    reason = getattr(e, "reason", None) or f"{e.__class__.__name__}: {e}"
    return str(reason)[:500]


class _Run:
    """One run of :func:`arun`: a producer reads the plans in chunks, reuses what the store has and queues the rest;
    ``concurrency`` workers generate and judge; the buffer is flushed to the store in batches."""

    def __init__(
        self, plans: Iterable[Plan], ctx: AttackContext, store: Store, *, checkpoint: str, round_: int, suite: str,
        on_attempt: Callable[[Attempt], None] | None, flush_every: int, chunk: int,
    ) -> None:  # fmt: skip
        self.plans, self.ctx, self.store = plans, ctx, store
        self.checkpoint, self.round, self.suite = checkpoint, round_, suite
        self.on_attempt, self.flush_every, self.chunk = on_attempt, flush_every, chunk
        self.runner = Runner(ctx)
        self.concurrency = max(1, ctx.concurrency or self.runner.target.concurrency)
        self.stats = RunStats()
        self.gen_dict = ctx.gen.to_dict()
        self.judge_id = ctx.judge.id
        # (attempt id, plan, the stored attempt to re-judge or None to generate)
        self.queue: asyncio.Queue[tuple[str, Plan, Attempt | None] | None] = asyncio.Queue(maxsize=2 * self.concurrency)
        self.buffer: list[tuple[Attempt, bool, str | None]] = []  # (attempt, generated now, why its judge failed)
        self.died: list[ServerDied] = []  # a served target or judge whose process exited: the run stops
        self.last_flush = time.monotonic()
        self.bar: Any = None

    def emit(self, attempts: list[Attempt]) -> None:
        if self.on_attempt is not None:
            for a in attempts:
                self.on_attempt(a)

    def flush(self) -> None:
        """Judge what the buffer holds unjudged (in one batch), store it, and pass it on."""
        if not self.buffer:
            return
        batch = self.buffer[:]
        self.buffer.clear()
        failed = {id(a): why for a, _, why in batch if why is not None}
        todo = [a for a, _, why in batch if a.status == "ok" and a.verdict is None and why is None]
        if todo:
            try:
                for a, v in zip(todo, judge_attempts(self.ctx.judge, todo), strict=True):
                    a.verdict = v
            except Exception as e:  # a judge failure is an error, not "safe"; the generation is kept
                failed.update(dict.fromkeys(map(id, todo), f"judge: {_reason(e)}"))
        self.store.put_attempts([a for a, new, _ in batch if new], checkpoint=self.checkpoint, judge=self.judge_id)
        rejudged = [(a.id, v) for a, new, _ in batch if not new and (v := a.verdict) is not None]
        if rejudged:
            self.store.put_verdicts(rejudged, self.judge_id)
        for a, _, _ in batch:  # stored as judged-by-no-one; this run counts it as an error
            if id(a) in failed:
                a.status, a.error, a.verdict = "error", failed[id(a)], None
                self.stats.errors += 1
                self.stats.reasons["judge"] += 1
        self.last_flush = time.monotonic()
        self.emit([a for a, _, _ in batch])
        self.bar.advance(len(batch))

    def _stored(self, ids: list[str]) -> dict[str, Attempt | None]:
        """The stored ok attempts among ``ids`` with this judge's verdict (None: judged, not loaded)."""
        if self.on_attempt is not None:
            return {k: a for k, a in self.store.get_attempts(ids, judge=self.judge_id).items() if a.status == "ok"}
        judged = self.store.existing_ids(ids, status="ok", judge=self.judge_id)  # judged ones need not be loaded
        unjudged = self.store.existing_ids([i for i in ids if i not in judged], status="ok")
        return {**dict.fromkeys(judged), **self.store.get_attempts(unjudged, judge=self.judge_id)}

    async def produce(self) -> None:
        it = iter(self.plans)
        while block := list(itertools.islice(it, self.chunk)):
            ids = [attempt_id(self.checkpoint, p, self.gen_dict, self.ctx.plan_extra(p)) for p in block]
            self.stats.planned += len(block)
            have = self._stored(ids)
            seen: set[str] = set()
            ready: list[Attempt | None] = []  # reused with this judge's verdict (None: judged, not loaded)
            for aid, p in zip(ids, block, strict=True):
                if aid in seen:
                    continue
                seen.add(aid)
                if aid not in have:
                    await self.queue.put((aid, p, None))
                    continue
                self.stats.reused += 1
                a = have[aid]
                if a is not None and a.verdict is None:
                    self.stats.rejudged += 1
                    await self.queue.put((aid, p, a))
                else:
                    self.stats.verdicts_reused += 1
                    ready.append(a)
            self.emit([a for a in ready if a is not None])
            self.bar.advance(len(block) - len(seen) + len(ready))
        for _ in range(self.concurrency):
            await self.queue.put(None)

    async def work(self) -> None:
        while (item := await self.queue.get()) is not None:
            aid, p, stored = item
            a = stored if stored is not None else await self.generate(aid, p)
            why = None
            if a.status == "ok" and a.verdict is None:
                try:
                    a.verdict = await self.runner.verdict(a)
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # never "safe": an error for this run, a generation kept for the next
                    why = f"judge: {_reason(e)}"
                    if isinstance(e, ServerDied):
                        self.died.append(e)
            self.buffer.append((a, stored is None, why))
            if self.died:
                raise self.died[0]  # the task group cancels the other workers and the producer
            if len(self.buffer) >= self.flush_every or time.monotonic() - self.last_flush > 1.0:
                self.flush()

    async def generate(self, aid: str, p: Plan) -> Attempt:
        t0 = time.perf_counter()
        status, error, verdict, info = "ok", None, None, {}
        transcript: Conversation = []
        try:
            transcript, verdict, info = await self.runner.run(p)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # recorded on the attempt; never escapes, never "safe"
            status, error = "error", _reason(e)
            if isinstance(e, ServerDied):
                self.died.append(e)
            self.stats.errors += 1
            self.stats.reasons[error.split(" ", 1)[0].split(":", 1)[0]] += 1
        self.stats.generated += 1
        return Attempt(
            id=aid, round=self.round, suite=self.suite, technique=p.technique, seed=p.seed,
            transcript=transcript or [{"role": "user", "content": t} for t in p.turns[:1]],
            status=status,  # type: ignore[arg-type]
            error=error, seconds=time.perf_counter() - t0, verdict=verdict if status == "ok" else None, info=info,
        )  # fmt: skip

    async def go(self, label: str, total: int | None) -> RunStats:
        started = time.perf_counter()
        with task_progress(label, total=total) as self.bar:
            try:
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self.produce())
                    for _ in range(self.concurrency):
                        tasks.create_task(self.work())
            except ExceptionGroup as group:  # the first failure itself (a dead server first), not the group
                raise (self.died or group.exceptions)[0] from None
            finally:
                self.flush()
                await self.runner.aclose()
        self.stats.seconds = time.perf_counter() - started
        return self.stats


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
    run_ = _Run(plans, ctx, store, checkpoint=checkpoint, round_=round_, suite=suite, on_attempt=on_attempt,
                flush_every=flush_every, chunk=chunk)  # fmt: skip
    return await run_.go(label or f"{suite}: attacking", total)


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
    stats: RunStats | None = None,
) -> list[Attempt]:
    """Run ``plans`` (skipping those already stored) and return all their attempts in plan order; add what the run
    did to ``stats``.

    For runs small enough to hold in memory (benchmark suites); large red-team runs stream with :func:`arun`.
    """
    ctx = ctx or AttackContext(target=backend, judge=judge, gen=gen)
    got: dict[str, Attempt] = {}
    done = run(
        plans, ctx, store, checkpoint=checkpoint, round_=round_, suite=suite, total=len(plans), label=label,
        on_attempt=lambda a: got.__setitem__(a.id, a),
    )  # fmt: skip
    if stats is not None:
        stats.merge(done)
    return [got[attempt_id(checkpoint, p, ctx.gen, ctx.plan_extra(p))] for p in plans]
