"""Capability sets: multiple-choice items (scored by log-likelihood, as lm-evaluation-harness does) and short-answer
items (exact match), from the formats these sets are published in.

- ``mc:<file or hub id>``: rows with ``question``, ``choices`` and ``answer``. ``choices`` is a list (MMLU:
  ``cais/mmlu``) or ``{"text": [...], "label": [...]}`` (ARC: ``allenai/ai2_arc``, with ``answerKey``); ``answer``
  is an index, a label letter or the right choice's text.
- ``evals:<file>``: an openai/evals ``samples.jsonl`` (``input`` messages, ``ideal``), as the ``evals`` wheel ships
  them (``evals/registry/data/<set>/samples.jsonl``). Options written as ``a) ...`` lines, a comma-separated list
  that holds the ideal answer, or "Answer Yes or No" (Y or N, True or False) make a multiple-choice item; anything
  else is a short-answer item.
- ``qa:<file>``: rows with ``question`` and ``answer`` (short answer, exact match).
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

from breakfix import registry
from breakfix.errors import BreakfixError
from breakfix.seeds.public import _rows
from breakfix.types import Plan, Seed, content_key

_BINARY = re.compile(r"\b(Yes|Y|True)\s+or\s+(No|N|False)\b", re.IGNORECASE)
_OPTION = re.compile(r"^\s*\(?([A-Ja-j])[).:]\s+(.+?)\s*$")


def source_name(source: str) -> str:
    """A capability file's set name (its folder, as the evals wheel lays them out, else its stem): not the whole
    path, so that ids (and splits) do not move with the data's directory."""
    return Path(source).parent.name or Path(source).stem


def _item(source: str, n: int, text: str, language: str, **meta: Any) -> Seed:
    name = source_name(source)
    return Seed(id=f"cap-{content_key(name, text)[:12]}", text=text, category="benign", language=language,
                source=f"capability:{name}",
                meta={"kind": "capability", "row": n, **meta})  # fmt: skip


def _answer_index(answer: Any, choices: list[str], labels: list[str], where: str) -> int:
    if isinstance(answer, int) or (isinstance(answer, str) and answer.strip().isdigit()):
        i = int(answer)
    elif isinstance(answer, str) and answer.strip() in labels:
        i = labels.index(answer.strip())
    elif isinstance(answer, str) and answer.strip() in choices:
        i = choices.index(answer.strip())
    else:
        raise BreakfixError(where, "answer", f"{answer!r} is not an index, a label or one of the choices")
    if not 0 <= i < len(choices):
        raise BreakfixError(where, "answer", f"index {i} is out of range for {len(choices)} choices")
    return i


def load_mc(source: str, split: str | None = None) -> list[Seed]:
    """Multiple-choice rows (MMLU and ARC layouts, or the user's JSONL/CSV)."""
    out = []
    for n, r in enumerate(_rows(source, "multiple-choice", split or "test"), 1):
        where = f"{source} row {n}"
        question = r.get("question")
        choices = r.get("choices")
        if not isinstance(question, str) or not question.strip():
            raise BreakfixError(where, "question", "missing or empty")
        labels: list[str] = []
        if isinstance(choices, dict):
            labels = [str(x) for x in choices.get("label") or []]
            choices = choices.get("text")
        if isinstance(choices, str):  # a CSV cell: "a | b | c"
            choices = [c.strip() for c in choices.split("|")]
        if not isinstance(choices, list) or len(choices) < 2:
            raise BreakfixError(where, "choices", "needs a list of at least two choices")
        choices = [str(c) for c in choices]
        labels = labels or [chr(65 + i) for i in range(len(choices))]
        answer = _answer_index(r.get("answer", r.get("answerKey")), choices, labels, where)
        out.append(_item(source, n, question.strip(), str(r.get("language") or "en"), choices=choices, answer=answer,
                         expected=choices[answer]))  # fmt: skip
    return out


