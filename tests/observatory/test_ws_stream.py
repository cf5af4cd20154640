"""The live event stream: replay, live, exactly once, in order, no gap; reset; gap fill; slow
readers; client frames. Real ASGI application, real PostgreSQL and Redis channel layer."""

import asyncio
import functools
import json
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connection, transaction

from ecosystem_project.asgi import application
from eventlog import services as event_log
from eventlog.models import Event
from eventlog.services import ecosystem_group_name, events_append, events_prune
from observatory import consumers
from tests.conftest import token_for
from tests.factories import EcosystemFactory, user_message_event

pytestmark = pytest.mark.django_db(transaction=True)

# Everything written so far (``timedelta(0)`` would mean "the default retention").
PRUNE_ALL = timedelta(microseconds=1)


# --- Helpers ----------------------------------------------------------------------------------


def write_events(ecosystem_id, count: int, label: str = "event") -> list[int]:
    """``count`` events, one transaction each, broadcast on commit like the real services."""
    seqs = []
    for index in range(count):
        with transaction.atomic():
            rows = events_append(
                ecosystem_id=ecosystem_id,
                events=[user_message_event(f"{label} {index}", author=label)],
            )
        seqs.append(rows[0].seq)
    return seqs


def write_events_in_own_thread(ecosystem_id, count: int, label: str = "event") -> list[int]:
    """The same from a worker thread of its own, with its own database connection."""
    try:
        return write_events(ecosystem_id, count, label)
    finally:
        connection.close()


async def write_concurrently(ecosystem_id, count: int, label: str = "event") -> list[int]:
    return await asyncio.to_thread(write_events_in_own_thread, ecosystem_id, count, label)


