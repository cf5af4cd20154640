"""The delivery state machine (observatory.delivery) on its own: no socket, no database, no
channel layer. A fake log stands for the event log and the access check, a fake outlet for
the client, a fake clock for time. The same behaviours through the real ASGI application,
PostgreSQL and Redis are in test_ws_stream.py and test_ws_auth.py."""

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from django.db import DatabaseError
from hypothesis import given, settings
from hypothesis import strategies as st

from observatory.delivery import (
    CLOSE_FORBIDDEN,
    CLOSE_SERVER_ERROR,
    CLOSE_TOO_SLOW,
    CLOSE_UNAUTHENTICATED,
    Delivery,
    DeliveryConfig,
    Phase,
    Pump,
    StreamRefused,
)
from observatory.fanout import LiveEvent, encode_frame

# Nothing happens on its own within a test: the timers are run by hand (``tick``).
QUIET = DeliveryConfig(
    max_pending=5,
    heartbeat_seconds=20,
    revalidate_seconds=15,
    first_check_seconds=1,
    page_size=3,
    write_backlog_high_water=1000,
    write_backlog_poll_seconds=0.001,
    lost_broadcast_grace_seconds=0.5,
)


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(scenario(), timeout=10))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeLog:
    """The ecosystem's event log and its access rules (a ``Source``)."""

    def __init__(self, page_size: int = QUIET.page_size) -> None:
        self.events: dict[int, LiveEvent] = {}
        self.last_seq = 0
        self.page_size = page_size
        self.reads: list[int] = []  # ``after`` of every page read
        self.reads_wait: asyncio.Event | None = None  # set: page reads go on
        self.refusal: Exception | None = None  # what the next access check raises

    def append(self, count: int) -> list[LiveEvent]:
        """``count`` committed events; answers them, as their broadcast would carry them."""
        written = []
        for _ in range(count):
            self.last_seq += 1
            envelope = {"seq": self.last_seq, "type": "user_message", "data": {}}
            event = LiveEvent(self.last_seq, encode_frame(envelope))
            self.events[self.last_seq] = event
            written.append(event)
        return written

    def prune(self, up_to: int) -> None:
        for seq in range(1, up_to + 1):
            self.events.pop(seq, None)

    async def read_page(self, after: int) -> list[LiveEvent]:
        self.reads.append(after)
        if self.reads_wait is not None:
            await self.reads_wait.wait()
        return [self.events[seq] for seq in sorted(self.events) if seq > after][: self.page_size]

    async def read_last_seq(self) -> int:
        return self.last_seq

    async def check_access(self) -> int:
        if self.refusal is not None:
            raise self.refusal
        return self.last_seq


class FakeClient:
    """The client's end (an ``Outlet``): remembers every frame it got, decoded."""

    def __init__(self, *, direct: bool = False) -> None:
        self.direct = direct  # like Daphne: events can be written without waiting
        self.frames: list[dict[str, Any]] = []
        self.written_at_once: list[int] = []
        self.backlog = 0  # bytes the server holds for this client
        self.gone = False
        self.closed_with: tuple[int, str] | None = None

    def write_now(self, event: LiveEvent, backlog_limit: int | None) -> bool:
        if not self.direct or self.gone:
            return False
        if backlog_limit is not None and self.backlog > backlog_limit:
            return False
        self.frames.append(json.loads(event.text))
        self.written_at_once.append(event.seq)
        return True

    def write_backlog(self) -> int:
        return self.backlog

    async def send_text(self, text: str) -> bool:
        if self.gone:
            return False
        await asyncio.sleep(0)  # a send yields, as the real one does
        self.frames.append(json.loads(text))
        return True

    async def close_socket(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)

    def seqs(self) -> list[int]:
        return [frame["seq"] for frame in self.frames if "seq" in frame]

    def of_type(self, frame_type: str) -> list[dict[str, Any]]:
        return [frame for frame in self.frames if frame.get("type") == frame_type]


def delivery_of(
    client: FakeClient,
    log: FakeLog,
    *,
    after: int = 0,
    config: DeliveryConfig = QUIET,
    clock: FakeClock | None = None,
    **kwargs: Any,
) -> Delivery:
    return Delivery(
        outlet=client,
        source=log,
        after=after,
        config=config,
        clock=clock or FakeClock(),
        name="test",
        **kwargs,
    )


