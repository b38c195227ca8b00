"""Language augmentation: translate safety rows into under-represented languages with the translation converter.

A language in ``languages`` with fewer than ``min_rows`` safety rows is topped up with translations of rows from
the other languages (round-robin over categories, so the top-up keeps the category mix). The user turns of the
prompt, the chosen response and, for pairs, the rejected response are translated by the converter model;
``meta.language`` becomes the target language and ``meta.source`` records ``translated:<from>``.
"""

from __future__ import annotations

import asyncio
import copy
import random
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from breakfix import aio
from breakfix.backends.base import AsyncBackend, BackendError
from breakfix.backends.rewrite import translate
from breakfix.progress import task_progress
from breakfix.types import DPORow


def plan_augmentation(
    rows: Sequence[DPORow], languages: Sequence[str], min_rows: int, seed: int = 0
) -> list[tuple[int, str]]:
    """Which rows to translate into which language: ``(row index, target language)`` pairs."""
    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_lang[r["meta"].get("language", "en")].append(i)
    rng = random.Random(seed)
    plan: list[tuple[int, str]] = []
    for lang in languages:
        need = min_rows - len(by_lang.get(lang, []))
        if need <= 0:
            continue
        by_cat: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(rows):
            if r["meta"].get("language", "en") != lang and not r["meta"].get("source", "").startswith("translated"):
                by_cat[r["meta"].get("category", "")].append(i)
        pools = [rng.sample(v, len(v)) for _, v in sorted(by_cat.items())]
        k = 0
        while need > 0 and any(pools):
            pool = pools[k % len(pools)]
            if pool:
                plan.append((pool.pop(), lang))
                need -= 1
            k += 1
    return plan


async def _translate_row(row: DPORow, lang: str, llm: AsyncBackend, seed: int) -> DPORow:
    out = copy.deepcopy(row)
    for key in ("prompt", "messages"):
        for m in out.get(key, []) if isinstance(out.get(key), list) else []:
            if m["role"] == "user":
                m["content"] = await translate(m["content"], llm, lang)
    for key in ("completion", "chosen", "rejected"):
        for m in out.get(key, []):
            m["content"] = await translate(m["content"], llm, lang)
    out["meta"] = {**out["meta"], "language": lang, "source": f"translated:{row['meta'].get('language', 'en')}"}
    return out


async def atranslate_rows(
    rows: Sequence[DPORow], plan: Sequence[tuple[int, str]], llm: AsyncBackend
) -> tuple[list[DPORow], int]:
    """The translated rows of ``plan``, and how many translations failed (those rows are left out)."""

    with task_progress("translating for language balance", total=len(plan)) as bar:

        async def one(k: int, i: int, lang: str) -> DPORow | None:
            try:
                return await _translate_row(rows[i], lang, llm, k)
            except BackendError:
                return None
            finally:
                bar.advance()

        try:
            done = await asyncio.gather(*(one(k, i, lang) for k, (i, lang) in enumerate(plan)))
        finally:
            close = getattr(llm, "aclose", None)
            if close is not None:
                await close()
    kept = [r for r in done if r is not None]
    return kept, len(done) - len(kept)


def augment_languages(
    rows: Sequence[DPORow], languages: Sequence[str], min_rows: int, llm: AsyncBackend, seed: int = 0
) -> tuple[list[DPORow], dict[str, Any]]:  # the account: JSON for curation.json
    """``rows`` plus translations that bring each of ``languages`` to ``min_rows`` rows, and what was done."""

    plan = plan_augmentation(rows, languages, min_rows, seed)
    if not plan:
        return list(rows), {"translated": 0, "failed": 0}
    added, failed = aio.run(atranslate_rows(rows, plan, llm))
    by_lang: dict[str, int] = defaultdict(int)
    for r in added:
        by_lang[r["meta"]["language"]] += 1
    return list(rows) + added, {"translated": len(added), "failed": failed, "by_language": dict(by_lang)}
