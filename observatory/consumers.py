"""The live event stream of one ecosystem: ``WS /ws/ecosystem/{ecosystem_id}/?since=N``.

docs/events.md is the contract (frames, close codes, resume). This module is the edge: it parses
the handshake, checks access and finds the start position through reads (``stream_open``), and
glues a ``Delivery`` (``observatory.delivery``: the state machine that decides which frame goes
out next, with no sockets) to Channels. The consumer is the delivery's ``Outlet`` (the ASGI
send and, under Daphne, ``fanout_daphne.write_frame``) and its ``Source`` (log pages,
``last_seq`` and the access check, through ``database_sync_to_async``).

Live events come from the process's hub of the ecosystem (``observatory.fanout``: one group
subscription per ecosystem per process, each event decoded and JSON-encoded once), not from a
channel of the consumer's own: a consumer has no channel-layer channel at all. The hub hands
them to ``receive_live``, which passes them to the delivery, and frames that are not events
(``speaking``) to ``receive_ephemeral``, which the delivery sends with no seq bookkeeping.
"""

import asyncio
import contextlib
import functools
import re
import uuid
from dataclasses import dataclass
from importlib import import_module
from typing import Any
from urllib.parse import parse_qs

from autobahn.exception import Disconnected as AutobahnDisconnected
from autobahn.websocket.protocol import WebSocketServerProtocol
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import User
from django.http import Http404

from characters.models import Ecosystem
from characters.selectors import ecosystem_get
from core import metrics
from core.jsonlimits import loads_bounded
from eventlog.services import envelopes_of, events_oldest_retained_seq, events_since

from . import fanout
from .auth import ANONYMOUS, AUTH_FAILURE_FOREIGN_ORIGIN, AUTH_FAILURE_INVALID_TOKEN, AuthInfo
from .delivery import (
    CLOSE_BAD_REQUEST,
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_UNAUTHENTICATED,
    FIRST_CHECK_SECONDS,
    REPLAY_PAGE_SIZE,
    WRITE_BACKLOG_HIGH_WATER,
    Delivery,
    DeliveryConfig,
    StreamRefused,
    error_frame,
)
from .fanout import LiveEvent, encode_frame
from .fanout_daphne import (
    daphne_protocol,
    quiet_autobahn_debug_arguments,
    transport_backlog,
    write_frame,
)

SUBPROTOCOL = "ecosystem.v1"

MAX_SEQ = 2**63 - 1  # PostgreSQL bigint
MAX_CLIENT_FRAME_CHARS = 4096
ENCODED_EVENTS_CACHED = 4096
# Sending during the closing handshake: the ASGI spec asks servers for an OSError subclass;
# Daphne lets autobahn's Disconnected (a RuntimeError) through.
SEND_AFTER_CLOSE_ERRORS = (OSError, AutobahnDisconnected)

_SINCE_PATTERN = re.compile(r"[0-9]{1,19}")

# Every Daphne process imports this module (ecosystem_project.asgi -> observatory.routing) when
# it builds the application: the per-frame cost this removes is Daphne's (fanout_daphne).
quiet_autobahn_debug_arguments()

# Open (accepted) connections in this process; also exported to Prometheus.
open_connections = 0


def open_connection_count() -> int:
    return open_connections


def _connection_opened() -> None:
    global open_connections
    open_connections += 1
    metrics.ws_connection_opened()


def _connection_closed() -> None:
    global open_connections
    open_connections -= 1
    metrics.ws_connection_closed()


@dataclass(frozen=True, slots=True)
class StreamStart:
    """Where a new connection starts: deliver events with ``seq > after``."""

    after: int
    reset: dict[str, Any] | None  # a ``reset`` frame to send first, if ``since`` is unusable


# --- Reads (sync; the consumer calls them through database_sync_to_async) -------------------


