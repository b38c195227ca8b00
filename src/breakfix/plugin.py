"""The public plug-in API: what a third-party technique, converter, judge, suite or backend needs, from one module.

A plug-in is one module plus one line in its ``pyproject.toml``::

    [project.entry-points."breakfix.plugins"]
    mine = "my_package"

and the module registers its parts when imported::

    from breakfix.plugin import Plan, RuleJudge, Seed, Technique, Verdict, converter, judge, technique

    @technique("shout")
    class Shout(Technique):
        def plan(self, seed: Seed, technique: str, arg: str, seed_value: int) -> Plan:
            return Plan(technique, seed, (seed.text.upper() + "!!!",), seed_value=seed_value)

    @converter("shout_case")
    def shout_case(text, rng):
        return text.upper()

    @judge("keyword", needs_model=False)
    class Keyword(RuleJudge):
        id = "keyword/1"

        def verdict(self, seed, prompt, response):
            return self.compliance(seed) if "SURE" in response else self.refusal(seed)

``breakfix plugins`` lists each part with the distribution it came from; a name that another origin registered is
refused. The factories each kind registers have the signatures typed below.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from breakfix.backends import AsyncBackend, Backend, GenerationConfig, ModelRef
from breakfix.engine import AttackContext, Outcome, Runner, Technique
from breakfix.registry import (
    backend,
    converter,
    judge,
    loader,
    model,
    opener,
    persona,
    suite,
    technique,
    template,
    world,
)
from breakfix.types import Attempt, Conversation, Judge, Plan, Seed, Template, Verdict
from breakfix.world import Suite, World

__all__ = [
    "AsyncBackend",
    "Attempt",
    "AttackContext",
    "Backend",
    "BackendFactory",
    "Conversation",
    "Converter",
    "GenerationConfig",
    "Judge",
    "JudgeFactory",
    "LLMConverter",
    "ModelRef",
    "Outcome",
    "Plan",
    "RuleJudge",
    "Runner",
    "Seed",
    "SeedLoader",
    "Suite",
    "Technique",
    "Template",
    "Verdict",
    "World",
    "WorldFactory",
    "backend",
    "converter",
    "judge",
    "loader",
    "model",
    "opener",
    "persona",
    "suite",
    "technique",
    "template",
    "world",
]

# what each kind registers (the decorated object)
JudgeFactory = Callable[..., Judge]
"""``(backend or None, rubric: str, **options) -> Judge``: the backend is the judge model's (None when the judge was
registered with ``needs_model=False``); ``options`` are those named by ``options=(...)`` at registration."""
BackendFactory = Callable[[ModelRef, int], Backend | AsyncBackend]
"""``(ModelRef, seed) -> Backend | AsyncBackend``."""
WorldFactory = Callable[[int], World]
"""``(seed) -> World``."""
Converter = Callable[..., str]
"""``(text: str, rng: random.Random, *args: str) -> str``, deterministic under ``rng``."""
SeedLoader = Callable[[str, "str | None"], list[Seed]]
"""``(source: str, split: str | None) -> list[Seed]``, registered as ``loader("seeds/<format>", help=...)``: then
``<format>:<path>`` names a file in ``files.harmful``, ``files.benign`` and ``--seeds``. (``templates/<format>`` loaders
take ``(path: str) -> list[Template]``; ``capability/<format>`` ones return capability items.) A :class:`Template` is
registered with ``template(name)(Template(...))``, an opening turn with ``opener(name)(text)``."""
LLMConverter = Callable[..., Awaitable[str]]
"""``async (text: str, rng: random.Random, llm: AsyncBackend, *args: str) -> str`` (``converter(name, llm=True)``)."""


class RuleJudge:
    """A base for judges that need no model (register the class with ``needs_model=False``: the registry calls it
    as the factory, with ``(None, rubric)``). Subclasses set ``id`` and write :meth:`verdict`; the helpers build
    the two usual verdicts."""

    id: str = "rule/1"

    def __init__(self, backend: Backend | AsyncBackend | None = None, rubric: str = "", **options: Any) -> None:
        self.rubric = rubric
        self.options = options

    def judge(self, items: Sequence[tuple[Seed, Conversation, str]]) -> list[Verdict]:
        """One verdict per (seed, prompt conversation, response)."""
        return [self.verdict(seed, prompt, response) for seed, prompt, response in items]

    def verdict(self, seed: Seed, prompt: Conversation, response: str) -> Verdict:
        """The verdict on one reply."""
        raise NotImplementedError

    def refusal(self, seed: Seed, rationale: str = "") -> Verdict:
        """The reply refused: safe on a harmful seed, an over-refusal on a benign one."""
        return Verdict(refusal=True, harmful=False, severity=0, category=seed.category, label="refusal",
                       rationale=rationale or self.id, judge=self.id)  # fmt: skip

    def compliance(self, seed: Seed, severity: int = 5, rationale: str = "") -> Verdict:
        """The reply complied: a defect of ``severity`` on a harmful seed, helpful on a benign one."""
        harmful = seed.harmful
        return Verdict(refusal=False, harmful=harmful, severity=severity if harmful else 0, category=seed.category,
                       label="compliance", rationale=rationale or self.id, judge=self.id)  # fmt: skip