async def settled(delivery: Delivery) -> None:
    """Let the pump run until it has nothing left to do."""
    for _ in range(10_000):
        await asyncio.sleep(0)
        if (
            delivery.pump is Pump.IDLE
            and not delivery.pending
            and not delivery.log_behind
            and delivery.phase is not Phase.REPLAYING
        ):
            return
    raise AssertionError(f"the pump did not settle: {delivery.pump}, {delivery.phase}")


# --- Replay then live ---------------------------------------------------------------------------


def test_replays_the_log_then_marks_live_with_a_heartbeat_then_streams():
    async def scenario():
        log, client = FakeLog(), FakeClient()
        log.append(7)  # more than two pages
        delivery = delivery_of(client, log, after=2)
        await delivery.open()
        await settled(delivery)
        delivery.receive_live(log.append(1))
        await settled(delivery)
        delivery.stop()
        return client, log

    client, log = run(scenario)
    assert client.seqs() == [3, 4, 5, 6, 7, 8]
    assert client.frames[5] == {"type": "heartbeat", "last_seq": 7}  # after the replay
    assert log.reads == [2, 5]  # page by page until a short page


def test_live_events_during_the_replay_are_sent_once_in_seq_order():
    async def scenario():
        log, client = FakeLog(), FakeClient()
        log.append(4)
        log.reads_wait = asyncio.Event()
        delivery = delivery_of(client, log)

        async def subscribe() -> None:
            # Broadcast after the subscription, before the replay read: 5 and 6 are both in
            # the log the replay reads and live.
            delivery.receive_live(log.append(2))

        await delivery.open(subscribe=subscribe)
        await asyncio.sleep(0)
        assert delivery.phase is Phase.REPLAYING and log.reads == [0]
        delivery.receive_live(log.append(1))  # 7, during the first page read
        delivery.receive_live([log.events[6], log.events[7]])  # a broadcast seen twice
        log.reads_wait.set()
        await settled(delivery)
        delivery.receive_live(log.append(2))
        await settled(delivery)
        delivery.stop()
        return client

    client = run(scenario)
    assert client.seqs() == list(range(1, 10))
    [live_marker] = client.of_type("heartbeat")
    assert client.frames.index(live_marker) == 7  # after the replay, which read up to 7
    assert live_marker == {"type": "heartbeat", "last_seq": 7}


def test_without_since_the_first_heartbeat_gives_the_position_at_once():
    async def scenario():
        log, client = FakeLog(), FakeClient()
        log.append(3)
        delivery = delivery_of(client, log, after=log.last_seq)
        await delivery.open(reset=None)
        await settled(delivery)
        delivery.stop()
        return client

    assert run(scenario).frames == [{"type": "heartbeat", "last_seq": 3}]


def test_a_reset_goes_first_then_every_retained_event():
    async def scenario():
        log, client = FakeLog(), FakeClient()
        log.append(8)
        log.prune(5)
        delivery = delivery_of(client, log, after=5)
        await delivery.open(reset={"type": "reset", "oldest_seq": 6, "last_seq": 8})
        await settled(delivery)
        delivery.stop()
        return client

    client = run(scenario)
    assert client.frames[0] == {"type": "reset", "oldest_seq": 6, "last_seq": 8}
    assert client.seqs() == [6, 7, 8]


def test_live_events_next_in_line_are_written_at_once_when_the_transport_allows():
    async def scenario():
        log, client = FakeLog(), FakeClient(direct=True)
        delivery = delivery_of(client, log)
        await delivery.open()
        await settled(delivery)
        delivery.receive_live(log.append(3))
        # No await in between: written from the hand-over itself, no pump task.
        written_synchronously = (list(client.written_at_once), delivery.pump)
        delivery.stop()
        return written_synchronously

    assert run(scenario) == ([1, 2, 3], Pump.IDLE)


def test_a_full_write_backlog_sends_through_the_pump_after_it_drains():
    async def scenario():
        log, client = FakeLog(), FakeClient(direct=True)
        delivery = delivery_of(client, log)
        await delivery.open()
        await settled(delivery)
        client.backlog = QUIET.write_backlog_high_water + 1
        delivery.receive_live(log.append(2))
        await asyncio.sleep(0.01)
        waiting = (client.seqs(), delivery.pump)
        client.backlog = 0
        await settled(delivery)
        delivery.stop()
        return waiting, client.seqs()

    waiting, sent = run(scenario)
    assert waiting == ([], Pump.WAITING_ON_CLIENT)
    assert sent == [1, 2]


