"""The red team: seeds, techniques, personas, its target and helper models."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from breakfix import registry
from breakfix.backends.base import ModelRef
from breakfix.config.model import GenerationSettings
from breakfix.registry import check_technique
from breakfix.types import StrictModel

DEFAULT_TECHNIQUES = [
    "direct",
    "template:roleplay_dan",
    "template:fiction",
    "template:prefix_injection",
    "template:refusal_suppression",
    "converter:leetspeak",
    "escalation",
]


class CrescendoSettings(StrictModel):
    max_turns: int = Field(5, ge=1, le=50)
    max_backtracks: int = Field(3, ge=0, le=50)


class PairSettings(StrictModel):
    iterations: int = Field(3, ge=1, le=50)
    streams: int = Field(3, ge=1, le=64, description="parallel refinement streams (the PAIR paper uses 20)")


class RedteamConfig(StrictModel):
    """The red team: which techniques (or an adversary persona), on which seeds, with which helper models."""

    persona: str | None = Field(None, description="a registered adversary persona: low_skill, intermediate")
    techniques: list[str] = Field(default_factory=lambda: list(DEFAULT_TECHNIQUES))
    seeds: list[str] = Field(
        default_factory=list, description="seed files (JSONL or PyRIT .prompt); default: the world's"
    )
    languages: list[str] = Field(default_factory=lambda: ["en", "es"])
    template_paths: list[str] = Field(default_factory=list, description="PyRIT template YAML files or folders")
    limit: int | None = Field(None, ge=1, description="seeds at most (a sample stratified by category; --limit)")
    target: ModelRef | None = Field(None, description="what `breakfix redteam` attacks (default: model)")
    attacker: ModelRef | None = None
    converter_model: ModelRef | None = None
    attacker_generation: GenerationSettings = Field(
        default_factory=lambda: GenerationSettings(max_new_tokens=256, do_sample=True, temperature=1.0)
    )
    crescendo: CrescendoSettings = Field(default_factory=CrescendoSettings)
    pair: PairSettings = Field(default_factory=PairSettings)
    concurrency: int | None = Field(None, ge=1, le=4096, description="attempts in flight (default: the target's)")

    @field_validator("techniques")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        for t in v:
            check_technique(t)
        if not v:
            raise ValueError("at least one technique is needed")
        return v

    @field_validator("persona")
    @classmethod
    def _persona(cls, v: str | None) -> str | None:
        return v if v is None else registry.require("persona", v)

    @field_validator("languages")
    @classmethod
    def _langs(cls, v: list[str]) -> list[str]:
        bad = [x for x in v if not re.fullmatch(r"[a-z]{2,3}", x)]
        if bad or not v:
            raise ValueError(f"languages must be a non-empty list of ISO 639 codes, got {bad or v}")
        return v

    @model_validator(mode="after")
    def _helpers(self) -> RedteamConfig:
        for t in self.effective_techniques():
            for need in sorted(check_technique(t)):
                if getattr(self, need) is None:
                    raise ValueError(f"technique {t!r} needs redteam.{need}")
        return self

    def effective_techniques(self) -> list[str]:
        """The persona's techniques (if any) plus the listed ones, without repeats."""
        out: list[str] = []
        if self.persona:
            fn = registry.get("persona", self.persona).obj
            out += fn(converter_model=self.converter_model is not None, attacker=self.attacker is not None)
        if not self.persona or "techniques" in self.model_fields_set:
            out += self.techniques
        return list(dict.fromkeys(out))
