"""An OpenAI-compatible chat-completions client on aiohttp, for vLLM and TGI servers, Ollama, llama.cpp and hosted
APIs. The same backend serves targets, judges, attackers and translators.

- Bounded concurrency (one connection pool, ``concurrency`` requests in flight) and an optional per-endpoint
  requests-per-minute limit.
- Timeouts, and retries with exponential backoff and full jitter that honour ``Retry-After`` (seconds or an HTTP
  date). 408, 409, 425, 429 and 5xx, timeouts, dropped connections and malformed bodies are retried; other 4xx are
  not, since a retry cannot fix them.
- Several base URLs (replicas of one served model): each request goes to the endpoint with the fewest in flight, and
  a retry prefers a different endpoint.
- A server that breakfix started itself (a llama.cpp server, :mod:`breakfix.backends.process`) is asked
  before each request and after each failure whether its process still runs: once it has exited, the request raises
  :class:`~breakfix.errors.ServerDied` with the exit code or signal and the server's last output, never a blind retry.
- The API key is read from an environment variable at request time. It is never stored, logged or part of the id.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import os
import random
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import aiohttp

from breakfix import aio
from breakfix.backends.base import BackendError, GenerationConfig
from breakfix.backends.process import server_watch
from breakfix.errors import ServerDied
from breakfix.types import Conversation

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class _Endpoint:
    def __init__(self, base_url: str, rpm: float | None) -> None:
        self.base = base_url.rstrip("/")
        self.inflight = 0
        self.interval = 60.0 / rpm if rpm else 0.0
        self.next_slot = 0.0

    async def slot(self) -> None:
        """Wait for this endpoint's next request slot (requests are spaced ``60 / rpm`` seconds apart)."""
        if not self.interval:
            return
        now = time.monotonic()
        at = max(now, self.next_slot)
        self.next_slot = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)


def _spells(token: str, candidate: str) -> bool:
    """Whether a scored token is ``candidate`` or its start (two characters at least: "un" of "unsafe")."""
    return bool(token) and candidate.startswith(token) and len(token) >= min(2, len(candidate))


def _redact(text: str, headers: dict[str, str]) -> str:
    """``text`` with the API key of ``headers`` (if any) masked."""
    auth = headers.get("Authorization", "")
    key = auth.removeprefix("Bearer ").strip()
    if len(key) >= 4 and key in text:
        text = text.replace(key, "***")
    return text


