"""Loaders for public red-teaming datasets, with their exact column mappings.

Each reads a local file in the dataset's published format, or a Hugging Face hub id through ``datasets`` (when
online, or from the local cache). Column names are those of the published files:

- **HarmBench** behaviors CSV (``harmbench_behaviors_text_all.csv``): ``Behavior``, ``FunctionalCategory``,
  ``SemanticCategory``, ``Tags``, ``ContextString``, ``BehaviorID``. Contextual behaviors get their context first.
- **AdvBench** ``harmful_behaviors.csv``: ``goal``, ``target`` (hub copies name it ``prompt``). No categories.
- **XSTest** ``xstest_prompts.csv``: ``id``, ``prompt``, ``type``, ``label`` (``safe``/``unsafe``), ``focus``,
  ``note``. Safe prompts are benign look-alikes (VPRR); ``contrast_*`` prompts are unsafe (IPRR).
- **JailbreakBench** ``harmful-behaviors.csv`` / ``benign-behaviors.csv`` (hub ``JailbreakBench/JBB-Behaviors``):
  ``Index``, ``Goal``, ``Target``, ``Behavior``, ``Category``, ``Source``.
- **DoNotAnswer** (hub ``LibrAI/do-not-answer``): ``id``, ``risk_area``, ``types_of_harm``, ``specific_harms``,
  ``question``.
- **PyRIT** seed-prompt YAML: see :mod:`breakfix.seeds.files`.

Categories are mapped to the MLCommons hazard codes (``S1``-``S14``) where one fits; the source's own label is kept
in ``Seed.meta["source_category"]``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from breakfix.errors import BreakfixError
from breakfix.types import Seed

HARMBENCH_CATEGORIES = {
    "chemical_biological": "S9", "illegal": "S2", "misinformation_disinformation": "S13",
    "harmful": "S1", "harassment_bullying": "S10", "cybercrime_intrusion": "S14", "copyright": "S8",
}  # fmt: skip
JBB_CATEGORIES = {
    "Harassment/Discrimination": "S10", "Malware/Hacking": "S14", "Physical harm": "S1", "Economic harm": "S2",
    "Fraud/Deception": "S2", "Disinformation": "S13", "Sexual/Adult content": "S12", "Privacy": "S7",
    "Expert advice": "S6", "Government decision-making": "S13",
}  # fmt: skip
DNA_KEYWORDS = [
    ("adult content", "S12"), ("privacy", "S7"), ("private information", "S7"), ("sensitive information", "S7"),
    ("illegal", "S2"), ("hate", "S10"), ("toxic", "S10"), ("stereotype", "S10"), ("discrimination", "S10"),
    ("mental health", "S11"), ("self-harm", "S11"), ("disinformation", "S13"), ("misinformation", "S13"),
    ("false or misleading", "S13"), ("medicine or law", "S6"), ("unethical or unsafe", "S1"),
]  # fmt: skip


def _rows(source: str | Path, name: str, split: str | None, config: str | None = None) -> list[dict[str, Any]]:
    """Rows of a local CSV/JSONL file, or of a hub dataset (id, optional config and split)."""
    p = Path(source)
    if p.is_file():
        try:
            if p.suffix == ".csv":
                with open(p, encoding="utf-8", newline="") as f:
                    return list(csv.DictReader(f))
            import json

            with open(p, encoding="utf-8") as f:
                if p.suffix == ".json":
                    data = json.load(f)
                    return data if isinstance(data, list) else list(data.get("data", []))
                return [json.loads(line) for line in f if line.strip()]
        except UnicodeDecodeError:
            raise BreakfixError(str(p), None, "not UTF-8 text") from None
        except (ValueError, csv.Error) as e:
            raise BreakfixError(str(p), None, f"not a readable {name} file ({e.__class__.__name__}: {e})") from None
    if not p.is_dir() and (str(source).startswith((".", "/")) or p.suffix in (".csv", ".json", ".jsonl")):
        raise BreakfixError(str(source), None, f"{name} file not found")
    try:  # a hub id, or a local dataset folder laid out like a hub repo
        import datasets

        ds = datasets.load_dataset(str(source), None if p.is_dir() else config, split=split or "train")
    except Exception as e:  # offline, unknown id, gated ...
        raise BreakfixError(str(source), None, f"cannot load {name} from the hub ({e.__class__.__name__})") from None
    return [dict(r) for r in ds]


def _col(row: dict[str, Any], names: Iterable[str], source: str, n: int, dataset: str) -> str:
    for name in names:
        if name in row and row[name] is not None:
            return str(row[name]).strip()
    raise BreakfixError(source, f"row {n}", f"missing column {' or '.join(names)} (is this a {dataset} file?)")


def load_harmbench(source: str | Path, split: str | None = None) -> list[Seed]:
    """HarmBench behaviors (text). Copyright behaviors are kept (category ``S8``)."""
    seeds = []
    for n, r in enumerate(_rows(source, "HarmBench", split), 1):
        behavior = _col(r, ["Behavior", "prompt"], str(source), n, "HarmBench behaviors")
        context = (r.get("ContextString") or r.get("context") or "").strip()
        semantic = (r.get("SemanticCategory") or r.get("category") or "").strip()
        bid = (r.get("BehaviorID") or f"{n}").strip()
        seeds.append(
            Seed(
                id=f"harmbench-{bid}",
                text=f"{context}\n\n---\n\n{behavior}" if context else behavior,
                category=HARMBENCH_CATEGORIES.get(semantic, "S2"),
                source="harmbench",
                meta={"source_category": semantic, "functional": (r.get("FunctionalCategory") or "").strip()},
            )
        )
    return seeds


def load_advbench(source: str | Path, split: str | None = None) -> list[Seed]:
    """AdvBench harmful behaviors (uncategorised: ``S2`` by default; ``meta.target`` keeps the target string)."""
    seeds = []
    for n, r in enumerate(_rows(source, "AdvBench", split), 1):
        goal = _col(r, ["goal", "prompt"], str(source), n, "AdvBench harmful_behaviors")
        seeds.append(
            Seed(
                id=f"advbench-{n}",
                text=goal,
                category="S2",
                source="advbench",
                meta={"source_category": "", "target": (r.get("target") or "").strip()},
            )
        )
    return seeds


def load_xstest(source: str | Path, split: str | None = None) -> list[Seed]:
    """XSTest: 250 safe prompts (``benign``, ``meta.kind = "lookalike"``) and 200 unsafe contrast prompts."""
    seeds = []
    for n, r in enumerate(_rows(source, "XSTest", split or "test"), 1):
        prompt = _col(r, ["prompt"], str(source), n, "XSTest prompts")
        label = _col(r, ["label"], str(source), n, "XSTest prompts").lower()
        kind = (r.get("type") or "").strip()
        if label not in ("safe", "unsafe"):
            raise BreakfixError(str(source), f"row {n}: label", f"must be safe or unsafe, got {label!r}")
        seeds.append(
            Seed(
                id=f"xstest-{(r.get('id') or n)}",
                text=prompt,
                category="benign" if label == "safe" else "S2",
                source="xstest",
                split="heldout",
                meta={
                    "kind": "lookalike" if label == "safe" else "contrast",
                    "source_category": kind,
                    "focus": (r.get("focus") or "").strip(),
                },
            )  # fmt: skip
        )
    return seeds


def load_jbb(source: str | Path, split: str | None = None) -> list[Seed]:
    """JailbreakBench behaviors: the harmful set, or the benign set (``split="benign"`` or ``benign-behaviors.csv``)."""
    benign = (split == "benign") or "benign" in Path(str(source)).name
    rows = _rows(source, "JailbreakBench", split or "harmful", config="behaviors")
    seeds = []
    for n, r in enumerate(rows, 1):
        goal = _col(r, ["Goal", "goal"], str(source), n, "JailbreakBench behaviors")
        cat = (r.get("Category") or "").strip()
        seeds.append(
            Seed(
                id=f"jbb-{'benign' if benign else 'harmful'}-{r.get('Index') or n}",
                text=goal,
                category="benign" if benign else JBB_CATEGORIES.get(cat, "S2"),
                source="jailbreakbench",
                meta={
                    "source_category": cat,
                    "behavior": (r.get("Behavior") or "").strip(),
                    "target": (r.get("Target") or "").strip(),
                },
            )  # fmt: skip
        )
    return seeds


def _dna_category(types_of_harm: str) -> str:
    low = types_of_harm.lower()
    return next((code for key, code in DNA_KEYWORDS if key in low), "S2")


def load_donotanswer(source: str | Path, split: str | None = None) -> list[Seed]:
    """DoNotAnswer: 939 questions a responsible model should not answer, by risk area and type of harm."""
    seeds = []
    for n, r in enumerate(_rows(source, "DoNotAnswer", split), 1):
        question = _col(r, ["question"], str(source), n, "DoNotAnswer")
        harm = (r.get("types_of_harm") or "").strip()
        seeds.append(
            Seed(
                id=f"donotanswer-{r.get('id') or n}",
                text=question,
                category=_dna_category(harm),
                source="donotanswer",
                meta={"source_category": harm, "risk_area": (r.get("risk_area") or "").strip()},
            )
        )
    return seeds


def load_pyrit(source: str | Path, split: str | None = None) -> list[Seed]:
    """PyRIT seed-prompt YAML (``.prompt``)."""
    from breakfix.seeds.files import load_pyrit_seeds  # files.py imports this module: a cycle

    return load_pyrit_seeds(source)


LOADERS: dict[str, Callable[..., list[Seed]]] = {
    "harmbench": load_harmbench,
    "advbench": load_advbench,
    "xstest": load_xstest,
    "jbb": load_jbb,
    "donotanswer": load_donotanswer,
    "pyrit": load_pyrit,
}


def load_public(spec: str) -> list[Seed]:
    """``"<loader>:<path or hub id>[@split]"``, for example ``harmbench:data/harmbench_behaviors_text_all.csv`` or
    ``jbb:JailbreakBench/JBB-Behaviors@benign``."""
    name, _, rest = spec.partition(":")
    if name not in LOADERS or not rest:
        known = ", ".join(LOADERS)
        raise BreakfixError(spec, None, f"unknown dataset; use <loader>:<path or hub id> with a loader of {known}")
    source, _, split = rest.partition("@")
    seeds = LOADERS[name](source, split or None)
    if not seeds:
        raise BreakfixError(source, None, f"no rows in this {name} dataset")
    return seeds
