"""The Judge protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from breakfix.types import Conversation, Seed, Verdict


@runtime_checkable
class Judge(Protocol):
    """Scores responses in context."""

    id: str

    def judge(self, items: Sequence[tuple[Seed, Conversation, str]]) -> list[Verdict]:
        """One verdict per (seed, prompt conversation, response)."""
        ...
