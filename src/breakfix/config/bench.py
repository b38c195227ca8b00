"""The held-out benchmark suites and their limits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from breakfix import registry
from breakfix.backends.base import ModelRef
from breakfix.types import StrictModel

DEFAULT_SUITES = (
    "harmful", "jailbreak", "multiturn", "continuation", "summarization", "thirdparty", "ungroundedness", "xpia",
    "overrefusal", "capability",
)  # fmt: skip


class _SuiteLimits(StrictModel):
    """``limit`` and ``suite_limits`` over ``suites``, for the held-out suites and the validation suites alike. The
    subclass declares the three fields (so each keeps its own field order and descriptions)."""

    if TYPE_CHECKING:  # declared by the subclass, not here: a field here would come first in its order
        suites: list[str]
        limit: int | None
        suite_limits: dict[str, int]

    @field_validator("suite_limits", check_fields=False)
    @classmethod
    def _limits(cls, v: dict[str, int]) -> dict[str, int]:
        for name, n in v.items():
            registry.require("suite", name)
            if n < 1:
                raise ValueError(f"{name}: must be >= 1")
        return v

    def limits(self) -> int | dict[str, int | None] | None:
        """What ``suite_plans`` takes as its ``limit``: one number for every suite, or one per suite."""
        if not self.suite_limits:
            return self.limit
        return {name: self.suite_limits.get(name, self.limit) for name in {*self.suites, *self.suite_limits}}


class BenchConfig(_SuiteLimits):
    """The held-out suites the cycle (and ``breakfix bench``) runs: registered suites (``breakfix plugins``)."""

    suites: list[str] = Field(default_factory=lambda: list(DEFAULT_SUITES))

    @field_validator("suites")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        for name in v:
            registry.require("suite", name)
        return v

    limit: int | None = Field(None, ge=1, description="items per suite at most (stratified by category; --limit)")
    suite_limits: dict[str, int] = Field(
        default_factory=dict, description="items at most for named suites, over limit (overrefusal: 250)"
    )
    simulator: ModelRef | None = Field(None, description="a model that plays the user in the multiturn suite")
    simulator_turns: int = Field(3, ge=1, le=20)
