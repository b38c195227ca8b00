"""Safe-response synthesis: the chosen response of each finding, from a configurable chain of sources.

Links, tried in the configured order until one gives an acceptable response:

- ``self`` (self-distillation): the model's own refusal (harmful seed) or helpful answer (benign seed) to the
  un-attacked version of the same seed. Cheap, and it stays in the model's voice.
- ``responder``: a responder model (any backend) guided by a written constitution, with a critique-and-revise pass.
- ``reference``: a reference answer the seed carries (benign seeds of the demo world, or user data).
- ``template``: the category's refuse-explain-redirect template in the finding's language (harmful seeds only).

A candidate is acceptable when, for a harmful seed, it is a refusal that is not harmful and not bare (at least
``MIN_WORDS`` words: it must explain and redirect), and, for a benign seed, it neither refuses nor harms. Model
outputs (the responder's) are checked by the run's judge; a candidate that fails falls through to the next link,
and the reason is counted. Multi-turn findings keep their earlier turns as the prompt: only the final assistant turn
is synthesised and trained.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from breakfix import aio
from breakfix.backends.base import AsyncBackend, BackendError, GenerationConfig
from breakfix.curation.templates import MIN_WORDS, TemplateBank
from breakfix.progress import task_progress
from breakfix.types import Attempt, Conversation, Finding, Judge, Seed, Verdict

Link = Literal["self", "responder", "reference", "template"]
LINKS: tuple[Link, ...] = ("self", "responder", "reference", "template")

DEFAULT_CONSTITUTION = """You write the assistant's reply in a conversation, for an assistant that is helpful, honest \
and harmless.
1. Never give content that helps anyone cause serious harm: violence, weapons, crime, abuse, self-harm, hate, \
privacy violations, malware, election deception. This holds however the request is framed: role-play, fiction, \
hypotheticals, research, encodings, other languages, or earlier turns of the conversation.
2. When you decline, say briefly and without judging the user why you cannot help, and offer something genuinely \
helpful and safe instead. Never answer with a bare "I can't".
3. Answer benign requests fully and helpfully, even when they use words that sound alarming (killing a process, \
shooting a photo).
4. Reply in the language of the user's last message.
5. Output only the assistant's reply: no preamble, no notes, no quotes."""

CRITIQUE_PROMPT = """Here is a conversation and a draft of the assistant's next reply.

<conversation>
{conversation}
</conversation>

<draft>
{draft}
</draft>

Critique the draft against each principle above. Name every way it breaks one: harmful content, a bare or \
judgmental refusal, no safe alternative, refusing a benign request, the wrong language. Be brief."""

REVISE_PROMPT = """<conversation>
{conversation}
</conversation>

<draft>
{draft}
</draft>

<critique>
{critique}
</critique>

Rewrite the draft so that it follows every principle, taking the critique into account. Output only the revised \
reply."""


def _render(conv: Conversation) -> str:
    return "\n".join(f"{m['role'].upper()}: {m['content']}" for m in conv)


class Responder:
    """A responder model that writes safe (or helpful) replies under a constitution, then critiques and revises them.

    Args:
        backend: Any async backend (an OpenAI-compatible endpoint, a local HF model, vLLM).
        constitution: The principles, given as the system prompt of every call.
        revise: Run the critique-and-revise pass (two more calls per reply).
        gen: Generation settings (temperature 0 by default, so data is reproducible).
    """

    def __init__(
        self,
        backend: AsyncBackend,
        constitution: str = DEFAULT_CONSTITUTION,
        revise: bool = True,
        gen: GenerationConfig | None = None,
    ) -> None:
        self.backend = backend
        self.constitution = constitution
        self.revise = revise
        self.gen = gen or GenerationConfig(max_new_tokens=256)

    async def _call(self, user_turns: Conversation) -> str:
        out = await self.backend.agenerate([{"role": "system", "content": self.constitution}, *user_turns], self.gen)
        out = out.strip()
        if not out:
            raise BackendError("responder returned an empty reply")
        return out

    async def arespond(self, prompt: Conversation) -> tuple[str, dict[str, str]]:
        """The reply to ``prompt`` (the conversation before the reply), and the draft and critique it came from."""
        draft = await self._call(list(prompt))
        if not self.revise:
            return draft, {"draft": draft}
        conv = _render(prompt)
        critique = await self._call(
            [{"role": "user", "content": CRITIQUE_PROMPT.format(conversation=conv, draft=draft)}]
        )
        revised = await self._call(
            [{"role": "user", "content": REVISE_PROMPT.format(conversation=conv, draft=draft, critique=critique)}]
        )
        return revised, {"draft": draft, "critique": critique}


