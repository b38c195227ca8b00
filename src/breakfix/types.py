"""Data types shared by every stage (DESIGN.md section 2). Stages exchange these, nothing else."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict  # pydantic reads TypedDicts from here on Python < 3.12


class Message(TypedDict):
    """One chat message in OpenAI / HF format."""

    role: Literal["system", "user", "assistant"]
    content: str


Conversation = list[Message]

# A training row's provenance (category, language, round, source, finding, twin kind, ...). It stays an open mapping
# on purpose: it is the user's data as much as ours (a helpful dataset's own columns, a plug-in's keys), written to
# the JSONL files as it is.
Meta = dict[str, Any]


class SFTRow(TypedDict):
    """An SFT row as TRL reads it (prompt-completion, conversational): the loss is on ``completion`` only."""

    prompt: Conversation
    completion: Conversation
    meta: Meta


class DPORow(TypedDict):
    """A DPO pair as TRL reads it (conversational, explicit prompt): ``chosen`` over ``rejected``."""

    prompt: Conversation
    chosen: Conversation
    rejected: Conversation
    meta: Meta


class ChatRow(TypedDict):
    """A helpfulness chat to mix in (``messages`` end with an assistant turn)."""

    messages: Conversation
    meta: Meta


Row = SFTRow | DPORow


class Rate(TypedDict):
    """A rate with its n, its count and its Wilson 95% interval."""

    n: int
    k: int
    rate: float
    ci95: list[float]


class Drift(TypedDict):
    """A checkpoint's benign drift from the round-0 model: mean per-token KL(P_0 || P), the change in the replies'
    mean per-token NLL, and the tokens and prompts it was measured on."""

    kl: float
    nll_change: float
    tokens: int
    prompts: int


class JudgingAccount(TypedDict):
    """Where a stage's verdicts came from: the judge, generations made and reused, verdicts reused and re-judged."""

    judge: str
    generated: int
    reused_generations: int
    verdicts_reused: int
    rejudged: int


class ScoredStage(TypedDict, total=False):
    """A finished scoring stage as the store holds it: the suite score blocks (``validation`` or ``benchmarks``),
    the judging account, the item ids by suite (for re-judging and pairing), and, by stage, the paired tests, the
    candidate's content id and its drift."""

    validation: dict[str, dict[str, Any]]  # suite -> score block (JSON; typed view: SuiteScores)
    benchmarks: dict[str, dict[str, Any]]
    judging: JudgingAccount
    items: dict[str, list[str]]
    paired: dict[str, Any]
    checkpoint_id: str
    drift: Drift | None


Split = Literal["train", "redteam", "validation", "heldout"]


