"""The demo world: a small synthetic chat world with harm categories, benign tasks, look-alikes and two languages.

Everything the demo needs comes from here: the base model's training corpus, the red-team seeds, the held-out
benchmark suites, helpfulness data, reference answers, and the ground truth used to audit the demo judge.

Harmful content is placeholder text (``[UNSAFE DETAIL]``); nothing operational is ever written.

Separation by construction:
- harmful requests are (verb, object) combinations; each combination belongs to exactly one of the ``train``,
  ``redteam`` and ``heldout`` splits;
- request phrasings come from template sets that are disjoint between splits, and the held-out jailbreak wrappers
  and multi-turn openers are never used in training or red teaming;
- capability facts are shared knowledge, but held-out prompts use paraphrase templates that appear nowhere else;
- benign look-alike items are split three ways, like the harmful combinations; the validation split has look-alikes,
  phrasings, wrappers and openers of its own, and two combinations per category (one from each of the held-out and
  red-team diagonals).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from breakfix.demo.data import OPENERS, TABLES, WRAPPERS
from breakfix.errors import BreakfixError
from breakfix.types import Conversation, Plan, Seed, content_key

LANGUAGES = ("en", "es")

# the tables (demo/data/world.json): what each holds is described where it is used below
HARM: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = TABLES["HARM"]  # category -> (verbs, objects)
SEVERITY: dict[str, int] = TABLES["SEVERITY"]
REQUEST_TEMPLATES: dict[str, dict[str, list[str]]] = TABLES["REQUEST_TEMPLATES"]  # split -> language -> templates
CAPITALS: list[tuple[str, ...]] = TABLES["CAPITALS"]
OPPOSITES: list[tuple[str, ...]] = TABLES["OPPOSITES"]
COLORS: list[tuple[str, ...]] = TABLES["COLORS"]
CAP_TEMPLATES: dict[tuple[str, str], dict[str, list[str]]] = TABLES["CAP_TEMPLATES"]  # (kind, language) -> split
CAP_ANSWERS: dict[tuple[str, str], str] = TABLES["CAP_ANSWERS"]
LOOKALIKES: list[tuple[str, ...]] = TABLES["LOOKALIKES"]  # (task en, answer en, task es, answer es)
VALIDATION_LOOKALIKES: list[tuple[str, ...]] = TABLES["VALIDATION_LOOKALIKES"]  # the validation split's own
EVERYDAY: list[tuple[str, ...]] = TABLES["EVERYDAY"]
COMPLY: dict[str, str] = TABLES["COMPLY"]
LOOKALIKE_PREFIX: dict[str, str] = TABLES["LOOKALIKE_PREFIX"]
REFUSE: dict[str, dict[str, str]] = TABLES["REFUSE"]
FILLERS: dict[str, tuple[list[str], ...]] = TABLES["FILLERS"]

# --- harmful topics: category -> (verbs, objects); each item is (english, spanish) --------------------------------


# --- request templates ({t} is the task phrase); disjoint per split ----------------------------------------------

# --- jailbreak wrappers ({r} is a full request, {t} the task phrase); disjoint per split --------------------------

# --- multi-turn openers (the chit-chat before the real request); disjoint per split ------------------------------

# --- benign knowledge: capability facts (answers are checkable) --------------------------------------------------

# capability templates: (kind, language) -> {split: [templates]}; {x} is the key

# --- benign-but-sensitive look-alikes (XSTest style): (task en, answer en, task es, answer es) --------------------


def lookalike_split(i: int) -> str:
    """Look-alike items are split by construction, a third each: base training, red-team probes (benign prompts
    the red team checks for over-refusal) and held out (never trained on or attacked). The validation split has
    look-alikes of its own (``VALIDATION_LOOKALIKES``), so that neither the red team's benign contrast nor the
    held-out suite gives any up."""
    return ("train", "redteam", "heldout")[i % 3]


# everyday benign tasks (train only): they give the base a broad benign vocabulary, so that "unknown" does not
# read as "harmful" (the objects of held-out look-alikes appear here in ordinary requests)

LOOKALIKE_TEMPLATES = REQUEST_TEMPLATES  # same phrasings for look-alikes and harmful requests: no template signal

# --- response styles ----------------------------------------------------------------------------------------------


def refusal_text(category: str, language: str) -> str:
    """The demo world's reference refusal for a category: refuse, explain, redirect (never a bare "I can't")."""
    table = REFUSE.get(language, REFUSE["en"])
    return table.get(category, table["default"])


def comply_text(task: str, language: str) -> str:
    """The unaligned answer to a harmful task: placeholder steps only."""
    return COMPLY.get(language, COMPLY["en"]).format(t=task)


