"""Post-training: SFT then DPO, LoRA, launch, and the fix search."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from breakfix.errors import BreakfixError
from breakfix.settings import DPOSettings, LaunchSettings, SFTSettings, read_accelerate_config
from breakfix.types import StrictModel

# what training.search may vary: the SFT mix's safety share, the learning rates, DPO's beta and the weight of the
# SFT term in DPO's loss (loss_type ["sigmoid", "sft"])
SEARCH_KEYS = ("safety_share", "sft.learning_rate", "sft.epochs", "dpo.learning_rate", "dpo.beta", "dpo.sft_weight")


MAX_SEARCH = 16


class TrainingConfig(StrictModel):
    """Post-training: SFT then DPO (TRL), in this process or through ``accelerate launch``."""

    method: Literal["sft+dpo", "sft", "dpo"] = "sft+dpo"
    sft: SFTSettings = Field(default_factory=SFTSettings)
    dpo: DPOSettings = Field(default_factory=DPOSettings)
    accelerate_config: str | None = Field(None, description="an accelerate config (DDP, FSDP, DeepSpeed ZeRO-3)")
    num_processes: int | None = Field(None, ge=1, description="processes for accelerate launch")
    dpo_only_candidate: bool = Field(
        False,
        description="also train a DPO-only fix from the round's model (no SFT) as one more candidate for the rule",
    )
    search: dict[str, list[float]] = Field(
        default_factory=dict,
        description="a small grid over fix strength, each point trained as its own candidate besides the configured "
        f"recipe: {', '.join(SEARCH_KEYS)} -> values (at most {MAX_SEARCH} points)",
    )

    @field_validator("search")
    @classmethod
    def _search(cls, v: dict[str, list[float]]) -> dict[str, list[float]]:
        n = 1
        for key, values in v.items():
            if key not in SEARCH_KEYS:
                raise ValueError(f"unknown search key {key!r}; use one of {', '.join(SEARCH_KEYS)}")
            if not values:
                raise ValueError(f"search.{key} needs at least one value")
            if any(x <= 0 for x in values) or (key == "safety_share" and any(x > 1 for x in values)):
                raise ValueError(f"search.{key}: values must be > 0" + (" and <= 1" if key == "safety_share" else ""))
            n *= len(values)
        if n > MAX_SEARCH:
            raise ValueError(f"the search grid has {n} points; at most {MAX_SEARCH}")
        return v

    def search_points(self) -> list[dict[str, float]]:
        """The grid's points, in a fixed order (each a mapping of search key to value)."""
        import itertools

        keys = list(self.search)
        if not keys:
            return []
        return [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*(self.search[k] for k in keys))]

    @field_validator("accelerate_config")
    @classmethod
    def _accel(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                read_accelerate_config(v)
            except BreakfixError as e:
                raise ValueError(f"{e.reason} ({v})") from None
        return v

    def launch(self) -> LaunchSettings:
        return LaunchSettings(accelerate_config=self.accelerate_config, num_processes=self.num_processes)