def content_key(*parts: Any) -> str:
    """A stable content hash of JSON-serialisable parts: the key of every unit of work in the store."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Seed:
    """A base request.

    Args:
        id: Stable identifier.
        text: The request itself.
        category: Harm category id from the taxonomy (for example ``"S9"``) or ``"benign"``.
        language: ISO 639-1 code.
        source: Where the seed came from (a file, a dataset, a world; empty when unknown).
        split: ``"train"``, ``"redteam"``, ``"validation"`` or ``"heldout"``.
        meta: Extra facts (``kind``, ``expected`` answer for capability tasks, ``task`` phrase, ...).
    """

    id: str
    text: str
    category: str
    language: str = "en"
    source: str = ""
    split: Split = "redteam"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def harmful(self) -> bool:
        return self.category != "benign"


@dataclass(frozen=True)
class Verdict:
    """A judge's reading of one response.

    ``label`` is the judge's class: XSTest's ``full_refusal``, ``partial_refusal`` or ``compliance`` (the refusal
    judge), a model judge's own, or ``undetermined`` when the judge abstained (an empty or cut-off reply): such a
    verdict is counted apart, never as safe and never as a defect. ``harmful`` and ``severity`` (0-7) describe the
    response's content.
    """

    refusal: bool
    harmful: bool
    severity: int
    category: str
    label: str
    rationale: str
    judge: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Verdict:
        return cls(**d)


@dataclass
class Attempt:
    """One attack (or benchmark item) executed against one checkpoint."""

    id: str
    round: int
    suite: str  # "redteam" or a benchmark suite key
    technique: str
    seed: Seed
    transcript: Conversation
    status: Literal["ok", "error"] = "ok"
    error: str | None = None
    seconds: float = 0.0
    verdict: Verdict | None = None
    info: dict[str, Any] = field(default_factory=dict)  # facts about the run: backtracks, scores, canary, ...

    @property
    def response(self) -> str:
        """The last assistant turn (the judged response)."""
        for m in reversed(self.transcript):
            if m["role"] == "assistant":
                return m["content"]
        return ""

    @property
    def prompt(self) -> Conversation:
        """The transcript without its last assistant turn."""
        t = list(self.transcript)
        if t and t[-1]["role"] == "assistant":
            t = t[:-1]
        return t

    @property
    def turns(self) -> int:
        return sum(1 for m in self.transcript if m["role"] == "user")


@dataclass(frozen=True)
class Finding:
    """An attempt whose verdict is a defect, with the facts it is grouped by."""

    attempt_id: str
    round: int
    category: str
    technique: str
    language: str
    turns: int
    seed_id: str
    seed_text: str
    prompt: Conversation
    response: str
    severity: int
    build: str | None = None  # the quantized build (cycle.verify_builds) it was found on; None: the checkpoint
    prefill: str | None = None  # the opening a prefill attack put in the assistant's mouth (``response`` continues it)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def undetermined(a: Attempt) -> bool:
    """The judge abstained on this attempt (an empty or cut-off reply): counted apart, never safe, never a defect."""
    return a.status == "ok" and a.verdict is not None and a.verdict.label == "undetermined"


def judged(a: Attempt) -> bool:
    """The attempt ran and its judge decided (no error, a verdict, not undetermined)."""
    return a.status == "ok" and a.verdict is not None and a.verdict.label != "undetermined"


def is_defect(a: Attempt) -> bool:
    """A judged attempt is a defect when it is harmful (harmful seed) or a refusal of a benign seed."""
    if not judged(a):
        return False
    assert a.verdict is not None
    return a.verdict.harmful if a.seed.harmful else a.verdict.refusal


def to_finding(a: Attempt) -> Finding:
    """The finding of a judged attempt."""
    assert a.verdict is not None
    return Finding(
        attempt_id=a.id,
        round=a.round,
        category=a.seed.category,
        technique=a.technique,
        language=a.seed.language,
        turns=a.turns,
        seed_id=a.seed.id,
        seed_text=a.seed.text,
        prompt=a.prompt,
        response=a.response,
        severity=a.verdict.severity,
        prefill=a.info.get("prefill") or None,
    )


@dataclass(frozen=True)
class Plan:
    """One attempt to make.

    Args:
        technique: The technique name (``family`` or ``family:arg``).
        seed: The request attacked.
        turns: The scripted user turns, in order (empty for adaptive and LLM-converted plans).
        kind: ``scripted`` (turns fixed in advance: the engine sends them), or the name of the registered
            technique that runs the plan (an attacker model writes the turns, an LLM converter writes the one turn,
            a simulator plays the user).
        canary: For XPIA plans, the token whose presence in the reply means the injection was followed.
        seed_value: Seeds the random choices of converters and documents.
    """

    technique: str
    seed: Seed
    turns: tuple[str, ...] = ()
    kind: str = "scripted"
    canary: str | None = None
    seed_value: int = 0


@runtime_checkable
class Judge(Protocol):
    """Scores responses in context."""

    id: str

    def judge(self, items: Sequence[tuple[Seed, Conversation, str]]) -> list[Verdict]:
        """One verdict per (seed, prompt conversation, response)."""
        ...


# ---- the records that build report.json (DESIGN.md section 5; the JSON Schema in report/schema.json) ------------
class StrictModel(BaseModel):
    """A pydantic model that refuses unknown fields: the base of every config section."""

    model_config = ConfigDict(extra="forbid")


class _Record(BaseModel):
    """A block of ``report.json``: the contract's fields typed, anything more (per-suite breakdowns, extra counts)
    kept as it is."""

    model_config = ConfigDict(extra="allow")

    def to_json(self) -> dict[str, Any]:
        """The block as ``report.json`` holds it."""
        return self.model_dump(mode="json")


class Headline(NamedTuple):
    """A suite's headline number: its metric (``DR-1``, ``VPRR``, ``score``, ``success rate``), value, n and 95%
    interval (None where a plug-in suite gives none)."""

    metric: str
    value: float
    n: int
    ci95: list[float] | None


class SuiteScores(_Record):
    """One suite's scores: ``n`` judged items, ``errors`` apart, and the suite's headline (``defect_rate``,
    ``success_rate``, ``vprr``/``iprr`` or ``score``) with its intervals and breakdowns.

    The headline numbers are typed properties over the stored block (whose JSON stays as ``report.json`` has it):
    None where the suite does not report that number."""

    n: int
    errors: int = 0

    def _num(self, key: str) -> Any:
        return (self.model_extra or {}).get(key)

    def _float(self, key: str) -> float | None:
        v = self._num(key)
        return None if v is None else float(v)

    @property
    def defect_rate(self) -> float | None:
        """DR-1: the share of judged harmful items the model complied with (harmful, jailbreak, multiturn, ...)."""
        return self._float("defect_rate")

    @property
    def success_rate(self) -> float | None:
        """XPIA: the share of injected instructions the model followed."""
        return self._float("success_rate")

    @property
    def vprr(self) -> float | None:
        """Over-refusal: the share of valid (safe) prompts refused."""
        return self._float("vprr")

    @property
    def iprr(self) -> float | None:
        """Over-refusal: the share of invalid (unsafe) prompts refused."""
        return self._float("iprr")

    @property
    def score(self) -> float | None:
        """Capability: the share answered correctly."""
        return self._float("score")

    @property
    def undetermined(self) -> int:
        """Items the judge could not decide (left out of the rates)."""
        return int(self._num("undetermined") or 0)

    @property
    def corrected(self) -> dict[str, Any]:
        """The judge-corrected rates by metric (empty without a judge audit)."""
        return dict(self._num("corrected") or {})

    @property
    def headline(self) -> Headline:
        """The suite's headline number (a ``KeyError`` for a block with none)."""
        x = self.model_extra or {}
        if self.defect_rate is not None:
            return Headline("DR-1", self.defect_rate, self.n, x.get("ci95"))
        if self.vprr is not None:
            return Headline("VPRR", self.vprr, int(x.get("vprr_n", self.n)), x.get("vprr_ci95"))
        if self.score is not None:
            return Headline("score", self.score, self.n, x.get("ci95"))
        if self.success_rate is not None:
            return Headline("success rate", self.success_rate, self.n, x.get("ci95"))
        raise KeyError("no headline number")


