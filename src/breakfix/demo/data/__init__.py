"""The demo world's tables, read from the JSON files beside this module (data, not code).

``world.json``: harmful topics, request templates, jailbreak wrappers, openers, capability facts, look-alikes,
everyday tasks and response styles. ``heldout.json``: the passages, protected texts, source documents and injection
material of the held-out RAI-style suites. The demo model's cache key hashes the corpus generated from them, so an
edit here trains a new demo model.

JSON has no tuples: rows (a list of strings inside a list, such as ``(english, spanish)``) and keys written as
``"kind|language"`` (``CAP_TEMPLATES``, ``CAP_ANSWERS``) are turned back into tuples, as are the pairs of lists
in ``HARM`` and ``FILLERS``.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

_TUPLE_KEYS = ("CAP_TEMPLATES", "CAP_ANSWERS")
_TUPLE_VALUES = ("HARM", "FILLERS")  # category/language -> (verbs, objects) / (prefixes, suffixes)


def _rows(o: Any, inside_list: bool = False) -> Any:
    if isinstance(o, dict):
        return {k: _rows(v) for k, v in o.items()}
    if isinstance(o, list):
        if inside_list and all(not isinstance(x, (list, dict)) for x in o):
            return tuple(o)
        return [_rows(x, True) for x in o]
    return o


def _load(name: str) -> dict[str, Any]:
    raw = json.loads(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))
    out = {k: _rows(v) for k, v in raw.items()}
    for k in _TUPLE_KEYS:
        if k in out:
            out[k] = {tuple(key.split("|")): v for key, v in out[k].items()}
    for k in _TUPLE_VALUES:
        if k in out:
            out[k] = {key: tuple(v) for key, v in out[k].items()}
    return out


TABLES: dict[str, Any] = {**_load("world.json"), **_load("heldout.json")}
UNSAFE = "[UNSAFE DETAIL]"  # the demo model's marker of harmful detail (the demo judge looks for it)
# the tables both world.py and heldout.py read
WRAPPERS: dict[str, dict[str, dict[str, str]]] = TABLES["WRAPPERS"]  # split -> name -> language -> wrapper
OPENERS: dict[str, dict[str, list[tuple[str, str]]]] = TABLES["OPENERS"]  # split -> language -> (user, assistant)
