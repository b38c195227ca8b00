"""Mixing safety data with helpfulness data at a configured share, and capping per category and language."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from typing import Any


def cap_groups(rows: Sequence[dict[str, Any]], cap: int | None, seed: int = 0) -> list[dict[str, Any]]:
    """Keep at most ``cap`` rows per (category, language), chosen at random but reproducibly."""
    if not cap:
        return list(rows)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["meta"].get("category", ""), r["meta"].get("language", ""))].append(r)
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for key in sorted(groups):
        g = groups[key]
        out.extend(rng.sample(g, cap) if len(g) > cap else g)
    return out


def helpful_count(n_safety: int, share: float) -> int:
    """How many helpful rows make ``n_safety`` rows a ``share`` of the mix."""
    if not 0 < share <= 1:
        raise ValueError("safety share must be in (0, 1]")
    return round(n_safety * (1 - share) / share)


def mix(
    safety: Sequence[dict[str, Any]], helpful: Sequence[dict[str, Any]], share: float, seed: int = 0
) -> list[dict[str, Any]]:
    """Shuffle ``safety`` with enough ``helpful`` rows (cycled if too few) that safety is ``share`` of the mix."""
    want = helpful_count(len(safety), share)
    rng = random.Random(seed)
    pool = list(helpful)
    picked: list[dict[str, Any]] = []
    while pool and len(picked) < want:
        rng.shuffle(pool)
        picked.extend(pool[: want - len(picked)])
    rows = list(safety) + picked
    rng.shuffle(rows)
    return rows