# --- Gap fill -----------------------------------------------------------------------------------


def test_a_live_event_that_skips_seq_reads_the_missing_range_from_the_log():
    async def scenario():
        log, client = FakeLog(), FakeClient(direct=True)
        delivery = delivery_of(client, log)
        await delivery.open()
        await settled(delivery)
        log.reads.clear()
        written = log.append(4)
        delivery.receive_live([written[3]])  # the broadcasts of 1..3 were lost
        await settled(delivery)
        delivery.receive_live(written[:3])  # ... or only late: already sent
        await settled(delivery)
        delivery.stop()
        return client, log

    client, log = run(scenario)
    assert client.seqs() == [1, 2, 3, 4]
    assert log.reads == [0, 3]  # two pages of the log, from the last event sent


def test_overtaken_broadcasts_are_delivered_in_seq_order():
    async def scenario():
        log, client = FakeLog(), FakeClient()
        delivery = delivery_of(client, log)
        await delivery.open()
        await settled(delivery)
        first, second = log.append(2), log.append(2)
        delivery.receive_live(second)  # two writers' broadcasts, in the other order
        delivery.receive_live(first)
        await settled(delivery)
        delivery.stop()
        return client

    assert run(scenario).seqs() == [1, 2, 3, 4]


def test_a_gap_whose_events_were_pruned_resets_and_goes_on():
    async def scenario():
        log, client = FakeLog(), FakeClient()
        log.append(3)
        delivery = delivery_of(client, log, after=3)
        await delivery.open()
        await settled(delivery)
        sixth = log.append(3)[2]
        log.prune(5)
        delivery.receive_live([sixth])
        await settled(delivery)
        delivery.stop()
        return client

    client = run(scenario)
    assert client.frames[1:] == [
        {"type": "reset", "oldest_seq": 6, "last_seq": 6},
        {"seq": 6, "type": "user_message", "data": {}},
    ]


def test_a_broadcast_that_never_arrives_is_read_after_the_access_check_sees_it():
    async def scenario():
        clock = FakeClock()
        log, client = FakeLog(), FakeClient()
        delivery = delivery_of(client, log, clock=clock)
        await delivery.open()
        await settled(delivery)
        log.append(2)  # committed; the broadcast is lost
        clock.now += QUIET.first_check_seconds
        await delivery.tick()  # the check sees last_seq 2: wait for the grace period
        await settled(delivery)
        before_grace = client.seqs()
        clock.now += QUIET.lost_broadcast_grace_seconds
        await delivery.tick()
        await settled(delivery)
        delivery.stop()
        return before_grace, client.seqs()

    assert run(scenario) == ([], [1, 2])


# --- Slow readers -------------------------------------------------------------------------------


def test_a_reader_whose_backlog_exceeds_the_bound_is_closed_with_4008():
    async def scenario():
        log, client = FakeLog(), FakeClient()
        delivery = delivery_of(client, log)
        await delivery.open()
        await settled(delivery)
        delivery.receive_live(log.append(2))
        await settled(delivery)
        client.backlog = 10**9  # from here the client reads nothing
        delivery.receive_live(log.append(1))
        await asyncio.sleep(0.01)
        assert delivery.pump is Pump.WAITING_ON_CLIENT
        for event in log.append(QUIET.max_pending):
            delivery.receive_live([event])
        assert not delivery.closed  # the bound is not exceeded yet
        delivery.receive_live(log.append(1))
        await asyncio.sleep(0.01)
        return delivery, client

    delivery, client = run(scenario)
    assert client.closed_with == (CLOSE_TOO_SLOW, "too slow; resume with since=2")
    assert client.frames[-1] == {
        "type": "error",
        "code": CLOSE_TOO_SLOW,
        "detail": "too slow; resume with since=2",
    }
    assert client.seqs() == [1, 2]
    assert delivery.closed and not delivery.pending and delivery.pump is Pump.IDLE


