"""The Judge protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from breakfix.types import Conversation, Seed, Verdict


@runtime_checkable
class Judge(Protocol):
    """Scores responses in context."""

    id: str

    def judge(self, items: Sequence[tuple[Seed, Conversation, str]]) -> list[Verdict]:
        """One verdict per (seed, prompt conversation, response)."""
        ...


class ModelJudge:
    """Base of judges that call a model one item at a time: ``ajudge`` per item (the attack engine awaits it), and
    ``judge`` for a batch, run concurrently on the fastest event loop. Subclasses set ``backend`` (async) and
    implement ``ajudge``."""

    backend: Any

    async def ajudge(self, seed: Seed, prompt: Conversation, response: str) -> Verdict:
        raise NotImplementedError

    async def aclose(self) -> None:
        await self.backend.aclose()

    def judge(self, items: Sequence[tuple[Seed, Conversation, str]]) -> list[Verdict]:
        import asyncio

        from breakfix import aio

        async def run() -> list[Verdict]:
            try:
                return list(await asyncio.gather(*(self.ajudge(s, p, r) for s, p, r in items)))
            finally:
                await self.aclose()

        return aio.run(run())