def load_evals(source: str, split: str | None = None) -> list[Seed]:
    """openai/evals samples: multiple choice where the prompt lists options, else short answer."""
    out = []
    for n, r in enumerate(_rows(source, "openai/evals samples", None), 1):
        where = f"{source} row {n}"
        msgs = r.get("input")
        ideal = r.get("ideal")
        if isinstance(msgs, str):
            msgs = [{"role": "user", "content": msgs}]
        if not isinstance(msgs, list) or not msgs or ideal is None:
            raise BreakfixError(where, "input", "an evals sample needs 'input' messages and 'ideal'")
        ideal = str(ideal[0] if isinstance(ideal, list) else ideal).strip()
        text = "\n\n".join(str(m.get("content", "")) for m in msgs if isinstance(m, dict)).strip()
        last = str(msgs[-1].get("content", "")) if isinstance(msgs[-1], dict) else ""
        options = [m for line in last.splitlines() if (m := _OPTION.match(line))]
        # a list after the instructions: "... Do not explain. Russia, Canada, United States, Brazil"
        tail = re.split(r"(?<=[.:?!])\s+", last.strip())[-1]
        listed = [x.strip() for x in tail.split(",")] if "," in tail and "\n" not in tail else []
        binary = _BINARY.search(text)
        if len(options) >= 2:
            labels = [m.group(1).lower() for m in options]
            choices = [m.group(2) for m in options]
            key = _OPTION.match(ideal)
            label = key.group(1).lower() if key else ideal.strip("() ").lower()  # "b) ...", or a bare "B" (quartz)
            answer = labels.index(label) if label in labels else (choices.index(ideal) if ideal in choices else -1)
            if answer < 0:
                raise BreakfixError(where, "ideal", f"{ideal!r} names none of the options")
            stem = "\n".join(line for line in text.splitlines() if not _OPTION.match(line)).strip()
            out.append(_item(source, n, stem, "en", choices=choices, answer=answer, expected=choices[answer]))
        elif ideal in listed and len(listed) >= 2:
            # the list is shuffled, seeded by the item, in the prompt and the choices alike: sets that always list
            # the answer first (compare-countries-area) would otherwise score a model that copies the first item
            shuffled = list(listed)
            random.Random(content_key(source_name(source), text)).shuffle(shuffled)
            text = text[: text.rindex(tail)] + ", ".join(shuffled) + text[text.rindex(tail) + len(tail) :]
            out.append(_item(source, n, text, "en", choices=shuffled, answer=shuffled.index(ideal), expected=ideal))
        elif binary and ideal.lower() in (binary.group(1).lower(), binary.group(2).lower()):
            # "Answer Yes or No", "Answer Y or N": two choices
            choices = [binary.group(1), binary.group(2)]
            answer = [c.lower() for c in choices].index(ideal.lower())
            out.append(_item(source, n, text, "en", choices=choices, answer=answer, expected=choices[answer]))
        else:
            out.append(_item(source, n, text, "en", expected=ideal))
    return out


def load_qa(source: str, split: str | None = None) -> list[Seed]:
    """Short-answer rows: ``question`` and ``answer``."""
    out = []
    for n, r in enumerate(_rows(source, "question-answer", split or "test"), 1):
        q, a = r.get("question"), r.get("answer")
        if not isinstance(q, str) or not q.strip() or a is None or not str(a).strip():
            raise BreakfixError(f"{source} row {n}", "question", "needs a question and an answer")
        out.append(_item(source, n, q.strip(), str(r.get("language") or "en"), expected=str(a).strip()))
    return out


_LOADERS = {
    "mc": (load_mc, "multiple choice (MMLU/ARC layouts or your JSONL/CSV): question, choices, answer; "
           "log-likelihood accuracy"),
    "evals": (load_evals, "an openai/evals samples.jsonl (the evals wheel ships them): options make multiple choice, "
              "else exact match"),
    "qa": (load_qa, "short answers (JSONL/CSV): question, answer; exact match in the reply"),
}  # fmt: skip
for _name, (_fn, _help) in _LOADERS.items():  # registry entries capability/<name>: listed by `breakfix plugins`
    registry.register("loader", f"capability/{_name}", _fn, help=_help)


def load_capability(spec: str) -> list[Seed]:
    """``<mc|evals|qa>:<file or hub id>[@split]``."""
    name, sep, rest = spec.partition(":")
    loaders = registry.loaders("capability")
    if not sep or name not in loaders or not rest:
        raise BreakfixError(spec, None, f"use <loader>:<file> with a capability loader of {', '.join(loaders)}")
    source, _, split = rest.partition("@")
    if split and Path(rest).exists():
        source, split = rest, ""
    seeds: list[Seed] = loaders[name].obj(source, split or None)
    if not seeds:
        raise BreakfixError(source, None, "no capability items")
    return seeds


def capability_plan(seed: Seed) -> Plan:
    """A multiple-choice item is scored by log-likelihood (the ``choice`` technique); a short-answer one is asked."""
    if "choices" in seed.meta:
        return Plan("choice", seed, (seed.text,), kind="choice")
    return Plan("direct", seed, (seed.text,))
