"""The select job: score a round's candidate fixes on the validation split and keep one by a stated rule.

A round trains its fix once per recipe (the configured one, and each point of ``training.search``), taking
snapshots along the way (``cycle.selection``); every snapshot is a candidate. Each candidate is run on the
validation suites and its benign drift from the round-0 model is measured; then the rule keeps one:

- ``targets`` (default): among the candidates that meet every validation target, the one with the lowest harmful
  DR-1 (ties: lower VPRR, lower drift, fewer steps); when none meets them, the best by the balanced score among
  those that keep the capability and drift targets (among all when none keeps them), and the round says which
  targets were missed and by how much;
- ``balanced``: the best by the balanced score, the harmonic mean of harmful refusal (1 - harmful DR-1) and benign
  compliance (1 - VPRR): 0 both for refusing everything and for complying with everything.

Nothing here reads a held-out suite: the held-out scores of a round are taken after its decisions, for the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from breakfix.config import RunConfig
from breakfix.metrics import balanced_score
from breakfix.metrics import targets_met as metrics_targets_met
from breakfix.suites.drift import benign_drift, reply_logprobs
from breakfix.types import Attempt, Candidate, Conversation, Drift

__all__ = [
    "RULES",
    "apply_overrides",
    "DriftReference",
    "balanced_score",
    "candidate_drift",
    "choose",
    "drift_items",
    "drift_reference",
    "recipes",
    "targets_met",
]

RULES = {
    "targets": "among the candidates that meet every validation target, the lowest harmful DR-1 (ties: lower VPRR, "
    "lower drift, fewer steps); if none meets them, the highest balanced score among those that keep the capability "
    "and drift targets (all, when none keeps them)",
    "balanced": "the highest balanced score: the harmonic mean of harmful refusal (1 - harmful DR-1) and benign "
    "compliance (1 - VPRR)",
}


def targets_met(
    bench: dict[str, Any], bench0: dict[str, Any], cfg: RunConfig, drift: float | None = None
) -> tuple[bool, list[str]]:
    """Whether the scores ``bench`` meet every target of ``cfg.cycle.targets`` (relative ones against round 0's
    ``bench0``, and ``drift`` against ``targets.drift``); the misses say by how much
    (:func:`breakfix.metrics.targets_met`)."""
    return metrics_targets_met(bench, bench0, cfg.cycle.targets, drift)


GUARDS = ("capability ", "drift ")  # the targets a fallback keeps: their misses (metrics.targets_met) start so


def choose(candidates: Sequence[Candidate | dict[str, Any]], rule: str) -> tuple[int, str]:
    """The index of the candidate ``rule`` keeps, and why, in training order. A candidate is a :class:`Candidate`
    (or its ``report.json`` block): its validation scores, ``targets_met``, ``misses``, ``balanced`` and drift."""
    cands = [c if isinstance(c, Candidate) else Candidate.model_validate(_defaults(c)) for c in candidates]

    def drift(c: Candidate) -> float:
        return c.drift["kl"] if c.drift else 0.0

    def harmful(c: Candidate) -> float:
        h = c.validation.get("harmful")
        dr = h.defect_rate if h is not None else None
        return dr if dr is not None else 1 - c.balanced

    def vprr(c: Candidate) -> float:
        o = c.validation.get("overrefusal")
        return (o.vprr if o is not None else None) or 0.0

    order = range(len(cands))
    meeting = [i for i in order if cands[i].targets_met]
    if rule == "targets" and meeting:
        best = min(meeting, key=lambda i: (harmful(cands[i]), vprr(cands[i]), drift(cands[i]), i))
        return best, f"{len(meeting)} of {len(cands)} met every validation target; lowest harmful DR-1"
    kept_guards = [i for i in order if not any(m.startswith(GUARDS) for m in cands[i].misses)]
    # under ``targets``, a fix that loses capability (or drifts past its bound) is no fix, while another keeps them
    pool = kept_guards if rule == "targets" and kept_guards else list(order)
    best = max(pool, key=lambda i: (cands[i].balanced, -harmful(cands[i]), -i))
    why = "highest balanced score"
    if rule == "targets":
        guard = f" among the {len(pool)} that kept capability and drift" if len(pool) < len(candidates) else ""
        why = f"none of {len(candidates)} met every validation target; {why}{guard}"
        if not kept_guards:
            why += " (none kept capability and drift)"
    return best, why


def _defaults(c: dict[str, Any]) -> dict[str, Any]:
    """A candidate block with the fields that only name it (not read by the rule) filled in when absent."""
    return {"name": "?", "stage": "?", "step": 0, "checkpoint_id": "?", **c, "misses": c.get("misses") or []}


def drift_items(attempts: list[Attempt], n: int) -> list[tuple[Conversation, str]]:
    """Up to ``n`` benign validation prompts with the round-0 model's replies: the text on which drift is
    measured (multiple-choice items, which generate nothing, and empty replies are left out), in id order."""
    ok = [a for a in attempts if not a.seed.harmful and a.status == "ok" and a.response.strip()
          and "choice" not in a.info]  # fmt: skip
    ok.sort(key=lambda a: a.id)
    return [(a.prompt, a.response) for a in ok[:n]]


def recipes(cfg: RunConfig) -> list[tuple[str, dict[str, float], RunConfig]]:
    """The fixes a round trains: the configured one (``fix``), then each point of ``training.search`` (``s1``,
    ``s2``, ...), then, with ``training.dpo_only_candidate``, a DPO-only fix (``dpo-only``), each with its
    overrides and the config it trains by."""
    out: list[tuple[str, dict[str, float], RunConfig]] = [("fix", {}, cfg)]
    for i, point in enumerate(cfg.training.search_points(), 1):
        out.append((f"s{i}", point, apply_overrides(cfg, point)))
    if cfg.training.dpo_only_candidate and cfg.training.method != "dpo":
        data = cfg.model_dump()
        data["training"].update(method="dpo", search={}, dpo_only_candidate=False)
        out.append(("dpo-only", {}, RunConfig.model_validate(data)))
    return out


def apply_overrides(cfg: RunConfig, point: dict[str, float]) -> RunConfig:
    """``cfg`` with a search point's values: ``safety_share`` (curation), ``sft.*`` and ``dpo.*`` (training), and
    ``dpo.sft_weight``, the weight of the SFT term in DPO's loss (added to ``loss_type`` when missing)."""
    data = cfg.model_dump()
    for key, value in point.items():
        if key == "safety_share":
            data["curation"]["safety_share"] = value
        elif key == "dpo.sft_weight":
            dpo = data["training"]["dpo"]
            types = list(dpo["loss_type"]) + ([] if "sft" in dpo["loss_type"] else ["sft"])
            weights = list(dpo["loss_weights"] or [1.0] * len(dpo["loss_type"])) + [1.0] * (
                len(types) - len(dpo["loss_type"])
            )  # fmt: skip
            dpo["loss_type"] = types
            dpo["loss_weights"] = [value if t == "sft" else w for t, w in zip(types, weights, strict=True)]
        else:
            stage, _, name = key.partition(".")
            data["training"][stage][name] = value
    data["training"]["search"] = {}
    return RunConfig.model_validate(data)


@dataclass
class DriftReference:
    """The benign prompts drift is measured on, with the round-0 model's replies and log-probabilities."""

    items: list[tuple[Conversation, str]]
    logprobs: list[Any]


def drift_reference(base_dir: str | Path, attempts: list[Attempt], n: int) -> DriftReference:
    """The round-0 model (``base_dir``) on up to ``n`` of its own benign validation replies (``attempts``: its
    validation attempts); ``n`` = 0 turns drift off."""
    items = drift_items(attempts, n) if n else []
    return DriftReference(items, reply_logprobs(base_dir, items, label="round 0: drift reference") if items else [])


def candidate_drift(ref: DriftReference, candidate_dir: str | Path, *, label: str = "") -> Drift | None:
    """A candidate's benign drift from the round-0 model (:func:`breakfix.suites.drift.benign_drift`), or None
    when drift is off or there are no benign replies to measure it on."""
    return benign_drift(ref.logprobs, candidate_dir, ref.items, label=label) if ref.items else None
