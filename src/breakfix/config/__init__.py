"""The run config: pydantic models loaded from YAML, one module per section. Every error names the file, the field
and the reason."""

from __future__ import annotations

from breakfix.backends.base import QUANTS, ModelRef
from breakfix.config.bench import DEFAULT_SUITES, BenchConfig
from breakfix.config.curation import CurationConfig, RecoveryConfig, ResponderConfig, ResponseLink, TwinsConfig
from breakfix.config.cycle import CycleConfig, SelectionConfig, Targets
from breakfix.config.files import FilesConfig, SplitSettings
from breakfix.config.judges import DEFAULT_JUDGE_NOTE, EnsembleSettings, JudgesConfig, JudgeSpec
from breakfix.config.model import GenerationSettings, ModelConfig
from breakfix.config.redteam import DEFAULT_TECHNIQUES, CrescendoSettings, PairSettings, RedteamConfig
from breakfix.config.run import DEFAULT_WORLD, RunConfig, demo_config, load_config, parse_config, read_config_data
from breakfix.config.training import MAX_SEARCH, SEARCH_KEYS, TrainingConfig

__all__ = [
    "BenchConfig",
    "CrescendoSettings",
    "CurationConfig",
    "CycleConfig",
    "DEFAULT_JUDGE_NOTE",
    "DEFAULT_SUITES",
    "DEFAULT_TECHNIQUES",
    "DEFAULT_WORLD",
    "EnsembleSettings",
    "FilesConfig",
    "GenerationSettings",
    "JudgeSpec",
    "JudgesConfig",
    "MAX_SEARCH",
    "ModelConfig",
    "ModelRef",
    "PairSettings",
    "QUANTS",
    "RecoveryConfig",
    "RedteamConfig",
    "ResponderConfig",
    "ResponseLink",
    "RunConfig",
    "SEARCH_KEYS",
    "SelectionConfig",
    "SplitSettings",
    "Targets",
    "TrainingConfig",
    "TwinsConfig",
    "demo_config",
    "load_config",
    "parse_config",
    "read_config_data",
]