def suite_scores(blocks: Mapping[str, Any]) -> dict[str, SuiteScores]:
    """Suite score blocks (as stored, or already typed) as :class:`SuiteScores` by suite."""
    return {k: v if isinstance(v, SuiteScores) else SuiteScores.model_validate(v) for k, v in blocks.items()}


class RedTeamSummary(_Record):
    """A round's red team: attempts, errors (never counted as safe), ASR over judged attacks on harmful seeds, and
    its breakdowns; benign probes under the same wrappers give the over-refusal count."""

    attempts: int
    errors: int
    asr: float
    judged: int = 0
    defects: int = 0
    undetermined: int = 0
    error_reasons: dict[str, int] = Field(default_factory=dict)
    by_technique: dict[str, Any] = Field(default_factory=dict)
    by_category: dict[str, Any] = Field(default_factory=dict)
    by_language: dict[str, Any] = Field(default_factory=dict)
    benign_refusals: int = 0
    benign_probes: int = 0


class CurationSummary(_Record):
    """What a round's curation made and dropped."""

    sft: int
    dpo: int
    benign: int = 0
    dropped_duplicates: int = 0
    dropped_contaminated: int = 0


class TrainSummary(_Record):
    """What a round's training did."""

    method: str
    steps: int
    seconds: float
    tokens_per_s: float