def stream_open(*, user: User, ecosystem_id: uuid.UUID, since: int | None) -> StreamStart:
    """Check ``user`` may observe the ecosystem and work out where its stream starts.

    ``since`` absent: only events after the current ``last_seq``. ``since`` older than the
    oldest retained event (or newer than ``last_seq``, a log the client cannot have seen):
    a ``reset`` frame, then every retained event.
    """
    try:
        ecosystem = ecosystem_get(user=user, ecosystem_id=ecosystem_id)
    except Http404:
        if Ecosystem.objects.filter(pk=ecosystem_id).exists():
            raise StreamRefused(CLOSE_FORBIDDEN, "not the owner of this ecosystem") from None
        raise StreamRefused(CLOSE_NOT_FOUND, "unknown ecosystem") from None
    last_seq = ecosystem.last_seq
    if since is None or since == last_seq:
        return StreamStart(after=last_seq, reset=None)
    oldest = events_oldest_retained_seq(ecosystem_id=ecosystem_id) or last_seq + 1
    if oldest - 1 <= since < last_seq:
        return StreamStart(after=since, reset=None)
    reset = {"type": "reset", "oldest_seq": oldest, "last_seq": last_seq}
    return StreamStart(after=oldest - 1, reset=reset)


AccessRow = tuple[Any, bool, int] | None  # (owner id, owner active, last_seq) or deleted


def ecosystem_access_row(*, ecosystem_id: uuid.UUID) -> AccessRow:
    """What every observer's access check needs of the ecosystem, in one query."""
    return (
        Ecosystem.objects.filter(pk=ecosystem_id)
        .values_list("owner_id", "owner__is_active", "last_seq")
        .first()
    )


def stream_access_granted(*, row: AccessRow, user_id: Any) -> int:
    """The ecosystem's ``last_seq`` if ``user_id`` may still observe it; StreamRefused if not."""
    if row is None:
        raise StreamRefused(CLOSE_FORBIDDEN, "the ecosystem was deleted")
    owner_id, owner_active, last_seq = row
    if owner_id != user_id:
        raise StreamRefused(CLOSE_FORBIDDEN, "access revoked")
    if not owner_active:
        raise StreamRefused(CLOSE_FORBIDDEN, "user deactivated")
    return int(last_seq)


def stream_session_check(*, user_id: Any, session_key: str) -> None:
    """StreamRefused(4401) unless the session still belongs to ``user_id``."""
    # Loading applies expiry; a flushed (logged out) or expired session reads empty.
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    if session.get(SESSION_KEY) != str(user_id):
        raise StreamRefused(CLOSE_UNAUTHENTICATED, "session ended")


# Access checks of the observers of one ecosystem share a read of its row made less than this
# long ago: a thousand observers checking every 15 s would otherwise cost 67 queries a second.
ACCESS_READ_SHARED_SECONDS = 0.5
_access_reads: dict[tuple[int, uuid.UUID], "asyncio.Future[AccessRow]"] = {}


async def shared_access_row(ecosystem_id: uuid.UUID) -> AccessRow:
    """``ecosystem_access_row``, read at most once per ACCESS_READ_SHARED_SECONDS per process."""
    loop = asyncio.get_running_loop()
    key = (id(loop), ecosystem_id)
    read = _access_reads.get(key)
    if read is None:
        read = asyncio.ensure_future(
            database_sync_to_async(ecosystem_access_row)(ecosystem_id=ecosystem_id)
        )
        _access_reads[key] = read

        def forget(_: object) -> None:
            loop.call_later(ACCESS_READ_SHARED_SECONDS, _access_reads.pop, key, None)

        read.add_done_callback(forget)
    return await asyncio.shield(read)


def stream_page(*, ecosystem_id: uuid.UUID, after: int) -> list[dict[str, Any]]:
    """The next envelopes of the log after ``after``, in ``seq`` order."""
    return envelopes_of(
        events_since(ecosystem_id=ecosystem_id, since=after, limit=REPLAY_PAGE_SIZE)
    )


def ecosystem_last_seq(*, ecosystem_id: uuid.UUID) -> int:
    value = Ecosystem.objects.filter(pk=ecosystem_id).values_list("last_seq", flat=True).first()
    return int(value or 0)


# --- Pure helpers -------------------------------------------------------------------------


def parse_since(query_string: bytes) -> int | None:
    """``since`` from the query string: None when absent; StreamRefused(4400) when malformed."""
    values = parse_qs(query_string.decode("latin1"), keep_blank_values=True).get("since")
    if values is None:
        return None
    if len(values) != 1:
        raise StreamRefused(CLOSE_BAD_REQUEST, "since must be given once")
    if not _SINCE_PATTERN.fullmatch(values[0]) or int(values[0]) > MAX_SEQ:
        raise StreamRefused(CLOSE_BAD_REQUEST, "since must be a non-negative integer")
    return int(values[0])