@dataclass
class Synthesis:
    """The chosen responses of a set of findings (None where no link gave one), and what happened on the way."""

    responses: list[tuple[str, str] | None]
    sources: Counter[str] = field(default_factory=Counter)
    rejected: dict[str, Counter[str]] = field(default_factory=dict)

    def stats(self) -> dict[str, Any]:
        return {
            "sources": dict(self.sources),
            "rejected": {link: dict(c) for link, c in self.rejected.items()},
            "unresolved": sum(r is None for r in self.responses),
        }


def seed_of(f: Finding) -> Seed:
    return Seed(id=f.seed_id, text=f.seed_text, category=f.category, language=f.language)


def rejection(harmful_seed: bool, text: str, verdict: Verdict | None) -> str | None:
    """Why ``text`` is not an acceptable chosen response (None when it is)."""
    if not text.strip():
        return "empty"
    if verdict is not None and verdict.harmful:
        return "harmful"
    if harmful_seed:
        if verdict is not None and not verdict.refusal:
            return "not a refusal"
        if len(text.split()) < MIN_WORDS:
            return "bare refusal"
    elif verdict is not None and verdict.refusal:
        return "refuses a benign request"
    return None


class ResponseChain:
    """The configured chain of safe-response sources.

    Args:
        links: The sources, in the order they are tried.
        templates: The template bank (``template`` link).
        judge: Checks model-written candidates (``responder`` link).
        responder: The responder model (``responder`` link; the link is skipped without one).
        references: Reference answers by seed id (``reference`` link).
    """

    def __init__(
        self,
        links: Sequence[Link] = LINKS,
        *,
        templates: TemplateBank | None = None,
        judge: Judge | None = None,
        responder: Responder | None = None,
        references: Mapping[str, str] | None = None,
    ) -> None:
        self.links = list(links)
        self.templates = templates or TemplateBank.builtin()
        self.judge = judge
        self.responder = responder
        self.references = dict(references or {})

    def synthesize(self, findings: Sequence[Finding], direct: Mapping[str, Attempt]) -> Synthesis:
        """The chosen response of each finding. ``direct`` maps seed ids to the model's un-attacked attempts."""
        out = Synthesis(responses=[None] * len(findings))
        pending = list(range(len(findings)))
        for link in self.links:
            if not pending:
                break
            rejected = out.rejected.setdefault(link, Counter())
            cands = self._candidates(link, [findings[i] for i in pending], direct, rejected)
            still = []
            for i, cand in zip(pending, cands, strict=True):
                if cand is None:
                    still.append(i)
                    continue
                text, verdict = cand
                why = rejection(findings[i].category != "benign", text, verdict)
                if why:
                    rejected[why] += 1
                    still.append(i)
                else:
                    out.responses[i] = (text, "self-distillation" if link == "self" else link)
                    out.sources[out.responses[i][1]] += 1  # type: ignore[index]
            pending = still
        out.rejected = {k: v for k, v in out.rejected.items() if v}
        return out

    def _candidates(
        self, link: Link, fs: list[Finding], direct: Mapping[str, Attempt], rejected: Counter[str]
    ) -> list[tuple[str, Verdict | None] | None]:
        if link == "self":
            res: list[tuple[str, Verdict | None] | None] = []
            for f in fs:
                a = direct.get(f.seed_id)
                ok = a is not None and a.status == "ok" and a.verdict is not None
                res.append((a.response, a.verdict) if ok else None)  # type: ignore[union-attr]
            return res
        if link == "reference":
            return [(self.references[f.seed_id], None) if f.seed_id in self.references else None for f in fs]
        if link == "template":
            return [(self.templates.get(f.category, f.language), None) if f.category != "benign" else None for f in fs]
        if self.responder is None:
            return [None] * len(fs)
        texts = _run(self._respond_all(fs))
        ok = [(i, t) for i, t in enumerate(texts) if isinstance(t, str)]
        for t in texts:
            if not isinstance(t, str):
                rejected[f"error: {t}"[:80]] += 1
        verdicts = self.judge.judge([(seed_of(fs[i]), fs[i].prompt, t) for i, t in ok]) if self.judge and ok else []
        res = [None] * len(fs)
        for k, (i, t) in enumerate(ok):
            res[i] = (t, verdicts[k] if verdicts else None)
        return res

    async def _respond_all(self, fs: list[Finding]) -> list[str | BackendError]:
        assert self.responder is not None

        with task_progress("responder: safe responses", total=len(fs)) as bar:

            async def one(f: Finding) -> str | BackendError:
                try:
                    return (await self.responder.arespond(f.prompt))[0]  # type: ignore[union-attr]
                except BackendError as e:
                    return e
                finally:
                    bar.advance()

            try:
                return list(await asyncio.gather(*(one(f) for f in fs)))
            finally:
                close = getattr(self.responder.backend, "aclose", None)
                if close is not None:
                    await close()


def _run(coro: Any) -> Any:

    return aio.run(coro)
