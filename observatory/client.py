"""A small client for the live event stream (docs/events.md): resumes after any disconnect.

    from observatory.client import stream_events

    async for event in stream_events("http://127.0.0.1:8000", ecosystem_id, access_token):
        print(event["seq"], event["type"], event["data"])

It connects with the token as the ``bearer.<token>`` subprotocol (beside ``ecosystem.v1``),
remembers the last ``seq`` it yielded, and after any disconnect (server restart, network,
close 4008 "too slow", 1011) reconnects with backoff and ``?since=<last seq>``. It never yields
an event twice or out of order. Close codes 4400, 4401, 4403 and 4404 raise
:class:`ClientError`: reconnecting would get the same answer. With a callable ``token``, a
4401 on an established stream (the token expired) is retried once with a fresh token.

Command line (fetches and refreshes a JWT itself; one line per event)::

    python -m observatory.client --url http://127.0.0.1:8000 --ecosystem ID \\
        --username demo --password demo-ecosystem [--since N]

Without ``--since`` it shows new events only; on exit it prints the ``--since`` to resume with.
"""

import argparse
import asyncio
import base64
import inspect
import json
import logging
import random
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

logger = logging.getLogger("observatory.client")

SUBPROTOCOL = "ecosystem.v1"
TERMINAL_CLOSE_CODES = frozenset({4400, 4401, 4403, 4404})
CLOSE_UNAUTHENTICATED = 4401

TokenSource = str | Callable[[], str | Awaitable[str]]


class ClientError(Exception):
    """The server refused the stream for good (4400 / 4401 / 4403 / 4404)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class _Resync(Exception):
    """An event arrived out of order (never expected): reconnect from the last seq."""


def stream_url(url_base: str, ecosystem_id: object, since: int | None) -> str:
    """``ws(s)://host/ws/ecosystem/<id>/?since=N`` from an ``http(s)://`` or ``ws(s)://`` base."""
    parts = urlsplit(url_base)
    schemes = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"url_base must be http(s):// or ws(s)://host[:port], not {url_base!r}")
    path = f"{parts.path.rstrip('/')}/ws/ecosystem/{ecosystem_id}/"
    query = urlencode({"since": since}) if since is not None else ""
    return urlunsplit((schemes[parts.scheme], parts.netloc, path, query, ""))


async def _resolve_token(token: TokenSource) -> str:
    if isinstance(token, str):
        return token
    value = token()
    if inspect.isawaitable(value):
        value = await value
    return str(value)


async def stream_events(
    url_base: str,
    ecosystem_id: object,
    token: TokenSource,
    since: int | None = 0,
    *,
    reconnect: bool = True,
    initial_backoff: float = 0.5,
    max_backoff: float = 10.0,
    open_timeout: float = 10.0,
) -> AsyncIterator[dict[str, Any]]:
    """Yield the ecosystem's events with ``seq > since``, each once, in order, forever.

    ``since=None`` starts with new events only. Besides event envelopes it yields ``reset``
    frames (``{"type": "reset", "oldest_seq": N, "last_seq": M}``): events before N were
    pruned and the stream goes on from N, so rebuild any state derived from earlier events.
    ``reconnect=False`` ends the iteration at the first disconnect instead.
    """
    last_seq = since
    backoff = initial_backoff
    token_retried = False
    while True:
        close_code: int | None = None
        close_reason = ""
        failure = ""  # why the connection could not be made, if it could not
        try:
            subprotocols = [
                Subprotocol(SUBPROTOCOL),
                Subprotocol(f"bearer.{await _resolve_token(token)}"),
            ]
            async with connect(
                stream_url(url_base, ecosystem_id, last_seq),
                subprotocols=subprotocols,
                open_timeout=open_timeout,
                max_size=2**23,
            ) as websocket:
                async for raw in websocket:
                    frame = json.loads(raw)
                    kind = frame.get("type")
                    if kind == "error":
                        # The server explains a close in an error frame just before it.
                        close_reason = str(frame.get("detail", ""))
                        continue
                    backoff = initial_backoff
                    token_retried = False
                    seq = frame.get("seq")
                    if isinstance(seq, int):
                        if last_seq is not None and seq <= last_seq:
                            continue
                        if last_seq is not None and seq != last_seq + 1:
                            raise _Resync(f"expected seq {last_seq + 1}, got {seq}")
                        last_seq = seq
                        yield frame
                    elif kind == "reset":
                        last_seq = int(frame["oldest_seq"]) - 1
                        yield frame
                    elif kind == "heartbeat" and last_seq is None:
                        last_seq = int(frame["last_seq"])
                close_code = websocket.close_code
        except ConnectionClosed as closed:
            close_code = closed.rcvd.code if closed.rcvd is not None else None
            close_reason = close_reason or (closed.rcvd.reason if closed.rcvd else "")
        except _Resync as resync:
            logger.warning("Stream out of order (%s); resuming from since=%s", resync, last_seq)
            continue
        except (OSError, TimeoutError, InvalidHandshake) as error:
            failure = f"cannot connect: {error}"

        if close_code == CLOSE_UNAUTHENTICATED and not isinstance(token, str) and not token_retried:
            # Expired on an established stream, or a stale cached token: one fresh try.
            token_retried = True
            logger.info("Token refused (%s); retrying with a fresh one", close_reason)
            continue
        if close_code in TERMINAL_CLOSE_CODES:
            assert close_code is not None
            raise ClientError(close_code, close_reason or "refused")
        if not reconnect:
            return
        delay = random.uniform(backoff / 2, backoff)
        if not failure:
            failure = f"closed {close_code} {close_reason}" if close_code else "connection lost"
        logger.warning("%s; reconnecting in %.1f s from since=%s", failure.strip(), delay, last_seq)
        await asyncio.sleep(delay)
        backoff = min(backoff * 2, max_backoff)


