"""Adversary personas: technique presets for the two adversaries of the Phi-3 red team.

- ``low_skill``: direct requests and simple wrappers (role-play, fiction, hypothetical and research framing).
- ``intermediate``: everything the low-skill adversary does, plus converters (encodings and obfuscation),
  the other template families, scripted escalation and XPIA; and, when the run has the models for them,
  translation and tense rewrites (a converter model) and Crescendo and PAIR (an attacker model).
"""

from __future__ import annotations

from breakfix import registry

LOW_SKILL = [
    "direct",
    "template:roleplay_dan",
    "template:roleplay_villain",
    "template:fiction",
    "template:hypothetical",
    "template:research",
]

INTERMEDIATE = [
    *LOW_SKILL,
    "template:prefix_injection",
    "template:refusal_suppression",
    "template:many_shot",
    "converter:leetspeak",
    "converter:base64",
    "converter:rot13",
    "converter:caesar(3)",
    "converter:confusables",
    "converter:zero_width",
    "converter:char_swap",
    "converter:random_case",
    "converter:reverse_words",
    "escalation",
    "xpia:summarize",
    "xpia:qa",
]

NEEDS_CONVERTER_MODEL = ["converter:translate(fr)", "converter:tense(past)"]
NEEDS_ATTACKER = ["crescendo", "pair"]

PERSONAS = {"low_skill": LOW_SKILL, "intermediate": INTERMEDIATE}


@registry.persona("low_skill")
def low_skill(*, converter_model: bool = False, attacker: bool = False) -> list[str]:
    """Direct requests and simple wrappers (role-play, fiction, hypothetical and research framing)."""
    return list(LOW_SKILL)


@registry.persona("intermediate")
def intermediate(*, converter_model: bool = False, attacker: bool = False) -> list[str]:
    """Everything low_skill does, plus converters, other templates, escalation and XPIA; LLM rewrites with a
    converter model, Crescendo and PAIR with an attacker model."""
    return INTERMEDIATE + (NEEDS_CONVERTER_MODEL if converter_model else []) + (NEEDS_ATTACKER if attacker else [])


def persona_techniques(name: str, *, converter_model: bool = False, attacker: bool = False) -> list[str]:
    """The techniques of the registered persona ``name``, given which helper models the run has."""
    try:
        fn = registry.get("persona", name).obj
    except registry.UnknownName as e:
        raise ValueError(str(e)) from None
    return list(fn(converter_model=converter_model, attacker=attacker))
