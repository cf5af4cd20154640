"""The delivery state machine of one event-stream connection: which frame goes out next.

No sockets and no database here. ``Delivery`` talks to the client through an ``Outlet`` and to
the event log through a ``Source``; ``observatory.consumers.EcosystemConsumer`` implements both
over Channels, and ``tests/observatory/test_delivery.py`` with fakes. docs/events.md is the
contract (frames, close codes, resume).

Phases (``Delivery.phase``): ``REPLAYING`` from the start until the log and the queue are both
drained once, which is announced with a heartbeat (the "you are live" marker); then ``LIVE``;
``CLOSED`` once the connection is closed (by us, with an error frame and a code) or the client
is gone. The pump (``Delivery.pump``), the connection's one task that sends what cannot go out
at once, is ``IDLE`` (no task), ``RUNNING`` (reading the log or its queue) or
``WAITING_ON_CLIENT`` (a send, or a write backlog above the high-water mark).

Each event goes out exactly once, in ``seq`` order, with no gap, because of one number,
``last_sent``: an event is sent only if its ``seq`` is ``last_sent + 1``.

- Replay then live: the connection joins the live events (``open``'s ``subscribe``) before
  the pump reads the log after ``last_sent``. Live events that arrive meanwhile wait in
  ``pending``; the ones the replay already sent are dropped as duplicates.
- Gap fill: a live event above ``last_sent + 1`` means a broadcast was lost or overtaken; as
  commit order equals ``seq`` order, the log has every event below it: read them from there.
  If it has none (pruned), send a ``reset`` and go on from the event.
- Slow readers: ``pending`` holds at most ``max_pending`` events. Overflowing it while the
  pump waits on the client closes with 4008; while the pump reads the log (or is idle) the
  queued copies are dropped and the log is read further, since it has them too.
- Ephemeral frames (``receive_ephemeral``: ``speaking``) have no ``seq`` and touch neither
  ``last_sent`` nor ``pending``: sent at once to a live client that keeps up, dropped
  otherwise (during the replay, or to a client whose writes are backed up). Never queued,
  so they cannot delay, reorder or duplicate an event.
- Timers (one handle, no task while idle): the access check every ``revalidate_seconds``
  (jittered; the first after ``first_check_seconds``) closes with the code of the refusal
  (4403, 4401) and notices a log running ahead of the stream (a broadcast that never arrived);
  a JWT's ``expires_at`` closes with 4401; a heartbeat goes out after ``heartbeat_seconds``
  without a frame.
"""

import asyncio
import enum
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from django.db import DatabaseError

from .fanout import LiveEvent, encode_frame

logger = logging.getLogger(__name__)

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
# Stop writing to a client once this much is queued in the server but not on the wire.
WRITE_BACKLOG_HIGH_WATER = 256 * 1024
WRITE_BACKLOG_POLL_SECONDS = 0.05
# The first access check comes soon after connecting; it also re-reads the log once, which
# covers a publish that reached Redis before our SUBSCRIBE did (pub/sub has no replay).
FIRST_CHECK_SECONDS = 1.0
# A check that finds the log ahead of the stream waits this long before reading the log: under
# load the broadcast is usually just still on its way, and reading would be wasted work.
LOST_BROADCAST_GRACE_SECONDS = 0.5
# Jitter of the access checks: spreads the checks of connections opened together.
REVALIDATE_JITTER = (0.8, 1.0)
MIN_TICK_SECONDS = 0.05


