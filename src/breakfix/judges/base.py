"""The Judge protocol (defined in ``breakfix.types``) and the base of model judges."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from breakfix import aio
from breakfix.types import Conversation, Judge, Seed, Verdict

__all__ = ["Judge", "ModelJudge"]


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
        async def run() -> list[Verdict]:
            try:
                return list(await asyncio.gather(*(self.ajudge(s, p, r) for s, p, r in items)))
            finally:
                await self.aclose()

        return aio.run(run())
