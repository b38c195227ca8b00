"""Exact, then MinHash LSH near-duplicate removal (datasketch), within a round and against earlier rounds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from datasketch import MinHashLSH

from breakfix.text import minhash, normalise


def dedup(
    rows: Sequence[dict[str, Any]],
    key: Callable[[dict[str, Any]], str],
    threshold: float = 0.9,
    seen: Sequence[str] = (),
    num_perm: int = 128,
) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Drop rows whose ``key`` text duplicates (exactly or with MinHash Jaccard >= ``threshold``) an earlier row or
    a text in ``seen`` (earlier rounds). Returns the kept rows and the dropped counts by reason: ``exact`` /
    ``near`` (within these rows), ``exact_earlier_round`` / ``near_earlier_round`` (against ``seen``).

    Args:
        rows: Candidate rows, in priority order (earlier rows win).
        key: The text a row is compared by.
        threshold: Jaccard similarity over word 3-shingles at or above which rows are near-duplicates.
        seen: Texts already used (they are never dropped, only compared against).
        num_perm: MinHash permutations.
    """
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    hashes = {}
    exact: dict[str, str] = {}  # normalised text -> where it came from ("s": seen, "r": these rows)
    for i, text in enumerate(seen):
        norm = normalise(text)
        if norm not in exact:
            exact[norm] = "s"
            hashes[f"s{i}"] = minhash(text, num_perm)
            lsh.insert(f"s{i}", hashes[f"s{i}"])
    kept: list[dict[str, Any]] = []
    dropped: Counter[str] = Counter()
    for i, row in enumerate(rows):
        text = key(row)
        norm = normalise(text)
        if norm in exact:
            dropped["exact" if exact[norm] == "r" else "exact_earlier_round"] += 1
            continue
        m = minhash(text, num_perm)
        near = [k for k in lsh.query(m) if m.jaccard(hashes[k]) >= threshold]  # verify LSH candidates
        if near:
            dropped["near" if any(k.startswith("r") for k in near) else "near_earlier_round"] += 1
            continue
        exact[norm] = "r"
        hashes[f"r{i}"] = m
        lsh.insert(f"r{i}", m)
        kept.append(row)
    return kept, dropped
