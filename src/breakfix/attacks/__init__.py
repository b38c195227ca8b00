"""Attacks: converters, jailbreak templates, scripted multi-turn escalation, and the engine that runs them."""

from breakfix.attacks.converters import CONVERTERS, apply_chain, converter
from breakfix.attacks.engine import execute
from breakfix.attacks.plans import Plan, plan, plans_for, technique_names
from breakfix.attacks.templates import TEMPLATES, render

__all__ = [
    "CONVERTERS",
    "TEMPLATES",
    "Plan",
    "apply_chain",
    "converter",
    "execute",
    "plan",
    "plans_for",
    "render",
    "technique_names",
]
