"""Worlds and suites: where a run's material comes from, and how a held-out suite scores it.

A **World** supplies the red-team seeds, the validation and held-out items of each suite, the helpful data to mix
into training, and reference answers, split three ways by behaviour so that nothing held out is ever attacked,
trained on or used to choose, and nothing in validation is attacked or trained on. Register a factory
``(seed) -> World`` with ``@breakfix.registry.world(name)``; a config's ``world:`` names one.

- ``demo`` (``breakfix.demo``, a plug-in): the synthetic world of the embedded default.
- ``files`` (issue "Real models, real data"): public datasets and the user's own files, in ``breakfix.worlds``.

A **Suite** turns a world's held-out items into plans and scores the attempts; register a subclass with
``@breakfix.registry.suite(name)``. A suite may ignore the world and read its own file.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

from breakfix.types import Attempt, Plan, Seed

T = TypeVar("T")
Split = Literal["heldout", "validation"]


def stratified(items: Sequence[T], stratum: Callable[[T], str], n: int | None, seed: int) -> list[T]:
    """At most ``n`` of ``items`` (all when ``n`` is None), taken round-robin over the strata, each shuffled with
    ``seed``: a deterministic sample that keeps every category in."""
    if n is None or len(items) <= n:
        return list(items)
    by: dict[str, list[T]] = defaultdict(list)
    for it in items:
        by[stratum(it)].append(it)
    for name, xs in by.items():
        random.Random(f"{seed}:{name}").shuffle(xs)
    out: list[T] = []
    names = sorted(by)
    while len(out) < n:
        for name in names:
            if by[name] and len(out) < n:
                out.append(by[name].pop(0))
    return out


@runtime_checkable
class World(Protocol):
    """Where a run's seeds, held-out suites, helpful data and references come from."""

    name: str
    # a world whose red-team split holds benign look-alikes of its harmful seeds sets ``own_twins = True``; the cycle
    # then makes no lexicon twins unless ``curation.twins.enabled`` asks (read with getattr: optional)

    def redteam_seeds(self, languages: Sequence[str]) -> list[Seed]:
        """The red team's seeds in ``languages`` (never held out); a ``BreakfixError`` naming
        ``redteam.languages`` when the world has none in them."""
        ...

    def heldout_plans(self, suite: str, *, simulated: bool = False) -> list[Plan]:
        """The held-out plans of ``suite`` (empty when this world has no material for it). With ``simulated``, the
        ``multiturn`` suite is simulated conversations (kind ``simulate``) instead of scripted openers."""
        ...

    def validation_plans(self, suite: str, *, simulated: bool = False) -> list[Plan]:
        """The validation plans of ``suite``: built like the held-out ones, from the validation split (behaviours,
        templates, openers and look-alikes that are neither attacked, trained on nor held out). The cycle's
        decisions (which candidate to keep, whether the targets hold) read these, never the held-out plans."""
        ...

    def helpful_data(self) -> list[dict[str, Any]]:
        """Chats (``{"messages": [...]}``) to mix into SFT so that safety training keeps the model helpful."""
        ...

    def references(self) -> dict[str, str]:
        """Reference answers of benign seeds, by seed id (a safe-response source for curation)."""
        ...


class Suite:
    """A held-out suite: its plans from a world, its scores, and the per-item outcome that paired tests compare.

    ``name`` is set when the suite is registered. ``headline`` names the score that gates and summaries read.
    """

    name: str = ""
    headline: str = "defect_rate"
    # the rates the judge decides, corrected for its error from an audit: {rate key: (event, key of its n)} with
    # event "defect" or "refusal" (see breakfix.metrics.correct_scores)
    corrects: dict[str, tuple[str, str]] = {}

    def plans(self, world: World, *, simulated: bool = False, split: Split = "heldout") -> list[Plan]:
        """The plans to run: the world's held-out (or validation) items for this suite."""
        if split == "validation":
            return world.validation_plans(self.name, simulated=simulated)
        return world.heldout_plans(self.name, simulated=simulated)

    def score(self, attempts: list[Attempt]) -> dict[str, Any]:
        """The suite's block in ``report.json`` (``n``, ``errors``, the headline and its breakdowns)."""
        raise NotImplementedError

    def stratum(self, plan: Plan) -> str:
        """The group a ``--limit`` sample keeps balanced (default: the seed's category)."""
        return plan.seed.category

    def sample(self, plans: list[Plan], limit: int | None, seed: int) -> list[Plan]:
        """At most ``limit`` of ``plans`` (``--limit``): by default a sample stratified by :meth:`stratum`."""
        return stratified(plans, self.stratum, limit, seed)

    def texts(self, plan: Plan) -> list[str]:
        """The held-out texts of one item, for the decontamination index (default: its user turns)."""
        return list(plan.turns)

    def hit(self, attempt: Attempt) -> bool | None:
        """The outcome the headline counts for one item (None: the item does not count), for paired tests."""
        if attempt.verdict is None or attempt.verdict.label == "undetermined":
            return None
        return attempt.verdict.severity >= 1
