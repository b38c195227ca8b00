"""Attacks: converters, jailbreak templates, multi-turn strategies, XPIA and personas, registered as techniques.

The engine that runs them is ``breakfix.engine`` (the held-out suites run through it too); its names are
re-exported here for convenience.
"""

from breakfix.attacks import personas, prefill, techniques
from breakfix.attacks.converters import (
    CONVERTERS,
    LLM_CONVERTERS,
    apply_chain,
    apply_chain_async,
    converter,
    llm_converter,
)
from breakfix.attacks.multiturn import crescendo, escalation_turns, pair
from breakfix.attacks.personas import PERSONAS, persona_techniques
from breakfix.attacks.templates import FAMILIES, TEMPLATES, Template, load_pyrit_templates, render
from breakfix.engine import (
    AttackContext,
    RunStats,
    Technique,
    arun,
    execute,
    iter_plans,
    plan,
    plans_for,
    run,
    technique_names,
)
from breakfix.registry import check_technique
from breakfix.types import Plan

__all__ = [
    "CONVERTERS",
    "FAMILIES",
    "LLM_CONVERTERS",
    "prefill",
    "PERSONAS",
    "TEMPLATES",
    "AttackContext",
    "Plan",
    "RunStats",
    "Technique",
    "Template",
    "apply_chain",
    "apply_chain_async",
    "arun",
    "check_technique",
    "converter",
    "crescendo",
    "escalation_turns",
    "execute",
    "iter_plans",
    "llm_converter",
    "load_pyrit_templates",
    "pair",
    "persona_techniques",
    "personas",
    "plan",
    "plans_for",
    "render",
    "run",
    "technique_names",
    "techniques",
]
