"""Mixing safety data with helpfulness data at a configured share, and capping per category and language."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from typing import TypeVar

from breakfix.types import DPORow, SFTRow

R = TypeVar("R", SFTRow, DPORow)  # the rows keep their kind


def cap_groups(rows: Sequence[R], cap: int | None, seed: int = 0) -> list[R]:
    """Keep at most ``cap`` rows per (category, language), chosen at random but reproducibly."""
    if not cap:
        return list(rows)
    groups: dict[tuple[str, str], list[R]] = defaultdict(list)
    for r in rows:
        groups[(r["meta"].get("category", ""), r["meta"].get("language", ""))].append(r)
    rng = random.Random(seed)
    out: list[R] = []
    for key in sorted(groups):
        g = groups[key]
        out.extend(rng.sample(g, cap) if len(g) > cap else g)
    return out


def helpful_count(n_safety: int, share: float) -> int:
    """How many helpful rows make ``n_safety`` rows a ``share`` of the mix."""
    if not 0 < share <= 1:
        raise ValueError("safety share must be in (0, 1]")
    return round(n_safety * (1 - share) / share)


def spread_sample(rows: Sequence[R], n: int, seed: int = 0) -> list[R]:
    """``n`` of ``rows``, taken in turn from each (category, language) group, so a smaller sample keeps the spread of
    harms and languages (seeded)."""
    if n >= len(rows):
        return list(rows)
    groups: dict[tuple[str, str], list[R]] = defaultdict(list)
    for r in rows:
        groups[(r["meta"].get("category", ""), r["meta"].get("language", ""))].append(r)
    rng = random.Random(seed)
    queues = [rng.sample(groups[k], len(groups[k])) for k in sorted(groups)]
    out: list[R] = []
    while len(out) < n:
        for q in queues:
            if q and len(out) < n:
                out.append(q.pop())
    return out


def bounded_safety(n_safety: int, n_helpful: int, share: float, max_repeats: float | None) -> int:
    """How many of ``n_safety`` safety rows the mix keeps: all of them, unless filling the rest at ``share`` would
    cycle the ``n_helpful`` helpful rows more than ``max_repeats`` times; then as many as keep the share with the
    helpful rows seen ``max_repeats`` times (at least one)."""
    if not n_safety or max_repeats is None or not n_helpful:
        return n_safety
    room = int(n_helpful * max_repeats)
    if helpful_count(n_safety, share) <= room:
        return n_safety
    return max(1, min(n_safety, int(room * share / (1 - share)))) if share < 1 else n_safety


def mix(
    safety: Sequence[SFTRow],
    helpful: Sequence[SFTRow],
    share: float,
    seed: int = 0,
    max_repeats: float | None = None,
) -> list[SFTRow]:
    """Shuffle ``safety`` with enough ``helpful`` rows (cycled if too few) that safety is ``share`` of the mix.

    With ``max_repeats``, the helpful rows are cycled at most that many times: when they cannot fill the mix, the
    safety rows are sampled down (spread over category and language) so the share still holds. A bounded share is
    kept by using less refusal data, never by repeating helpful data without end."""
    safety = spread_sample(safety, bounded_safety(len(safety), len(helpful), share, max_repeats), seed)
    want = helpful_count(len(safety), share)
    rng = random.Random(seed)
    pool = list(helpful)
    picked: list[SFTRow] = []
    while pool and len(picked) < want:
        rng.shuffle(pool)
        picked.extend(pool[: want - len(picked)])
    rows = list(safety) + picked
    rng.shuffle(rows)
    return rows
