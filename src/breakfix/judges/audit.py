"""Audit a judge against human labels: accuracy, precision, recall, F1 and Cohen's kappa, with confusion matrices.

Labelled files are JSONL or CSV with ``prompt``, ``response`` and ``label`` (optionally ``language`` and
``category``). Labels are either XSTest's refusal classes (``full_refusal``, ``partial_refusal``, ``compliance``; the
XSTest annotation names ``1_full_compliance``, ``2_full_refusal``, ``3_partial_refusal`` are read too) or harm labels
(``harmful`` / ``unharmful``, also ``unsafe`` / ``safe``). Refusal labels are scored three ways and as refusal vs
compliance (a partial refusal counts as a refusal); harm labels as harmful vs not.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from breakfix.errors import BreakfixError
from breakfix.metrics import classification_scores, cohen_kappa
from breakfix.seeds.jsonl import iter_jsonl
from breakfix.types import Seed, Verdict

SHIPPED = Path(__file__).parent / "data" / "refusal_audit.jsonl"
REFUSAL_CLASSES = ["full_refusal", "partial_refusal", "compliance"]
HARM_CLASSES = ["harmful", "unharmful"]
ALIASES = {
    "full_refusal": "full_refusal", "refusal": "full_refusal", "full refusal": "full_refusal",
    "2_full_refusal": "full_refusal", "partial_refusal": "partial_refusal", "partial refusal": "partial_refusal",
    "partial": "partial_refusal", "3_partial_refusal": "partial_refusal", "compliance": "compliance",
    "full_compliance": "compliance", "full compliance": "compliance", "1_full_compliance": "compliance",
    "harmful": "harmful", "unsafe": "harmful", "unharmful": "unharmful", "safe": "unharmful", "harmless": "unharmful",
}  # fmt: skip


def load_labelled(path: str | Path) -> list[dict[str, str]]:
    """Rows of a labelled file (JSONL or CSV), labels normalised. ``BreakfixError`` names the file, row and field."""
    p = Path(path)
    if not p.is_file():
        raise BreakfixError(str(p), None, "labelled file not found")
    try:
        if p.suffix == ".csv":
            with open(p, encoding="utf-8", newline="") as f:
                raw = list(csv.DictReader(f))
        else:
            raw = [obj for _, obj in iter_jsonl(p, "labelled")]
    except UnicodeDecodeError:
        raise BreakfixError(str(p), None, "not UTF-8 text") from None
    rows = []
    for n, r in enumerate(raw, 1):
        for key in ("prompt", "response", "label"):
            if not isinstance(r.get(key), str):
                raise BreakfixError(str(p), f"row {n}: {key}", "missing or not a string")
        label = ALIASES.get(r["label"].strip().lower())
        if label is None:
            raise BreakfixError(str(p), f"row {n}: label", f"unknown label {r['label']!r}; use {', '.join(ALIASES)}")
        rows.append({**{k: str(v) for k, v in r.items() if v is not None}, "label": label})
    if not rows:
        raise BreakfixError(str(p), None, "no labelled rows")
    kinds = {r["label"] in HARM_CLASSES for r in rows}
    if len(kinds) > 1:
        raise BreakfixError(str(p), "label", "mixes refusal labels and harm labels; audit them in separate files")
    return rows


def predicted(v: Verdict, task: str) -> str:
    """The class a verdict predicts for ``task`` (``refusal`` or ``harm``)."""
    if task == "harm":
        return "harmful" if v.harmful else "unharmful"
    if v.label == "partial_refusal":
        return "partial_refusal"
    return "full_refusal" if v.refusal else "compliance"


def audit(judge: Any, rows: Sequence[dict[str, str]]) -> dict[str, Any]:
    """Score ``judge`` on labelled ``rows`` (see :func:`load_labelled`)."""
    task = "harm" if rows[0]["label"] in HARM_CLASSES else "refusal"
    items = [
        (
            Seed(id=r.get("id", str(i)), text=r["prompt"], category=r.get("category") or "S2",
                 language=r.get("language") or "en"),
            [{"role": "user", "content": r["prompt"]}],
            r["response"],
        )
        for i, r in enumerate(rows)
    ]  # fmt: skip
    verdicts = judge.judge(items)
    gold = [r["label"] for r in rows]
    pred = [predicted(v, task) for v in verdicts]
    out: dict[str, Any] = {"judge": judge.id, "task": task, "n": len(rows)}
    if task == "refusal":
        out["three_class"] = classification_scores(gold, pred, REFUSAL_CLASSES)

        def binary(xs: list[str]) -> list[str]:
            return ["compliance" if x == "compliance" else "refusal" for x in xs]

        out["binary"] = classification_scores(binary(gold), binary(pred), ["refusal", "compliance"])
        main = out["three_class"]
    else:
        out["binary"] = classification_scores(gold, pred, HARM_CLASSES)
        main = out["binary"]
    out["accuracy"], out["kappa"] = main["accuracy"], main["kappa"]
    langs: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        langs[r.get("language") or "en"].append(i)
    labels = REFUSAL_CLASSES if task == "refusal" else HARM_CLASSES
    out["by_language"] = {
        lang: {
            "n": len(idx),
            "accuracy": sum(gold[i] == pred[i] for i in idx) / len(idx),
            "kappa": cohen_kappa([gold[i] for i in idx], [pred[i] for i in idx], labels),
        }
        for lang, idx in sorted(langs.items())
    }
    out["errors"] = [
        {"id": rows[i].get("id", str(i)), "label": gold[i], "predicted": pred[i], "response": rows[i]["response"][:300]}
        for i in range(len(rows))
        if gold[i] != pred[i]
    ][:50]
    return out


def shipped_rows() -> list[dict[str, str]]:
    """The labelled refusal set that ships with breakfix."""
    return load_labelled(SHIPPED)


def write_json(result: dict[str, Any], path: str | Path) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(p)
