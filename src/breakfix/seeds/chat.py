"""Load chat-format JSONL (``{"messages": [...]}`` rows) with clear errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from breakfix.errors import BreakfixError

_ROLES = {"system", "user", "assistant"}


def load_chat_jsonl(path: str | Path, language: str = "en") -> list[dict[str, Any]]:
    """Read ``{"messages": [...], "meta"?: {...}}`` rows; each conversation must end with an assistant turn.

    Raises ``BreakfixError`` naming the file, the line and the reason on the first bad row.
    """
    p = Path(path)
    if not p.is_file():
        raise BreakfixError(str(p), None, "dataset file not found")
    rows: list[dict[str, Any]] = []
    try:
        with open(p, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise BreakfixError(str(p), f"line {n}", f"invalid JSON ({e.msg})") from None
                msgs = obj.get("messages") if isinstance(obj, dict) else None
                if not isinstance(msgs, list) or not msgs:
                    raise BreakfixError(str(p), f"line {n}: messages", "missing or not a non-empty list")
                for i, m in enumerate(msgs):
                    if not isinstance(m, dict) or m.get("role") not in _ROLES or not isinstance(m.get("content"), str):
                        raise BreakfixError(
                            str(p),
                            f"line {n}: messages[{i}]",
                            "each message needs a role (system/user/assistant) and string content",
                        )
                if msgs[-1]["role"] != "assistant":
                    raise BreakfixError(str(p), f"line {n}: messages", "last message must be the assistant's")
                meta = {"category": "benign", "language": language, "source": p.name, **(obj.get("meta") or {})}
                rows.append({"messages": msgs, "meta": meta})
    except UnicodeDecodeError:
        raise BreakfixError(str(p), None, "not UTF-8 text") from None
    if not rows:
        raise BreakfixError(str(p), None, "dataset is empty")
    return rows
