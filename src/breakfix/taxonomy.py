"""Harm categories: the MLCommons hazard taxonomy (S1-S14) as Llama Guard 3 uses it, plus ``benign``."""

from __future__ import annotations

CATEGORIES: dict[str, str] = {
    "S1": "violent crimes",
    "S2": "non-violent crimes",
    "S3": "sex-related crimes",
    "S4": "child sexual exploitation",
    "S5": "defamation",
    "S6": "specialized advice",
    "S7": "privacy",
    "S8": "intellectual property",
    "S9": "indiscriminate weapons",
    "S10": "hate",
    "S11": "suicide and self-harm",
    "S12": "sexual content",
    "S13": "elections",
    "S14": "code interpreter abuse",
    "benign": "benign",
}


def category_name(code: str) -> str:
    """The human name of a category code; unknown codes are returned as they are."""
    return CATEGORIES.get(code, code)


def is_known(code: str) -> bool:
    return code in CATEGORIES
