"""The live event stream of one ecosystem: ``WS /ws/ecosystem/{ecosystem_id}/?since=N``.

docs/events.md is the contract (frames, close codes, resume). How "each event exactly once,
in ``seq`` order, no gap" holds:

- The event log (``observatory.Event``) is the source of truth. ``seq`` is contiguous per
  ecosystem and allocated under the ecosystem's row lock, so commit order equals ``seq``
  order: once any process has seen event N, every event below N is committed and readable.
- A connection keeps one number, ``last_sent``. An event goes out only if its ``seq`` is
  ``last_sent + 1``; one at or below ``last_sent`` is a duplicate and dropped; one further
  ahead means a broadcast was lost or overtaken, and the log is read from ``last_sent``.
- The connection joins the ecosystem's live events *before* it reads the log, so every event
  committed after the read arrives live. Live messages that arrive during the replay wait in
  a bounded ``pending`` queue; a periodic check of the ecosystem's ``last_seq`` reads the log
  again if a broadcast never arrives (a Redis hiccup, or a publish that raced our subscribe).

Live events come from the process's hub of the ecosystem (``observatory.fanout``: one group
subscription per ecosystem per process, each event decoded and JSON-encoded once), not from a
channel of the consumer's own: a consumer has no channel-layer channel at all. Under Daphne,
a live event that is next in line, while nothing is queued and the client keeps up, is written
to the socket straight from the hub's hand-over (``observatory.fanout_daphne``), without waking
a task of the consumer; anything else goes through the consumer's pump and the ASGI send.

Memory per connection stays small and bounded: no task while idle (one timer handle), a
pending queue of at most ``WS_MAX_PENDING_EVENTS``, and, under Daphne, no more than about
``WRITE_BACKLOG_HIGH_WATER`` bytes queued towards a slow client; a client that stays too slow
while the queue is full is closed with 4008 and resumes with ``since``.
"""

import asyncio
import contextlib
import functools
import json
import logging
import random
import re
import time
import uuid
from collections import deque
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
from django.db import DatabaseError
from django.http import Http404

from characters.models import Ecosystem
from characters.selectors import ecosystem_get
from core import metrics
from eventlog.services import envelopes_of, events_oldest_retained_seq, events_since

from . import fanout
from .auth import ANONYMOUS, AUTH_FAILURE_FOREIGN_ORIGIN, AUTH_FAILURE_INVALID_TOKEN, AuthInfo
from .fanout import LiveEvent, encode_frame
from .fanout_daphne import (
    daphne_protocol,
    quiet_autobahn_debug_arguments,
    transport_backlog,
    write_frame,
)

logger = logging.getLogger(__name__)

SUBPROTOCOL = "ecosystem.v1"

# Application close codes (docs/events.md). 4000-4999 are reserved for applications; the
# hundreds mirror HTTP, and 4008 mirrors RFC 6455's 1008 "policy violation".
CLOSE_BAD_REQUEST = 4400  # malformed ``since``
CLOSE_UNAUTHENTICATED = 4401  # no / invalid / expired credentials, or the session ended
CLOSE_FORBIDDEN = 4403  # not the owner, access revoked, or a cookie from a foreign Origin
CLOSE_NOT_FOUND = 4404  # unknown or malformed ecosystem id
CLOSE_TOO_SLOW = 4008  # the client does not read fast enough; resume with ``since``
CLOSE_SERVER_ERROR = 1011  # the database failed mid-stream; resume with ``since``

# Terminal codes: reconnecting with the same credentials gets the same answer.
TERMINAL_CLOSE_CODES = frozenset(
    {CLOSE_BAD_REQUEST, CLOSE_UNAUTHENTICATED, CLOSE_FORBIDDEN, CLOSE_NOT_FOUND}
)

REPLAY_PAGE_SIZE = 500
MAX_SEQ = 2**63 - 1  # PostgreSQL bigint
MAX_CLIENT_FRAME_CHARS = 4096
# Stop writing to a client once this much is queued in the server but not on the wire.
WRITE_BACKLOG_HIGH_WATER = 256 * 1024
WRITE_BACKLOG_POLL_SECONDS = 0.05
# The first access check comes soon after connecting; it also re-reads the log once, which
# covers a publish that reached Redis before our SUBSCRIBE did (pub/sub has no replay).
FIRST_CHECK_SECONDS = 1.0
# A check that finds the log ahead of the stream waits this long before reading the log: under
# load the broadcast is usually just still on its way, and reading would be wasted work.
LOST_BROADCAST_GRACE_SECONDS = 0.5
MIN_TICK_SECONDS = 0.05
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


