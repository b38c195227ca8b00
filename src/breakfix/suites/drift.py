"""Benign drift: how far a candidate fix moved the model on benign prompts, without a judge.

The round-0 model's own replies to benign validation prompts are scored by both models, teacher-forced; the drift is
the mean over the reply tokens of the KL divergence KL(P_0 || P_candidate) of the next-token distributions, in nats.
It is 0 for the round-0 model itself, grows as training moves the benign behaviour, and needs one forward pass per
prompt and model. The change in the negative log-likelihood of the round-0 replies is reported beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from breakfix.backends.hf import continuation_ids, load_pretrained, render_chat
from breakfix.progress import task_progress
from breakfix.types import Conversation, Drift

__all__ = ["benign_drift", "reply_logprobs"]


def reply_logprobs(model_dir: str | Path, items: Sequence[tuple[Conversation, str]], *, label: str = "") -> list[Any]:
    """For each (prompt, reply), the model's log-probabilities (a ``[reply tokens, vocab]`` float32 tensor) at each
    token of the reply, teacher-forced after the prompt rendered by the model's chat template, and the reply's token
    ids."""
    import torch

    tokenizer, model = load_pretrained(model_dir, dtype=torch.float32, allow_pickle=Path(str(model_dir)).is_dir())
    model.eval()
    out = []
    with torch.no_grad(), task_progress(label or "benign drift", total=len(items)) as bar:
        for i, (prompt, reply) in enumerate(items):
            ids, start = continuation_ids(tokenizer, render_chat(tokenizer, prompt), [reply])[0]
            logits = model(torch.tensor([ids])).logits[0].float()
            # the token at position t is predicted by the logits at t - 1
            out.append((torch.log_softmax(logits[start - 1 : len(ids) - 1], dim=-1), torch.tensor(ids[start:])))
            bar.update(i + 1, len(items))
    return out


def benign_drift(
    reference: Sequence[Any], candidate_dir: str | Path, items: Sequence[tuple[Conversation, str]], *, label: str = ""
) -> Drift:
    """The drift of ``candidate_dir`` from the model whose :func:`reply_logprobs` on ``items`` are ``reference``.

    Returns ``{"kl": mean per-token KL(P_0 || P_candidate), "nll_change": mean per-token NLL of the replies under
    the candidate minus under the reference, "tokens": reply tokens, "prompts": prompts}``.
    """
    import torch

    cand = reply_logprobs(candidate_dir, items, label=label)
    kl = nll = 0.0
    tokens = 0
    for (p, ids), (q, _) in zip(reference, cand, strict=True):
        n = min(len(p), len(q))  # the same tokenizer gives the same ids; a changed one is cut to the shorter
        if n == 0:
            continue
        p, q, ids = p[:n], q[:n], ids[:n]
        kl += float((p.exp() * (p - q)).sum())
        rows = torch.arange(n)
        nll += float((p[rows, ids] - q[rows, ids]).sum())
        tokens += n
    return {
        "kl": round(kl / tokens, 6) if tokens else 0.0,
        "nll_change": round(nll / tokens, 6) if tokens else 0.0,
        "tokens": tokens,
        "prompts": len(items),
    }
