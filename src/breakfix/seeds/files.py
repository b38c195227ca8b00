"""Seed files: :func:`load_seeds`, the one dispatcher above the loaders (breakfix JSONL here, PyRIT seed-prompt YAML in
:mod:`breakfix.seeds.pyrit`, public datasets in :mod:`breakfix.seeds.public`), with one-line errors.

JSONL rows: ``{"text": str, "category"?: str, "language"?: str, "id"?: str}`` (``prompt`` or ``goal`` may stand
for ``text``, as in HarmBench and AdvBench exports). Categories are taxonomy codes (``S1``-``S14``) or ``benign``;
other names are kept as they are.
"""

from __future__ import annotations

from pathlib import Path

from breakfix.errors import BreakfixError
from breakfix.seeds.jsonl import iter_jsonl
from breakfix.seeds.public import load_public, seed_loaders
from breakfix.seeds.pyrit import load_pyrit_seeds
from breakfix.types import Seed


def load_seeds_jsonl(path: str | Path, default_category: str = "S2", language: str = "en") -> list[Seed]:
    """Read breakfix seed JSONL."""
    p = Path(path)
    seeds: list[Seed] = []
    for n, obj in iter_jsonl(p, "seed"):
        text = obj.get("text", obj.get("prompt", obj.get("goal")))
        if not isinstance(text, str) or not text.strip():
            raise BreakfixError(str(p), f"line {n}: text", "missing or empty")
        cat = obj.get("category", default_category)
        if not isinstance(cat, str) or not cat:
            raise BreakfixError(str(p), f"line {n}: category", "must be a non-empty string")
        seeds.append(
            Seed(
                id=str(obj.get("id") or f"{p.stem}-{n}"),
                text=text.strip(),
                category=cat,
                language=str(obj.get("language", language)),
                source=str(obj.get("source", p.name)),
            )
        )
    return seeds


def load_seeds(path: str | Path, default_category: str = "S2", language: str = "en") -> list[Seed]:
    """Read a seed file by its suffix (``.jsonl``, PyRIT ``.prompt`` / ``.yaml``), or a public dataset given as
    ``<loader>:<path or hub id>`` (see :mod:`breakfix.seeds.public`). Raises ``BreakfixError``."""
    if (str(path).split(":", 1)[0] in seed_loaders() and ":" in str(path)) or Path(path).suffix in (".csv", ".txt"):
        return load_public(str(path), role="any")
    p = Path(path)
    if not p.is_file():
        raise BreakfixError(str(p), None, "seed file not found")
    if p.suffix in (".prompt", ".yaml", ".yml"):
        seeds = load_pyrit_seeds(p, default_category, language)
    elif p.suffix in (".jsonl", ".json"):
        seeds = load_seeds_jsonl(p, default_category, language)
    else:
        raise BreakfixError(
            str(p), None, "unknown seed format (use .jsonl, PyRIT .prompt, or <loader>:<file> such as harmbench:x.csv)"
        )
    if not seeds:
        raise BreakfixError(str(p), None, "no text seeds in file")
    return seeds
