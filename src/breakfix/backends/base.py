"""The Backend protocol: anything that turns conversations into assistant replies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable

from breakfix.types import Conversation


@dataclass(frozen=True)
class GenerationConfig:
    """How to generate. Greedy by default; sampling is seeded.

    Args:
        max_new_tokens: Longest reply.
        do_sample: Sample instead of greedy decoding.
        temperature: Sampling temperature.
        top_p: Nucleus sampling mass.
        seed: Seed for sampling (each batch reseeds from it, so results do not depend on batch order).
    """

    max_new_tokens: int = 64
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@runtime_checkable
class Backend(Protocol):
    """Generates the next assistant message for each conversation."""

    id: str

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[str]: ...
