"""Load chat-format JSONL (``{"messages": [...]}`` rows) with clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from breakfix.errors import BreakfixError
from breakfix.seeds.jsonl import iter_jsonl

_ROLES = {"system", "user", "assistant"}


def load_chat_jsonl(path: str | Path, language: str = "en") -> list[dict[str, Any]]:
    """Read ``{"messages": [...], "meta"?: {...}}`` rows; each conversation must end with an assistant turn.

    Raises ``BreakfixError`` naming the file, the line and the reason on the first bad row.
    """
    p = Path(path)
    rows: list[dict[str, Any]] = []
    for n, obj in iter_jsonl(p):
        msgs = validate_chat(obj.get("messages"), str(p), f"line {n}")
        meta = {"category": "benign", "language": language, "source": p.name, **(obj.get("meta") or {})}
        rows.append({"messages": msgs, "meta": meta})
    if not rows:
        raise BreakfixError(str(p), None, "dataset is empty")
    return rows


def validate_chat(msgs: Any, source: str, where: str) -> list[dict[str, str]]:
    """``msgs`` as a chat that ends with an assistant turn; a ``BreakfixError`` naming ``source`` and ``where``
    otherwise. Extra message keys (tool calls, names) are dropped."""
    if not isinstance(msgs, list) or not msgs:
        raise BreakfixError(source, f"{where}: messages", "missing or not a non-empty list")
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in _ROLES or not isinstance(m.get("content"), str):
            raise BreakfixError(
                source,
                f"{where}: messages[{i}]",
                "each message needs a role (system/user/assistant) and string content",
            )
    if msgs[-1]["role"] != "assistant":
        raise BreakfixError(source, f"{where}: messages", "last message must be the assistant's")
    return [{"role": m["role"], "content": m["content"]} for m in msgs]
