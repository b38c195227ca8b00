"""Text normalisation and shingling shared by dedup and decontamination."""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datasketch import MinHash

_WORD = re.compile(r"\w+", re.UNICODE)


def normalise(text: str) -> str:
    """Lower-case, strip accents and punctuation, collapse spaces."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(_WORD.findall(text))


def ngrams(text: str, n: int) -> set[str]:
    words = normalise(text).split()
    if len(words) < n:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def minhash(text: str, num_perm: int = 128, shingle: int = 3) -> MinHash:
    """The MinHash of ``text``'s word ``shingle``-grams."""
    from datasketch import MinHash  # datasketch imports scipy (0.7 s): only dedup and decontamination need it

    m = MinHash(num_perm=num_perm, seed=1)
    for g in ngrams(text, shingle):
        m.update(g.encode("utf-8"))
    return m


def prompt_text(row: dict) -> str:
    """The user-side text of a chat row (messages) or an SFT / DPO row (prompt)."""
    msgs = row.get("prompt") if "prompt" in row else row.get("messages", [])
    if isinstance(msgs, str):
        return msgs
    return "\n".join(m["content"] for m in msgs if m["role"] == "user")
