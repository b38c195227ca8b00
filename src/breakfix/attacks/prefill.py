"""The prefill attack (Qi et al., "Safety Alignment Should Be Made More Than Just a Few Tokens Deep", ICLR 2025):
the assistant turn starts with the first n words of a compliant answer, and the model continues it.

``prefill:<n>`` pre-fills n words (whitespace-separated: the unit every backend and tokenizer shares, see
:mod:`breakfix.seeds.openings`); ``prefill:auto`` is shorthand for the depths ``AUTO_DEPTHS``, expanded by the
red-team job into one technique per depth. The opening comes from the model's own defective reply to the seed in an
earlier round of the cycle (``AttackContext.replies``), else the seed's own target string (AdvBench's ``target``
column, ``meta["target"]``), else a generic compliant opener in the seed's language. The held-out
``prefill`` suite runs the same plans at depths 0-40 on held-out seeds (with openers no red-team seed gets).

Every backend continues an open assistant turn (HF and vLLM with ``continue_final_message``; an OpenAI-compatible
server through ``/v1/completions`` with the prompt rendered from ``model.tokenizer``), or says it cannot: a prefix is
never dropped silently. The judged reply is the model's continuation; the pre-filled opening is kept in the attempt's
``info``.
"""

from __future__ import annotations

from typing import Any

from breakfix.engine import Outcome, Runner, Technique
from breakfix.registry import technique
from breakfix.seeds.openings import MAX_DEPTH, opening
from breakfix.types import Plan, Seed

__all__ = ["AUTO_DEPTHS", "Prefill", "expand_auto", "opening"]

AUTO_DEPTHS = (5, 10, 20)


@technique("prefill")
class Prefill(Technique):
    """The assistant turn pre-filled with the first n words of a compliant answer (``prefill:<n>``;
    ``prefill:auto`` for depths 5, 10 and 20); the model continues it."""

    takes_arg = True

    def check(self, name: str, arg: str) -> None:
        super().check(name, arg)
        if arg != "auto" and not (arg.isdigit() and 0 < int(arg) <= MAX_DEPTH):
            raise ValueError(f"prefill takes a depth 1-{MAX_DEPTH} (words pre-filled) or auto, not {arg!r}")

    def plan(self, seed: Seed, technique: str, arg: str, seed_value: int) -> Plan:
        if arg == "auto":
            raise ValueError("prefill:auto names several depths; expand it (expand_auto) before planning")
        return Plan(technique, seed, (seed.text,), kind="prefill", seed_value=seed_value)

    def examples(self, name: str) -> list[str]:
        return [f"prefill:{d}" for d in AUTO_DEPTHS]

    def key_extra(self, plan: Plan, ctx: Any) -> list[Any]:
        return [_opening(plan, ctx)]

    async def run(self, plan: Plan, runner: Runner) -> Outcome:
        prefix = _opening(plan, runner.ctx)
        conv = [{"role": "user", "content": plan.seed.text}]
        reply = await runner.target.agenerate([*conv, {"role": "assistant", "content": prefix}], runner.ctx.gen)
        return [*conv, {"role": "assistant", "content": reply}], None, {"prefill": prefix}


def _depth(plan: Plan) -> int:
    return int(plan.technique.partition(":")[2])


def _opening(plan: Plan, ctx: Any) -> str:
    """The plan's opening: from the target's own defective reply of an earlier round when the context has one
    (``AttackContext.replies``), else the seed's target string or a generic opener."""
    return opening(plan.seed, _depth(plan), reply=getattr(ctx, "replies", {}).get(plan.seed.id))


def expand_auto(techniques: list[str]) -> list[str]:
    """``prefill:auto`` as one technique per depth of ``AUTO_DEPTHS`` (others as they are, order kept)."""
    out: list[str] = []
    for t in techniques:
        out += [f"prefill:{d}" for d in AUTO_DEPTHS] if t == "prefill:auto" else [t]
    return list(dict.fromkeys(out))
