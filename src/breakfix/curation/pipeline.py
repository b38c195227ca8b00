"""The curation stage: findings -> deduplicated, decontaminated, balanced SFT rows and DPO pairs, mixed with
helpfulness data and replayed earlier rounds."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from breakfix.curation.decontam import HeldoutIndex, decontaminate
from breakfix.curation.dedup import dedup
from breakfix.curation.mix import cap_groups, helpful_count, mix
from breakfix.curation.pairs import chat_to_sft_row, dpo_row, finding_rows, sft_row
from breakfix.curation.responses import safe_response
from breakfix.curation.text import prompt_text
from breakfix.demo.world import refusal_text
from breakfix.types import Attempt, Finding


@dataclass
class CurationResult:
    sft: list[dict[str, Any]]
    dpo: list[dict[str, Any]]
    stats: dict[str, Any] = field(default_factory=dict)


def curate(
    findings: Sequence[Finding],
    *,
    round_: int,
    direct: Mapping[str, Attempt],
    references: Mapping[str, str],
    benign_probes: Sequence[Attempt],
    helpful: Sequence[dict[str, Any]],
    heldout: HeldoutIndex,
    replay_sft: Sequence[dict[str, Any]] = (),
    replay_dpo: Sequence[dict[str, Any]] = (),
    safety_share: float = 0.5,
    benign_pair_share: float = 0.3,
    cap_per_group: int | None = None,
    dedup_threshold: float = 0.9,
    seed: int = 0,
) -> CurationResult:
    """Build one round's training data.

    Args:
        findings: This round's defects (harmful compliances and benign over-refusals).
        round_: The round the data comes from (recorded in each row's ``meta``).
        direct: The checkpoint's direct attempts by seed id (for self-distillation).
        references: Reference answers of benign seeds, by seed id.
        benign_probes: Direct attempts on benign red-team seeds (the pool for benign contrast pairs).
        helpful: Helpfulness rows (``{"messages", "meta"}``) to mix in.
        heldout: Index of held-out prompts; overlapping rows are dropped.
        replay_sft: Earlier rounds' safety SFT rows, replayed so old fixes are kept.
        replay_dpo: Earlier rounds' safety DPO pairs.
        safety_share: Share of safety rows in the SFT mix.
        benign_pair_share: Share of benign contrast pairs among DPO pairs.
        cap_per_group: At most this many safety rows per (category, language).
        dedup_threshold: MinHash Jaccard threshold for near-duplicates.
        seed: Seed of sampling and shuffling.
    """
    sources: Counter[str] = Counter()
    sft_safety, dpo_safety = [], []
    for f in findings:
        chosen, source = safe_response(f, direct, references.get(f.seed_id))
        sources[source] += 1
        s, d = finding_rows(f, chosen, source, round_)
        sft_safety.append(s)
        dpo_safety.append(d)

    # dedup within the round and against replayed rounds, then decontaminate, then balance
    seen = [prompt_text(r) for r in replay_sft]
    kept_idx, dropped_dup = dedup(
        [{"i": i, "t": prompt_text(r)} for i, r in enumerate(sft_safety)],
        key=lambda r: r["t"],
        threshold=dedup_threshold,
        seen=seen,
    )
    idx = [r["i"] for r in kept_idx]
    sft_safety = [sft_safety[i] for i in idx]
    dpo_safety = [dpo_safety[i] for i in idx]
    pairs = [{"s": s, "d": d} for s, d in zip(sft_safety, dpo_safety, strict=True)]
    pairs, dropped_contam = decontaminate(pairs, key=lambda p: prompt_text(p["s"]), index=heldout)
    capped = cap_groups([{**p, "meta": p["s"]["meta"]} for p in pairs], cap_per_group, seed)
    sft_safety = [p["s"] for p in capped] + list(replay_sft)
    dpo_safety = [p["d"] for p in capped] + list(replay_dpo)

    helpful_clean, dropped_helpful = decontaminate(list(helpful), key=prompt_text, index=heldout)
    helpful_sft = [chat_to_sft_row(r["messages"], r["meta"]) for r in helpful_clean]
    dropped_contam += dropped_helpful

    # benign contrast: helpful answers preferred over refusals of benign prompts
    n_benign_dpo = round(len(dpo_safety) * benign_pair_share / (1 - benign_pair_share)) if dpo_safety else 0
    benign_dpo = _benign_pairs(benign_probes, references, helpful_clean, n_benign_dpo, round_, seed)
    # benign SFT contrast: the plain (un-attacked) benign probes with their reference answers; the wrapped ones
    # enter as DPO pairs, so the SFT mix is not flooded with new answers to learn
    benign_sft = []
    for a in benign_probes:
        if a.technique == "direct" and (a.seed.id in references or _helped(a)):
            answer, source = _benign_answer(a, references)
            benign_sft.append(
                sft_row(
                    a.prompt,
                    answer,
                    {"category": "benign", "language": a.seed.language, "round": round_, "source": source},
                )
            )
    sft = mix(sft_safety, benign_sft + helpful_sft, safety_share, seed) if sft_safety else []
    rng = random.Random(seed)
    dpo = dpo_safety + benign_dpo
    rng.shuffle(dpo)
    n_benign_sft = helpful_count(len(sft_safety), safety_share) if sft_safety else 0
    stats = {
        "sft": len(sft),
        "dpo": len(dpo),
        "benign": len(benign_dpo) + n_benign_sft,
        "benign_dpo": len(benign_dpo),
        "safety_sft": len(sft_safety),
        "replayed": len(replay_sft),
        "dropped_duplicates": dropped_dup,
        "dropped_contaminated": dropped_contam,
        "response_sources": dict(sources),
    }
    return CurationResult(sft=sft, dpo=dpo, stats=stats)


def _benign_pairs(
    probes: Sequence[Attempt],
    references: Mapping[str, str],
    helpful: Sequence[dict[str, Any]],
    n: int,
    round_: int,
    seed: int,
) -> list[dict[str, Any]]:
    pool: list[dict[str, Any]] = []
    for a in probes:
        if a.seed.id not in references and not _helped(a):
            continue
        refused = a.status == "ok" and a.verdict is not None and a.verdict.refusal
        rejected = a.response if refused else refusal_text("benign", a.seed.language)
        chosen, _ = _benign_answer(a, references)
        pool.append(
            dpo_row(
                a.prompt,
                chosen,
                rejected,
                {
                    "category": "benign",
                    "language": a.seed.language,
                    "round": round_,
                    "source": "over-refusal" if refused else "contrast",
                },
            )
        )
    for r in helpful:
        lang = r.get("meta", {}).get("language", "en")
        msgs = r["messages"]
        pool.append(
            dpo_row(
                msgs[:-1],
                msgs[-1]["content"],
                refusal_text("benign", lang),
                {"category": "benign", "language": lang, "round": round_, "source": "helpful"},
            )
        )
    rng = random.Random(seed + 1)
    # over-refusals first: they are real defects of this checkpoint
    real = [p for p in pool if p["meta"]["source"] == "over-refusal"]
    rest = [p for p in pool if p["meta"]["source"] != "over-refusal"]
    rng.shuffle(rest)
    out = real + rest
    while out and len(out) < n:
        out += out[: n - len(out)]
    return out[:n]


def _helped(a: Attempt) -> bool:
    """The checkpoint answered a benign probe: no error, no refusal, nothing harmful."""
    return a.status == "ok" and a.verdict is not None and not a.verdict.refusal and not a.verdict.harmful


def _benign_answer(a: Attempt, references: Mapping[str, str]) -> tuple[str, str]:
    """The preferred answer to a benign probe: the model's own answer when it helped (self-distillation keeps the
    fix from teaching new content, which caused forgetting on the demo model), else the reference answer."""
    if _helped(a):
        return a.response, "self-distillation"
    return references[a.seed.id], "reference"
