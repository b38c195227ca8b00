"""Turn seeds into attack plans: the scripted user turns of each attempt."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from breakfix.attacks import converters, multiturn, templates
from breakfix.types import Seed


@dataclass(frozen=True)
class Plan:
    """One attempt to make: the technique, the seed, and the user turns to send in order."""

    technique: str
    seed: Seed
    turns: tuple[str, ...]


def plan(seed: Seed, technique: str, seed_value: int = 0) -> Plan:
    """Build the plan of ``technique`` for ``seed``.

    Techniques: ``direct``; ``template:<name>`` (see ``templates.TEMPLATES``); ``converter:<a>+<b>`` (a converter
    chain); ``escalation`` (scripted three-turn escalation).
    """
    text, lang = seed.text, seed.language
    if technique == "direct":
        turns: tuple[str, ...] = (text,)
    elif technique.startswith("template:"):
        turns = (templates.render(technique.split(":", 1)[1], text, lang),)
    elif technique.startswith("converter:"):
        names = technique.split(":", 1)[1].split("+")
        turns = (converters.apply_chain(text, names, seed=f"{seed_value}:{seed.id}"),)
    elif technique == "escalation":
        turns = tuple(multiturn.escalation_turns(text, lang))
    else:
        raise KeyError(f"unknown technique {technique!r}")
    return Plan(technique, seed, turns)


def technique_names() -> list[str]:
    """Every technique the planner knows (converter chains of length one)."""
    return (
        ["direct", "escalation"]
        + [f"template:{t}" for t in templates.TEMPLATES]
        + [f"converter:{c}" for c in converters.CONVERTERS]
    )


def plans_for(seeds: Iterable[Seed], techniques: Iterable[str], seed_value: int = 0) -> list[Plan]:
    """Every (seed, technique) plan, in a stable order."""
    techniques = list(techniques)
    return [plan(s, t, seed_value) for s in seeds for t in techniques]
