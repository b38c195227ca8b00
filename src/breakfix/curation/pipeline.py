"""The curation stage: findings -> deduplicated, decontaminated, balanced SFT rows and DPO pairs, mixed with
helpfulness data and replayed earlier rounds."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from breakfix.backends.base import AsyncBackend
from breakfix.config import CurationConfig
from breakfix.curation.augment import augment_languages
from breakfix.curation.decontam import HeldoutIndex, decontaminate
from breakfix.curation.dedup import dedup
from breakfix.curation.mix import bounded_safety, cap_groups, helpful_count, mix
from breakfix.curation.pairs import chat_to_sft_row, dpo_row, finding_rows, sft_row
from breakfix.curation.recovery import opening_text, recovery_rows
from breakfix.curation.responses import ResponseChain
from breakfix.text import prompt_text
from breakfix.types import Attempt, ChatRow, DPORow, Finding, Meta, Seed, SFTRow, judged


@dataclass
class CurationResult:
    sft: list[SFTRow]
    dpo: list[DPORow]
    stats: dict[str, Any] = field(default_factory=dict)  # the CurationSummary block, as JSON


def curate(
    findings: Sequence[Finding],
    *,
    round_: int,
    chain: ResponseChain,
    direct: Mapping[str, Attempt],
    benign_probes: Sequence[Attempt],
    helpful: Sequence[ChatRow],
    heldout: HeldoutIndex,
    replay_sft: Sequence[SFTRow] = (),
    replay_dpo: Sequence[DPORow] = (),
    settings: CurationConfig | None = None,
    translator: AsyncBackend | None = None,
    seeds: Mapping[str, Seed] | None = None,
    seed: int = 0,
    base_answers: Mapping[str, str] | None = None,
) -> CurationResult:
    """Build one round's training data.

    Args:
        findings: This round's defects (harmful compliances and benign over-refusals).
        round_: The round the data comes from (recorded in each row's ``meta``).
        chain: The safe-response chain (its references also answer benign probes).
        direct: The checkpoint's direct attempts by seed id (for self-distillation).
        benign_probes: Attempts on benign red-team seeds (the pool for benign contrast pairs).
        helpful: Helpfulness rows (``{"messages", "meta"}``) to mix in.
        heldout: Index of held-out prompts; overlapping rows are dropped.
        replay_sft: Earlier rounds' safety SFT rows, replayed so old fixes are kept.
        replay_dpo: Earlier rounds' safety DPO pairs.
        settings: Shares, caps, thresholds and augmentation (the run config's ``curation`` block).
        translator: The converter model that translates rows for language augmentation.
        seeds: The red-team seeds by id (target strings for recovery openings).
        seed: Seed of sampling and shuffling.
        base_answers: The base model's helpful answers by prompt text (its round-0 replies): the chosen answer of an
            over-refusal this checkpoint makes of a prompt the base model answered (on-policy pairs).
    """
    st = settings or CurationConfig()
    if not st.benign_contrast:
        findings = [f for f in findings if f.category != "benign"]
    synth = chain.synthesize(findings, direct)
    safe = _safety_rows(findings, synth, st, round_=round_, heldout=heldout, replay_sft=replay_sft,
                        translator=translator, seeds=seeds, seed=seed)  # fmt: skip
    sft_safety = safe.sft + safe.rec_sft + list(replay_sft)
    dpo_safety = safe.pairs + safe.rec_dpo + list(replay_dpo)
    helpful_clean, helpful_reasons = decontaminate(list(helpful), key=prompt_text, index=heldout)
    helpful_sft = [chat_to_sft_row(r["messages"], r["meta"]) for r in helpful_clean]
    safe.contam += helpful_reasons
    benign_dpo: list[DPORow] = []
    benign_sft: list[SFTRow] = []
    over: dict[str, Any] = {}
    if st.benign_contrast:
        answers = BenignAnswers(chain.references, base_answers or {})
        benign_dpo, benign_sft, over = _benign_rows(
            benign_probes, chain, answers, helpful_clean, len(dpo_safety), st, round_, seed, heldout, safe.contam
        )
    pool = len(benign_sft) + len(helpful_sft)
    n_safety_sft = bounded_safety(len(sft_safety), pool, st.safety_share, st.max_helpful_repeats)
    sft = mix(sft_safety, benign_sft + helpful_sft, st.safety_share, seed, st.max_helpful_repeats) if sft_safety else []
    rng = random.Random(seed)
    dpo = dpo_safety + benign_dpo
    rng.shuffle(dpo)
    n_benign_sft = helpful_count(n_safety_sft, st.safety_share) if sft_safety else 0
    stats = _stats(sft, dpo, safe, synth.stats(), benign_sft, benign_dpo, over, n_safety_sft, n_benign_sft,
                   len(sft_safety), pool, len(replay_sft))  # fmt: skip
    return CurationResult(sft=sft, dpo=dpo, stats=stats)


def _stats(
    sft: list[SFTRow], dpo: list[DPORow], safe: _Safety, synth_stats: dict[str, Any],
    benign_sft: list[SFTRow], benign_dpo: list[DPORow], over: dict[str, Any], n_safety_sft: int,
    n_benign_sft: int, n_safety: int, pool: int, n_replayed: int,
) -> dict[str, Any]:  # fmt: skip
    """A round's curation account (``CurationSummary``): what was made, mixed and dropped, and why."""
    reasons = Counter(safe.dups) + Counter(safe.contam)
    stats = {
        "sft": len(sft),
        "dpo": len(dpo),
        "benign": len(benign_dpo) + n_benign_sft,
        "benign_dpo": len(benign_dpo),
        "safety_sft": n_safety_sft,
        # safety rows left out of the SFT mix so the share holds without cycling the helpful rows past their bound
        # (they still enter as DPO pairs)
        "safety_sft_bounded_out": n_safety - n_safety_sft,
        "recovery_sft": len(safe.rec_sft),
        "recovery_dpo": len(safe.rec_dpo),
        "replayed": n_replayed,
        "dropped_duplicates": sum(safe.dups.values()),
        "dropped_contaminated": sum(safe.contam.values()),
        "dropped_reasons": dict(sorted(reasons.items())),
        "response_sources": synth_stats["sources"],
        "responses_rejected": synth_stats["rejected"],
        "unresolved_findings": synth_stats["unresolved"],
        # the helpful pool is cycled when it is smaller than the mix needs: each row is seen this many times
        "helpful_pool": pool,
        "helpful_repeats": round(n_benign_sft / pool, 2) if pool else 0.0,
        # every over-refusal of a benign probe: made into a pair, or dropped with its reason
        "over_refusal": over,
        "benign_pair_sources": dict(sorted(Counter(p["meta"]["source"] for p in benign_dpo).items())),
        "benign_sft_sources": dict(sorted(Counter(r["meta"]["source"] for r in benign_sft).items())),
        "twin_rows": sum(1 for r in benign_sft + benign_dpo if r["meta"].get("twin_kind")),
    }
    if safe.augmentation:
        stats["augmentation"] = safe.augmentation
    return stats


@dataclass
class _Safety:
    """A round's safety rows after dedup, decontamination, augmentation and caps: the SFT rows of the kept pairs, the
    pairs, the recovery rows, and what was dropped and why."""

    sft: list[SFTRow]
    pairs: list[DPORow]
    rec_sft: list[SFTRow]
    rec_dpo: list[DPORow]
    dups: Counter[str]
    contam: Counter[str]
    augmentation: dict[str, Any]


def _safety_rows(
    findings: Sequence[Finding], synth: Any, st: CurationConfig, *, round_: int, heldout: HeldoutIndex,
    replay_sft: Sequence[SFTRow], translator: AsyncBackend | None, seeds: Mapping[str, Seed] | None, seed: int,
) -> _Safety:  # fmt: skip
    """The findings' safe responses as rows: deduplicated within the round and against replayed rounds, then
    decontaminated, augmented and capped; then the recovery rows of the kept findings."""
    sft_safety, dpo_safety = [], []
    for f, got in zip(findings, synth.responses, strict=True):
        if got is not None:
            s, d = finding_rows(f, got[0], got[1], round_)
            sft_safety.append(s)
            dpo_safety.append(d)
    kept_idx, dup_reasons = dedup(
        [{"i": i, "t": prompt_text(r)} for i, r in enumerate(sft_safety)],
        key=lambda r: r["t"],
        threshold=st.dedup_threshold,
        seen=[prompt_text(r) for r in replay_sft],
    )
    pairs = [dpo_safety[r["i"]] for r in kept_idx]
    pairs, contam_reasons = decontaminate(pairs, key=prompt_text, index=heldout)
    augmentation: dict[str, Any] = {}
    if st.augment_languages and st.min_per_language and translator is not None:
        pairs, augmentation = augment_languages(pairs, st.augment_languages, st.min_per_language, translator, seed)
        pairs, more = decontaminate(pairs, key=prompt_text, index=heldout)
        contam_reasons += more
    pairs = cap_groups(pairs, st.cap_per_group, seed)
    sft = [sft_row(p["prompt"], p["chosen"][0]["content"], p["meta"]) for p in pairs]
    # recovery examples: harmful-looking openings, then a refusal; decontaminated on their prompts and openings
    kept_findings = {p["meta"]["finding"] for p in pairs}
    rec_sft, rec_dpo = recovery_rows(
        [f for f in findings if f.attempt_id in kept_findings],
        [got for f, got in zip(findings, synth.responses, strict=True) if f.attempt_id in kept_findings],
        share=st.recovery.share, depths=st.recovery.depths, round_=round_, seeds=seeds, seed=seed,
    )  # fmt: skip
    for key in (prompt_text, opening_text):
        rec_sft, more = decontaminate(rec_sft, key=key, index=heldout)
        contam_reasons += more
        rec_dpo, _ = decontaminate(rec_dpo, key=key, index=heldout)
    return _Safety(sft, pairs, rec_sft, rec_dpo, Counter(dup_reasons), Counter(contam_reasons), augmentation)


def _benign_rows(
    benign_probes: Sequence[Attempt], chain: ResponseChain, answers: BenignAnswers,
    helpful_clean: list[ChatRow], n_safety_dpo: int, st: CurationConfig, round_: int, seed: int,
    heldout: HeldoutIndex, contam: Counter[str],
) -> tuple[list[DPORow], list[SFTRow], dict[str, Any]]:  # fmt: skip
    """Benign contrast: DPO pairs (helpful answers preferred over refusals of benign prompts) and SFT rows (the plain,
    un-attacked benign probes with a helpful answer; the wrapped ones enter as DPO pairs only, so the SFT mix is not
    flooded with new answers to learn), and the account of every over-refusal. Probes that overlap a scored prompt
    are dropped (counted in ``contam``)."""
    probes = [a for a in benign_probes if not heldout.overlaps(prompt_text({"prompt": a.prompt}))]
    if len(probes) < len(benign_probes):
        contam["benign probe overlaps validation or held out"] += len(benign_probes) - len(probes)
    n_benign_dpo = round(n_safety_dpo * st.benign_pair_share / (1 - st.benign_pair_share)) if n_safety_dpo else 0
    benign_dpo, over = _benign_pairs(probes, chain, answers, helpful_clean, n_benign_dpo, round_, seed)
    benign_sft = []
    for a in probes:
        got = answers.get(a) if a.technique == "direct" else None
        if got is not None:
            meta = {"category": "benign", "language": a.seed.language, "round": round_, "source": got[1],
                    **_twin_meta(a)}  # fmt: skip
            benign_sft.append(sft_row(a.prompt, got[0], meta))
    return benign_dpo, benign_sft, over


class BenignAnswers:
    """The helpful answer to a benign probe, with its source: the checkpoint's own answer when it helped
    (self-distillation keeps the fix from teaching new content, which caused forgetting on the demo model), else the
    base model's own answer to the same prompt (it keeps the model's voice), else the seed's reference answer."""

    def __init__(self, references: Mapping[str, str], base: Mapping[str, str]) -> None:
        self.references = references
        self.base = base

    def get(self, a: Attempt) -> tuple[str, str] | None:
        if helped(a):
            return a.response, "self-distillation"
        if (text := self.base.get(prompt_text({"prompt": a.prompt}))) is not None:
            return text, "base-model"
        if a.seed.id in self.references:
            return self.references[a.seed.id], "reference"
        return None


def on_policy_pairs(
    attempts: Sequence[Attempt], answers: BenignAnswers, round_: int, source: str = "on-policy"
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A candidate's refusals of benign probes as DPO pairs: chosen is the helpful answer (the base model's own,
    else a reference), rejected is the candidate's own refusal. Returns the pairs and their account: probes,
    refusals, pairs, drops by reason, pairs by probe kind."""
    pairs: list[dict[str, Any]] = []
    dropped: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    refusals = 0
    for a in attempts:
        if not _refused(a):
            if not judged(a):
                dropped["not judged (an error)"] += 1
            continue
        refusals += 1
        got = answers.get(a)
        if got is None:
            dropped["no helpful answer (the base model refused it too, and no reference)"] += 1
            continue
        kinds[a.seed.meta.get("twin_kind", "probe")] += 1
        meta = {"category": "benign", "language": a.seed.language, "round": round_, "source": source,
                "answer": got[1], **_twin_meta(a)}  # fmt: skip
        pairs.append(dpo_row(a.prompt, got[0], a.response, meta))
    account = {"probes": len(attempts), "refusals": refusals, "pairs": len(pairs),
               "dropped": dict(sorted(dropped.items())), "by_kind": dict(sorted(kinds.items()))}  # fmt: skip
    return pairs, account


def _refused(a: Attempt) -> bool:
    return a.status == "ok" and a.verdict is not None and a.verdict.refusal


def _twin_meta(a: Attempt) -> Meta:
    return {"twin_kind": a.seed.meta["twin_kind"]} if a.seed.meta.get("kind") == "twin" else {}


def _benign_pairs(
    probes: Sequence[Attempt],
    chain: ResponseChain,
    answers: BenignAnswers,
    helpful: Sequence[dict[str, Any]],
    n: int,
    round_: int,
    seed: int,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Benign DPO pairs: every over-refusal of a probe that has a helpful answer (on-policy: the checkpoint's own
    refusal is rejected), then contrast pairs (a helpful answer over a refusal template) up to ``n`` in all. Returns
    the pairs and the over-refusals' account: found, made into pairs, dropped by reason, by probe kind."""
    real, acct = on_policy_pairs([a for a in probes if _refused(a)], answers, round_, source="over-refusal")
    rest: list[dict[str, Any]] = []
    for a in probes:
        got = answers.get(a) if not _refused(a) else None
        if got is None:
            continue
        meta = {"category": "benign", "language": a.seed.language, "round": round_, "source": "contrast",
                "answer": got[1], **_twin_meta(a)}  # fmt: skip
        rest.append(dpo_row(a.prompt, got[0], chain.templates.get("default", a.seed.language), meta))
    for r in helpful:
        lang = r.get("meta", {}).get("language", "en")
        msgs = r["messages"]
        rest.append(
            dpo_row(
                msgs[:-1],
                msgs[-1]["content"],
                chain.templates.get("default", lang),
                {"category": "benign", "language": lang, "round": round_, "source": "helpful"},
            )
        )
    rng = random.Random(seed + 1)
    rng.shuffle(rest)
    # over-refusals are all kept: they are real defects of this checkpoint; the rest fill the budget
    out = real + rest[: max(0, n - len(real))]
    while out and len(out) < n:
        out += out[: n - len(out)]
    return out, {"found": acct["refusals"], **{k: acct[k] for k in ("pairs", "dropped", "by_kind")}}


def helped(a: Attempt) -> bool:
    """The checkpoint answered a benign probe: no error, no refusal, nothing harmful."""
    return judged(a) and a.verdict is not None and not a.verdict.refusal and not a.verdict.harmful