class StreamRefused(Exception):
    """The handshake or a later access check fails; the socket closes with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def error_frame(detail: str, code: int | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "detail": detail}
    if code is not None:
        frame["code"] = code
    return frame


class Phase(enum.Enum):
    REPLAYING = "replaying"  # not yet caught up: live events wait in ``pending``
    LIVE = "live"  # caught up and announced with a heartbeat
    CLOSED = "closed"  # nothing more is sent


class Pump(enum.Enum):
    IDLE = "idle"  # no pump task
    RUNNING = "running"  # reading the log, or the queue
    WAITING_ON_CLIENT = "waiting on client"  # sending, or waiting for the write backlog


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    max_pending: int  # WS_MAX_PENDING_EVENTS
    heartbeat_seconds: float  # WS_HEARTBEAT_SECONDS
    revalidate_seconds: float  # WS_REVALIDATE_SECONDS
    first_check_seconds: float = FIRST_CHECK_SECONDS
    page_size: int = REPLAY_PAGE_SIZE  # what ``Source.read_page`` answers at most
    write_backlog_high_water: int = WRITE_BACKLOG_HIGH_WATER
    write_backlog_poll_seconds: float = WRITE_BACKLOG_POLL_SECONDS
    lost_broadcast_grace_seconds: float = LOST_BROADCAST_GRACE_SECONDS


class Outlet(Protocol):
    """The client's end of the connection."""

    def write_now(self, event: LiveEvent, backlog_limit: int | None) -> bool:
        """Write the event without waiting, if the transport allows (under Daphne, with at
        most ``backlog_limit`` bytes already unsent); False: use ``send_text``."""

    def write_backlog(self) -> int:
        """Bytes handed to the server but not yet written to the socket (0 if unknown)."""

    async def send_text(self, text: str) -> bool:
        """Send one text frame; False if the client is already gone."""

    async def close_socket(self, code: int, reason: str) -> None:
        """Close the socket with ``code`` (the error frame has already been sent)."""


class Source(Protocol):
    """The event log and the access rules."""

    async def read_page(self, after: int) -> list[LiveEvent]:
        """The next logged events after ``after``, in ``seq`` order, at most ``page_size``."""

    async def read_last_seq(self) -> int:
        """The ecosystem's current ``last_seq``."""

    async def check_access(self) -> int:
        """The ecosystem's ``last_seq`` if access still holds; StreamRefused if not."""


