"""The built-in techniques, registered by name (what configs, the CLI and reports use):

- ``direct``: the seed as it is.
- ``template:<name>``: a jailbreak template (``templates.TEMPLATES``, or ``pyrit/<stem>`` from PyRIT YAML).
- ``converter:<chain>``: a converter chain such as ``leetspeak``, ``caesar(5)+zero_width`` or ``translate(fr)``.
- ``escalation``: scripted three-turn escalation.
- ``crescendo`` and ``pair``: attacker-model multi-turn attacks (need ``redteam.attacker``).
- ``xpia:<task>``: the seed injected into a document for ``summarize``, ``translate`` or ``qa``, with a canary.
- ``simulate``: a simulator model plays the user (the simulated multi-turn benchmark; not a red-team technique).

A new technique is one class in one file: subclass :class:`breakfix.engine.Technique` and decorate it with
``@breakfix.registry.technique(name)``.
"""

from __future__ import annotations

import random
from typing import Any

from breakfix.attacks import converters, multiturn, templates, xpia
from breakfix.engine import AttackContext, Need, Outcome, Runner, Technique, canary_for
from breakfix.registry import technique
from breakfix.types import Plan, Seed


def _id(backend: object) -> str | None:
    return getattr(backend, "id", None)


@technique("direct")
class Direct(Technique):
    """The seed as it is."""

    def plan(self, seed: Seed, technique: str, arg: str, seed_value: int) -> Plan:
        return Plan(technique, seed, (seed.text,), seed_value=seed_value)


@technique("escalation")
class Escalation(Technique):
    """Scripted three-turn escalation: a benign opener, a closer request, then the seed."""

    def plan(self, seed: Seed, technique: str, arg: str, seed_value: int) -> Plan:
        return Plan(technique, seed, tuple(multiturn.escalation_turns(seed.text, seed.language)), seed_value=seed_value)


@technique("opener")
class Opener(Technique):
    """A registered opening turn (a jailbreak preamble such as PyRIT's skeleton key), then the seed
    (``opener:<name>``; a world with openers registers its red-team split)."""

    takes_arg = True

    def check(self, name: str, arg: str) -> None:
        super().check(name, arg)
        if arg not in multiturn.OPENERS:
            known = ", ".join(sorted(multiturn.OPENERS)) or "none registered"
            raise ValueError(f"unknown opener {arg!r}; known: {known}")

    def plan(self, seed: Seed, technique: str, arg: str, seed_value: int) -> Plan:
        return Plan(technique, seed, (multiturn.OPENERS[arg], seed.text), seed_value=seed_value)

    def examples(self, name: str) -> list[str]:
        return []


@technique("template")
class Template(Technique):
    """A jailbreak template wrapped around the seed (``template:<name>``; PyRIT YAML as ``template:pyrit/<stem>``)."""

    takes_arg = True

    def check(self, name: str, arg: str) -> None:
        super().check(name, arg)
        if arg not in templates.TEMPLATES and not arg.startswith("pyrit/"):
            raise ValueError(f"unknown template {arg!r}; known: {', '.join(sorted(templates.TEMPLATES))}")

    def plan(self, seed: Seed, technique: str, arg: str, seed_value: int) -> Plan:
        return Plan(technique, seed, (templates.render(arg, seed.text, seed.language),), seed_value=seed_value)

    def examples(self, name: str) -> list[str]:
        return [f"{name}:{t}" for t in templates.TEMPLATES if not t.startswith("pyrit/")]


@technique("converter")
class Converter(Technique):
    """A converter chain applied to the seed (``converter:leetspeak``, ``converter:caesar(5)+zero_width``); chains
    with an LLM step (``translate``, ``tense``, ``paraphrase``) need ``redteam.converter_model``."""

    takes_arg = True

    def check(self, name: str, arg: str) -> None:
        super().check(name, arg)
        converters.parse_chain(arg)

    def needs(self, arg: str) -> set[Need]:
        return {"converter_model"} if converters.needs_llm(arg) else set()

    def plan(self, seed: Seed, technique: str, arg: str, seed_value: int) -> Plan:
        if converters.needs_llm(arg):
            return Plan(technique, seed, (), kind="converter", seed_value=seed_value)
        return Plan(technique, seed, (converters.apply_chain(seed.text, arg, seed=f"{seed_value}:{seed.id}"),))

    def examples(self, name: str) -> list[str]:
        return [f"{name}:{c}" for c in converters.CONVERTERS]

    async def run(self, plan: Plan, runner: Runner) -> Outcome:
        chain = plan.technique.partition(":")[2]
        text = await converters.apply_chain_async(
            plan.seed.text, chain, f"{plan.seed_value}:{plan.seed.id}", runner.converter
        )
        return await runner.converse((text,)), None, {}

    def key_extra(self, plan: Plan, ctx: AttackContext) -> list[Any]:
        return [plan.seed.text, plan.seed_value, _id(ctx.converter_model), ctx.attacker_gen.to_dict()]