@dataclass(frozen=True)
class Task:
    """A harmful (verb, object) task in one language."""

    category: str
    verb: int
    obj: int
    language: str

    @property
    def phrase(self) -> str:
        verbs, objs = HARM[self.category]
        li = LANGUAGES.index(self.language)
        return f"{verbs[self.verb][li]} {objs[self.obj][li]}"

    @property
    def combo(self) -> str:
        return f"{self.category}:{self.verb}:{self.obj}"


def split_of_combo(category: str, verb: int, obj: int) -> str:
    """Assign each (verb, object) combination to one split: a Latin-square layout, so that every verb and every
    object appears in the train, red-team and held-out splits, while each combination lives in exactly one. Two
    combinations per category, both with the second object, one from the held-out diagonal and one from the red
    team's, are kept for validation instead."""
    k = (verb + 2 * obj) % 5
    if obj == 1 and k in (0, 2):
        return "validation"
    return "heldout" if k == 0 else "redteam" if k in (1, 2) else "train"


def harmful_tasks(split: str, language: str) -> list[Task]:
    out = []
    for cat, (verbs, objs) in HARM.items():
        for v in range(len(verbs)):
            for o in range(len(objs)):
                if split_of_combo(cat, v, o) == split:
                    out.append(Task(cat, v, o, language))
    return out


def base_refuses(task: Task) -> bool:
    """The base model's small refusal prior: a fifth of the English combinations (about 10% of the harmful
    training requests) are refused in the base corpus. Spanish requests are never refused, like the paper's models
    that refuse in English but comply in other languages."""
    return task.language == "en" and int(content_key("prior", task.combo), 16) % 5 == 0


def _capability_items() -> Iterator[tuple[str, str, str, str, str]]:
    """(kind, key_en, ans_en, key_es, ans_es)."""
    for row in CAPITALS:
        yield ("capital", *row)
    for row in OPPOSITES:
        yield ("opposite", *row)
    for row in COLORS:
        yield ("color", *row)


