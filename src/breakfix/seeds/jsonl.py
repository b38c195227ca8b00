"""Reading JSONL with one-line errors that name the file and the line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from breakfix.errors import BreakfixError


def iter_jsonl(path: str | Path, what: str = "dataset") -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of ``path``.

    Raises ``BreakfixError`` when the file is missing or not UTF-8, or a line is not a JSON object.
    """
    p = Path(path)
    if not p.is_file():
        raise BreakfixError(str(p), None, f"{what} file not found")
    try:
        with open(p, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
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
