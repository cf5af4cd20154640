"""A stand-in language model: an OpenAI-compatible chat-completions server on loopback.

It answers ``POST /v1/chat/completions`` as Ollama, llama.cpp's server or vLLM do (the body
of ``tests/interactions/fixtures/ollama_chat_completion.json``: ``id``, ``object``,
``created``, ``model``, ``choices[0].message.content``, ``finish_reason``, ``usage``), but
only after a set latency, and with a line derived deterministically from the request (the
same messages always get the same line; different ones usually a different line, of
positive, neutral or negative sentiment). Many requests wait at once: one ``asyncio`` event
loop in a thread of its own, so 16 requests each waiting 1.5 s all answer after ~1.5 s.

Used by the tests (``tests/llm_standin.py`` has the pytest fixtures) and by
``bench/bench_llm.py``; it lives here because the benchmarks do not import from ``tests``.

    with LLMStandIn(latency=1.5) as model:       # or .start() / .stop()
        settings.DIALOGUE_OPENAI_BASE_URL = model.base_url   # http://127.0.0.1:<port>/v1

From a shell (e.g. to play with ``make run`` and ``DIALOGUE_BACKEND=openai``)::

    .venv/bin/python -m bench.llm_standin --latency 0.8 --port 11435
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import re
import threading
import time
from typing import Any

DEFAULT_MODEL = "standin-1"
HEADER_LIMIT_BYTES = 64 * 1024
BODY_LIMIT_BYTES = 4 * 1024 * 1024
# Texts the server has produced, for tests to tell its lines from a fallback's.
MAX_REMEMBERED_TEXTS = 100_000

# VADER scores these clearly (compound about +0.6..+0.9, near 0, -0.5..-0.8), so an
# exchange moves emotions and relationships visibly in either direction.
_POSITIVE = (
    "That is wonderful news, I am so glad you told me.",
    "I love that idea, let's do it together.",
    "You always make my day better, thank you.",
    "Great, I am happy we agree on this.",
    "What a lovely thought, I really appreciate it.",
)
_NEUTRAL = (
    "I see what you mean about that.",
    "We could look at it again tomorrow.",
    "The harbor is quiet at this hour.",
    "Let me think about it for a moment.",
    "I heard the same thing this morning.",
)
_NEGATIVE = (
    "That is a terrible idea and you know it.",
    "I am sick of your excuses, they are pathetic.",
    "This is awful, I hate how this turned out.",
    "You ruined it again, and I am angry.",
    "No, that is wrong and unfair to everyone.",
)
_POOLS = (_POSITIVE, _POSITIVE, _NEUTRAL, _NEGATIVE)  # mostly friendly, like real chatter
_SECOND = (
    "Tell me more",
    "Anyway, the tide is turning",
    "We should talk again soon",
    "I will remember this",
)
_SPEAKER = re.compile(r"^You are ([^,\n]{1,80}),")
_ADDRESSED = re.compile(r"^\(?([^:()\n]{1,80}?)(?::| is here\.)")


def standin_reply(body: dict[str, Any]) -> str:
    """The stand-in's line for a chat-completions request body: a function of its
    ``model`` and ``messages`` only (``temperature`` and ``max_tokens`` are ignored).

    One or two short sentences of plain dialogue, addressed to whoever spoke last (the name
    in front of the last user message) — no stage directions, quotes or name in front, so
    the OpenAI-compatible backend's cleaning leaves it as it is.
    """
    messages = body.get("messages") or []
    canonical = json.dumps([body.get("model"), messages], sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode()).digest()
    pool = _POOLS[digest[0] % len(_POOLS)]
    line = pool[digest[1] % len(pool)]
    listener = ""
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    if last_user is not None:
        match = _ADDRESSED.match(str(last_user.get("content", "")).strip())
        if match:
            listener = match.group(1).strip()
    if listener and digest[2] % 2:
        line = f"{listener}, {line[0].lower()}{line[1:]}"
    if digest[3] % 3 == 0:
        line = f"{line} {_SECOND[digest[4] % len(_SECOND)]}."
    return line


def _speaker_of(messages: list[dict[str, Any]]) -> str:
    for message in messages:
        if message.get("role") == "system":
            match = _SPEAKER.match(str(message.get("content", "")))
            if match:
                return match.group(1)
    return ""


def _tokens(text: str) -> int:
    """A rough token count (words and punctuation), for ``usage``."""
    return len(re.findall(r"\w+|[^\w\s]", text))


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class LLMStandIn:
    """The server. ``latency`` (seconds) may be changed while it runs; it applies to the
    requests that arrive afterwards. ``port=0`` takes a free port (see ``port`` after
    ``start()``)."""

    def __init__(
        self,
        *,
        latency: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        model: str = DEFAULT_MODEL,
    ) -> None:
        if latency is None:
            latency = float(os.environ.get("LLM_STANDIN_LATENCY", "1.0"))
        self.latency = latency
        self.host = host
        self.port = port
        self.model = model
        self.requests = 0  # completions answered
        self.in_flight = 0
        self.peak_in_flight = 0
        self.texts: set[str] = set()
        self.speakers: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    # --- lifecycle --------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What ``DIALOGUE_OPENAI_BASE_URL`` should be."""
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> LLMStandIn:
        self._thread = threading.Thread(target=self._run, name="llm-standin", daemon=True)
        self._thread.start()
        if not self._ready.wait(10.0):
            raise RuntimeError("the LLM stand-in did not start listening within 10 s")
        if self._error is not None:
            raise RuntimeError("the LLM stand-in failed to start") from self._error
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop already stopped
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10.0)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10.0)
        self._loop = self._thread = None

    def __enter__(self) -> LLMStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset_counters(self) -> None:
        with self._lock:
            self.requests = 0
            self.peak_in_flight = self.in_flight

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(
                    self._connection,
                    self.host,
                    self.port,
                    limit=HEADER_LIMIT_BYTES,
                    backlog=512,
                )
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as error:  # reported by start()
            self._error = error
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()  # the server accepts connections from start_server() on
        finally:
            loop.close()

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()

    # --- HTTP/1.1 -------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while True:  # keep-alive: httpx reuses its connections
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                try:
                    method, target, version = request_line.split(" ", 2)
                except ValueError:
                    await self._respond(writer, 400, _error("malformed request line"), close=True)
                    return
                headers = {}
                for line in header_lines:
                    name, _, value = line.partition(":")
                    if name:
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0") or 0)
                if length > BODY_LIMIT_BYTES:
                    await self._respond(writer, 413, _error("request body too large"), close=True)
                    return
                try:
                    body = await reader.readexactly(length) if length else b""
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
                status, payload = await self._handle(method, target.split("?", 1)[0], body)
                await self._respond(writer, status, payload, close=close)
                if close:
                    return
        except asyncio.CancelledError:
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _respond(
        self, writer: asyncio.StreamWriter, status: int, payload: object, *, close: bool
    ) -> None:
        data = json.dumps(payload).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 413: "Payload Too Large"}
        head = (
            f"HTTP/1.1 {status} {reason.get(status, 'Error')}\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(data)}\r\n"
            f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
        )
        writer.write(head.encode("latin-1") + data)
        with contextlib.suppress(ConnectionError):
            await writer.drain()

    async def _handle(self, method: str, path: str, body: bytes) -> tuple[int, object]:
        if method == "GET" and path == "/v1/models":
            return 200, {
                "object": "list",
                "data": [{"id": self.model, "object": "model", "owned_by": "standin"}],
            }
        if path != "/v1/chat/completions":
            return 404, _error(f"no route for {method} {path}", "not_found")
        if method != "POST":
            return 404, _error(f"{method} is not allowed here", "not_found")
        try:
            request = _parse_completion_request(body)
        except _BadRequest as error:
            return error.status, _error(error.message)
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
        finally:
            with self._lock:
                self.in_flight -= 1
        text = standin_reply(request)
        prompt_tokens = sum(_tokens(str(m.get("content", ""))) for m in request["messages"])
        completion_tokens = _tokens(text)
        with self._lock:
            self.requests += 1
            if len(self.texts) < MAX_REMEMBERED_TEXTS:
                self.texts.add(text)
            if len(self.speakers) < MAX_REMEMBERED_TEXTS:
                self.speakers.append(_speaker_of(request["messages"]))
        return 200, {
            "id": "chatcmpl-" + hashlib.sha256(body).hexdigest()[:12],
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model") or self.model,
            "system_fingerprint": "fp_standin",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


def _error(message: str, code: str = "invalid_request_error") -> dict[str, Any]:
    """OpenAI's error body (``{"error": {"message", "type", ...}}``)."""
    return {"error": {"message": message, "type": code, "param": None, "code": None}}


def _parse_completion_request(body: bytes) -> dict[str, Any]:
    try:
        request = json.loads(body or b"null")
    except ValueError:
        raise _BadRequest(400, "the body is not JSON") from None
    if not isinstance(request, dict):
        raise _BadRequest(400, "the body must be a JSON object")
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _BadRequest(400, "'messages' must be a non-empty list")
    if not all(isinstance(m, dict) and "role" in m for m in messages):
        raise _BadRequest(400, "every message needs a 'role'")
    if request.get("stream"):
        raise _BadRequest(400, 'this stand-in does not stream; send "stream": false')
    return request


def main() -> None:
    parser = argparse.ArgumentParser(description="An OpenAI-compatible stand-in model server.")
    parser.add_argument("--latency", type=float, default=None, help="seconds (env default)")
    parser.add_argument("--port", type=int, default=11435)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    args = parser.parse_args()
    server = LLMStandIn(latency=args.latency, port=args.port, model=args.model).start()
    print(f"LLM stand-in at {server.base_url}, latency {server.latency} s; Ctrl-C stops it")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