# --- Command line ---------------------------------------------------------------------------


def jwt_expires_at(token: str) -> float:
    """The ``exp`` claim of a JWT, read without verifying it (the server verifies)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return 0.0


class TokenKeeper:
    """Logs in at ``/api/v1/auth/token`` and hands out an access token that is not about to
    expire, refreshing it at ``/api/v1/auth/token/refresh`` (and logging in again when the
    refresh token has expired too)."""

    def __init__(self, base_url: str, username: str, password: str, *, margin: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.margin = margin
        self.access = ""
        self.refresh = ""

    async def __call__(self) -> str:
        now = time.time()
        if self.access and jwt_expires_at(self.access) - now > self.margin:
            return self.access
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10.0) as http:
            if self.refresh and jwt_expires_at(self.refresh) - now > self.margin:
                response = await http.post(
                    "/api/v1/auth/token/refresh", json={"refresh": self.refresh}
                )
                if response.status_code == 200:
                    tokens = response.json()
                    self.access = tokens["access"]
                    self.refresh = tokens.get("refresh", self.refresh)
                    return self.access
            response = await http.post(
                "/api/v1/auth/token", json={"username": self.username, "password": self.password}
            )
            response.raise_for_status()
            tokens = response.json()
        self.access, self.refresh = tokens["access"], tokens["refresh"]
        return self.access


def format_event(frame: dict[str, Any]) -> str:
    """One line per event for the terminal."""
    if frame.get("type") == "reset":
        return (
            f"-- reset: events before {frame['oldest_seq']} were pruned; "
            f"continuing from there (newest is {frame['last_seq']})"
        )
    data = frame.get("data") or {}
    if frame["type"] == "character_interaction":
        names = data.get("names") or {}
        speakers = [names.get(pid, str(pid)[:8]) for pid in data.get("participants", [])]
        summary = (
            f"{' -> '.join(speakers)} [{data.get('interaction_type')}] "
            f"{data.get('content', '')!r} / {data.get('response', '')!r}"
        )
    else:
        summary = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    if len(summary) > 200:
        summary = summary[:197] + "..."
    return f"{frame['seq']:>7}  {frame['timestamp'][:19]}  {frame['type']:<24} {summary}"


async def _print_stream(args: argparse.Namespace) -> int:
    keeper = TokenKeeper(args.url, args.username, args.password)
    last_seq = args.since
    try:
        async for frame in stream_events(args.url, args.ecosystem, keeper, since=args.since):
            print(format_event(frame), flush=True)
            if "seq" in frame:
                last_seq = frame["seq"]
            elif frame.get("type") == "reset":
                last_seq = frame["oldest_seq"] - 1
    except ClientError as error:
        print(f"refused: {error}", file=sys.stderr)
        return 2
    finally:
        if last_seq is not None:
            print(
                f"-- stopped after seq {last_seq}; resume with --since {last_seq}", file=sys.stderr
            )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m observatory.client", description="Print an ecosystem's live events."
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server's base URL")
    parser.add_argument("--ecosystem", required=True, help="the ecosystem's id")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument(
        "--since", type=int, default=None, help="replay events after this seq (default: new only)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log reconnects to stderr")
    args = parser.parse_args(argv)
    if args.since is not None and args.since < 0:
        parser.error("--since must be >= 0")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        format="%(asctime)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        return asyncio.run(_print_stream(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
