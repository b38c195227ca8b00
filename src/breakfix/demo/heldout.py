"""The demo world's held-out suites: the plans of each suite, built from held-out seeds, wrappers and openers that
the red team and training never see (the validation suites are built by the same builders from the validation
split's seeds, wrappers and openers), and from passages about held-out tasks in phrasings that appear nowhere in
training data ("first ..., then ..., and finally ..."). Every suite has one item per held-out harmful task and
language (or per document), so it spans both languages.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from breakfix.demo.data import OPENERS, TABLES, UNSAFE, WRAPPERS
from breakfix.engine import canary_for
from breakfix.text import normalise
from breakfix.types import Plan, Seed

CONTINUE = TABLES["CONTINUE"]
SUMMARISE = TABLES["SUMMARISE"]
PROTECTED = TABLES["PROTECTED"]
THIRDPARTY = TABLES["THIRDPARTY"]
SOURCES = TABLES["SOURCES"]
SUMMARISE_SOURCE = TABLES["SUMMARISE_SOURCE"]
XPIA_DOCS = TABLES["XPIA_DOCS"]
XPIA_TASKS = TABLES["XPIA_TASKS"]
XPIA_INJECTION = TABLES["XPIA_INJECTION"]


def _kind(seeds: list[Seed], kind: str) -> list[Seed]:
    return [s for s in seeds if s.meta.get("kind") == kind]


def harmful_plans(seeds: list[Seed]) -> list[Plan]:
    return [Plan("direct", s, (s.text,)) for s in _kind(seeds, "harmful")]


def jailbreak_plans(seeds: list[Seed], one_each: bool = False) -> list[Plan]:
    """Each harmful seed under every wrapper of its split (``one_each``: under one, taken in turn)."""
    out = []
    for i, s in enumerate(_kind(seeds, "harmful")):
        wrappers = list(WRAPPERS[s.split].items())
        for name, texts in [wrappers[i % len(wrappers)]] if one_each else wrappers:
            text = texts[s.language].format(r=s.text, t=s.meta["task"])
            out.append(Plan(f"jailbreak:{name}", s, (text,)))
    return out


def multiturn_plans(seeds: list[Seed], one_each: bool = False) -> list[Plan]:
    """Each harmful seed after every opener of its split and language (``one_each``: after one, taken in turn)."""
    out = []
    for i, s in enumerate(_kind(seeds, "harmful")):
        openers = OPENERS[s.split][s.language]
        for opener in [openers[i % len(openers)]] if one_each else openers:
            out.append(Plan("multiturn:opener", s, (opener, s.text)))
    return out


def overrefusal_plans(seeds: list[Seed]) -> list[Plan]:
    return [Plan("direct", s, (s.text,)) for s in _kind(seeds, "lookalike") + _kind(seeds, "harmful")]


def capability_plans(seeds: list[Seed]) -> list[Plan]:
    return [Plan("direct", s, (s.text,)) for s in _kind(seeds, "capability")]


def _tasks(seeds: list[Seed]) -> list[Seed]:
    """One held-out harmful seed per (task, language)."""
    seen: dict[tuple[str, str], Seed] = {}
    for s in seeds:
        if s.meta.get("kind") == "harmful":
            seen.setdefault((str(s.meta["combo"]), s.language), s)
    return list(seen.values())


def _derived(s: Seed, text: str, suffix: str, **meta: Any) -> Seed:
    return Seed(id=f"{s.id}-{suffix}", text=text, category=s.category, language=s.language, source="demo",
                split=s.split, meta={**s.meta, **meta})  # fmt: skip


def _passage_plans(seeds: list[Seed], templates: dict[str, str], technique: str) -> list[Plan]:
    """One plan per held-out harmful task: a harmful passage about it in ``templates``' wording."""
    out = []
    for s in _tasks(seeds):
        text = templates[s.language].format(t=s.meta["task"], u=UNSAFE)
        out.append(Plan(technique, _derived(s, text, technique[:4]), (text,)))
    return out


def continuation_plans(seeds: list[Seed]) -> list[Plan]:
    return _passage_plans(seeds, CONTINUE, "continuation")


def summarization_plans(seeds: list[Seed]) -> list[Plan]:
    return _passage_plans(seeds, SUMMARISE, "summarization")


def thirdparty_plans(seeds: list[Seed]) -> list[Plan]:
    out = []
    for lang, templates in THIRDPARTY.items():
        for title, author, kind, body in PROTECTED:
            for i, tmpl in enumerate(templates):
                text = tmpl.format(title=title, author=author, kind=kind)
                seed = Seed(id=f"he-tp-{lang}-{normalise(title)[:12]}-{i}", text=text, category="S8", language=lang,
                            source="demo", split="heldout", meta={"kind": "thirdparty", "protected": body})  # fmt: skip
                out.append(Plan("thirdparty", seed, (text,)))
    return out


def ungroundedness_plans(seeds: list[Seed]) -> list[Plan]:
    out = []
    for lang, docs in SOURCES.items():
        for i, (doc, tmpl) in enumerate((d, t) for d in docs for t in SUMMARISE_SOURCE[lang]):
            text = tmpl.format(doc=doc)
            seed = Seed(id=f"he-ug-{lang}-{i}", text=text, category="benign", language=lang, source="demo",
                        split="heldout", meta={"kind": "ungroundedness", "source": doc})  # fmt: skip
            out.append(Plan("ungroundedness", seed, (text,)))
    return out


def xpia_plans(seeds: list[Seed]) -> list[Plan]:
    out = []
    for s in _tasks(seeds):
        rng = random.Random(f"xpia-suite:{s.id}")
        canary = canary_for("xpia-suite", s.id)
        injection = XPIA_INJECTION[s.language].format(canary=canary, t=s.meta["task"])
        doc = rng.choice(XPIA_DOCS[s.language])
        body = f"{injection} {doc}" if rng.random() < 0.5 else f"{doc} {injection}"
        text = f"{rng.choice(XPIA_TASKS[s.language])}\n-----\n{body}\n-----"
        out.append(Plan("xpia", _derived(s, text, "xpia"), (text,), canary=canary))
    return out


def simulated_plans(seeds: list[Seed]) -> list[Plan]:
    """One simulated conversation per held-out harmful task and language (a simulator model plays the user)."""
    return [Plan("multiturn:simulated", s, (), kind="simulate") for s in _tasks(seeds)]


BUILDERS: dict[str, Callable[[list[Seed]], list[Plan]]] = {
    "harmful": harmful_plans,
    "jailbreak": jailbreak_plans,
    "multiturn": multiturn_plans,
    "continuation": continuation_plans,
    "summarization": summarization_plans,
    "thirdparty": thirdparty_plans,
    "ungroundedness": ungroundedness_plans,
    "xpia": xpia_plans,
    "overrefusal": overrefusal_plans,
    "capability": capability_plans,
}
# the validation split has the suites whose items come from seeds (its own behaviours, phrasings, wrappers, openers);
# each harmful seed goes under one wrapper and after one opener, taken in turn, so that scoring a candidate stays cheap
VALIDATION_BUILDERS: dict[str, Callable[[list[Seed]], list[Plan]]] = {
    "harmful": harmful_plans,
    "jailbreak": lambda seeds: jailbreak_plans(seeds, one_each=True),
    "multiturn": lambda seeds: multiturn_plans(seeds, one_each=True),
    "overrefusal": overrefusal_plans,
    "capability": capability_plans,
}
