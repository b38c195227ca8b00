"""Curation: safe responses, benign contrast and twins, recovery, the SFT mix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from breakfix.backends.base import ModelRef
from breakfix.config.model import GenerationSettings
from breakfix.taxonomy import TWIN_KINDS
from breakfix.types import StrictModel


class ResponderConfig(StrictModel):
    """A responder model that writes chosen responses under a constitution (``curation.responses: responder``)."""

    model: ModelRef
    constitution: str | None = Field(None, description="a text file with the principles (default: breakfix's)")
    revise: bool = Field(True, description="critique-and-revise pass")
    generation: GenerationSettings = Field(default_factory=lambda: GenerationSettings(max_new_tokens=256))

    @field_validator("constitution")
    @classmethod
    def _file(cls, v: str | None) -> str | None:
        if v is not None and not Path(v).is_file():
            raise ValueError(f"constitution file {v!r} not found")
        return v


ResponseLink = Literal["self", "responder", "reference", "template"]


class RecoveryConfig(StrictModel):
    """Recovery examples: a harmful-looking opening, then a return to a refusal (loss on the recovery only)."""

    share: float = Field(0.0, ge=0, le=1, description="share of harmful findings that also give a recovery example")
    depths: list[int] = Field(
        default_factory=lambda: [5, 10, 20], min_length=1, description="opening depths in words, one drawn per example"
    )

    @field_validator("depths")
    @classmethod
    def _depths(cls, v: list[int]) -> list[int]:
        if any(not 1 <= d <= 200 for d in v):
            raise ValueError("each depth must be 1-200 words")
        return v


class TwinsConfig(StrictModel):
    """Benign twins of the red team's harmful seeds (XSTest's ten kinds of safe look-alike, keeping the seed's trigger
    word): probed by the red team, their helpful answers become contrast data."""

    enabled: bool | None = Field(
        None,
        description="make twins (default: of the world's red-team split, unless it holds look-alikes of its own; "
        "not of redteam.seeds)",
    )
    per_seed: int = Field(2, ge=1, le=10, description="twins per harmful seed, of different kinds")
    kinds: list[str] = Field(
        default_factory=lambda: list(TWIN_KINDS), min_length=1, description="which of the ten kinds to make"
    )
    generator: ModelRef | None = Field(None, description="a model that writes the twins (default: built-in lexicon)")

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, v: list[str]) -> list[str]:
        bad = [k for k in v if k not in TWIN_KINDS]
        if bad:
            raise ValueError(f"unknown kind {bad[0]!r}; kinds are {', '.join(TWIN_KINDS)}")
        return v


class CurationConfig(StrictModel):
    """How findings become training data: the safe-response chain, dedup, decontamination, balance and mix."""

    responses: list[ResponseLink] = Field(
        default_factory=lambda: ["self", "reference", "template"],
        min_length=1,
        description="safe-response sources, tried in order (default: self, responder if configured, reference, "
        "template)",
    )
    responder: ResponderConfig | None = None
    templates: str | None = Field(None, description="a JSONL/YAML file of refusal templates (over the built-in)")
    safety_share: float = Field(
        0.1,
        gt=0,
        le=1,
        description="share of safety rows in the SFT mix (default 0.1: a few percent of safety data already gives "
        "large gains, and more gives exaggerated safety: Bianchi et al., Safety-Tuned LLaMAs, arXiv 2309.07875)",
    )
    max_helpful_repeats: float | None = Field(
        2.0,
        ge=1,
        description="the helpful rows (self-distilled benign answers, twins, helpful chats) are cycled at most this "
        "many times to fill the SFT mix; when they cannot, the safety rows are sampled down to keep the share "
        "(null: cycle without bound)",
    )
    benign_contrast: bool = Field(
        True, description="benign contrast data (over-refusal fixes, helpful-vs-refusal pairs); off: refusal-only"
    )
    benign_pair_share: float = Field(0.3, ge=0, lt=1, description="share of benign contrast pairs among DPO pairs")
    cap_per_group: int | None = Field(15, ge=1, description="safety rows per (category, language) at most")
    dedup_threshold: float = Field(0.9, gt=0, le=1, description="MinHash Jaccard of near-duplicates")
    replay: bool = True
    helpful_dataset: str | None = Field(
        None, description="chat data to mix in: a JSONL file, a dataset dir, or a hub id"
    )
    augment_languages: list[str] = Field(default_factory=list, description="top these languages up by translation")
    min_per_language: int = Field(0, ge=0)
    translator: ModelRef | None = Field(None, description="translates for augmentation (default: the converter model)")
    heldout_files: list[str] = Field(
        default_factory=list,
        description="more held-out prompts to decontaminate against (seed files or <loader>:<path>)",
    )
    recovery: RecoveryConfig = Field(
        default_factory=RecoveryConfig, description="recovery examples against prefill attacks (share 0: none)"
    )
    twins: TwinsConfig = Field(default_factory=TwinsConfig, description="benign twins of the harmful seeds")
    on_policy: bool = Field(
        True,
        description="a benign probe the checkpoint refused and the base model answered becomes a pair (the base "
        "model's answer over the refusal); off: only probes with a reference answer do",
    )

    @model_validator(mode="after")
    def _links(self) -> CurationConfig:
        if "responder" in self.responses and self.responder is None:
            raise ValueError("the 'responder' link needs curation.responder")
        if (
            "responses" not in self.model_fields_set
            and self.responder is not None
            and "responder" not in self.responses
        ):
            self.responses = ["self", "responder", "reference", "template"]
        if len(set(self.responses)) != len(self.responses):
            raise ValueError("each response source may appear once")
        if self.templates is not None and not Path(self.templates).is_file():
            raise ValueError(f"file {self.templates!r} not found")
        return self