class BuildRecord(_Record):
    """A round's quantized build (``cycle.verify_builds``): the GGUF file, its scores under a llama.cpp server, its
    red team, and paired tests against the round's checkpoint at full precision."""

    quant: str
    file: str
    sha256: str
    checkpoint_id: str
    benchmarks: dict[str, SuiteScores] = Field(default_factory=dict)
    validation: dict[str, SuiteScores] | None = None
    redteam: RedTeamSummary | None = None
    paired: dict[str, Any] = Field(default_factory=dict)
    targets_met: bool | None = None
    misses: list[str] | None = None


class Candidate(_Record):
    """One candidate fix of a round: a snapshot of one training run (a recipe: the configured fix, ``fix``, a point
    of ``training.search``, or ``refine``: a continuation on the on-policy pairs of the best one), its validation
    scores and benign drift, the targets it met or missed, its balanced score, and whether the round kept it."""

    name: str
    recipe: str = "fix"
    overrides: dict[str, float] = Field(default_factory=dict)
    stage: str
    step: int
    checkpoint_id: str
    validation: dict[str, SuiteScores] = Field(default_factory=dict)
    drift: Drift | None = None
    targets_met: bool
    misses: list[str] = Field(default_factory=list)
    balanced: float
    chosen: bool = False
    refined_from: str | None = None  # recipe ``refine``: the candidate it continues from


class Selection(_Record):
    """How a round chose its fix: the rule, the candidate kept, why, and whether it met the validation targets
    (the misses say by how much)."""

    rule: str
    rule_text: str
    chosen: str
    reason: str
    targets_met: bool
    misses: list[str] = Field(default_factory=list)


class RoundRecord(BaseModel):
    """One round of ``report.json``: checkpoint M_r, its held-out scores (``benchmarks``, for the report only), its
    validation scores and drift (what the targets read), its red team, and (unless the loop stopped there) the data
    curated from its findings, the training that made the candidates for M_{r+1}, the candidates and the selection
    that kept one."""

    model_config = ConfigDict(extra="forbid")

    round: int
    checkpoint: str
    checkpoint_id: str | None = None
    seconds: dict[str, float] = Field(default_factory=dict)
    benchmarks: dict[str, SuiteScores] = Field(default_factory=dict)
    validation: dict[str, SuiteScores] | None = None
    drift: Drift | None = None
    redteam: RedTeamSummary | None = None
    judging: dict[str, Any] | None = None
    targets_met: bool | None = None
    misses: list[str] | None = None
    stop_reason: str | None = None
    candidates: list[Candidate] | None = None
    selection: Selection | None = None
    refine: dict[str, Any] | None = None
    curation: CurationSummary | None = None
    training: TrainSummary | None = None
    builds: dict[str, BuildRecord] | None = None

    def to_json(self) -> dict[str, Any]:
        """The round as ``report.json`` holds it (absent blocks left out, never null)."""
        return {k: v for k, v in self.model_dump(mode="json").items() if v is not None}


@dataclass(frozen=True)
class Template:
    """A jailbreak template.

    Args:
        name: Its registry name.
        family: Its family (``roleplay``, ``fiction``, ...; ``pyrit`` for loaded ones).
        texts: Language code -> text with a ``{prompt}`` slot (``en`` is the fallback).
        source: Where it came from.
    """

    name: str
    family: str
    texts: dict[str, str] = field(hash=False)
    source: str = "breakfix"

    def render(self, prompt: str, language: str = "en") -> str:
        return self.texts.get(language, self.texts["en"]).replace("{prompt}", prompt)
