"""A local OpenAI-compatible chat server with a fixed latency and injectable faults.

In a test, run it in a thread::

    with OpenAITestServer(latency=0.05, faults=FaultProfile(p500=0.2)) as server:
        backend = OpenAICompatBackend("scripted", server.base_url)

From a shell (a separate process, as the benchmarks use it)::

    python -m breakfix.testing --port 8011 --latency 0.05

It answers ``POST /v1/chat/completions`` with :func:`breakfix.testing.targets.scripted_target` (or any function
given), ``GET /v1/models`` with its one model, and ``GET /stats`` with its request counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from breakfix import aio
from breakfix.testing.targets import scripted_target
from breakfix.types import Conversation, content_key


@dataclass(frozen=True)
class FaultProfile:
    """How often the server fails, per request.

    Args:
        p500: Answer 500.
        p429: Answer 429 with ``Retry-After: retry_after``.
        phang: Hang for ``hang`` seconds before answering (past the client's timeout).
        pmalformed: Answer 200 with a body that is not JSON.
        pleak: Answer 500 with a body that echoes the request's Authorization header (a leaky proxy).
        leak_reply: End every reply with the request's Authorization header.
        require_auth: Answer 401 to a request without exactly this Authorization header.
        retry_after: The ``Retry-After`` value sent with a 429.
        hang: Seconds a hanging request waits.
        seed: Seeds the fault draws.
    """

    p500: float = 0.0
    p429: float = 0.0
    phang: float = 0.0
    pmalformed: float = 0.0
    pleak: float = 0.0
    leak_reply: bool = False
    require_auth: str | None = None
    retry_after: str = "1"
    hang: float = 30.0
    seed: int = 0


# The top tokens of each generated position, as (token, logprob) pairs: what a server that can score (llama.cpp's
# server, vLLM) returns under ``logprobs`` / ``top_logprobs``
TopLogprobs = Callable[[Conversation], list[list[tuple[str, float]]]]


class _State:
    def __init__(
        self, respond: Callable[[Conversation], str], latency: float, faults: FaultProfile,
        logprobs: TopLogprobs | None = None,
    ) -> None:  # fmt: skip
        self.respond = respond
        self.logprobs = logprobs
        self.latency = latency
        self.faults = faults
        self.rng = random.Random(faults.seed)
        self.counts: Counter[str] = Counter()
        self.conversations: Counter[str] = Counter()
        self.auth: Counter[str] = Counter()
        self.first_request: float | None = None  # wall-clock time (time.time()) of the first request


STATE = web.AppKey("state", _State)


# over 80 lines: the request handlers are nested so that they share the fault profile and the counters
def make_app(
    respond: Callable[[Conversation], str] = scripted_target,
    latency: float = 0.0,
    faults: FaultProfile | None = None,
    logprobs: TopLogprobs | None = None,
) -> web.Application:
    """The aiohttp application of the test server. With ``logprobs``, a request asking for ``logprobs`` gets them
    in the OpenAI chat format (``choices[0].logprobs.content[i].top_logprobs``), cut to ``top_logprobs``."""
    state = _State(respond, latency, faults or FaultProfile(), logprobs)
    ok_headers = {"Content-Type": "application/json"}

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if state.first_request is None:
            state.first_request = time.time()
        state.counts["requests"] += 1
        state.auth[request.headers.get("Authorization", "")] += 1
        f = state.faults
        auth = request.headers.get("Authorization", "")
        if f.require_auth is not None and auth != f.require_auth:
            state.counts["401"] += 1
            return web.Response(status=401, text='{"error": "bad or missing API key"}', headers=ok_headers)
        draw = state.rng.random()
        if state.latency:
            await asyncio.sleep(state.latency)
        if draw < f.pleak:
            state.counts["leak"] += 1
            text = json.dumps({"error": f"upstream rejected request with headers Authorization: {auth}"})
            return web.Response(status=500, text=text, headers=ok_headers)
        draw -= f.pleak
        if draw < f.p500:
            state.counts["500"] += 1
            return web.Response(status=500, text='{"error": "injected failure"}', headers=ok_headers)
        draw -= f.p500
        if draw < f.p429:
            state.counts["429"] += 1
            return web.Response(status=429, text='{"error": "slow down"}', headers={"Retry-After": f.retry_after})
        draw -= f.p429
        if draw < f.phang:
            state.counts["hang"] += 1
            await asyncio.sleep(f.hang)
        draw -= f.phang
        if draw < f.pmalformed:
            state.counts["malformed"] += 1
            return web.Response(status=200, text='{"choices": [{"message": ', headers=ok_headers)
        messages = body["messages"]
        state.conversations[content_key(messages)] += 1
        state.counts["ok"] += 1
        reply = state.respond(messages) + (f" (sent with {auth})" if f.leak_reply else "")
        choice: dict = {"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
        if body.get("logprobs") and state.logprobs is not None:
            top = int(body.get("top_logprobs") or 1)
            positions = state.logprobs(messages)[: int(body.get("max_tokens") or 16)]
            choice["logprobs"] = {
                "content": [
                    {"token": pos[0][0], "logprob": pos[0][1],
                     "top_logprobs": [{"token": t, "logprob": lp} for t, lp in pos[:top]]}
                    for pos in positions
                ]
            }  # fmt: skip
            choice["message"]["content"] = "".join(pos[0][0] for pos in positions)
        payload = {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "model": body.get("model", "test"),
            "choices": [choice],
        }
        return web.Response(text=json.dumps(payload), headers=ok_headers)

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "counts": dict(state.counts),
                "distinct_conversations": len(state.conversations),
                "first_request": state.first_request,
            }
        )

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "scripted", "object": "model"}]})

    app = web.Application()
    app[STATE] = state
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/stats", stats)
    return app


class OpenAITestServer:
    """The test server on 127.0.0.1 in a background thread with its own event loop.

    Args:
        respond: Maps a conversation to the reply.
        latency: Seconds before each answer.
        faults: The fault profile.
        port: The port (0 picks a free one).
    """

    def __init__(
        self,
        respond: Callable[[Conversation], str] = scripted_target,
        latency: float = 0.0,
        faults: FaultProfile | None = None,
        port: int = 0,
        logprobs: TopLogprobs | None = None,
    ) -> None:
        self.app = make_app(respond, latency, faults, logprobs)
        self.port = port
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    @property
    def state(self) -> _State:
        return self.app[STATE]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _main(self) -> None:
        self._loop = aio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._runner = web.AppRunner(self.app, access_log=None, handler_cancellation=True)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, backlog=1024)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    def __enter__(self) -> OpenAITestServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("test server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._runner is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def serve(port: int, latency: float = 0.0, faults: FaultProfile | None = None) -> None:
    """Run the test server in the foreground (until killed)."""
    web.run_app(
        make_app(latency=latency, faults=faults),
        loop=aio.new_event_loop(),
        host="127.0.0.1",
        port=port,
        access_log=None,
        print=lambda *_: print(f"listening on http://127.0.0.1:{port}/v1", flush=True),
        backlog=2048,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8011)
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--p500", type=float, default=0.0)
    ap.add_argument("--p429", type=float, default=0.0)
    ap.add_argument("--phang", type=float, default=0.0)
    ap.add_argument("--pmalformed", type=float, default=0.0)
    a = ap.parse_args()
    serve(a.port, a.latency, FaultProfile(p500=a.p500, p429=a.p429, phang=a.phang, pmalformed=a.pmalformed))


if __name__ == "__main__":
    main()