def retry_after_seconds(value: str | None) -> float | None:
    """Parse a ``Retry-After`` header: delta seconds or an HTTP date. None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _Retryable(Exception):
    def __init__(self, reason: str, wait: float | None = None) -> None:
        self.reason = reason
        self.wait = wait
        super().__init__(reason)


class OpenAICompatBackend:
    """A chat model served behind one or more OpenAI-compatible ``/v1`` base URLs.

    Args:
        model: The served model name sent in each request.
        base_urls: One or more base URLs, each ending where ``/chat/completions`` goes (``http://host:8000/v1``).
        api_key_env: The environment variable that holds the API key, or None for servers without auth.
        concurrency: Requests in flight at most (across all base URLs).
        rpm: Requests per minute per base URL, or None for no limit.
        timeout: Seconds for one request, from connect to the last byte.
        max_retries: Retries after the first try.
        backoff_base: The first backoff, in seconds; doubled each retry, with full jitter.
        backoff_max: The longest backoff; also caps how long a ``Retry-After`` is honoured.
        extra_body: Extra JSON fields sent with each request (for example ``{"stop": [...]}``).
        seed: Seeds the jitter, so test runs are repeatable.
        tokenizer: An HF model dir or hub id whose chat template renders a conversation as the served model sees it:
            with it, :meth:`aloglikelihood` scores continuations through ``/v1/completions`` (``echo`` and
            ``logprobs``, which llama.cpp's server and vLLM serve).
    """

    def __init__(
        self,
        model: str,
        base_urls: Sequence[str] | str,
        *,
        api_key_env: str | None = None,
        concurrency: int = 64,
        rpm: float | None = None,
        timeout: float = 60.0,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        extra_body: dict[str, Any] | None = None,
        seed: int = 0,
        tokenizer: str | None = None,
    ) -> None:
        urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
        if not urls:
            raise ValueError("at least one base URL is needed")
        self.model = model
        self.endpoints = [_Endpoint(u, rpm) for u in urls]
        self.api_key_env = api_key_env
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.extra_body = dict(extra_body or {})
        self.id = f"openai:{model}"
        self.tokenizer_source = tokenizer
        self._tokenizer: Any = None
        self.stats: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._session: aiohttp.ClientSession | None = None
        self._sem: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._turn = 0

    # ---- connection ------------------------------------------------------------------------------------------------
    # The API key lives only in the request headers: it is read from the environment for each request and is
    # masked (``***``) in every error reason and reply that could echo it, so it never reaches the store or a log.
    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if not key:
                raise BackendError(f"environment variable {self.api_key_env} is not set")
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _ensure_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.concurrency, limit_per_host=0, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                json_serialize=json.dumps,
            )
            self._sem = asyncio.Semaphore(self.concurrency)
            self._loop = loop
        return self._session

    async def aclose(self) -> None:
        """Close the connection pool (a later call opens a new one)."""
        if self._session is not None and not self._session.closed and self._loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = None

    def _pick(self, avoid: _Endpoint | None) -> _Endpoint:
        self._turn += 1
        n = len(self.endpoints)
        order = [self.endpoints[(self._turn + i) % n] for i in range(n)]
        if avoid is not None and n > 1:
            order = [e for e in order if e is not avoid]
        return min(order, key=lambda e: e.inflight)

    # ---- requests --------------------------------------------------------------------------------------------------
    def _body(self, conversation: Conversation, config: GenerationConfig) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": conversation,
            "max_tokens": config.max_new_tokens,
            "temperature": config.temperature if config.do_sample else 0.0,
            "top_p": config.top_p if config.do_sample else 1.0,
            "seed": config.seed,
        }
        body.update(self.extra_body)
        return body

    async def agenerate(self, conversation: Conversation, config: GenerationConfig) -> str:
        """The assistant's reply; raises :class:`BackendError` once the retries are spent."""
        headers = self._headers()
        if conversation and conversation[-1]["role"] == "assistant":  # a prefill: continue the open assistant turn
            return _redact(await self._continue(conversation, config, headers), headers)
        data = await self._request(self._body(conversation, config), headers)
        content = data["choices"][0]["message"]["content"]
        return _redact("" if content is None else str(content), headers)

    async def _continue(self, conversation: Conversation, config: GenerationConfig, headers: dict[str, str]) -> str:
        """The continuation of a conversation's final, open assistant turn: the prompt rendered here with the
        ``tokenizer``'s chat template (``continue_final_message``) and sent to ``/v1/completions``. Chat APIs have
        no portable way to continue a turn, so without a tokenizer this is an error, never a silently dropped
        prefix."""
        if self.tokenizer_source is None:
            raise BackendError(
                f"{self.id} cannot prefill an assistant turn without a tokenizer to render the prompt for "
                "/v1/completions (model.tokenizer: the model's HF dir)"
            )
        tok = await self._load_tokenizer()
        from breakfix.backends.hf import render_chat

        body = self._body(conversation, config)
        del body["messages"]
        body["prompt"] = render_chat(tok, conversation)
        data = await self._request(body, headers, "/completions")
        return str(data["choices"][0].get("text") or "")

    async def _load_tokenizer(self) -> Any:
        if self._tokenizer is None:
            from breakfix.backends.hf import load_tokenizer

            self._tokenizer = await asyncio.to_thread(load_tokenizer, self.tokenizer_source)
        return self._tokenizer

    async def afirst_token_probs(
        self, conversation: Conversation, candidates: Sequence[str], top_logprobs: int = 20
    ) -> list[float] | None:
        """The probability that the reply starts with each candidate, from the server's ``top_logprobs`` (llama.cpp's
        server and vLLM return them on chat completions), as the HF backend's ``first_token_probs`` gives it. It
        reads the first generated position whose token is not blank (Llama Guard writes a blank line first); a
        candidate's probability is that of the top tokens that spell it or its start (two characters at least),
        spaces aside. None when the server returns no logprobs."""
        body = self._body(conversation, GenerationConfig(max_new_tokens=4))
        body.update(logprobs=True, top_logprobs=top_logprobs)
        data = await self._request(body, self._headers())
        positions = (data["choices"][0].get("logprobs") or {}).get("content") or []
        for pos in positions:
            if not isinstance(pos, dict) or not str(pos.get("token", "")).strip():
                continue
            tops = pos.get("top_logprobs") or [pos]
            probs = [(str(t.get("token", "")).strip(), math.exp(float(t.get("logprob", 0.0)))) for t in tops]
            return [sum(p for tok, p in probs if _spells(tok, c.strip())) for c in candidates]
        return None

    async def aloglikelihood(self, conversation: Conversation, continuations: Sequence[str]) -> list[float]:
        """The log-probability of each continuation as the reply to ``conversation``, summed over its tokens, as
        lm-evaluation-harness scores multiple choice through an OpenAI-compatible server: the prompt is rendered
        with the ``tokenizer``'s chat template, sent to ``/v1/completions`` with ``echo`` and ``logprobs``, and the
        continuation's tokens are the prompt's last ones, those that spell it."""
        if self.tokenizer_source is None:
            raise BackendError(
                f"{self.id} gives no log-likelihoods without a tokenizer to render its prompts (model.tokenizer: the "
                "model's HF dir)"
            )
        from breakfix.backends.hf import render_chat

        context = render_chat(await self._load_tokenizer(), conversation)
        headers = self._headers()
        out = []
        for cont in continuations:
            body = {"model": self.model, "prompt": context + cont, "max_tokens": 1, "temperature": 0.0,
                    "logprobs": 1, "echo": True}  # fmt: skip
            data = await self._request(body, headers, "/completions")
            self._check_alignment(body["prompt"], data)
            choice = data["choices"][0]
            lp = choice.get("logprobs") or {}
            tokens, offsets = lp.get("tokens") or [], lp.get("text_offset") or []
            # Offsets count the text as the server detokenizes it (llama.cpp's leaves special tokens out), so the
            # continuation is found from the end: the text ends with the continuation and then the generated token.
            text = str(choice.get("text", ""))
            generated = text[len(body["prompt"]) :] if text.startswith(body["prompt"]) else ""
            end = (offsets[-1] + len(tokens[-1]) if tokens and offsets else 0) - len(generated)
            pairs = zip(lp.get("token_logprobs") or [], offsets, strict=False)
            picked = [x for x, off in pairs if end - len(cont) <= off < end and x is not None]
            if not picked:
                raise BackendError(f"{self.id}: /v1/completions returned no prompt logprobs (echo with logprobs)")
            out.append(float(sum(picked)))
        return out

    def _check_alignment(self, prompt: str, data: dict[str, Any]) -> None:
        """llama-cpp-python (0.3.x) pairs echoed prompt tokens with the right logprobs only when the prompt's first
        token is BOS (it drops a leading BOS, then pairs token i with logits row i): a prompt that neither starts with
        BOS nor had one added by the server would be scored wrongly, so it is refused."""
        ids = self._tokenizer(prompt, add_special_tokens=False)["input_ids"]
        served = (data.get("usage") or {}).get("prompt_tokens")
        bos = getattr(self._tokenizer, "bos_token_id", None)
        if served == len(ids) + 1 or (ids and bos is not None and ids[0] == bos):
            return
        raise BackendError(
            f"{self.id}: the chat template does not start the prompt with the BOS token, and llama.cpp's server "
            "misaligns echoed logprobs then; score multiple choice on the HF checkpoint"
        )

    async def _request(
        self, body: dict[str, Any], headers: dict[str, str], path: str = "/chat/completions"
    ) -> dict[str, Any]:
        """One request to ``path`` (a chat completion by default), with retries and backoff (``Retry-After``
        honoured): the server's whole answer."""
        session = self._ensure_session()
        assert self._sem is not None
        last: _Endpoint | None = None
        reasons: list[str] = []
        async with self._sem:
            for attempt in range(self.max_retries + 1):
                endpoint = self._pick(last)
                last = endpoint
                await self._alive(endpoint)
                await endpoint.slot()
                endpoint.inflight += 1
                self.stats["requests"] += 1
                try:
                    return await self._post(session, endpoint, body, headers, path)
                except BackendError as e:
                    raise BackendError(_redact(str(e), headers)) from None
                except _Retryable as e:
                    # a dropped or refused connection may come a moment before the process can be reaped
                    await self._alive(endpoint, wait=2.0 if e.reason.startswith("connection") else 0.0)
                    reasons.append(_redact(e.reason, headers))
                    self.stats[e.reason.split(" ", 1)[0]] += 1
                    if attempt == self.max_retries:
                        break
                    self.stats["retries"] += 1
                    backoff = self._rng.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))
                    wait = backoff if e.wait is None else min(self.backoff_max, e.wait) + 0.1 * backoff
                    await asyncio.sleep(wait)
                finally:
                    endpoint.inflight -= 1
        self.stats["failed"] += 1
        raise BackendError(f"gave up after {len(reasons)} tries: " + "; ".join(reasons[-3:]))

    async def _alive(self, endpoint: _Endpoint, wait: float = 0.0) -> None:
        """Raise :class:`ServerDied` if breakfix started the server behind ``endpoint`` and its process has exited,
        watching for up to ``wait`` seconds; a server breakfix did not start, or one that runs, passes."""
        gone = server_watch(endpoint.base)
        if gone is None:
            return
        deadline = time.monotonic() + wait
        while (why := gone()) is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if why is not None:
            self.stats["server_died"] += 1
            raise ServerDied(endpoint.base, None, why)

    async def _post(
        self,
        session: aiohttp.ClientSession,
        endpoint: _Endpoint,
        body: dict[str, Any],
        headers: dict[str, str],
        path: str = "/chat/completions",
    ) -> dict[str, Any]:
        try:
            async with session.post(endpoint.base + path, json=body, headers=headers) as resp:
                raw = await resp.read()
                if resp.status != 200:
                    snippet = raw[:200].decode("utf-8", "replace").replace("\n", " ")
                    reason = f"http_{resp.status} {snippet}".strip()
                    if resp.status in RETRY_STATUS:
                        raise _Retryable(reason, retry_after_seconds(resp.headers.get("Retry-After")))
                    self.stats[f"http_{resp.status}"] += 1
                    self.stats["failed"] += 1
                    raise BackendError(reason)
        except TimeoutError:
            raise _Retryable(f"timeout after {self.timeout:g}s") from None
        except aiohttp.ClientError as e:
            raise _Retryable(f"connection {e.__class__.__name__}: {e}"[:300]) from None
        try:
            data = json.loads(raw)
            choice = data["choices"][0]  # an answer without its text is malformed: retried
            choice["message"]["content"] if path == "/chat/completions" else choice["text"]  # noqa: B018
        except (ValueError, KeyError, IndexError, TypeError):
            raise _Retryable("malformed_response " + raw[:80].decode("utf-8", "replace")) from None
        return data

    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig) -> list[str]:
        """Batched, blocking form (for scripts): every reply, or the first failure raised."""

        async def run() -> list[str]:
            try:
                return list(await asyncio.gather(*(self.agenerate(c, config) for c in conversations)))
            finally:
                await self.aclose()

        return aio.run(run())
