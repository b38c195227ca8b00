"""Recovery examples (Qi et al., "Safety Alignment Should Be Made More Than Just a Few Tokens Deep", ICLR 2025):
a harmful-looking opening followed by a return to a refusal, so that a fix holds past the first tokens.

For a share of the harmful findings (``curation.recovery.share``), at a depth drawn from ``curation.recovery.depths``:
- an SFT row whose prompt ends with an open assistant turn holding the opening, and whose completion continues that
  turn with the recovery (the finding's safe response: a refusal with a reason, in the seed's language). Only the
  completion is trained: the training stage renders the opening with ``continue_final_message`` as part of the
  prompt, so no loss falls on the harmful opening;
- a DPO pair with the same open prompt: chosen = the recovery, rejected = the model's own harmful continuation of
  that opening (only when the opening is the model's own reply, so that the continuation is really its own).

Openings come from the finding's own harmful reply (a prefill finding's reply includes its pre-filled opening), else
the seed's target string, else the generic opener of the red-team split: training seeds never get the held-out
suite's openers, and the rows are decontaminated against the held-out index on their openings too.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from breakfix.curation.pairs import full_reply, recovery_meta
from breakfix.seeds.openings import opening, opening_source
from breakfix.types import DPORow, Finding, Row, Seed, SFTRow


def recovery_rows(
    findings: Sequence[Finding],
    safe: Sequence[tuple[str, str] | None],
    *,
    share: float,
    depths: Sequence[int],
    round_: int,
    seeds: Mapping[str, Seed] | None = None,
    seed: int = 0,
) -> tuple[list[SFTRow], list[DPORow]]:
    """SFT rows and DPO pairs of recovery for ``share`` of the harmful ``findings`` (a seeded sample).

    Args:
        findings: The round's findings; benign ones (over-refusals) are skipped.
        safe: Each finding's safe response and its source (None: the chain found none; skipped).
        share: The share of harmful findings that get a recovery example (0 to 1).
        depths: Opening depths in words; each example draws one.
        round_: The round recorded in each row's meta.
        seeds: The red-team seeds by id (their ``meta["target"]`` is an opening source).
        seed: Seed of the sample and the depth draws.
    """
    rng = random.Random(f"recovery:{seed}")
    pool = [(f, got) for f, got in zip(findings, safe, strict=True) if f.category != "benign" and got is not None]
    rng.shuffle(pool)
    sft: list[SFTRow] = []
    dpo: list[DPORow] = []
    for f, got in pool[: round(share * len(pool))]:
        assert got is not None
        depth = rng.choice(list(depths))
        reply = full_reply(f)
        s = (seeds or {}).get(f.seed_id) or Seed(f.seed_id, f.seed_text, f.category, f.language)
        head = opening(s, depth, reply=reply)
        source = opening_source(s, depth, reply=reply)
        prompt = [*f.prompt, {"role": "assistant", "content": head}]
        recovery = got[0]
        meta = recovery_meta(f, got[1], round_, f"{depth}:{source}")
        sft.append({"prompt": prompt, "completion": [{"role": "assistant", "content": recovery}], "meta": meta})
        rest = " ".join(reply.split()[depth:])
        if source == "reply" and rest:
            dpo.append(
                {
                    "prompt": prompt,
                    "chosen": [{"role": "assistant", "content": recovery}],
                    "rejected": [{"role": "assistant", "content": rest}],
                    "meta": meta,
                }
            )
    return sft, dpo


def opening_text(row: Row) -> str:
    """The open assistant turn a recovery row's prompt ends with ("" for other rows)."""
    prompt = row.get("prompt")
    if isinstance(prompt, list) and prompt and prompt[-1].get("role") == "assistant":
        return str(prompt[-1]["content"])
    return ""
