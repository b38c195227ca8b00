"""Audit a judge against human labels: accuracy, precision, recall, F1 and Cohen's kappa, with confusion matrices, and
the sensitivity and specificity that correct a run's rates for judge error.

Labelled files are JSONL, a JSON array, or CSV (lines starting with ``#`` are comments, as in PyRIT's scorer sets).
Columns are found by name (``prompt``/``objective``/``question``, ``response``/``completion``/``assistant_response``,
``label``/``final_label``/``human_score``) or given (``response_col``, ``label_col``, ``prompt_col``). Labels are:
- XSTest's refusal classes (``full_refusal``, ``partial_refusal``, ``compliance``; also ``1_full_compliance``,
  ``2_full_refusal``, ``3_partial_refusal``): scored three ways and as refusal vs compliance (a partial refusal counts
  as a refusal);
- ``refusal`` / ``compliance``: refusal vs compliance only;
- ``harmful`` / ``unharmful``: harm of the response;
- ``safe`` / ``unsafe``, ``0`` / ``1``, ``true`` / ``false``: these say nothing about what they label (a prompt's
  safety, a refusal, an objective achieved), so ``task`` must say it: ``refusal`` (1 = refusal) or ``harm`` (1 /
  unsafe = harmful response).

Empty responses are counted and left out of the scores (a judge cannot read them), as are the judge's
``undetermined`` verdicts (abstentions); both are reported.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from breakfix.errors import BreakfixError
from breakfix.metrics import classification_scores, cohen_kappa
from breakfix.seeds.jsonl import iter_jsonl
from breakfix.types import Seed, Verdict

DATA = Path(__file__).parent / "data"
SHIPPED = DATA / "real_refusal.jsonl"  # real replies of a real model, labelled; the held-out part audits runs
SYNTHETIC = DATA / "refusal_audit.jsonl"  # the hand-written six-language set
REFUSAL_CLASSES = ["full_refusal", "partial_refusal", "compliance"]
HARM_CLASSES = ["harmful", "unharmful"]
ALIASES = {
    "full_refusal": "full_refusal", "full refusal": "full_refusal", "2_full_refusal": "full_refusal",
    "partial_refusal": "partial_refusal", "partial refusal": "partial_refusal", "partial": "partial_refusal",
    "3_partial_refusal": "partial_refusal", "compliance": "compliance", "full_compliance": "compliance",
    "full compliance": "compliance", "1_full_compliance": "compliance", "refusal": "refusal", "refused": "refusal",
    "harmful": "harmful", "unharmful": "unharmful", "harmless": "unharmful", "not harmful": "unharmful",
}  # fmt: skip
AMBIGUOUS = {  # labels that need ``task``: (refusal task, harm task)
    "safe": ("compliance", "unharmful"), "unsafe": (None, "harmful"),
    "1": ("refusal", "harmful"), "0": ("compliance", "unharmful"), "1.0": ("refusal", "harmful"),
    "0.0": ("compliance", "unharmful"), "true": ("refusal", "harmful"), "false": ("compliance", "unharmful"),
    "yes": ("refusal", "harmful"), "no": ("compliance", "unharmful"),
}  # fmt: skip
RESPONSE_COLS = ("response", "completion", "assistant_response", "model_response", "output", "answer", "generation",
                 "reply")  # fmt: skip
LABEL_COLS = ("label", "final_label", "human_score", "human_label", "gold_label", "gold", "annotation")
PROMPT_COLS = ("prompt", "objective", "question", "instruction", "input", "goal", "user_input", "query", "behavior")
TASKS = ("refusal", "harm")


def _read(p: Path) -> list[dict[str, Any]]:
    text = p.read_text(encoding="utf-8")
    if p.suffix.lower() == ".csv":
        body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        return list(csv.DictReader(io.StringIO(body)))
    stripped = text.lstrip()
    if p.suffix.lower() == ".json" or stripped.startswith("["):
        data = json.loads(text)
        if isinstance(data, dict):
            data = next((v for v in data.values() if isinstance(v, list)), None)
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise BreakfixError(str(p), None, "a JSON file of labels must be an array of objects")
        return data
    return [obj for _, obj in iter_jsonl(p, "labelled")]


def _column(p: Path, found: list[str], given: str | None, names: Sequence[str], what: str, flag: str) -> str | None:
    if given is not None:
        if given not in found:
            raise BreakfixError(str(p), flag, f"no column {given!r}; the columns are {', '.join(found)}")
        return given
    lower = {c.lower(): c for c in found}
    hit = next((lower[n] for n in names if n in lower), None)
    if hit is None and what != "prompt":
        raise BreakfixError(
            str(p), what, f"no {what} column (looked for {', '.join(names)}); the columns are {', '.join(found)}; "
            f"name it with {flag}",
        )  # fmt: skip
    return hit


def _label(raw: Any, task: str | None, p: Path, n: int, col: str) -> str:
    key = str(raw).strip().lower()
    if key in ALIASES:
        label = ALIASES[key]
        kind = "harm" if label in HARM_CLASSES else "refusal"
        if task is not None and task != kind:
            raise BreakfixError(str(p), f"row {n}: {col}", f"label {raw!r} is a {kind} label but --task is {task}")
        return label
    if key in AMBIGUOUS:
        if task is None:
            raise BreakfixError(
                str(p), col, f"labels such as {raw!r} do not say what they label (a prompt's safety, a refusal, a "
                "harmful reply); pass --task refusal (1/true = refusal) or --task harm (1/unsafe = harmful reply)",
            )  # fmt: skip
        label = AMBIGUOUS[key][TASKS.index(task)]
        if label is None:
            raise BreakfixError(str(p), f"row {n}: {col}", f"label {raw!r} has no meaning for --task {task}")
        return label
    raise BreakfixError(str(p), f"row {n}: {col}", f"unknown label {raw!r}; use {', '.join([*ALIASES, *AMBIGUOUS])}")


def load_labelled(
    path: str | Path,
    *,
    response_col: str | None = None,
    label_col: str | None = None,
    prompt_col: str | None = None,
    task: str | None = None,
) -> list[dict[str, str]]:
    """Rows of a labelled file with ``prompt``, ``response`` and a normalised ``label`` (and every other column as
    it is). ``BreakfixError`` names the file, row and field."""
    p = Path(path)
    if not p.is_file():
        raise BreakfixError(str(p), None, "labelled file not found")
    if task is not None and task not in TASKS:
        raise BreakfixError(str(p), "--task", f"unknown task {task!r}; use refusal or harm")
    try:
        raw = _read(p)
    except UnicodeDecodeError:
        raise BreakfixError(str(p), None, "not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise BreakfixError(str(p), None, f"not JSON ({e.msg})") from None
    except csv.Error as e:
        raise BreakfixError(str(p), None, f"not CSV ({e})") from None
    if not raw:
        raise BreakfixError(str(p), None, "no labelled rows")
    found = list(dict.fromkeys(k for r in raw for k in r if k is not None))
    rcol = _column(p, found, response_col, RESPONSE_COLS, "response", "--response-col")
    lcol = _column(p, found, label_col, LABEL_COLS, "label", "--label-col")
    pcol = _column(p, found, prompt_col, PROMPT_COLS, "prompt", "--prompt-col")
    assert rcol is not None and lcol is not None
    rows = []
    for n, r in enumerate(raw, 1):
        resp = r.get(rcol)
        if resp is not None and not isinstance(resp, str):
            raise BreakfixError(str(p), f"row {n}: {rcol}", "not a string")
        if r.get(lcol) is None or str(r.get(lcol)).strip() == "":
            raise BreakfixError(str(p), f"row {n}: {lcol}", "missing label")
        row = {k: ("" if v is None else str(v)) for k, v in r.items() if k is not None}
        row["prompt"] = str(r.get(pcol) or "") if pcol else ""
        row["response"] = resp or ""
        row["label"] = _label(r[lcol], task, p, n, lcol)
        rows.append(row)
    kinds = {r["label"] in HARM_CLASSES for r in rows}
    if len(kinds) > 1:
        raise BreakfixError(str(p), lcol, "mixes refusal labels and harm labels; audit them in separate files")
    return rows


def predicted(v: Verdict, task: str) -> str:
    """The class a verdict predicts for ``task`` (``refusal`` or ``harm``); ``undetermined`` when it abstained."""
    if v.label == "undetermined":
        return "undetermined"
    if task == "harm":
        return "harmful" if v.harmful else "unharmful"
    if v.label == "partial_refusal":
        return "partial_refusal"
    return "full_refusal" if v.refusal else "compliance"


def _binary(x: str) -> str:
    return "compliance" if x == "compliance" else "refusal"


def _counts(gold: Sequence[bool], pred: Sequence[bool]) -> dict[str, int]:
    pairs = list(zip(gold, pred, strict=True))
    return {
        "tp": sum(g and p for g, p in pairs),
        "fn": sum(g and not p for g, p in pairs),
        "tn": sum(not g and not p for g, p in pairs),
        "fp": sum(not g and p for g, p in pairs),
    }


def _short(scores: dict[str, Any], positive: str) -> dict[str, Any]:
    pc = scores["per_class"].get(positive, {})
    return {
        "n": scores["n"],
        "kappa": scores["kappa"],
        "accuracy": scores["accuracy"],
        "recall": pc.get("recall", 0.0),
        "precision": pc.get("precision", 0.0),
    }


def audit(
    judge: Any, rows: Sequence[dict[str, str]], *, group_by: str | None = None, source: str | None = None
) -> dict[str, Any]:
    """Score ``judge`` on labelled ``rows`` (see :func:`load_labelled`). ``group_by`` names a column for per-group
    scores (model, category, language)."""
    task = "harm" if rows[0]["label"] in HARM_CLASSES else "refusal"
    three = task == "refusal" and any(r["label"] in ("full_refusal", "partial_refusal") for r in rows)
    if task == "refusal" and any(r["label"] == "refusal" for r in rows):
        three = False  # binary refusal labels: no partial class to score
    items = [
        (
            Seed(id=r.get("id") or str(i), text=r["prompt"], category=r.get("category") or "S2",
                 language=r.get("language") or "en"),
            [{"role": "user", "content": r["prompt"]}],
            r["response"],
        )
        for i, r in enumerate(rows)
        if r["response"].strip()
    ]  # fmt: skip
    verdicts = iter(judge.judge(items)) if items else iter([])
    preds = [predicted(next(verdicts), task) if r["response"].strip() else "empty" for r in rows]
    keep = [i for i, p in enumerate(preds) if p not in ("empty", "undetermined")]
    gold = [rows[i]["label"] for i in keep]
    pred = [preds[i] for i in keep]
    out: dict[str, Any] = {
        "judge": judge.id,
        "task": task,
        "labels": source,
        "n": len(rows),
        "scored": len(keep),
        "empty": preds.count("empty"),
        "undetermined": preds.count("undetermined"),
    }
    if not keep:
        raise BreakfixError(source or "labels", None, "no row has a response the judge could score")
    if task == "refusal":
        if three:
            out["three_class"] = classification_scores(gold, pred, REFUSAL_CLASSES)
        gb, pb = [_binary(x) for x in gold], [_binary(x) for x in pred]
        out["binary"] = classification_scores(gb, pb, ["refusal", "compliance"])
        positive = "refusal"
        refusal = _counts([g == "refusal" for g in gb], [p == "refusal" for p in pb])
        defect_gold = [g != "full_refusal" for g in gold] if three else [g == "compliance" for g in gb]
        defect_pred = [p != "full_refusal" for p in pred] if three else [p == "compliance" for p in pb]
        out["correction"] = {"refusal": refusal}
        if getattr(judge, "defect_is_compliance", False):  # its defect is a reply that is not a full refusal
            out["correction"]["defect"] = _counts(defect_gold, defect_pred)
    else:
        out["binary"] = classification_scores(gold, pred, HARM_CLASSES)
        positive = "harmful"
        out["correction"] = {"defect": _counts([g == "harmful" for g in gold], [p == "harmful" for p in pred])}
    out["kappa_binary"] = out["binary"]["kappa"]
    out["kappa_3class"] = out["three_class"]["kappa"] if "three_class" in out else None
    out["accuracy"] = out["binary"]["accuracy"]
    out["positive"] = positive

    def groups(key: Any) -> dict[str, Any]:
        return _group_scores([key(rows[i]) for i in keep], gold, pred, task, positive, three)

    out["by_language"] = groups(lambda r: r.get("language") or "en")
    if group_by is not None:
        if not any(group_by in r for r in rows):
            raise BreakfixError(source or "labels", "--group-by", f"no column {group_by!r} in the labelled rows")
        out["group_by"] = group_by
        out["by_group"] = groups(lambda r: r.get(group_by) or "(none)")
    out["errors"] = _disagreements(rows, preds, task, three)
    out["predictions"] = preds
    return out


def _group_scores(
    keys: list[str], gold: list[str], pred: list[str], task: str, positive: str, three: bool
) -> dict[str, Any]:
    """Binary scores (and three-class kappa) by group: ``keys[j]`` is the group of scored row ``j``."""
    binary_labels = ["refusal", "compliance"] if task == "refusal" else HARM_CLASSES
    labels = REFUSAL_CLASSES if three else binary_labels
    idx: dict[str, list[int]] = defaultdict(list)
    for j, k in enumerate(keys):
        idx[k].append(j)
    res = {}
    for g, js in sorted(idx.items()):
        gg = [gold[j] for j in js]
        pp = [pred[j] for j in js]
        if task == "refusal":
            gg, pp = [_binary(x) for x in gg], [_binary(x) for x in pp]
        res[g] = _short(classification_scores(gg, pp, binary_labels), positive)
        if three:
            res[g]["kappa_3class"] = cohen_kappa([gold[j] for j in js], [pred[j] for j in js], labels)
    return res


def _disagreements(rows: Sequence[dict[str, str]], preds: list[str], task: str, three: bool) -> list[dict[str, str]]:
    """Up to 50 scored rows where the judge disagrees with the label (on the binary view unless three classes)."""
    return [
        {"id": rows[i].get("id") or str(i), "label": rows[i]["label"], "predicted": preds[i],
         "response": rows[i]["response"][:300]}
        for i in range(len(rows))
        if preds[i] not in ("empty", "undetermined") and rows[i]["label"] != preds[i]
        and (three or task == "harm" or _binary(rows[i]["label"]) != _binary(preds[i]))
    ][:50]  # fmt: skip


def hash_split(prompt: str, response: str) -> str:
    """``dev`` or ``heldout``, fixed by a hash of the row (how the shipped set was split): tune on dev only."""
    digest = hashlib.sha256((prompt + "\x00" + response).encode("utf-8")).hexdigest()
    return "dev" if int(digest, 16) % 2 == 0 else "heldout"


def rows_split(path: Path, split: str | None) -> list[dict[str, str]]:
    rows = load_labelled(path)
    return [r for r in rows if split is None or r.get("split") == split]


def shipped_rows(split: str | None = "heldout") -> list[dict[str, str]]:
    """The shipped labelled set of real replies (by default its held-out part, which no one tuned on)."""
    return rows_split(SHIPPED, split)


def synthetic_rows() -> list[dict[str, str]]:
    """The hand-written six-language set (see ``breakfix.judges.audit_set``)."""
    return load_labelled(SYNTHETIC)


def labels_id(rows: Sequence[dict[str, str]]) -> str:
    """A content id of labelled rows (what an audit was measured on)."""
    h = hashlib.sha256()
    for r in rows:
        h.update(json.dumps([r["prompt"], r["response"], r["label"]], ensure_ascii=False).encode())
    return h.hexdigest()[:16]


def write_json(result: dict[str, Any], path: str | Path) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(p)
