"""observatory.client against a real Daphne server process (killed and restarted mid-stream),
and the slow-reader bound against Daphne's real socket buffers."""

import asyncio
import base64
import contextlib
import os
import socket
import time
from collections.abc import Callable

import pytest
from asgiref.sync import async_to_sync
from django.db import connection, transaction

from eventlog.services import events_append
from observatory.client import ClientError, stream_events, stream_url
from tests.conftest import token_for
from tests.factories import EcosystemFactory, user_message_event

pytestmark = pytest.mark.django_db(transaction=True)


def write_events(ecosystem_id, count: int, payload_chars: int = 20, batch: int = 1) -> None:
    """Events from a thread of its own (own database connection), broadcast on commit."""
    try:
        for first in range(0, count, batch):
            with transaction.atomic():
                events_append(
                    ecosystem_id=ecosystem_id,
                    events=[
                        user_message_event("x" * payload_chars, turn=index)
                        for index in range(first, min(first + batch, count))
                    ],
                )
    finally:
        connection.close()


async def wait_until(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)


def test_stream_url_accepts_http_and_ws_bases():
    assert stream_url("http://h:8000", "abc", 5) == "ws://h:8000/ws/ecosystem/abc/?since=5"
    assert stream_url("https://h/prefix/", "abc", None) == "wss://h/prefix/ws/ecosystem/abc/"
    with pytest.raises(ValueError):
        stream_url("ftp://h", "abc", 0)


def test_client_yields_each_event_once_in_order_across_a_server_restart(user, ecosystem, daphne):
    server = daphne()
    token = token_for(user)
    write_events(ecosystem.pk, 30)  # replayed on connect

    async def scenario() -> list[dict]:
        received: list[dict] = []

        async def consume() -> None:
            stream = stream_events(
                server.url, ecosystem.pk, token, since=0, initial_backoff=0.2, max_backoff=1.0
            )
            async with contextlib.aclosing(stream):
                async for frame in stream:
                    received.append(frame)
                    if len(received) == 150:
                        return

        consumer = asyncio.ensure_future(consume())
        await wait_until(lambda: len(received) >= 30)
        writer = asyncio.ensure_future(asyncio.to_thread(write_events, ecosystem.pk, 60))
        await wait_until(lambda: len(received) >= 45)
        await asyncio.to_thread(server.kill)  # mid-stream, while the writer goes on
        await writer
        await asyncio.to_thread(write_events, ecosystem.pk, 30)  # written while it is down
        await asyncio.sleep(0.5)
        await asyncio.to_thread(server.start)
        await asyncio.to_thread(write_events, ecosystem.pk, 30)  # after the restart
        await asyncio.wait_for(consumer, 30)
        return received

    received = async_to_sync(scenario)()
    assert [frame["seq"] for frame in received] == list(range(1, 151))


def test_client_raises_on_terminal_close_codes(user, other_user, ecosystem, daphne):
    server = daphne()
    foreign = EcosystemFactory(owner=other_user)
    token = token_for(user)

    async def first_error(ecosystem_id, token_source) -> ClientError:
        with pytest.raises(ClientError) as raised:
            async for _ in stream_events(server.url, ecosystem_id, token_source):
                pass
        return raised.value

    async def scenario():
        return [
            await first_error(foreign.pk, token),
            await first_error("3f1e3c43-7a4e-4f05-9d4f-0c4c2f1d2b10", token),
            await first_error(ecosystem.pk, "not-a-token"),
        ]

    forbidden, unknown, unauthenticated = async_to_sync(scenario)()
    assert (forbidden.code, forbidden.reason) == (4403, "not the owner of this ecosystem")
    assert unknown.code == 4404
    assert unauthenticated.code == 4401


def test_client_renews_a_refused_token_once_through_the_callable(user, ecosystem, daphne):
    server = daphne()
    good = token_for(user)
    handed_out: list[str] = []

    def tokens() -> str:
        handed_out.append("not-a-token" if not handed_out else good)
        return handed_out[-1]

    write_events(ecosystem.pk, 2)

    async def scenario():
        stream = stream_events(server.url, ecosystem.pk, tokens, since=0)
        async with contextlib.aclosing(stream):
            return [await anext(stream), await anext(stream)]

    events = async_to_sync(scenario)()
    assert [event["seq"] for event in events] == [1, 2]
    assert handed_out == ["not-a-token", good]


def test_client_without_reconnect_ends_when_the_server_goes_away(user, ecosystem, daphne):
    server = daphne()
    token = token_for(user)
    write_events(ecosystem.pk, 1)

    async def scenario():
        received = []
        stream = stream_events(server.url, ecosystem.pk, token, since=0, reconnect=False)
        async for frame in stream:
            received.append(frame)
            await asyncio.to_thread(server.kill)
        return received

    assert [frame["seq"] for frame in async_to_sync(scenario)()] == [1]


def test_a_reader_that_stops_reading_is_dropped_instead_of_buffered(user, ecosystem, daphne):
    """Daphne has no flow control of its own: without the consumer's bound, every event for a
    client that stopped reading would pile up in the server's memory."""
    server = daphne(WS_MAX_PENDING_EVENTS="20")
    token = token_for(user)
    event_count, payload_chars = 1500, 20_000

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/ecosystem/{ecosystem.pk}/?since=0 HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: ecosystem.v1, bearer.{token}\r\n\r\n"
        ).encode()
    )
    handshake = b""
    while b"\r\n\r\n" not in handshake:
        handshake += sock.recv(1)
    assert handshake.startswith(b"HTTP/1.1 101")

    # The client reads nothing while about 30 MB of events are written.
    write_events(ecosystem.pk, event_count, payload_chars=payload_chars, batch=50)
    time.sleep(2)

    received, dropped = 0, False
    sock.settimeout(10)
    try:
        while chunk := sock.recv(1 << 16):
            received += len(chunk)
        dropped = True  # orderly close from the server
    except ConnectionResetError:
        dropped = True  # aborted: the close frame could not get through the full buffer
    except TimeoutError:
        dropped = False  # still open and quiet: the server kept streaming to it
    finally:
        sock.close()
    assert dropped
    assert received < event_count * payload_chars