class Delivery:
    """What one connection sends, and when. See the module docstring."""

    def __init__(
        self,
        *,
        outlet: Outlet,
        source: Source,
        after: int,
        config: DeliveryConfig,
        expires_at: float | None = None,
        name: str = "",
        clock: Callable[[], float] | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """Deliver the events with ``seq > after``. ``expires_at``: wall-clock time at which
        the credentials expire (4401). ``clock``: monotonic, the event loop's by default."""
        self.outlet = outlet
        self.source = source
        self.config = config
        self.expires_at = expires_at
        self.name = name  # for log lines
        self._now = clock if clock is not None else asyncio.get_running_loop().time
        self._wall_clock = wall_clock
        self.phase = Phase.REPLAYING
        self.pump = Pump.IDLE
        self.last_sent = after  # seq of the last event the client was sent
        self.pending: deque[LiveEvent] = deque()  # live events not yet sent
        self.log_behind = True  # the log may hold events newer than last_sent: read it
        self.last_frame_at = self._now()
        self.revalidate_at = self.last_frame_at + min(
            config.first_check_seconds, config.revalidate_seconds
        )
        self.lost_check_at: float | None = None  # when to look for a lost broadcast
        self.lost_check_seq = 0  # ... of an event up to this seq
        self._pump_task: asyncio.Task[None] | None = None
        self._tick_handle: asyncio.TimerHandle | None = None
        self._tick_task: asyncio.Task[None] | None = None
        self._close_task: asyncio.Task[None] | None = None
        self._ephemeral_sends: set[asyncio.Task[None]] = set()

    @property
    def closed(self) -> bool:
        return self.phase is Phase.CLOSED

    async def open(
        self,
        *,
        reset: dict[str, Any] | None = None,
        subscribe: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Start: the ``reset`` frame if the start position needs one, then join the live
        events (``subscribe`` returns once every later broadcast will reach ``receive_live``),
        then the replay from the log and the timers."""
        if reset is not None:
            await self.send_frame(reset)
        if subscribe is not None:
            # From here live events queue up (REPLAYING) until the replay is out.
            await subscribe()
        self._wake_pump()
        self._schedule_tick()

    # --- Live events ----------------------------------------------------------------------

    def receive_live(self, events: list[LiveEvent]) -> None:
        """Committed events broadcast to the ecosystem, handed over by the fan-out hub.

        Never waits (the hub serves every observer in turn). When live, with nothing queued
        before them and the client keeping up, the events next in line are written at once
        (``Outlet.write_now``); anything else is queued for the pump.
        """
        if self.closed:
            return
        if (
            self.phase is Phase.LIVE
            and self.pump is Pump.IDLE
            and not self.pending
            and not self.log_behind
        ):
            index = 0
            limit = self.config.write_backlog_high_water
            while (
                index < len(events)
                and events[index].seq == self.last_sent + 1
                and self.outlet.write_now(events[index], limit)
            ):
                self.last_sent = events[index].seq
                index += 1
            if index:
                self.last_frame_at = self._now()
                if index == len(events):
                    return
                events = events[index:]
        self.pending.extend(event for event in events if event.seq > self.last_sent)
        if not self.pending:
            return
        if len(self.pending) > self.config.max_pending:
            self.pending.clear()  # bounded memory, whatever comes next
            if self.pump is Pump.WAITING_ON_CLIENT:
                self.close_soon(CLOSE_TOO_SLOW, f"too slow; resume with since={self.last_sent}")
                return
            # The pump is reading the log, not waiting on the client: the log has these
            # events too, so drop the copies and read on.
            self.log_behind = True
        self._wake_pump()

    def receive_ephemeral(self, frame: LiveEvent) -> None:
        """A frame that is not an event (``frame.seq`` 0: no seq, not logged), from the hub.

        Sent at once to a live client that keeps up, written straight to the socket when
        the transport allows, else through one send of its own; dropped while replaying or
        when the client's writes are backed up. ``last_sent`` and ``pending`` are untouched.
        """
        if self.phase is not Phase.LIVE:
            return
        limit = self.config.write_backlog_high_water
        if self.outlet.write_now(frame, limit):
            self.last_frame_at = self._now()
            return
        if self.pump is Pump.WAITING_ON_CLIENT or self.outlet.write_backlog() > limit:
            return  # a client that does not keep up is not sent what is stale in a moment
        send = asyncio.ensure_future(self._send_text(frame.text))
        self._ephemeral_sends.add(send)
        send.add_done_callback(self._ephemeral_sends.discard)

    def _wake_pump(self) -> None:
        if self.pump is Pump.IDLE and not self.closed:
            self.pump = Pump.RUNNING
            self._pump_task = asyncio.ensure_future(self._run_pump())

    async def _run_pump(self) -> None:
        """Send what the client lacks, in ``seq`` order, until there is nothing left."""
        try:
            while not self.closed:
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
                elif self.phase is Phase.REPLAYING:
                    # Caught up: tell the client where it stands (``since`` absent included).
                    self.phase = Phase.LIVE
                    await self.send_heartbeat()
                else:
                    break
        except DatabaseError as error:
            logger.warning("Event stream of %s lost the database: %s", self.name, error)
            await self.close(
                CLOSE_SERVER_ERROR, f"server error; resume with since={self.last_sent}"
            )
        finally:
            self.pump = Pump.IDLE

    async def _catch_up_from_log(self) -> bool:
        """Send every logged event after ``last_sent``; answer whether there was any."""
        self.log_behind = False
        delivered = False
        while not self.closed:
            page = await self.source.read_page(self.last_sent)
            for event in page:
                if event.seq != self.last_sent + 1:
                    # Pruned while we were behind (retention): say so, continue from here.
                    await self._send_reset(oldest_seq=event.seq)
                await self._deliver(event)
                delivered = True
            if len(page) < self.config.page_size:
                break
        return delivered

    async def _send_reset(self, *, oldest_seq: int) -> None:
        last_seq = await self.source.read_last_seq()
        await self.send_frame({"type": "reset", "oldest_seq": oldest_seq, "last_seq": last_seq})
        self.last_sent = oldest_seq - 1

    async def _deliver(self, event: LiveEvent) -> None:
        self.pump = Pump.WAITING_ON_CLIENT
        try:
            while self.outlet.write_backlog() > self.config.write_backlog_high_water:
                await asyncio.sleep(self.config.write_backlog_poll_seconds)
            if self.closed or not self.outlet.write_now(event, None):
                await self._send_text(event.text)
            else:
                self.last_frame_at = self._now()
        finally:
            self.pump = Pump.RUNNING
        self.last_sent = event.seq

    # --- Timers: access checks, token expiry, lost broadcasts, heartbeats -------------------

    def _schedule_tick(self) -> None:
        """One timer per connection (no task while idle): the next check or heartbeat."""
        if self._tick_handle is not None:
            self._tick_handle.cancel()
            self._tick_handle = None
        if self.closed:
            return
        now = self._now()
        delays = [
            self.revalidate_at - now,
            self.last_frame_at + self.config.heartbeat_seconds - now,
        ]
        if self.expires_at is not None:
            delays.append(self.expires_at - self._wall_clock())
        if self.lost_check_at is not None:
            delays.append(self.lost_check_at - now)
        self._tick_handle = asyncio.get_running_loop().call_later(
            max(min(delays), MIN_TICK_SECONDS), self._start_tick
        )

    def _start_tick(self) -> None:
        self._tick_handle = None
        if not self.closed:
            self._tick_task = asyncio.ensure_future(self.tick())

    async def tick(self) -> None:
        """Do whatever is due now (the timer calls this), then set the timer again."""
        try:
            if self.expires_at is not None and self._wall_clock() >= self.expires_at:
                await self.close(CLOSE_UNAUTHENTICATED, "token expired")
                return
            if self._now() >= self.revalidate_at and not await self._revalidate():
                return
            if self.lost_check_at is not None and self._now() >= self.lost_check_at:
                self.lost_check_at = None
                if self.last_sent < self.lost_check_seq and self.pump is Pump.IDLE:
                    # Committed a while ago and still not here: read it from the log.
                    self.log_behind = True
                    self._wake_pump()
            if self._now() - self.last_frame_at >= self.config.heartbeat_seconds:
                await self.send_heartbeat()
        finally:
            if self._tick_task is asyncio.current_task():
                self._tick_task = None
            self._schedule_tick()

    async def _revalidate(self) -> bool:
        """Re-check access; close and answer False if it is gone. Also notices lost broadcasts."""
        self.revalidate_at = self._now() + self.config.revalidate_seconds * random.uniform(
            *REVALIDATE_JITTER
        )
        try:
            last_seq = await self.source.check_access()
        except StreamRefused as refused:
            await self.close(refused.code, refused.reason)
            return False
        except DatabaseError as error:
            # Nothing can be granted or revoked while the database is away; check again later.
            logger.warning("Access check of %s failed: %s", self.name, error)
            return True
        if last_seq > self.last_sent and self.lost_check_at is None:
            self.lost_check_at = self._now() + self.config.lost_broadcast_grace_seconds
            self.lost_check_seq = last_seq
        return True

    # --- Sending and closing ----------------------------------------------------------------

    async def send_frame(self, frame: dict[str, Any]) -> None:
        """Send a frame that is not an event (heartbeat, reset, pong, error)."""
        await self._send_text(encode_frame(frame))

    async def send_heartbeat(self) -> None:
        await self.send_frame({"type": "heartbeat", "last_seq": self.last_sent})

    async def _send_text(self, text: str) -> None:
        if await self.outlet.send_text(text):
            self.last_frame_at = self._now()
        else:
            # The client is closing; its disconnect is on the way. Stop sending.
            self.phase = Phase.CLOSED

    def close_soon(self, code: int, reason: str) -> None:
        """``close`` from code that must not wait (the hub's hand-over)."""
        if self._close_task is None:
            self._close_task = asyncio.ensure_future(self.close(code, reason))

    async def close(self, code: int, reason: str) -> None:
        """Say why in an error frame (Daphne drops close reasons), then close with ``code``."""
        if self.closed:
            return
        self.stop()
        self.pending.clear()
        await self.outlet.send_text(encode_frame(error_frame(reason, code)))
        await self.outlet.close_socket(code, reason)

    def stop(self) -> None:
        """Send nothing more and stop the pump and the timer (the client left, or ``close``)."""
        self.phase = Phase.CLOSED
        current = asyncio.current_task()
        if self._tick_handle is not None:
            self._tick_handle.cancel()
            self._tick_handle = None
        for task in (self._pump_task, self._tick_task, self._close_task, *self._ephemeral_sends):
            if task is not None and task is not current and not task.done():
                task.cancel()
