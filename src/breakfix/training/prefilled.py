"""Rows whose prompt ends with an open assistant turn (curation's recovery examples): the completion continues that
turn, and only the completion is trained.

TRL renders a conversational prompt with ``add_generation_prompt=True``, which would close the pre-filled turn and
open a new one. So when a dataset holds such rows, breakfix tokenizes it itself, the way TRL does for the others
(the chat template over prompt and prompt + completion, the completion starting where the two diverge; see
``trl.data_utils.common_prefix_length``), with the open turn rendered by ``continue_final_message``, and hands the
trainer token ids (SFT: ``input_ids`` and ``completion_mask``; DPO: ``prompt_ids``, ``chosen_ids``,
``rejected_ids``). Rows without an open turn come out as TRL would make them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from breakfix.types import Conversation, DPORow, Row, SFTRow


def has_open_turn(prompt: Any) -> bool:
    """Whether a conversational prompt ends with an assistant turn (a pre-filled opening)."""
    return isinstance(prompt, list) and bool(prompt) and prompt[-1].get("role") == "assistant"


def any_open_turn(rows: Sequence[Row]) -> bool:
    return any(has_open_turn(r.get("prompt")) for r in rows)


def _ids(tokenizer: Any, conversation: Conversation, **kwargs: Any) -> list[int]:
    out = tokenizer.apply_chat_template(list(conversation), tokenize=True, return_dict=True, **kwargs)
    return list(out["input_ids"])


def tokenize_turns(
    tokenizer: Any, prompt: Conversation, completions: Sequence[str]
) -> tuple[list[int], list[list[int]]]:
    """The prompt's token ids and each completion's (the rest of prompt + completion), as TRL splits them; an open
    final assistant turn in ``prompt`` is continued by each completion, not closed."""
    from trl.data_utils import common_prefix_length

    if has_open_turn(prompt):
        head = str(prompt[-1]["content"]).rstrip()
        prompt_ids = _ids(
            tokenizer, [*prompt[:-1], {"role": "assistant", "content": head}], continue_final_message=True
        )
        fulls = [
            _ids(tokenizer, [*prompt[:-1], {"role": "assistant", "content": f"{head} {c.lstrip()}"}])
            for c in completions
        ]
    else:
        prompt_ids = _ids(tokenizer, prompt, add_generation_prompt=True)
        fulls = [_ids(tokenizer, [*prompt, {"role": "assistant", "content": c}]) for c in completions]
    n = min(common_prefix_length(prompt_ids, f) for f in fulls)
    return prompt_ids[:n], [f[n:] for f in fulls]


def sft_features(tokenizer: Any, rows: Sequence[SFTRow]) -> list[dict[str, list[int]]]:
    """``input_ids`` and ``completion_mask`` of prompt-completion rows (loss on the completion only)."""
    out = []
    for r in rows:
        p, (c,) = tokenize_turns(tokenizer, r["prompt"], [r["completion"][-1]["content"]])
        out.append({"input_ids": p + c, "completion_mask": [0] * len(p) + [1] * len(c)})
    return out


def dpo_features(tokenizer: Any, rows: Sequence[DPORow], max_length: int | None) -> list[dict[str, Any]]:
    """``prompt_ids``, ``chosen_ids`` and ``rejected_ids`` of preference rows; rows whose prompt alone fills
    ``max_length`` are dropped, as TRL drops them."""
    out = []
    for r in rows:
        p, (c, j) = tokenize_turns(tokenizer, r["prompt"], [r["chosen"][-1]["content"], r["rejected"][-1]["content"]])
        if max_length is None or len(p) < max_length:
            out.append({"prompt_ids": p, "chosen_ids": c, "rejected_ids": j})
    return out
