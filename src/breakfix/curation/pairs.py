"""Turn findings into SFT rows and DPO pairs in the formats TRL reads as they are.

SFT: conversational prompt-completion, ``{"prompt": [...], "completion": [assistant], "meta": {...}}``, so that only
the final assistant turn is trained (TRL's completion-only loss).
DPO: ``{"prompt": [...], "chosen": [assistant], "rejected": [assistant], "meta": {...}}`` with an explicit prompt and
only the last assistant turn in chosen / rejected.
Multi-turn findings train only the final assistant turn; the earlier turns are the prompt.
"""

from __future__ import annotations

from breakfix.types import Conversation, DPORow, Finding, Meta, SFTRow


def _meta(f: Finding, source: str, round_: int) -> Meta:
    return {
        "finding": f.attempt_id,
        "category": f.category,
        "technique": f.technique,
        "language": f.language,
        "round": round_,
        "source": source,
        "build": f.build,
    }


def recovery_meta(f: Finding, source: str, round_: int, recovery: str) -> Meta:
    """A recovery row's meta: the finding's, plus ``recovery`` (``"<depth>:<opening source>"``)."""
    return {**_meta(f, source, round_), "recovery": recovery}


def full_reply(f: Finding) -> str:
    """What the model said: a prefill finding's pre-filled opening and its continuation, else its response."""
    return f"{f.prefill} {f.response}" if f.prefill else f.response


def sft_row(prompt: Conversation, response: str, meta: Meta) -> SFTRow:
    return {"prompt": list(prompt), "completion": [{"role": "assistant", "content": response}], "meta": meta}


def chat_to_sft_row(messages: Conversation, meta: Meta) -> SFTRow:
    """A chat that ends with an assistant turn, as an SFT row that trains that last turn."""
    return sft_row(messages[:-1], messages[-1]["content"], meta)


def dpo_row(prompt: Conversation, chosen: str, rejected: str, meta: Meta) -> DPORow:
    return {
        "prompt": list(prompt),
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": rejected}],
        "meta": meta,
    }


def finding_rows(f: Finding, chosen: str, source: str, round_: int) -> tuple[SFTRow, DPORow]:
    """The SFT row and the DPO pair of one finding: chosen is the safe (or helpful) response, rejected is the
    model's own defective response (a prefill finding's: the pre-filled opening and the model's continuation)."""
    meta = _meta(f, source, round_)
    return sft_row(f.prompt, chosen, meta), dpo_row(f.prompt, chosen, full_reply(f), meta)
