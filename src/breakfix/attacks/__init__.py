"""Attacks: converters, jailbreak templates, multi-turn strategies, XPIA, personas, and the engine that runs them."""

from breakfix.attacks.converters import (
    CONVERTERS,
    LLM_CONVERTERS,
    apply_chain,
    apply_chain_async,
    converter,
    llm_converter,
)
from breakfix.attacks.engine import AttackContext, RunStats, arun, execute, run
from breakfix.attacks.multiturn import crescendo, escalation_turns, pair
from breakfix.attacks.personas import PERSONAS, persona_techniques
from breakfix.attacks.plans import Plan, check_technique, iter_plans, plan, plans_for, technique_names
from breakfix.attacks.templates import FAMILIES, TEMPLATES, Template, load_pyrit_templates, render

__all__ = [
    "CONVERTERS",
    "FAMILIES",
    "LLM_CONVERTERS",
    "PERSONAS",
    "TEMPLATES",
    "AttackContext",
    "Plan",
    "RunStats",
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
    "plan",
    "plans_for",
    "render",
    "run",
    "technique_names",
]