@technique("xpia")
class Xpia(Technique):
    """Cross-prompt injection: the seed injected into a document for a task (``xpia:summarize``, ``qa``,
    ``translate``), with a canary that decides the verdict."""

    takes_arg = True

    def check(self, name: str, arg: str) -> None:
        super().check(name, arg)
        if arg not in xpia.TASKS:
            raise ValueError(f"unknown XPIA task {arg!r}; known: {', '.join(xpia.TASKS)}")

    def plan(self, seed: Seed, technique: str, arg: str, seed_value: int) -> Plan:
        canary = canary_for(seed.id, technique, seed_value)
        rng = random.Random(f"{seed_value}:{seed.id}:{technique}")
        turn = xpia.xpia_prompt(arg, seed.text, seed.language, canary, rng)
        return Plan(technique, seed, (turn,), canary=canary, seed_value=seed_value)

    def examples(self, name: str) -> list[str]:
        return [f"{name}:{t}" for t in xpia.TASKS]


class _Adaptive(Technique):
    """An attacker-model technique: its plans have no turns until it runs ``strategy`` with the run's attacker
    model, which plays the attacker (or the user) for a budget of turns."""

    strategy: Any = None  # multiturn.crescendo, multiturn.pair or multiturn.simulate

    def needs(self, arg: str) -> set[Need]:
        return {"attacker"}

    def plan(self, seed: Seed, technique: str, arg: str, seed_value: int) -> Plan:
        return Plan(technique, seed, (), kind=technique.partition(":")[0], seed_value=seed_value)

    def examples(self, name: str) -> list[str]:
        return []

    def budget(self, ctx: AttackContext) -> list[Any]:
        """The strategy's budget arguments (turns, backtracks, iterations, ...), also part of the attempt id."""
        raise NotImplementedError

    async def run(self, plan: Plan, runner: Runner) -> Outcome:
        if runner.attacker is None:
            raise ValueError(f"{plan.kind} needs an attacker model (redteam.attacker or benchmarks.simulator)")
        ctx = runner.ctx
        out = await type(self).strategy(
            plan.seed, runner.target, runner.attacker, runner.score, ctx.gen, ctx.attacker_gen, *self.budget(ctx)
        )
        return out.transcript, out.verdict, out.info

    def key_extra(self, plan: Plan, ctx: AttackContext) -> list[Any]:
        return [plan.seed.text, _id(ctx.attacker), ctx.attacker_gen.to_dict(), getattr(ctx.judge, "id", "?")] + [
            *self.budget(ctx)
        ]


@technique("crescendo")
class Crescendo(_Adaptive):
    """Crescendo: an attacker model escalates over several turns, backtracking on refusals."""

    strategy = multiturn.crescendo

    def budget(self, ctx: AttackContext) -> list[Any]:
        return [ctx.crescendo_turns, ctx.crescendo_backtracks]


@technique("pair")
class Pair(_Adaptive):
    """PAIR: an attacker model refines a single-turn jailbreak from the target's replies and the judge's score."""

    strategy = multiturn.pair

    def budget(self, ctx: AttackContext) -> list[Any]:
        return [ctx.pair_iterations, ctx.pair_streams]

    def key_extra(self, plan: Plan, ctx: AttackContext) -> list[Any]:
        key = super().key_extra(plan, ctx)
        return key if ctx.pair_streams > 1 else key[:-1]  # one stream: the key of attempts stored before streams


@technique("simulate", hidden=True)
class Simulate(_Adaptive):
    """A simulator model plays the user for several turns (the simulated multi-turn benchmark)."""

    strategy = multiturn.simulate

    def budget(self, ctx: AttackContext) -> list[Any]:
        return [ctx.simulator_turns]
