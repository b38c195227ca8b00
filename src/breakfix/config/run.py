"""The run config as a whole: parsing, loading YAML, and the demo's config."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from breakfix import registry
from breakfix.backends.base import ModelRef
from breakfix.config.bench import BenchConfig
from breakfix.config.curation import CurationConfig
from breakfix.config.cycle import CycleConfig
from breakfix.config.files import FilesConfig
from breakfix.config.judges import DEFAULT_JUDGE_NOTE, EnsembleSettings, JudgesConfig
from breakfix.config.model import GenerationSettings, ModelConfig
from breakfix.config.redteam import RedteamConfig
from breakfix.config.training import TrainingConfig
from breakfix.errors import BreakfixError
from breakfix.registry import judge_needs_model
from breakfix.types import StrictModel

DEFAULT_WORLD = "files"  # the world of a model that names none: its sources are the config's files: block


class RunConfig(StrictModel):
    """A whole break-fix run."""

    @model_validator(mode="after")
    def _remote_code(self) -> RunConfig:
        """``model.trust_remote_code`` is the one opt-in: training loads the same model code."""
        if self.model.trust_remote_code:
            self.training.sft.trust_remote_code = self.training.dpo.trust_remote_code = True
        return self

    @model_validator(mode="after")
    def _judge_model(self) -> RunConfig:
        c = self.curation
        if c.augment_languages and c.min_per_language and not (c.translator or self.redteam.converter_model):
            raise ValueError("curation.augment_languages needs curation.translator (or redteam.converter_model)")
        if self.judge == "ensemble":
            if self.judge_ensemble is None:
                raise ValueError("judge 'ensemble' needs judge_ensemble")
        elif self.judge is not None and judge_needs_model(self.judge) and self.judge_model is None:
            raise ValueError(f"judge {self.judge!r} needs judge_model")
        f = self.files
        if f is not None and f.translate and not (f.translator or c.translator or self.redteam.converter_model):
            raise ValueError("files.translate needs files.translator (or curation.translator)")
        return self

    name: str = "breakfix"
    seed: int = 0
    model: ModelConfig = Field(default_factory=ModelConfig)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    redteam: RedteamConfig = Field(default_factory=RedteamConfig)
    benchmarks: BenchConfig = Field(default_factory=BenchConfig)
    world: str | None = Field(None, description="where seeds and held-out suites come from (default: the model's)")
    files: FilesConfig | None = Field(None, description="the sources of the files world (world: files)")
    judge: str | None = Field(
        None, description="a registered judge or 'ensemble'; default: the model's own (demo), else refusal"
    )
    judge_model: ModelRef | None = Field(None, description="the judge model of a model judge")
    judge_rubric: Literal["harm", "strongreject"] = "harm"
    judge_ensemble: EnsembleSettings | None = Field(None, description="the members when judge is 'ensemble'")
    judges: JudgesConfig = Field(default_factory=JudgesConfig)
    curation: CurationConfig = Field(default_factory=CurationConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    cycle: CycleConfig = Field(default_factory=CycleConfig)

    @field_validator("world")
    @classmethod
    def _world(cls, v: str | None) -> str | None:
        return v if v is None else registry.require("world", v)

    @field_validator("judge")
    @classmethod
    def _judge(cls, v: str | None) -> str | None:
        return v if v is None else registry.require("judge", v)

    @property
    def model_entry(self) -> registry.Entry | None:
        """The registered model that ``model.path`` names (the demo model), or None for a model dir or hub id."""
        return registry.find("model", self.model.path)

    @property
    def world_name(self) -> str:
        """The world this run draws from: ``world``, else the registered model's own, else the default."""
        entry = self.model_entry
        if self.world:
            return self.world
        if self.files is not None:
            return "files"
        return (entry.meta.get("world") if entry else None) or DEFAULT_WORLD

    def _own_judge(self) -> str | None:
        """The registered model's own judge, when that model is the target."""
        entry = self.model_entry
        return entry.meta.get("judge") if entry is not None and self.redteam.target is None else None

    @property
    def judge_name(self) -> str:
        """The judge this run uses: ``judge``, else the registered model's own judge (the demo judge for the demo
        model: the only model whose harmful replies it recognises) when the model is the target, else
        ``refusal``."""
        return self.judge or self._own_judge() or "refusal"

    def judge_note(self) -> str | None:
        """The line to print when the refusal judge was chosen by default."""
        return DEFAULT_JUDGE_NOTE if self.judge is None and self._own_judge() is None else None


def _first_error(e: ValidationError) -> tuple[str, str]:
    err = e.errors()[0]
    loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "missing":
        msg = "required"
    return loc, msg.removeprefix("Value error, ")


def parse_config(data: Any, source: str = "<config>") -> RunConfig:
    """Validate a config mapping; raise ``BreakfixError`` naming ``source``, the field and the reason."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BreakfixError(source, None, "config must be a YAML mapping")
    try:
        cfg = RunConfig.model_validate(data)
    except ValidationError as e:
        field, reason = _first_error(e)
        raise BreakfixError(source, field, reason) from None
    langs = registry.get("world", cfg.world_name).meta.get("languages")
    if langs and not cfg.redteam.seeds and not set(cfg.redteam.languages) <= set(langs):
        raise BreakfixError(
            source,
            "redteam.languages",
            f"must be a subset of the {cfg.world_name} world's {list(langs)}; give redteam.seeds for others",
        )
    return cfg


def read_config_data(path: str | Path) -> dict[str, Any]:
    """A YAML config file as a mapping, not yet validated (the CLI lays its options over it, then parses once)."""
    p = Path(path)
    if not p.is_file():
        raise BreakfixError(str(p), None, "config file not found")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise BreakfixError(str(p), None, "not UTF-8 text") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else None
        raise BreakfixError(str(p), where, f"invalid YAML ({getattr(e, 'problem', None) or e})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BreakfixError(str(p), None, "config must be a YAML mapping")
    return data


def load_config(path: str | Path) -> RunConfig:
    """Load and validate a YAML run config."""
    return parse_config(read_config_data(path), str(path))


def demo_config(quick: bool = False, seed: int = 0) -> RunConfig:
    """The embedded default run of ``breakfix demo``; ``quick`` is the small CI variant, ``seed`` the run's seed."""
    cfg = RunConfig(name="demo", seed=seed)
    # the demo world's corpus is small and synthetic: its fix keeps the share it was tuned with before the bounded
    # default (0.15, its helpful rows cycled as needed); on it, 0.1 with the bound left validation VPRR at 0.031-0.042
    # against its 0.03 target after three rounds (breakfix demo --out /tmp/demo27, 2026-12-07)
    cfg.curation.safety_share = 0.15
    cfg.curation.max_helpful_repeats = None
    if quick:
        cfg.redteam.techniques = ["direct", "template:roleplay_dan", "escalation"]
        cfg.cycle.max_rounds = 1
    return cfg
