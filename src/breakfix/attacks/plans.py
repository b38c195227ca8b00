"""Turn seeds into attack plans.

Technique names (what configs, the CLI and reports use):

- ``direct``: the seed as it is.
- ``template:<name>``: a jailbreak template (``templates.TEMPLATES``, or ``pyrit/<stem>`` from PyRIT YAML).
- ``converter:<chain>``: a converter chain such as ``leetspeak``, ``caesar(5)+zero_width`` or ``translate(fr)``.
- ``escalation``: scripted three-turn escalation.
- ``crescendo`` and ``pair``: attacker-model multi-turn attacks (need ``redteam.attacker``).
- ``xpia:<task>``: the seed injected into a document for ``summarize``, ``translate`` or ``qa``, with a canary.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from breakfix.attacks import converters, multiturn, templates, xpia
from breakfix.types import Seed

Kind = Literal["scripted", "convert", "crescendo", "pair", "simulate"]
ADAPTIVE = ("crescendo", "pair")


@dataclass(frozen=True)
class Plan:
    """One attempt to make.

    Args:
        technique: The technique name.
        seed: The request attacked.
        turns: The scripted user turns, in order (empty for adaptive and LLM-converted plans).
        kind: ``scripted`` (turns fixed in advance), ``convert`` (an LLM-driven converter chain writes the one turn),
            ``crescendo`` or ``pair`` (an attacker model writes the turns), ``simulate`` (a simulator model plays
            the user, for the simulated multi-turn benchmark).
        canary: For XPIA plans, the token whose presence in the reply means the injection was followed.
        seed_value: Seeds the random choices of converters and documents.
    """

    technique: str
    seed: Seed
    turns: tuple[str, ...] = ()
    kind: Kind = "scripted"
    canary: str | None = None
    seed_value: int = 0


def check_technique(technique: str) -> None:
    """Raise ValueError when ``technique`` is not a known technique name."""
    if technique in ("direct", "escalation", *ADAPTIVE):
        return
    head, _, arg = technique.partition(":")
    if head == "template":
        if arg not in templates.TEMPLATES and not arg.startswith("pyrit/"):
            raise ValueError(f"unknown template {arg!r}; known: {', '.join(sorted(templates.TEMPLATES))}")
    elif head == "converter":
        converters.parse_chain(arg)
    elif head == "xpia":
        if arg not in xpia.TASKS:
            raise ValueError(f"unknown XPIA task {arg!r}; known: {', '.join(xpia.TASKS)}")
    else:
        raise ValueError(f"unknown technique {technique!r}")


def plan(seed: Seed, technique: str, seed_value: int = 0) -> Plan:
    """Build the plan of ``technique`` for ``seed`` (see the module docstring for the names)."""
    text, lang = seed.text, seed.language
    head, _, arg = technique.partition(":")
    if technique == "direct":
        return Plan(technique, seed, (text,), seed_value=seed_value)
    if technique == "escalation":
        return Plan(technique, seed, tuple(multiturn.escalation_turns(text, lang)), seed_value=seed_value)
    if technique in ADAPTIVE:
        return Plan(technique, seed, (), kind=technique, seed_value=seed_value)  # type: ignore[arg-type]
    if head == "template":
        return Plan(technique, seed, (templates.render(arg, text, lang),), seed_value=seed_value)
    if head == "converter":
        if converters.needs_llm(arg):
            return Plan(technique, seed, (), kind="convert", seed_value=seed_value)
        return Plan(technique, seed, (converters.apply_chain(text, arg, seed=f"{seed_value}:{seed.id}"),))
    if head == "xpia":
        canary = xpia.canary_for(seed.id, technique, seed_value)
        rng = random.Random(f"{seed_value}:{seed.id}:{technique}")
        turn = xpia.xpia_prompt(arg, text, lang, canary, rng)
        return Plan(technique, seed, (turn,), canary=canary, seed_value=seed_value)
    raise KeyError(f"unknown technique {technique!r}")


def technique_names() -> list[str]:
    """Every built-in technique that needs no attacker or converter model (converter chains of length one)."""
    return (
        ["direct", "escalation"]
        + [f"template:{t}" for t in templates.TEMPLATES if not t.startswith("pyrit/")]
        + [f"converter:{c}" for c in converters.CONVERTERS]
        + [f"xpia:{t}" for t in xpia.TASKS]
    )


def iter_plans(seeds: Iterable[Seed], techniques: Iterable[str], seed_value: int = 0) -> Iterator[Plan]:
    """Every (seed, technique) plan, lazily, in a stable order."""
    techniques = list(techniques)
    for s in seeds:
        for t in techniques:
            yield plan(s, t, seed_value)


def plans_for(seeds: Iterable[Seed], techniques: Iterable[str], seed_value: int = 0) -> list[Plan]:
    """Every (seed, technique) plan, in a stable order."""
    return list(iter_plans(seeds, techniques, seed_value))