class StreamRefused(Exception):
    """The handshake or a later access check fails; the socket closes with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


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


def error_frame(detail: str, code: int | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "detail": detail}
    if code is not None:
        frame["code"] = code
    return frame


def client_frame_reply(text: str | None) -> dict[str, Any]:
    """The answer to one frame from the client: ``pong`` to a ping, an error to anything else."""
    if text is None:
        return error_frame(
            'binary frames are not supported; the only client frame is {"type": "ping"}'
        )
    if len(text) > MAX_CLIENT_FRAME_CHARS:
        return error_frame("frame too large")
    try:
        frame = json.loads(text)
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
    """One observer of one ecosystem. Thin: parse, check through a read, stream, reply."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ecosystem_id: uuid.UUID | None = None
        self.joined = False  # receiving the ecosystem's live events from its hub
        self.auth: AuthInfo = ANONYMOUS
        self.user_id: Any = None
        self.last_sent = 0  # seq of the last event the client was sent
        self.pending: deque[LiveEvent] = deque()  # live events not yet sent
        self.log_behind = False  # the log may hold events newer than last_sent: read it
        self.live = False  # the first catch-up is done and announced with a heartbeat
        self.pumping = False
        self.writing = False  # the pump waits on the client (send or write backlog)
        self.closing = False
        self.counted = False
        self.daphne: WebSocketServerProtocol | None = None  # under Daphne (fanout_daphne)
        self.pump_task: asyncio.Task[None] | None = None
        self.tick_handle: asyncio.TimerHandle | None = None
        self.tick_task: asyncio.Task[None] | None = None
        self.close_task: asyncio.Task[None] | None = None
        self.last_frame_at = 0.0
        self.revalidate_at = 0.0
        self.lost_check_at: float | None = None  # when to look for a lost broadcast
        self.lost_check_seq = 0  # ... of an event up to this seq

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
            self.closing = True
            self._stop_background()
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
            await self._close(refused.code, refused.reason)
            return
        self.ecosystem_id = ecosystem_id
        self.user_id = user.pk
        await self._accept()
        if start.reset is not None:
            await self._send_frame(start.reset)
        self.last_sent = start.after
        self.log_behind = True  # replay; also closes the window between our read and the join
        if self.channel_layer is not None:
            # From here live events queue up (``live`` is still False) until the replay is out.
            self.joined = True
            await fanout.join(self.channel_layer, ecosystem_id, self)
        self._wake_pump()
        loop = asyncio.get_running_loop()
        self.revalidate_at = loop.time() + min(FIRST_CHECK_SECONDS, settings.WS_REVALIDATE_SECONDS)
        self._schedule_tick()

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
        self.last_frame_at = asyncio.get_running_loop().time()
        if not self.counted:
            self.counted = True
            _connection_opened()

    # --- Frames from the client -----------------------------------------------------------

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        if not self.closing:
            await self._send_frame(client_frame_reply(message.get("text")))

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        self.closing = True
        self._stop_background()
        teardown = self._leave()
        if teardown is not None:
            # The last observer of this ecosystem here: wait until the process left the group.
            await teardown
        raise StopConsumer()

    def _leave(self) -> "asyncio.Task[None] | None":
        if not self.joined or self.channel_layer is None or self.ecosystem_id is None:
            return None
        self.joined = False
        return fanout.leave(self.channel_layer, self.ecosystem_id, self)

    # --- Live events ----------------------------------------------------------------------

    def receive_live(self, events: list[LiveEvent]) -> None:
        """Committed events broadcast to the ecosystem (``events_broadcast``), from the hub.

        The hub serves every observer of the ecosystem in this process in turn, so this never
        waits. Under Daphne, the events that are next in line go out at once when nothing is
        queued before them and the client keeps up (``write_frame``); anything else is queued
        for the pump, a task of this connection.
        """
        if self.closing:
            return
        index = 0
        if (
            self.daphne is not None
            and self.live
            and not self.pumping
            and not self.pending
            and not self.log_behind
        ):
            while (
                index < len(events)
                and events[index].seq == self.last_sent + 1
                and write_frame(self.daphne, events[index].frame, WRITE_BACKLOG_HIGH_WATER)
            ):
                self.last_sent = events[index].seq
                index += 1
            if index:
                self.last_frame_at = asyncio.get_running_loop().time()
                if index == len(events):
                    return
        self.pending.extend(event for event in events[index:] if event.seq > self.last_sent)
        if not self.pending:
            return
        if len(self.pending) > settings.WS_MAX_PENDING_EVENTS:
            if self.writing:
                self.pending.clear()  # bounded memory, whatever the close costs
                self._close_soon(CLOSE_TOO_SLOW, f"too slow; resume with since={self.last_sent}")
                return
            # The pump is reading the log, not waiting on the client: the log has these
            # events too, so drop the copies and read on.
            self.pending.clear()
            self.log_behind = True
        self._wake_pump()

    def _wake_pump(self) -> None:
        if not self.pumping and not self.closing:
            self.pumping = True
            self.pump_task = asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        """Send what the client lacks, in ``seq`` order, until there is nothing left."""
        try:
            while not self.closing:
                if self.log_behind:
                    await self._catch_up_from_log()
                elif self.pending:
                    seq = self.pending[0].seq
                    if seq <= self.last_sent:
                        self.pending.popleft()  # already sent (replay or log overlap)
                    elif seq == self.last_sent + 1:
                        await self._deliver(self.pending.popleft())
                    elif not await self._catch_up_from_log():
                        # Lost or overtaken broadcast: the log normally has everything before
                        # it. It has nothing only if those events were pruned: say so.
                        await self._send_reset(oldest_seq=seq)
                elif not self.live:
                    # Caught up: tell the client where it stands (``since`` absent included).
                    self.live = True
                    await self._send_heartbeat()
                else:
                    break
        except DatabaseError as error:
            logger.warning("Event stream of %s lost the database: %s", self.ecosystem_id, error)
            await self._close(
                CLOSE_SERVER_ERROR, f"server error; resume with since={self.last_sent}"
            )
        finally:
            self.pumping = False

    async def _catch_up_from_log(self) -> bool:
        """Send every logged event after ``last_sent``; answer whether there was any."""
        self.log_behind = False
        assert self.ecosystem_id is not None
        delivered = False
        while not self.closing:
            page = await database_sync_to_async(stream_page)(
                ecosystem_id=self.ecosystem_id, after=self.last_sent
            )
            for envelope in page:
                if envelope["seq"] != self.last_sent + 1:
                    # Pruned while we were behind (retention): say so, continue from here.
                    await self._send_reset(oldest_seq=envelope["seq"])
                await self._deliver(_encode_event(envelope))
                delivered = True
            if len(page) < REPLAY_PAGE_SIZE:
                break
        return delivered

    async def _send_reset(self, *, oldest_seq: int) -> None:
        assert self.ecosystem_id is not None
        last_seq = await database_sync_to_async(ecosystem_last_seq)(ecosystem_id=self.ecosystem_id)
        await self._send_frame({"type": "reset", "oldest_seq": oldest_seq, "last_seq": last_seq})
        self.last_sent = oldest_seq - 1

    async def _deliver(self, event: LiveEvent) -> None:
        self.writing = True
        try:
            while transport_write_backlog(self.base_send) > WRITE_BACKLOG_HIGH_WATER:
                await asyncio.sleep(WRITE_BACKLOG_POLL_SECONDS)
            await self._send_event(event)
        finally:
            self.writing = False
        self.last_sent = event.seq

    # --- Revalidation and heartbeat ---------------------------------------------------------

    def _schedule_tick(self) -> None:
        """One timer per connection (no task while idle): the next check or heartbeat."""
        if self.closing:
            return
        loop = asyncio.get_running_loop()
        delays = [
            self.revalidate_at - loop.time(),
            self.last_frame_at + settings.WS_HEARTBEAT_SECONDS - loop.time(),
        ]
        if self.auth.expires_at is not None:
            delays.append(self.auth.expires_at - time.time())
        if self.lost_check_at is not None:
            delays.append(self.lost_check_at - loop.time())
        self.tick_handle = loop.call_later(max(min(delays), MIN_TICK_SECONDS), self._start_tick)

    def _start_tick(self) -> None:
        self.tick_handle = None
        if not self.closing:
            self.tick_task = asyncio.ensure_future(self._tick())

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            if self.auth.expires_at is not None and time.time() >= self.auth.expires_at:
                await self._close(CLOSE_UNAUTHENTICATED, "token expired")
                return
            if loop.time() >= self.revalidate_at and not await self._revalidate():
                return
            if self.lost_check_at is not None and loop.time() >= self.lost_check_at:
                self.lost_check_at = None
                if self.last_sent < self.lost_check_seq and not self.pumping:
                    # Committed a while ago and still not here: read it from the log.
                    self.log_behind = True
                    self._wake_pump()
            if loop.time() - self.last_frame_at >= settings.WS_HEARTBEAT_SECONDS:
                await self._send_heartbeat()
        finally:
            self.tick_task = None
            self._schedule_tick()

    async def _revalidate(self) -> bool:
        """Re-check access; close and answer False if it is gone. Also notices lost broadcasts."""
        assert self.ecosystem_id is not None
        loop = asyncio.get_running_loop()
        interval = settings.WS_REVALIDATE_SECONDS
        # Jitter spreads the checks of connections opened together (a deploy, a reconnect wave).
        self.revalidate_at = loop.time() + interval * random.uniform(0.8, 1.0)
        try:
            row = await shared_access_row(self.ecosystem_id)
            last_seq = stream_access_granted(row=row, user_id=self.user_id)
            if self.auth.session_key is not None:
                await database_sync_to_async(stream_session_check)(
                    user_id=self.user_id, session_key=self.auth.session_key
                )
        except StreamRefused as refused:
            await self._close(refused.code, refused.reason)
            return False
        except DatabaseError as error:
            # Nothing can be granted or revoked while the database is away; check again later.
            logger.warning("Access check of %s failed: %s", self.ecosystem_id, error)
            return True
        if last_seq > self.last_sent and self.lost_check_at is None:
            self.lost_check_at = loop.time() + LOST_BROADCAST_GRACE_SECONDS
            self.lost_check_seq = last_seq
        return True

    # --- Sending and closing --------------------------------------------------------------

    async def _send_frame(self, frame: dict[str, Any]) -> None:
        await self._send_text(encode_frame(frame))

    async def _send_event(self, event: LiveEvent) -> None:
        if self.daphne is not None and not self.closing and write_frame(self.daphne, event.frame):
            self.last_frame_at = asyncio.get_running_loop().time()
            return
        await self._send_text(event.text)

    async def _send_text(self, text: str) -> None:
        try:
            await self.base_send({"type": "websocket.send", "text": text})
        except SEND_AFTER_CLOSE_ERRORS:
            # The client is closing; its websocket.disconnect is on the way. Stop sending.
            self.closing = True
            return
        self.last_frame_at = asyncio.get_running_loop().time()

    async def _send_heartbeat(self) -> None:
        await self._send_frame({"type": "heartbeat", "last_seq": self.last_sent})

    def _close_soon(self, code: int, reason: str) -> None:
        """``_close`` from code that must not wait (the hub's hand-over)."""
        if self.close_task is None:
            self.close_task = asyncio.ensure_future(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        """Say why in an error frame (Daphne drops close reasons), then close with ``code``."""
        if self.closing:
            return
        self.closing = True
        self._stop_background()
        self.pending.clear()
        await self._send_frame(error_frame(reason, code))
        with contextlib.suppress(*SEND_AFTER_CLOSE_ERRORS):  # the client closed first
            await self.close(code=code, reason=reason)

    def _stop_background(self) -> None:
        current = asyncio.current_task()
        if self.tick_handle is not None:
            self.tick_handle.cancel()
            self.tick_handle = None
        for task in (self.pump_task, self.tick_task, self.close_task):
            if task is not None and task is not current and not task.done():
                task.cancel()