def test_a_burst_during_a_slow_log_read_is_read_from_the_log_not_closed():
    async def scenario():
        log, client = FakeLog(page_size=100), FakeClient()
        log.append(3)
        log.reads_wait = asyncio.Event()
        config = dataclasses.replace(QUIET, page_size=100)
        delivery = delivery_of(client, log, config=config)
        await delivery.open()
        await asyncio.sleep(0)
        for event in log.append(QUIET.max_pending * 4):  # arrives while the replay reads
            delivery.receive_live([event])
        bounded = len(delivery.pending) <= QUIET.max_pending
        log.reads_wait.set()
        await settled(delivery)
        delivery.stop()
        return bounded, client, log

    bounded, client, log = run(scenario)
    assert bounded
    assert client.closed_with is None
    assert client.seqs() == list(range(1, 24))
    assert len(log.reads) >= 2  # the copies were dropped and read from the log


# --- Access revoked, credentials expired --------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (CLOSE_FORBIDDEN, "access revoked"),
        (CLOSE_FORBIDDEN, "the ecosystem was deleted"),
        (CLOSE_FORBIDDEN, "user deactivated"),
        (CLOSE_UNAUTHENTICATED, "session ended"),
    ],
)
def test_revoked_access_closes_with_the_code_of_the_refusal(code, reason):
    async def scenario():
        clock = FakeClock()
        log, client = FakeLog(), FakeClient()
        delivery = delivery_of(client, log, clock=clock)
        await delivery.open()
        await settled(delivery)
        clock.now += QUIET.first_check_seconds - 0.01
        await delivery.tick()
        still_open = not delivery.closed
        log.refusal = StreamRefused(code, reason)
        clock.now += 0.01
        await delivery.tick()
        delivery.receive_live(log.append(1))  # nothing more after the close
        await asyncio.sleep(0.01)
        return still_open, delivery, client

    still_open, delivery, client = run(scenario)
    assert still_open
    assert client.closed_with == (code, reason)
    assert client.frames[-1] == {"type": "error", "code": code, "detail": reason}
    assert client.seqs() == []
    assert delivery.closed


def test_access_is_checked_again_every_revalidate_period():
    async def scenario():
        clock = FakeClock()
        log, client = FakeLog(), FakeClient()
        delivery = delivery_of(client, log, clock=clock)
        await delivery.open()
        await settled(delivery)
        clock.now += QUIET.first_check_seconds
        await delivery.tick()  # the first check, one second in: granted
        log.refusal = StreamRefused(CLOSE_FORBIDDEN, "access revoked")
        clock.now += QUIET.revalidate_seconds * 0.79  # before the earliest jittered check
        await delivery.tick()
        open_before = not delivery.closed
        clock.now += QUIET.revalidate_seconds * 0.22
        await delivery.tick()
        return open_before, delivery.closed

    assert run(scenario) == (True, True)


def test_a_database_failure_during_the_access_check_keeps_the_stream_open():
    async def scenario():
        clock = FakeClock()
        log, client = FakeLog(), FakeClient()
        delivery = delivery_of(client, log, clock=clock)
        await delivery.open()
        await settled(delivery)
        log.refusal = DatabaseError("connection lost")
        clock.now += QUIET.first_check_seconds
        await delivery.tick()
        delivery.receive_live(log.append(1))
        await settled(delivery)
        delivery.stop()
        return client

    client = run(scenario)
    assert client.closed_with is None
    assert client.seqs() == [1]


def test_a_token_is_refused_at_its_expiry():
    async def scenario():
        wall_clock = FakeClock()
        log, client = FakeLog(), FakeClient()
        delivery = delivery_of(client, log, expires_at=wall_clock.now + 5, wall_clock=wall_clock)
        await delivery.open()
        await settled(delivery)
        wall_clock.now += 5
        await delivery.tick()
        return client

    client = run(scenario)
    assert client.closed_with == (CLOSE_UNAUTHENTICATED, "token expired")
    assert client.frames[-1]["code"] == CLOSE_UNAUTHENTICATED


def test_a_database_failure_while_reading_the_log_closes_with_1011():
    class BrokenLog(FakeLog):
        async def read_page(self, after: int) -> list[LiveEvent]:
            if after >= 2:
                raise DatabaseError("connection lost")
            return await super().read_page(after)

    async def scenario():
        log, client = BrokenLog(page_size=2), FakeClient()
        log.append(5)
        delivery = delivery_of(client, log, config=dataclasses.replace(QUIET, page_size=2))
        await delivery.open()
        await asyncio.sleep(0.01)
        return delivery, client

    delivery, client = run(scenario)
    assert client.seqs() == [1, 2]
    assert client.closed_with == (CLOSE_SERVER_ERROR, "server error; resume with since=2")
    assert delivery.closed


