"""Reading JSONL with one-line errors that name the file and the line."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from breakfix.errors import BreakfixError

DEFAULT_MAX_LINE = 16 * 1024 * 1024


def max_line_chars() -> int:
    """The longest JSONL line read, in characters: ``BREAKFIX_MAX_LINE`` (default 16 Mi)."""
    value = os.environ.get("BREAKFIX_MAX_LINE", str(DEFAULT_MAX_LINE))
    if not value.isdigit() or int(value) < 1:
        raise BreakfixError("BREAKFIX_MAX_LINE", None, f"must be a positive number of characters, not {value!r}")
    return int(value)


def iter_jsonl(path: str | Path, what: str = "dataset") -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of ``path``.

    Raises ``BreakfixError`` when the file is missing or not UTF-8, or a line is not a JSON object.
    """
    p = Path(path)
    if not p.is_file():
        raise BreakfixError(str(p), None, f"{what} file not found")
    limit = max_line_chars()
    try:
        with open(p, encoding="utf-8") as f:
            n = 0
            while line := f.readline(limit + 1):
                n += 1
                if len(line) > limit:  # read at most limit + 1 characters: a giant line never fills memory
                    raise BreakfixError(str(p), f"line {n}", f"longer than {limit} characters (BREAKFIX_MAX_LINE)")
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise BreakfixError(str(p), f"line {n}", f"invalid JSON ({e.msg})") from None
                if not isinstance(obj, dict):
                    raise BreakfixError(str(p), f"line {n}", "each row must be a JSON object")
                yield n, obj
    except UnicodeDecodeError:
        raise BreakfixError(str(p), None, "not UTF-8 text") from None