class Observer:
    """A WebSocket client of the real application, remembering the frames it received."""

    def __init__(self, ecosystem_id, token: str, since: int | None = None) -> None:
        query = "" if since is None else f"?since={since}"
        self.communicator = WebsocketCommunicator(
            application,
            f"/ws/ecosystem/{ecosystem_id}/{query}",
            subprotocols=["ecosystem.v1", f"bearer.{token}"],
        )
        self.frames: list[dict] = []

    async def __aenter__(self) -> "Observer":
        connected, subprotocol = await self.communicator.connect()
        assert connected and subprotocol == "ecosystem.v1"
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.communicator.disconnect()

    async def frame(self, timeout: float = 5) -> dict:
        frame = json.loads(await self.communicator.receive_from(timeout))
        self.frames.append(frame)
        return frame

    async def until_live(self) -> dict:
        """Frames up to the heartbeat that marks the end of the replay; answer it."""
        while (frame := await self.frame())["type"] != "heartbeat":
            pass
        return frame

    async def events(self, count: int, timeout: float = 10) -> list[dict]:
        """The next ``count`` events (heartbeats skipped)."""
        received: list[dict] = []
        while len(received) < count:
            frame = await self.frame(timeout)
            if frame["type"] == "heartbeat":
                continue
            assert "seq" in frame, frame
            received.append(frame)
        return received

    async def nothing_more(self, seconds: float = 0.5) -> bool:
        """True if no event (heartbeats aside) arrives within ``seconds``."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if await self.communicator.receive_nothing(timeout=left):
                return True
            if (await self.frame())["type"] != "heartbeat":
                return False
        return True

    async def close_code(self, timeout: float = 5) -> int:
        while True:
            output = await self.communicator.receive_output(timeout)
            if output["type"] == "websocket.close":
                return output["code"]
            self.frames.append(json.loads(output["text"]))


def seqs_of(frames: list[dict]) -> list[int]:
    return [frame["seq"] for frame in frames]


def run(scenario):
    return async_to_sync(scenario)()


@pytest.fixture
def token(user) -> str:
    return token_for(user)


# --- Replay and live ----------------------------------------------------------------------------


def test_replays_every_event_after_since_then_streams_live_ones(ecosystem, token):
    write_events(ecosystem.pk, 5)

    async def scenario():
        async with Observer(ecosystem.pk, token, since=2) as observer:
            replayed = await observer.events(3)
            live_marker = await observer.until_live()
            await database_sync_to_async(write_events)(ecosystem.pk, 2)
            return replayed, live_marker, await observer.events(2)

    replayed, live_marker, live = run(scenario)
    assert seqs_of(replayed) == [3, 4, 5]
    assert live_marker == {"type": "heartbeat", "last_seq": 5}
    assert seqs_of(live) == [6, 7]
    assert live[0]["data"] == user_message_event("event 0", author="event")[1]
    assert live[0]["ecosystem_id"] == str(ecosystem.pk)
    assert live[0]["type"] == "user_message"


def test_without_since_only_events_from_now_arrive(ecosystem, token):
    write_events(ecosystem.pk, 3)

    async def scenario():
        async with Observer(ecosystem.pk, token) as observer:
            first = await observer.frame()
            await database_sync_to_async(write_events)(ecosystem.pk, 1)
            return first, await observer.events(1)

    first, events = run(scenario)
    assert first == {"type": "heartbeat", "last_seq": 3}
    assert seqs_of(events) == [4]


def test_a_replayed_event_is_identical_to_its_live_broadcast(ecosystem, token):
    async def scenario():
        async with Observer(ecosystem.pk, token) as live_observer:
            await live_observer.until_live()
            await database_sync_to_async(write_events)(ecosystem.pk, 1)
            [live] = await live_observer.events(1)
        async with Observer(ecosystem.pk, token, since=0) as late_observer:
            [replayed] = await late_observer.events(1)
        return live, replayed

    live, replayed = run(scenario)
    assert live == replayed


def test_resume_after_a_disconnect_while_200_events_are_written(ecosystem, token):
    async def scenario():
        writer = asyncio.ensure_future(write_concurrently(ecosystem.pk, 200))
        async with Observer(ecosystem.pk, token, since=0) as first:
            received = await first.events(60)
        # Disconnected while the writer goes on; resume from the last seq seen.
        async with Observer(ecosystem.pk, token, since=received[-1]["seq"]) as second:
            received += await second.events(200 - len(received), timeout=20)
            await writer
            assert await second.nothing_more(1.0)
        return received

    assert seqs_of(run(scenario)) == list(range(1, 201))


def test_two_writers_at_once_observers_see_contiguous_seq(ecosystem, token):
    async def scenario():
        async with Observer(ecosystem.pk, token, since=0) as early:
            writers = asyncio.gather(
                write_concurrently(ecosystem.pk, 100, "A"),
                write_concurrently(ecosystem.pk, 100, "B"),
            )
            await asyncio.sleep(0.3)
            # Joins while both writers are busy: replay and live meet without gap or repeat.
            async with Observer(ecosystem.pk, token, since=0) as late:
                early_events = await early.events(200, timeout=20)
                late_events = await late.events(200, timeout=20)
                written = await writers
                assert await early.nothing_more() and await late.nothing_more()
        return early_events, late_events, written

    early_events, late_events, (seqs_a, seqs_b) = run(scenario)
    assert sorted(seqs_a + seqs_b) == list(range(1, 201))
    assert seqs_of(early_events) == list(range(1, 201))
    assert seqs_of(late_events) == list(range(1, 201))
    writers = [event["data"]["author"] for event in early_events]
    assert writers.count("A") == writers.count("B") == 100


def test_zero_events_of_another_ecosystem_reach_an_observer(user, other_user, token):
    mine = EcosystemFactory(owner=user)
    theirs = EcosystemFactory(owner=other_user)

    async def scenario():
        async with Observer(mine.pk, token, since=0) as observer:
            await asyncio.gather(
                write_concurrently(theirs.pk, 30, "theirs"),
                write_concurrently(mine.pk, 10, "mine"),
            )
            received = await observer.events(10)
            assert await observer.nothing_more(1.0)
        return received

    received = run(scenario)
    assert seqs_of(received) == list(range(1, 11))
    assert {event["ecosystem_id"] for event in received} == {str(mine.pk)}
    assert {event["data"]["author"] for event in received} == {"mine"}


def test_replay_pages_through_a_long_log(ecosystem, token):
    count = consumers.REPLAY_PAGE_SIZE * 2 + 7
    with transaction.atomic():
        events_append(
            ecosystem_id=ecosystem.pk,
            events=[user_message_event(str(index)) for index in range(count)],
        )

    async def scenario():
        async with Observer(ecosystem.pk, token, since=0) as observer:
            return await observer.events(count), await observer.until_live()

    events, live_marker = run(scenario)
    assert seqs_of(events) == list(range(1, count + 1))
    assert live_marker["last_seq"] == count


# --- Gaps, lost broadcasts, retention -----------------------------------------------------------


@pytest.fixture
def broadcasts_lost(monkeypatch):
    """Events are committed but their broadcast never reaches anyone."""
    monkeypatch.setattr(event_log, "events_broadcast", lambda **kwargs: None)


def test_a_live_message_that_skips_seq_is_gap_filled_from_the_log(
    ecosystem, token, monkeypatch, settings, broadcasts_lost
):
    # Only the gap fill can deliver 1..3 here: no periodic log check during the test.
    settings.WS_REVALIDATE_SECONDS = 60
    monkeypatch.setattr(consumers, "FIRST_CHECK_SECONDS", 60)

    async def scenario():
        async with Observer(ecosystem.pk, token, since=0) as observer:
            await observer.until_live()
            await database_sync_to_async(write_events)(ecosystem.pk, 4)
            assert await observer.nothing_more(0.3)
            [fourth] = await database_sync_to_async(
                lambda: [
                    e.envelope() for e in event_log.events_since(ecosystem_id=ecosystem.pk, since=3)
                ]
            )()
            await get_channel_layer().group_send(
                ecosystem_group_name(ecosystem.pk), {"type": "event.publish", "events": [fourth]}
            )
            return await observer.events(4)

    assert seqs_of(run(scenario)) == [1, 2, 3, 4]


def test_a_live_event_after_a_pruned_gap_resets_instead_of_waiting_forever(
    ecosystem, token, monkeypatch, settings, broadcasts_lost
):
    settings.WS_REVALIDATE_SECONDS = 60
    monkeypatch.setattr(consumers, "FIRST_CHECK_SECONDS", 60)
    write_events(ecosystem.pk, 3)

    def write_and_lose_4_to_6():
        write_events(ecosystem.pk, 3)
        sixth = Event.objects.get(ecosystem=ecosystem, seq=6).envelope()
        Event.objects.filter(ecosystem=ecosystem, seq__gte=4).delete()  # as retention would
        return sixth

    async def scenario():
        async with Observer(ecosystem.pk, token) as observer:
            assert await observer.until_live() == {"type": "heartbeat", "last_seq": 3}
            sixth = await database_sync_to_async(write_and_lose_4_to_6)()
            await get_channel_layer().group_send(
                ecosystem_group_name(ecosystem.pk), {"type": "event.publish", "events": [sixth]}
            )
            return await observer.frame(), await observer.frame()

    reset, event = run(scenario)
    assert reset == {"type": "reset", "oldest_seq": 6, "last_seq": 6}
    assert event["seq"] == 6


def test_a_lost_broadcast_is_found_by_the_periodic_check(
    ecosystem, token, settings, broadcasts_lost
):
    async def scenario():
        async with Observer(ecosystem.pk, token) as observer:
            await observer.until_live()
            await database_sync_to_async(write_events)(ecosystem.pk, 3)
            started = time.monotonic()
            events = await observer.events(3, timeout=settings.WS_REVALIDATE_SECONDS + 2)
            return events, time.monotonic() - started

    events, waited = run(scenario)
    assert seqs_of(events) == [1, 2, 3]
    assert waited <= settings.WS_REVALIDATE_SECONDS + 1


def test_since_older_than_retention_sends_reset_then_the_retained_events(ecosystem, token):
    write_events(ecosystem.pk, 5)
    assert events_prune(older_than=PRUNE_ALL) == 5
    write_events(ecosystem.pk, 3)

    async def scenario():
        async with Observer(ecosystem.pk, token, since=0) as observer:
            reset = await observer.frame()
            return reset, await observer.events(3)

    reset, events = run(scenario)
    assert reset == {"type": "reset", "oldest_seq": 6, "last_seq": 8}
    assert seqs_of(events) == [6, 7, 8]


def test_since_just_before_the_oldest_retained_event_needs_no_reset(ecosystem, token):
    write_events(ecosystem.pk, 5)
    events_prune(older_than=PRUNE_ALL)
    write_events(ecosystem.pk, 3)

    async def scenario():
        async with Observer(ecosystem.pk, token, since=5) as observer:
            return await observer.frame()

    assert run(scenario)["seq"] == 6


def test_everything_pruned_resets_to_the_next_event(ecosystem, token):
    write_events(ecosystem.pk, 4)
    events_prune(older_than=PRUNE_ALL)

    async def scenario():
        async with Observer(ecosystem.pk, token, since=1) as observer:
            reset = await observer.frame()
            live_marker = await observer.until_live()
            await database_sync_to_async(write_events)(ecosystem.pk, 1)
            return reset, live_marker, await observer.events(1)

    reset, live_marker, events = run(scenario)
    assert reset == {"type": "reset", "oldest_seq": 5, "last_seq": 4}
    assert live_marker == {"type": "heartbeat", "last_seq": 4}
    assert seqs_of(events) == [5]


def test_since_beyond_the_log_resets(ecosystem, token):
    write_events(ecosystem.pk, 2)

    async def scenario():
        async with Observer(ecosystem.pk, token, since=50) as observer:
            return await observer.frame(), await observer.events(2)

    reset, events = run(scenario)
    assert reset == {"type": "reset", "oldest_seq": 1, "last_seq": 2}
    assert seqs_of(events) == [1, 2]


# --- Slow readers ------------------------------------------------------------------------------


def test_a_slow_reader_is_dropped_with_4008_and_resumes(ecosystem, token, monkeypatch, settings):
    settings.WS_MAX_PENDING_EVENTS = 5

    async def scenario():
        async with Observer(ecosystem.pk, token, since=0) as observer:
            await observer.until_live()
            # From here the client reads nothing: its socket's write buffer stays full.
            monkeypatch.setattr(consumers, "transport_write_backlog", lambda send: 10**9)
            await database_sync_to_async(write_events)(ecosystem.pk, 10)
            code = await observer.close_code()
            error = observer.frames[-1]
        monkeypatch.undo()
        async with Observer(ecosystem.pk, token, since=0) as resumed:
            return code, error, await resumed.events(10)

    code, error, events = run(scenario)
    assert code == 4008
    assert error == {"type": "error", "code": 4008, "detail": "too slow; resume with since=0"}
    assert seqs_of(events) == list(range(1, 11))


def test_a_burst_during_a_slow_replay_is_read_from_the_log_not_dropped(
    ecosystem, token, monkeypatch, settings
):
    settings.WS_MAX_PENDING_EVENTS = 5
    write_events(ecosystem.pk, 3)
    read_page = consumers.stream_page

    def slow_page(**kwargs):
        time.sleep(0.5)
        return read_page(**kwargs)

    monkeypatch.setattr(consumers, "stream_page", slow_page)

    async def scenario():
        async with Observer(ecosystem.pk, token, since=0) as observer:
            await write_concurrently(ecosystem.pk, 20)
            events = await observer.events(23)
            assert await observer.nothing_more()
            return events

    assert seqs_of(run(scenario)) == list(range(1, 24))


# --- Client frames and heartbeats ---------------------------------------------------------------


def test_ping_gets_pong(ecosystem, token):
    async def scenario():
        async with Observer(ecosystem.pk, token) as observer:
            await observer.until_live()
            await observer.communicator.send_json_to({"type": "ping"})
            return await observer.frame()

    assert run(scenario) == {"type": "pong"}


@pytest.mark.parametrize(
    "frame",
    [
        {"text_data": "not json"},
        {"text_data": '{"type": "subscribe"}'},
        {"text_data": "[1, 2, 3]"},
        {"text_data": '"ping"'},
        {"text_data": "x" * 10_000},
        {"text_data": "[" * 4000},
        {"text_data": '{"a":' * 800},
        {"bytes_data": b"\x00\x01binary"},
    ],
)
def test_garbage_frames_get_an_error_and_the_stream_goes_on(ecosystem, token, frame):
    async def scenario():
        async with Observer(ecosystem.pk, token) as observer:
            await observer.until_live()
            await observer.communicator.send_to(**frame)
            error = await observer.frame()
            await database_sync_to_async(write_events)(ecosystem.pk, 1)
            events = await observer.events(1)
            await observer.communicator.send_json_to({"type": "ping"})
            return error, events, await observer.frame()

    error, events, pong = run(scenario)
    assert error["type"] == "error" and error["detail"]
    assert seqs_of(events) == [1]
    assert pong == {"type": "pong"}


def test_an_idle_stream_sends_heartbeats(ecosystem, token, settings):
    settings.WS_HEARTBEAT_SECONDS = 1
    write_events(ecosystem.pk, 2)

    async def scenario():
        async with Observer(ecosystem.pk, token) as observer:
            first = await observer.frame()
            started = time.monotonic()
            second = await observer.frame(timeout=3)
            return first, second, time.monotonic() - started

    first, second, waited = run(scenario)
    assert first == second == {"type": "heartbeat", "last_seq": 2}
    assert 0.5 <= waited <= 2.5


def test_the_write_backlog_is_read_from_daphnes_twisted_transport():
    transport = SimpleNamespace(dataBuffer=b"x" * 100, offset=40, _tempDataLen=7)
    daphne_send = functools.partial(
        lambda protocol, message: None, SimpleNamespace(transport=transport)
    )
    assert consumers.transport_write_backlog(daphne_send) == 67
    assert consumers.transport_write_backlog(lambda message: None) == 0
    assert consumers.transport_write_backlog(functools.partial(print, object())) == 0
