"""The judge a run names, and the judges block (ensembles, audit labels)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from breakfix import registry
from breakfix.backends.base import ModelRef
from breakfix.registry import judge_needs_model
from breakfix.types import StrictModel

DEFAULT_JUDGE_NOTE = (
    "judge: refusal (default for models without a judge of their own; set judge: or --judge). It measures refusal, "
    "not harm: any reply that does not refuse a harmful prompt counts as a defect"
)


class JudgeSpec(StrictModel):
    """One member of a judge ensemble: a judge, its model (for model judges) and its rubric (for ``llm``)."""

    judge: str = Field(description="a registered judge")
    model: ModelRef | None = None
    rubric: Literal["harm", "strongreject"] = "harm"

    @field_validator("judge")
    @classmethod
    def _known(cls, v: str) -> str:
        if v == "ensemble":
            raise ValueError("an ensemble's members are single judges")
        return registry.require("judge", v)

    @model_validator(mode="after")
    def _model(self) -> JudgeSpec:
        if judge_needs_model(self.judge) and self.model is None:
            raise ValueError(f"judge {self.judge!r} needs a model")
        return self


class EnsembleSettings(StrictModel):
    mode: Literal["majority", "strictest"] = "majority"
    members: list[JudgeSpec] = Field(min_length=2)


class JudgesConfig(StrictModel):
    """How the run's judge is audited and read."""

    audit_labels: str | None = Field(
        None, description="a labelled file (prompt, response, label) to audit the judge on; default: the held-out "
        "part of the shipped set of labelled real replies. The audit corrects every rate for judge error.",
    )  # fmt: skip
    audit_task: Literal["refusal", "harm"] | None = Field(
        None, description="what audit_labels label, when the labels do not say (0/1, safe/unsafe)"
    )
    off_topic: bool = Field(False, description="the refusal judge counts a reply unrelated to the request as a "
                            "refusal (PyRIT's definition)")  # fmt: skip