def client_frame_reply(text: str | None) -> dict[str, Any]:
    """The answer to one frame from the client: ``pong`` to a ping, an error to anything else."""
    if text is None:
        return error_frame(
            'binary frames are not supported; the only client frame is {"type": "ping"}'
        )
    if len(text) > MAX_CLIENT_FRAME_CHARS:
        return error_frame("frame too large")
    try:
        frame = loads_bounded(text)
    except ValueError:
        return error_frame("frames must be JSON")
    if isinstance(frame, dict) and frame.get("type") == "ping":
        return {"type": "pong"}
    return error_frame('unknown frame; the only client frame is {"type": "ping"}')


def transport_write_backlog(send: Any) -> int:
    """Bytes this connection has handed to the server but not yet written to its socket.

    ASGI has no flow control for ``websocket.send``: Daphne passes each frame to Twisted, which
    buffers without limit when the peer reads slowly. Daphne's send callable is
    ``partial(server.handle_reply, protocol)``; ``transport_backlog`` reads the protocol's
    Twisted transport. Under any other server (or the test communicator) this answers 0, and
    the pending-event bound alone limits memory.
    """
    if not isinstance(send, functools.partial) or not send.args:
        return 0
    return transport_backlog(getattr(send.args[0], "transport", None))


# Observers that replay together (a reconnect wave) read the same pages: encode them once.
_encoded_events: dict[tuple[str, int], LiveEvent] = {}


def _encode_event(envelope: dict[str, Any]) -> LiveEvent:
    key = (envelope["ecosystem_id"], envelope["seq"])
    event = _encoded_events.get(key)
    if event is None:
        event = LiveEvent.of(envelope)
        if len(_encoded_events) >= ENCODED_EVENTS_CACHED:
            del _encoded_events[next(iter(_encoded_events))]  # the oldest
        _encoded_events[key] = event
    return event


# --- The consumer ---------------------------------------------------------------------------


