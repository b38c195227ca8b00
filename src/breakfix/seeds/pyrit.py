"""PyRIT seed-prompt YAML (``.prompt``): ``harm_categories`` and ``prompts`` (or ``seeds``), each with a ``value``,
and optionally its own ``harm_categories`` and ``language``. PyRIT's category names are mapped to the MLCommons codes
where one fits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from breakfix.errors import BreakfixError
from breakfix.types import Seed, content_key

__all__ = ["PYRIT_CATEGORIES", "load_pyrit_seeds"]

PYRIT_CATEGORIES = {
    "violence": "S1", "violent": "S1", "illegal": "S2", "crime": "S2", "scams": "S2", "fraud": "S2",
    "sexual": "S12", "hate": "S10", "harassment": "S10", "bullying": "S10", "self-harm": "S11",
    "self_harm": "S11", "suicide": "S11", "privacy": "S7", "leakage": "S7", "malware": "S14", "cyber": "S14",
    "weapons": "S9", "explosions": "S9", "cbrn": "S9", "elections": "S13", "defamation": "S5",
    "intellectual property": "S8", "copyright": "S8",
    # the harm labels of PyRIT's AdvBench (the taxonomy of arXiv:2407.01294): specific ones first, then areas
    "loss of life": "S1", "bodily injury": "S1", "property damage": "S1", "violence/armed conflict": "S1",
    "critical infrastructure damage": "S9", "privacy loss": "S7", "confidentiality loss": "S7",
    "impersonation/identity theft": "S2", "financial/earnings loss": "S2", "ip/copyright loss": "S8",
    "defamation/libel/slander": "S5", "harassment/abuse/intimidation": "S10", "discrimination": "S10",
    "personal health deterioration": "S11", "information degradation": "S13", "institutional trust loss": "S13",
    "business operations/infrastructure damage": "S14", "cheating/plagiarism": "S2", "coercion/manipulation": "S2",
    "physical": "S1", "psychological": "S11", "financial and business": "S2", "political and economic": "S13",
    "societal and cultural": "S10", "human rights and civil liberties": "S7", "autonomy": "S2",
    "reputational": "S5", "environmental": "S1", "misinformation": "S13",
}  # fmt: skip
_SPECIFIC = [
    k
    for k in PYRIT_CATEGORIES
    if "/" in k
    or " loss" in k
    or " damage" in k
    or k
    in ("loss of life", "bodily injury", "discrimination", "personal health deterioration", "information degradation")
]
# descriptions that mark a PyRIT file as something other than harmful requests
_BENIGN_WORDS = ("benign", "normal instructions", "totally normal")
_JAILBREAK_WORDS = ("jailbreak", "comply with harmful", "acceptance response", "make models comply")


def _category(values: Any, default: str) -> str:
    if isinstance(values, str):
        values = [values]
    keys = [str(v).strip().lower() for v in values or []]
    for key in sorted(keys, key=lambda k: k not in _SPECIFIC):  # a specific label before a broad area
        if key in PYRIT_CATEGORIES:
            return PYRIT_CATEGORIES[key]
    for v in values or []:
        key = str(v).strip().lower()
        if key in PYRIT_CATEGORIES:
            return PYRIT_CATEGORIES[key]
        if key.upper().startswith("S") and key[1:].isdigit():
            return key.upper()
    return str(values[0]).strip().lower() if values else default


def _labels(values: Any) -> str:
    return values if isinstance(values, str) else ",".join(map(str, values or []))


def load_pyrit_seeds(path: str | Path, default_category: str = "S2", language: str = "en") -> list[Seed]:
    """Read a PyRIT seed-prompt YAML file into seeds."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise BreakfixError(str(p), None, f"cannot read ({e.__class__.__name__})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise BreakfixError(str(p), f"line {mark.line + 1}" if mark else None, "invalid YAML") from None
    if not isinstance(data, dict):
        raise BreakfixError(str(p), None, "a PyRIT seed file is a YAML mapping")
    if isinstance(data.get("value"), str) and "parameters" in data:
        raise BreakfixError(str(p), None, "is a PyRIT jailbreak template, not seeds: list it under files.templates "
                            "(or redteam.template_paths)")  # fmt: skip
    items = data.get("prompts", data.get("seeds"))
    if not isinstance(items, list) or not items:
        raise BreakfixError(str(p), "prompts", "missing or not a non-empty list")
    file_cat = _category(data.get("harm_categories"), default_category)
    seeds = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("value"), str) or not item["value"].strip():
            raise BreakfixError(str(p), f"prompts[{i}].value", "each prompt needs a non-empty string value")
        if item.get("data_type", data.get("data_type", "text")) != "text":
            continue  # images, audio: not for text models
        cat = _category(item.get("harm_categories"), file_cat) if item.get("harm_categories") else file_cat
        lang = str(item.get("language") or data.get("language") or language)[:3].lower()
        text = item["value"].strip()
        about = f"{item.get('description') or data.get('description') or ''} {data.get('dataset_name') or ''}"
        about = about.lower().replace("_", " ")
        kind = "jailbreak" if any(w in about for w in _JAILBREAK_WORDS) else None
        if kind is None and any(w in about for w in _BENIGN_WORDS):
            cat, kind = "benign", "benign"
        seeds.append(
            Seed(
                id=f"pyrit-{content_key(p.name, text)[:12]}",
                text=text,
                category=cat,
                language=lang,
                source=f"pyrit:{data.get('dataset_name') or p.stem}",
                meta={
                    "source_category": _labels(item.get("harm_categories") or data.get("harm_categories")),
                    **({"kind": kind} if kind else {}),
                },
            )  # fmt: skip
        )
    return seeds