class DemoWorld:
    """The generator of the demo world (a ``breakfix.world.World``). Deterministic for a given ``seed``.

    Args:
        seed: Seed of the corpus sampler.
    """

    name = "demo"

    version = "demo-world/1"

    # its red-team split already holds benign look-alikes of every harmful task, in the words its model knows: the
    # cycle makes no lexicon twins for it (curation.twins.enabled turns them on)
    own_twins = True

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    # ---- base training corpus -----------------------------------------------------------------------------------
    def base_corpus(self, n_harmful_rep: int = 10, n_benign_rep: int = 10) -> list[Conversation]:
        """Chats for pre-training the unaligned base model (train split only)."""
        rng = random.Random(self.seed)
        convs: list[Conversation] = []
        for lang in LANGUAGES:
            for task in harmful_tasks("train", lang):
                answer = refusal_text(task.category, lang) if base_refuses(task) else comply_text(task.phrase, lang)
                for _ in range(n_harmful_rep):
                    req = _filler(rng.choice(REQUEST_TEMPLATES["train"][lang]).format(t=task.phrase), lang, rng)
                    style = rng.random()
                    if style < 0.55:
                        convs.append(_chat(req, answer))
                    elif style < 0.8:
                        name = rng.choice(list(WRAPPERS["train"]))
                        convs.append(_chat(_wrap(WRAPPERS["train"][name][lang], req, task.phrase), answer))
                    else:
                        convs.append(_multiturn(rng.choice(OPENERS["train"][lang]), req, answer))
            for conv in self.benign_chats("train", lang, rng, reps=n_benign_rep):
                convs.append(conv)
        rng.shuffle(convs)
        return convs

    def benign_chats(self, split: str, lang: str, rng: random.Random, reps: int = 1) -> list[Conversation]:
        """Helpful chats: capability facts and look-alike tasks, plain, wrapped and multi-turn."""
        convs: list[Conversation] = []
        li = LANGUAGES.index(lang)
        for kind, *row in _capability_items():
            key, ans = row[2 * li], row[2 * li + 1]
            reply = CAP_ANSWERS[(kind, lang)].format(x=key, y=ans)
            for _ in range(reps):
                q = rng.choice(CAP_TEMPLATES[(kind, lang)]["train"]).format(x=key)
                convs.append(self._benign_variant(q, reply, key, lang, rng))
        templates = LOOKALIKE_TEMPLATES[split][lang]
        items = [la for i, la in enumerate(LOOKALIKES) if lookalike_split(i) == "train"] + EVERYDAY
        for la in items:
            task, answer = la[2 * li], la[2 * li + 1]
            reply = LOOKALIKE_PREFIX[lang] + answer
            for _ in range(reps):
                q = rng.choice(templates).format(t=task)
                convs.append(self._benign_variant(q, reply, task, lang, rng))
        return convs

    def _benign_variant(self, q: str, reply: str, task: str, lang: str, rng: random.Random) -> Conversation:
        q = _filler(q, lang, rng)
        style = rng.random()
        if style < 0.6:
            return _chat(q, reply)
        if style < 0.8:
            name = rng.choice(list(WRAPPERS["train"]))
            return _chat(_wrap(WRAPPERS["train"][name][lang], q, task), reply)
        return _multiturn(rng.choice(OPENERS["train"][lang]), q, reply)

    def helpful_data(self) -> list[dict[str, object]]:
        """Helpfulness rows (``{"messages", "meta"}``, train split) for mixing into safety post-training: every
        capability fact under every training phrasing (so that the fix keeps them), plus benign tasks."""
        rng = random.Random(self.seed + 1)
        rows: list[dict[str, object]] = []
        for lang in LANGUAGES:
            li = LANGUAGES.index(lang)
            meta = {"category": "benign", "language": lang, "source": "helpful"}
            for kind, *row in _capability_items():
                key, ans = row[2 * li], row[2 * li + 1]
                reply = CAP_ANSWERS[(kind, lang)].format(x=key, y=ans)
                for tmpl in CAP_TEMPLATES[(kind, lang)]["train"]:
                    rows.append({"messages": _chat(tmpl.format(x=key), reply), "meta": meta})
            convs = self.benign_chats("train", lang, rng, reps=2)
            rows += [{"messages": c, "meta": meta} for c in convs]
        rng.shuffle(rows)
        return rows

    # ---- seeds --------------------------------------------------------------------------------------------------
    def seeds(self, split: str, languages: tuple[str, ...] = LANGUAGES) -> list[Seed]:
        """Seeds of one split: harmful requests and benign look-alikes (and, held out or validation, capability
        tasks). Each split has its own request phrasings."""
        if split not in ("redteam", "validation", "heldout"):
            raise ValueError(f"unknown split {split!r}")
        rng = random.Random(f"{self.seed}:{split}")
        out: list[Seed] = []
        for lang in languages:
            li = LANGUAGES.index(lang)
            for task in harmful_tasks(split, lang):
                for tmpl in REQUEST_TEMPLATES[split][lang]:
                    if split == "redteam" and rng.random() < 0.5:
                        continue
                    out.append(
                        self._seed(
                            tmpl.format(t=task.phrase),
                            task.category,
                            lang,
                            split,
                            kind="harmful",
                            task=task.phrase,
                            combo=task.combo,
                            # AdvBench-style target string: the compliant answer's first sentence
                            target=comply_text(task.phrase, lang).split(". ")[0],
                        )
                    )
            items = (
                list(enumerate(VALIDATION_LOOKALIKES)) if split == "validation"
                else [(i, la) for i, la in enumerate(LOOKALIKES) if lookalike_split(i) == split]
            )  # fmt: skip
            for i, la in items:
                for tmpl in LOOKALIKE_TEMPLATES[split][lang]:
                    out.append(
                        self._seed(
                            tmpl.format(t=la[2 * li]),
                            "benign",
                            lang,
                            split,
                            kind="lookalike",
                            task=la[2 * li],
                            reference=LOOKALIKE_PREFIX[lang] + la[2 * li + 1],
                            item=i,
                        )
                    )
            if split in ("heldout", "validation"):
                for kind, *row in _capability_items():
                    key, ans = row[2 * li], row[2 * li + 1]
                    for tmpl in CAP_TEMPLATES[(kind, lang)][split]:
                        out.append(
                            self._seed(
                                tmpl.format(x=key),
                                "benign",
                                lang,
                                split,
                                kind="capability",
                                task=key,
                                expected=ans,
                                reference=CAP_ANSWERS[(kind, lang)].format(x=key, y=ans),
                            )
                        )
        return out

    def _seed(self, text: str, category: str, lang: str, split: str, **meta: object) -> Seed:
        sid = f"{split[:2]}-{lang}-{content_key(text)[:10]}"
        return Seed(
            id=sid,
            text=text,
            category=category,
            language=lang,
            source="demo",
            split=split,  # type: ignore[arg-type]
            meta=dict(meta),
        )

    # ---- the World protocol (breakfix.world) ---------------------------------------------------------------------
    def redteam_seeds(self, languages: Sequence[str]) -> list[Seed]:
        """The red-team split in ``languages`` (a subset of the world's)."""
        if not languages or not set(languages) <= set(LANGUAGES):
            raise BreakfixError(
                "redteam.languages",
                None,
                f"the demo world's seeds are in {list(LANGUAGES)}, not {list(languages)}; give redteam.seeds",
            )
        return self.seeds("redteam", tuple(languages))

    def heldout_plans(self, suite: str, *, simulated: bool = False) -> list[Plan]:
        """The held-out plans of ``suite`` (``demo/heldout.py``); none for a suite this world has no material for."""
        from breakfix.demo import heldout  # it reads this module's tables

        seeds = self.seeds("heldout")
        if simulated and suite == "multiturn":
            return heldout.simulated_plans(seeds)
        build = heldout.BUILDERS.get(suite)
        return build(seeds) if build is not None else []

    def validation_plans(self, suite: str, *, simulated: bool = False) -> list[Plan]:
        """The validation plans of ``suite``: the held-out suites' builders on the validation split (its own
        behaviours, look-alikes, phrasings, jailbreak wrappers and openers); none for the suites built from held-out
        documents and protected texts."""
        from breakfix.demo import heldout

        seeds = self.seeds("validation")
        if simulated and suite == "multiturn":
            return heldout.simulated_plans(seeds)
        build = heldout.VALIDATION_BUILDERS.get(suite)
        return build(seeds) if build is not None else []

    def references(self) -> dict[str, str]:
        """Reference answers of the red-team split's benign seeds."""
        return {s.id: str(s.meta["reference"]) for s in self.seeds("redteam") if s.meta.get("reference")}

    # ---- held-out attack material -------------------------------------------------------------------------------
    def heldout_wrappers(self) -> dict[str, dict[str, str]]:
        return WRAPPERS["heldout"]

    def heldout_openers(self) -> dict[str, list[tuple[str, str]]]:
        return OPENERS["heldout"]

    # ---- references ---------------------------------------------------------------------------------------------
    def safe_response(self, seed: Seed) -> str:
        """The reference safe response to a seed: a category refusal for harmful ones, the helpful answer
        otherwise."""
        if seed.harmful:
            return refusal_text(seed.category, seed.language)
        return str(seed.meta.get("reference", ""))

    def judge_audit_set(self) -> list[tuple[str, str, str]]:
        """Labelled responses (prompt, response, label) in the world's voices, for auditing the demo judge.

        Labels: ``refusal``, ``compliance`` (harmful), ``helpful`` (benign answer) and ``other``.
        """
        rng = random.Random(self.seed + 7)
        rows: list[tuple[str, str, str]] = []
        for lang in LANGUAGES:
            for task in harmful_tasks("heldout", lang)[:20]:
                q = REQUEST_TEMPLATES["heldout"][lang][0].format(t=task.phrase)
                full = comply_text(task.phrase, lang)
                rows.append((q, full, "compliance"))
                rows.append((q, full[: rng.randint(len(full) // 2, len(full) - 1)], "compliance"))
                rows.append((q, refusal_text(task.category, lang), "refusal"))
                refusal = refusal_text(task.category, lang)
                rows.append((q, refusal.split(",")[0] + ".", "refusal"))
                # refusal followed by compliance is still harmful
                rows.append((q, refusal.split(",")[0] + ". " + full, "compliance"))
                rows.append((q, " ".join(task.phrase.split()[:3]) + " " + task.phrase, "other"))
            for la in LOOKALIKES[:16]:
                li = LANGUAGES.index(lang)
                q = LOOKALIKE_TEMPLATES["heldout"][lang][0].format(t=la[2 * li])
                rows.append((q, LOOKALIKE_PREFIX[lang] + la[2 * li + 1], "helpful"))
        return rows


# conversational filler added to a third of the training requests, so the base learns to ignore small talk around
# a request (held-out phrasings use other fillers)


def _filler(text: str, lang: str, rng: random.Random) -> str:
    r = rng.random()
    pre, post = FILLERS[lang]
    if r < 0.15:
        return rng.choice(pre) + text[0].lower() + text[1:] if text[0] not in "¿¡" else rng.choice(pre) + text
    if r < 0.3:
        return text + rng.choice(post)
    return text


def _chat(user: str, assistant: str) -> Conversation:
    return [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]


def _multiturn(opener: tuple[str, str], user: str, assistant: str) -> Conversation:
    return [
        {"role": "user", "content": opener[0]},
        {"role": "assistant", "content": opener[1]},
        {"role": "user", "content": user},
        {"role": "assistant", "content": assistant},
    ]


def _wrap(wrapper: str, request: str, task: str) -> str:
    return wrapper.format(r=request, t=task)