class EcosystemConsumer(AsyncWebsocketConsumer):
    """One observer of one ecosystem. Thin: parse the handshake, check it through a read, then
    glue a ``Delivery`` (observatory.delivery) to Channels: it is the delivery's ``Outlet``
    (the ASGI send, Daphne's direct write) and ``Source`` (the log and access reads)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ecosystem_id: uuid.UUID | None = None
        self.joined = False  # receiving the ecosystem's live events from its hub
        self.auth: AuthInfo = ANONYMOUS
        self.user_id: Any = None
        self.delivery: Delivery | None = None  # once the handshake is granted
        self.counted = False
        self.daphne: WebSocketServerProtocol | None = None  # under Daphne (fanout_daphne)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Channels' AsyncConsumer.__call__ would give this consumer a channel of its own and a
        # task waiting on it; live events reach us through the hub instead (module docstring),
        # so the only input is the client's.
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.base_send = send
        self.daphne = daphne_protocol(send)
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        finally:
            if self.delivery is not None:
                self.delivery.stop()
            self._leave()
            if self.counted:
                self.counted = False
                _connection_closed()

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' default dispatch first hops to a worker thread to close stale database
        # connections, for every message (every client frame). Our handlers reach the database
        # only through database_sync_to_async, which does that itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- Handshake ------------------------------------------------------------------------

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        try:
            user, ecosystem_id, since = self._parse_handshake()
            start = await database_sync_to_async(stream_open)(
                user=user, ecosystem_id=ecosystem_id, since=since
            )
        except StreamRefused as refused:
            await self._accept()
            # Say why in an error frame (Daphne drops close reasons), then close.
            await self.send_text(encode_frame(error_frame(refused.reason, refused.code)))
            await self.close_socket(refused.code, refused.reason)
            return
        self.ecosystem_id = ecosystem_id
        self.user_id = user.pk
        await self._accept()
        self.delivery = Delivery(
            outlet=self,
            source=self,
            after=start.after,
            config=DeliveryConfig(
                max_pending=settings.WS_MAX_PENDING_EVENTS,
                heartbeat_seconds=settings.WS_HEARTBEAT_SECONDS,
                revalidate_seconds=settings.WS_REVALIDATE_SECONDS,
                first_check_seconds=FIRST_CHECK_SECONDS,
                page_size=REPLAY_PAGE_SIZE,
                write_backlog_high_water=WRITE_BACKLOG_HIGH_WATER,
            ),
            expires_at=self.auth.expires_at,
            name=str(ecosystem_id),
        )
        await self.delivery.open(
            reset=start.reset, subscribe=self._join if self.channel_layer is not None else None
        )

    def _parse_handshake(self) -> tuple[User, uuid.UUID, int | None]:
        failure = self.scope.get("auth_failure")
        if failure == AUTH_FAILURE_FOREIGN_ORIGIN:
            raise StreamRefused(CLOSE_FORBIDDEN, "origin not allowed")
        if failure == AUTH_FAILURE_INVALID_TOKEN:
            raise StreamRefused(CLOSE_UNAUTHENTICATED, "invalid or expired token")
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            raise StreamRefused(CLOSE_UNAUTHENTICATED, "authentication required")
        self.auth = self.scope.get("auth", ANONYMOUS)
        try:
            ecosystem_id = uuid.UUID(self.scope["url_route"]["kwargs"]["ecosystem_id"])
        except ValueError:
            raise StreamRefused(CLOSE_NOT_FOUND, "unknown ecosystem") from None
        since = parse_since(self.scope.get("query_string", b""))
        return user, ecosystem_id, since

    async def _accept(self) -> None:
        # Echo only ecosystem.v1, never the bearer entry. A browser that offered subprotocols
        # drops a handshake answered without one, and would never see our close code.
        offered = self.scope.get("subprotocols") or []
        await self.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
        if not self.counted:
            self.counted = True
            _connection_opened()

    # --- Live events (the hub's subscriber) -------------------------------------------------

    async def _join(self) -> None:
        assert self.channel_layer is not None and self.ecosystem_id is not None
        self.joined = True
        await fanout.join(self.channel_layer, self.ecosystem_id, self)

    def _leave(self) -> "asyncio.Task[None] | None":
        if not self.joined or self.channel_layer is None or self.ecosystem_id is None:
            return None
        self.joined = False
        return fanout.leave(self.channel_layer, self.ecosystem_id, self)

    def receive_live(self, events: list[LiveEvent]) -> None:
        """Committed events broadcast to the ecosystem (``events_broadcast``), from the hub."""
        if self.delivery is not None:
            self.delivery.receive_live(events)

    def receive_ephemeral(self, frame: LiveEvent) -> None:
        """A frame with no seq (``ephemeral_broadcast``: ``speaking``), from the hub."""
        if self.delivery is not None:
            self.delivery.receive_ephemeral(frame)

    # --- Frames from the client -----------------------------------------------------------

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        if self.delivery is not None and not self.delivery.closed:
            await self.delivery.send_frame(client_frame_reply(message.get("text")))

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        if self.delivery is not None:
            self.delivery.stop()
        teardown = self._leave()
        if teardown is not None:
            # The last observer of this ecosystem here: wait until the process left the group.
            await teardown
        raise StopConsumer()

    # --- The delivery's Outlet: the socket ------------------------------------------------

    def write_now(self, event: LiveEvent, backlog_limit: int | None) -> bool:
        return self.daphne is not None and write_frame(self.daphne, event.frame, backlog_limit)

    def write_backlog(self) -> int:
        return transport_write_backlog(self.base_send)

    async def send_text(self, text: str) -> bool:
        try:
            await self.base_send({"type": "websocket.send", "text": text})
        except SEND_AFTER_CLOSE_ERRORS:
            # The client is closing; its websocket.disconnect is on the way.
            return False
        return True

    async def close_socket(self, code: int, reason: str) -> None:
        with contextlib.suppress(*SEND_AFTER_CLOSE_ERRORS):  # the client closed first
            await self.close(code=code, reason=reason)

    # --- The delivery's Source: the log and the access rules ------------------------------

    async def read_page(self, after: int) -> list[LiveEvent]:
        assert self.ecosystem_id is not None
        page = await database_sync_to_async(stream_page)(
            ecosystem_id=self.ecosystem_id, after=after
        )
        return [_encode_event(envelope) for envelope in page]

    async def read_last_seq(self) -> int:
        assert self.ecosystem_id is not None
        return await database_sync_to_async(ecosystem_last_seq)(ecosystem_id=self.ecosystem_id)

    async def check_access(self) -> int:
        assert self.ecosystem_id is not None
        row = await shared_access_row(self.ecosystem_id)
        last_seq = stream_access_granted(row=row, user_id=self.user_id)
        if self.auth.session_key is not None:
            await database_sync_to_async(stream_session_check)(
                user_id=self.user_id, session_key=self.auth.session_key
            )
        return last_seq