def test_a_client_that_left_is_sent_nothing_more():
    async def scenario():
        log, client = FakeLog(), FakeClient()
        delivery = delivery_of(client, log)
        await delivery.open()
        await settled(delivery)
        client.gone = True
        delivery.receive_live(log.append(2))
        await asyncio.sleep(0.01)
        return delivery, client

    delivery, client = run(scenario)
    assert delivery.closed
    assert client.closed_with is None  # the client closed; nothing to say
    assert client.seqs() == []


# --- Heartbeats ---------------------------------------------------------------------------------


def test_an_idle_stream_sends_a_heartbeat_with_its_position():
    async def scenario():
        clock = FakeClock()
        log, client = FakeLog(), FakeClient()
        log.append(2)
        delivery = delivery_of(client, log, clock=clock)
        await delivery.open()
        await settled(delivery)
        clock.now += QUIET.heartbeat_seconds - 1
        delivery.receive_live(log.append(1))  # a frame: the idle period starts again
        await settled(delivery)
        clock.now += QUIET.heartbeat_seconds - 1
        await delivery.tick()
        quiet = list(client.frames)
        clock.now += 1
        await delivery.tick()
        delivery.stop()
        return quiet, client.frames

    quiet, frames = run(scenario)
    assert quiet[-1]["seq"] == 3
    assert frames[len(quiet) :] == [{"type": "heartbeat", "last_seq": 3}]


def test_the_timer_fires_on_its_own():
    fast = DeliveryConfig(max_pending=5, heartbeat_seconds=0.05, revalidate_seconds=60)

    async def scenario():
        log, client = FakeLog(), FakeClient()
        log.append(1)
        delivery = Delivery(outlet=client, source=log, after=1, config=fast)
        await delivery.open()
        await asyncio.sleep(0.3)
        delivery.stop()
        return client.of_type("heartbeat")

    heartbeats = run(scenario)
    assert len(heartbeats) >= 3  # the live marker, then one per idle period
    assert {frame["last_seq"] for frame in heartbeats} == {1}


# --- Exactly once, in order, whatever the broadcasts do ------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    since=st.integers(min_value=0, max_value=4),
    batches=st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=12),
    deliveries=st.lists(
        st.tuples(st.booleans(), st.integers(min_value=0, max_value=3)), max_size=30
    ),
    direct=st.booleans(),
)
def test_each_event_arrives_exactly_once_in_seq_order(since, batches, deliveries, direct):
    """Whatever is broadcast (lost, duplicated, reordered) and whenever, the client gets
    every event after ``since`` once, in order."""

    async def scenario():
        log, client = FakeLog(), FakeClient(direct=direct)
        log.append(4)
        # A bound that is never reached: overflowing it is tested above.
        config = dataclasses.replace(QUIET, max_pending=1000)
        delivery = delivery_of(client, log, after=since, config=config)
        await delivery.open()
        broadcasts = [log.append(size) for size in batches]
        for lost, yields in deliveries:
            if broadcasts:
                batch = broadcasts.pop(0 if yields % 2 else -1)  # in order, or overtaken
                if not lost:
                    delivery.receive_live(batch)
                    if yields == 3:
                        delivery.receive_live(batch)  # and once more
            for _ in range(yields):
                await asyncio.sleep(0)
        for batch in broadcasts:  # the rest arrive; the last one at least tells of the end
            delivery.receive_live(batch)
        delivery.receive_live([log.events[log.last_seq]])
        await settled(delivery)
        delivery.stop()
        return client, log

    client, log = run(scenario)
    assert client.seqs() == list(range(since + 1, log.last_seq + 1))
    assert client.closed_with is None


# --- Ephemeral frames: no seq, never queued, never replayed ---------------------------------------


def speaking(name: str = "Mira", on: bool = True) -> LiveEvent:
    """A ``speaking`` frame as the hub hands it over (``seq`` 0: not an event)."""
    frame = {
        "type": "speaking",
        "data": {"character_id": f"id-{name}", "name": name, "scenario_id": None, "speaking": on},
    }
    return LiveEvent(0, encode_frame(frame))


