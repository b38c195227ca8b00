"""Decontamination: drop training rows that overlap held-out benchmark prompts (n-gram overlap or MinHash)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from datasketch import MinHashLSH

from breakfix.text import minhash, ngrams, normalise

T = TypeVar("T")


class HeldoutIndex:
    """An index of held-out prompts to test other texts against.

    A text overlaps the held-out set when it equals a held-out prompt after normalisation, shares an ``n``-gram
    of words with one, or has MinHash Jaccard >= ``threshold`` with one.

    Args:
        heldout: The held-out prompt texts.
        n: Word n-gram length for the overlap test.
        threshold: MinHash Jaccard threshold.
    """

    def __init__(self, heldout: Iterable[str], n: int = 10, threshold: float = 0.8, num_perm: int = 128) -> None:
        self.n, self.num_perm, self.threshold = n, num_perm, threshold
        self.hashes: dict[str, object] = {}
        self.exact: set[str] = set()
        self.grams: set[str] = set()
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        for i, text in enumerate(heldout):
            norm = normalise(text)
            if norm in self.exact:
                continue
            self.exact.add(norm)
            self.grams |= {g for g in ngrams(text, n) if len(g.split()) == n}
            m = minhash(text, num_perm)
            self.hashes[str(i)] = m
            self.lsh.insert(str(i), m)

    def reason(self, text: str) -> str | None:
        """How ``text`` overlaps the held-out set (``heldout_exact``, ``heldout_ngram``, ``heldout_minhash``), or
        None."""
        if normalise(text) in self.exact:
            return "heldout_exact"
        if ngrams(text, self.n) & self.grams:
            return "heldout_ngram"
        m = minhash(text, self.num_perm)
        # LSH returns candidates; keep only those whose estimated Jaccard really reaches the threshold
        if any(m.jaccard(self.hashes[k]) >= self.threshold for k in self.lsh.query(m)):
            return "heldout_minhash"
        return None

    def overlaps(self, text: str) -> bool:
        return self.reason(text) is not None

    def count(self, texts: Iterable[str]) -> int:
        return sum(self.overlaps(t) for t in texts)


def decontaminate(rows: Sequence[T], key: Callable[[T], str], index: HeldoutIndex) -> tuple[list[T], Counter[str]]:
    """Drop rows (dataset rows, seeds) whose ``key`` text overlaps the held-out index. Returns the kept rows and the
    dropped counts by reason."""
    kept: list[T] = []
    dropped: Counter[str] = Counter()
    for r in rows:
        why = index.reason(key(r))
        if why:
            dropped[why] += 1
        else:
            kept.append(r)
    return kept, dropped
