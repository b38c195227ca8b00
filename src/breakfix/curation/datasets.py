"""Reading helpfulness data (local or hub) and writing curated datasets that TRL and the HF hub read as they are.

A curated dataset dir holds ``sft.jsonl`` (conversational prompt-completion), ``dpo.jsonl`` (explicit prompt,
chosen, rejected) and a ``README.md`` dataset card whose YAML header declares the two configs, so that
``datasets.load_dataset(DIR, "sft")`` / ``"dpo"`` (or the same on a hub repo the dir is pushed to) load them.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from breakfix.errors import BreakfixError
from breakfix.seeds.chat import load_chat_jsonl, validate_chat
from breakfix.types import ChatRow, DPORow, SFTRow

META_KEYS = ("finding", "category", "technique", "language", "round", "source", "build", "recovery")


def norm_meta(meta: dict[str, Any] | None) -> dict[str, Any]:
    """``meta`` with exactly the dataset's meta keys and types (one Arrow schema for every row)."""
    meta = meta or {}
    out: dict[str, Any] = {}
    for k in META_KEYS:
        v = meta.get(k)
        if k == "round":
            out[k] = int(v) if isinstance(v, int | float) or (isinstance(v, str) and v.isdigit()) else None
        else:
            out[k] = None if v is None else str(v)
    return out


def load_helpful(spec: str, language: str = "en") -> list[ChatRow]:
    """Helpfulness chats (``{"messages", "meta"}``) from a JSONL file, a local dataset dir or file (parquet, json,
    csv), or a hub dataset id (``name`` or ``name:split``; default split ``train``)."""

    p = Path(spec)
    if p.is_file() and p.suffix == ".jsonl":
        return load_chat_jsonl(p, language)
    import datasets

    name, _, split = spec.partition(":") if not p.exists() else (spec, "", "")
    split = split or "train"
    try:
        if p.is_file():
            kind = {".parquet": "parquet", ".json": "json", ".csv": "csv"}.get(p.suffix)
            if kind is None:
                raise BreakfixError(spec, None, "helpful data must be .jsonl, .json, .parquet or .csv")
            ds = datasets.load_dataset(kind, data_files=str(p), split="train")
        else:
            ds = datasets.load_dataset(name, split=split)
    except BreakfixError:
        raise
    except FileNotFoundError:
        raise BreakfixError(
            spec, None, "dataset not found (not a local path; offline or no such hub dataset)"
        ) from None
    except Exception as e:  # datasets raises many types for a bad dataset; name it in one line
        raise BreakfixError(
            spec, None, f"cannot load dataset ({type(e).__name__}: {str(e).splitlines()[0][:160]})"
        ) from None
    if "messages" not in ds.column_names:
        raise BreakfixError(spec, "messages", f"column missing (columns: {', '.join(ds.column_names)})")
    rows = []
    for i, row in enumerate(ds):
        msgs = validate_chat(row["messages"], spec, f"row {i}")
        meta = {"category": "benign", "language": language, "source": name if not p.exists() else p.name}
        rows.append({"messages": msgs, "meta": {**meta, **(row.get("meta") or {})}})
    if not rows:
        raise BreakfixError(spec, None, "dataset is empty")
    return rows


def write_jsonl(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write JSONL atomically (to a temporary file, then rename)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def read_jsonl(path: Path) -> list[Any]:  # JSON rows: the caller knows their kind
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_dataset(
    out: Path, sft: Sequence[SFTRow], dpo: Sequence[DPORow], stats: Mapping[str, Any], title: str
) -> None:
    """Write ``sft.jsonl``, ``dpo.jsonl`` and a dataset card to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "sft.jsonl", [{**r, "meta": norm_meta(r.get("meta"))} for r in sft])
    write_jsonl(out / "dpo.jsonl", [{**r, "meta": norm_meta(r.get("meta"))} for r in dpo])
    (out / "README.md").write_text(dataset_card(sft, dpo, stats, title), encoding="utf-8")


def _table(counter: Counter[str]) -> str:
    return "\n".join(f"| {k} | {v} |" for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0]))))


def dataset_card(sft: Sequence[SFTRow], dpo: Sequence[DPORow], stats: Mapping[str, Any], title: str) -> str:
    """A short hub dataset card: configs, counts by source, category and language, and what was dropped."""
    by_cat = Counter(str(r.get("meta", {}).get("category")) for r in dpo)
    by_lang = Counter(str(r.get("meta", {}).get("language")) for r in dpo)
    by_src = Counter(str(r.get("meta", {}).get("source")) for r in sft)
    dropped = Counter(stats.get("dropped_reasons", {}))
    return f"""---
configs:
- config_name: sft
  data_files: sft.jsonl
- config_name: dpo
  data_files: dpo.jsonl
tags:
- safety
- sft
- dpo
- breakfix
---
# {title}

Safety post-training data curated by [breakfix](https://github.com/breakfix) from red-team findings.

> **Content warning.** The `rejected` responses of harmful pairs are the model's own harmful outputs. Do not train
> on them as targets.

- `sft` ({len(sft)} rows): conversational prompt-completion; only the final assistant turn is trained.
- `dpo` ({len(dpo)} pairs): explicit prompt; `chosen` is the safe (or, for benign prompts, helpful) response,
  `rejected` the model's own defective one (or a refusal, for benign contrast pairs).
- Each row's `meta` gives the finding id, category, technique, language, round and source of the chosen response.
- Recovery rows (`meta.recovery` = `<depth>:<opening source>`) end their prompt with an open assistant turn holding
  a harmful-looking opening; the completion (or `chosen`/`rejected`) continues that same turn. Render the prompt with
  `continue_final_message=True` (breakfix's trainer does), so that no loss falls on the opening.

```python
from datasets import load_dataset
sft = load_dataset("<this dir or repo>", "sft", split="train")
dpo = load_dataset("<this dir or repo>", "dpo", split="train")
```

## DPO pairs by category

| category | pairs |
| --- | --- |
{_table(by_cat)}

## DPO pairs by language

| language | pairs |
| --- | --- |
{_table(by_lang)}

## SFT rows by source

| source | rows |
| --- | --- |
{_table(by_src)}

## Dropped before mixing

| reason | rows |
| --- | --- |
{_table(dropped) or "| (none) | 0 |"}
"""