async def flushed() -> None:
    """Let the sends started by a hand-over run."""
    for _ in range(20):
        await asyncio.sleep(0)


def test_an_ephemeral_frame_reaches_a_live_client_without_seq_and_moves_no_position():
    async def scenario():
        log, client = FakeLog(), FakeClient()
        log.append(2)
        delivery = delivery_of(client, log)
        await delivery.open()
        await settled(delivery)
        delivery.receive_ephemeral(speaking())
        await flushed()
        position = (delivery.last_sent, len(delivery.pending))
        delivery.receive_live(log.append(1))
        await settled(delivery)
        delivery.stop()
        return client, position

    client, position = run(scenario)
    assert position == (2, 0)
    assert [frame["type"] for frame in client.frames] == [
        "user_message",
        "user_message",
        "heartbeat",
        "speaking",
        "user_message",
    ]
    [frame] = client.of_type("speaking")
    assert frame == json.loads(speaking().text)
    assert "seq" not in frame
    assert client.seqs() == [1, 2, 3]


def test_a_direct_transport_writes_an_ephemeral_frame_from_the_hand_over():
    async def scenario():
        log, client = FakeLog(), FakeClient(direct=True)
        delivery = delivery_of(client, log)
        await delivery.open()
        await settled(delivery)
        delivery.receive_ephemeral(speaking())
        written = list(client.of_type("speaking"))  # no await in between
        delivery.stop()
        return written

    assert len(run(scenario)) == 1


def test_ephemeral_frames_during_the_replay_are_dropped_and_the_replay_is_whole():
    async def scenario():
        log, client = FakeLog(), FakeClient(direct=True)
        log.append(4)
        log.reads_wait = asyncio.Event()
        delivery = delivery_of(client, log)
        await delivery.open()
        await asyncio.sleep(0)
        assert delivery.phase is Phase.REPLAYING
        delivery.receive_ephemeral(speaking())
        log.reads_wait.set()
        await settled(delivery)
        await flushed()
        delivery.stop()
        return client

    client = run(scenario)
    assert client.of_type("speaking") == []
    assert client.seqs() == [1, 2, 3, 4]


def test_an_ephemeral_frame_to_a_backed_up_client_is_dropped_not_queued():
    async def scenario():
        log, client = FakeLog(), FakeClient(direct=True)
        delivery = delivery_of(client, log)
        await delivery.open()
        await settled(delivery)
        client.backlog = QUIET.write_backlog_high_water + 1
        for _ in range(QUIET.max_pending * 3):  # far past the pending bound: no 4008
            delivery.receive_ephemeral(speaking())
        await flushed()
        state = (len(delivery.pending), delivery.phase, client.closed_with)
        client.backlog = 0
        delivery.receive_live(log.append(1))
        await settled(delivery)
        delivery.stop()
        return client, state

    client, state = run(scenario)
    assert state == (0, Phase.LIVE, None)
    assert client.of_type("speaking") == []
    assert client.seqs() == [1]


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["event", "speaking", "yield"]), st.integers(1, 3)),
        max_size=40,
    ),
    direct=st.booleans(),
)
def test_ephemeral_frames_never_disturb_exactly_once_in_order(steps, direct):
    """Events and speaking frames interleaved in any order: every event once, in order;
    every frame without a seq is a heartbeat or a speaking frame, and no more speaking
    frames arrive than were handed over."""

    async def scenario():
        log, client = FakeLog(), FakeClient(direct=direct)
        config = dataclasses.replace(QUIET, max_pending=1000)
        delivery = delivery_of(client, log, config=config)
        await delivery.open()
        handed = 0
        for kind, count in steps:
            if kind == "event":
                delivery.receive_live(log.append(count))
            elif kind == "speaking":
                for _ in range(count):
                    delivery.receive_ephemeral(speaking(on=bool(handed % 2)))
                    handed += 1
            else:
                for _ in range(count):
                    await asyncio.sleep(0)
        delivery.receive_live(log.append(1))
        await settled(delivery)
        await flushed()
        delivery.stop()
        return client, log, handed

    client, log, handed = run(scenario)
    assert client.seqs() == list(range(1, log.last_seq + 1))
    assert {frame["type"] for frame in client.frames if "seq" not in frame} <= {
        "heartbeat",
        "speaking",
    }
    assert len(client.of_type("speaking")) <= handed
    assert client.closed_with is None
