"""The ephemeral ``speaking`` frame end to end: a model that takes a second per line (the
stand-in server), the real engine, PostgreSQL, the Redis pub/sub channel layer and the real
ASGI application. Observers see who is writing a line before the line arrives; the frame has
no seq, is not in the log and is never replayed, and the events keep their exactly-once order
(docs/events.md, "Ephemeral frames")."""

import asyncio
import contextlib
import json
import time
import uuid

import pytest
from asgiref.sync import async_to_sync
from django.db import connection, transaction
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from eventlog.models import Event
from eventlog.services import ephemeral_broadcast, events_append, speaking_frame
from interactions.services import ScenarioContext, interaction_process
from observatory.client import stream_events, stream_url
from scenarios.services import scenario_create
from tests.conftest import token_for
from tests.factories import user_message_event
from tests.llm_standin import llm_backend, llm_standin  # noqa: F401 - fixtures
from tests.observatory.test_ws_stream import Observer, run

pytestmark = pytest.mark.django_db(transaction=True)

# Each line takes the model a second: long enough to see the frame well before the line.
LLM_STANDIN_LATENCY_SECONDS = 1.0


@pytest.fixture
def token(user) -> str:
    return token_for(user)


@pytest.fixture
def scenario(ecosystem, pair):
    return scenario_create(
        ecosystem=ecosystem, participants=pair, title="Speaking", tick_seconds=3600
    )


def play(
    initiator_id: uuid.UUID, target_id: uuid.UUID, scenario_id: uuid.UUID, turn: int = 1
) -> float:
    """One interaction in a thread of its own (as a worker plays a turn); answers when it
    started."""
    started = time.monotonic()
    try:
        interaction_process(
            initiator_id=initiator_id,
            target_id=target_id,
            interaction_type="chat",
            scenario=ScenarioContext(scenario_id=scenario_id, turn=turn),
        )
    finally:
        connection.close()
    return started


@pytest.fixture
def warmed_up(pair, scenario, llm_backend):  # noqa: F811 - the imported fixture
    """One interaction played first, as a worker has played many: the backend, the embedding
    model and the connection to the model are ready, so the one measured is only its own."""
    mira, tobias = pair
    play(tobias.pk, mira.pk, scenario.pk, turn=0)
    return llm_backend


async def frames_until_interaction(observer: Observer) -> list[tuple[float, dict]]:
    """Every frame with the time it arrived, up to the character_interaction event."""
    received = []
    while True:
        frame = await observer.frame(timeout=30)
        received.append((time.monotonic(), frame))
        if frame.get("type") == "character_interaction":
            return received


def test_observers_see_who_is_speaking_before_the_line_arrives(
    ecosystem, pair, scenario, token, warmed_up
):
    mira, tobias = pair

    async def scenario_run():
        async with Observer(ecosystem.pk, token) as observer:
            live_marker = await observer.until_live()
            playing = asyncio.ensure_future(
                asyncio.to_thread(play, mira.pk, tobias.pk, scenario.pk)
            )
            received = await frames_until_interaction(observer)
            started = await playing
            events_after = await observer.events(2)  # relationship and state changes
        return live_marker, started, received, events_after

    live_marker, started, received, events_after = run(scenario_run)
    speaking = [(at, frame) for at, frame in received if frame["type"] == "speaking"]
    arrived_at, interaction = received[-1]

    # Who writes a line, in order: Mira's opening, then Tobias's reply; each with its end.
    assert [(f["data"]["name"], f["data"]["speaking"]) for _, f in speaking] == [
        ("Mira", True),
        ("Mira", False),
        ("Tobias", True),
        ("Tobias", False),
    ]
    for _, frame in speaking:
        assert set(frame) == {"type", "data"}  # no seq, no envelope
        assert frame["data"]["scenario_id"] == str(scenario.pk)
        assert (
            frame["data"]["character_id"]
            == {"Mira": str(mira.pk), "Tobias": str(tobias.pk)}[frame["data"]["name"]]
        )
    # "Mira is speaking" comes before her line could (one model call), the lines two model
    # calls (about 2 s) after it.
    first_at = speaking[0][0]
    assert first_at - started < LLM_STANDIN_LATENCY_SECONDS
    assert arrived_at - first_at > 1.5
    # The lines are the model's, and the events keep their order with no gap.
    assert interaction["data"]["response"] in warmed_up.texts
    seqs = [interaction["seq"], *(event["seq"] for event in events_after)]
    assert seqs == list(range(live_marker["last_seq"] + 1, live_marker["last_seq"] + 4))


def test_speaking_frames_are_not_logged_and_not_replayed(
    ecosystem,
    pair,
    scenario,
    token,
    llm_backend,  # noqa: F811 - the imported fixture
):
    mira, tobias = pair

    async def scenario_run():
        async with Observer(ecosystem.pk, token) as live_observer:
            await live_observer.until_live()
            playing = asyncio.ensure_future(
                asyncio.to_thread(play, mira.pk, tobias.pk, scenario.pk)
            )
            live = await frames_until_interaction(live_observer)
            await playing
        async with Observer(ecosystem.pk, token, since=0) as late_observer:
            replayed = await late_observer.until_live()
        return live, late_observer.frames, replayed

    live, replay_frames, live_marker = run(scenario_run)
    assert any(frame["type"] == "speaking" for _, frame in live)
    logged_types = set(Event.objects.filter(ecosystem=ecosystem).values_list("type", flat=True))
    assert "speaking" not in logged_types
    assert [frame["type"] for frame in replay_frames if "seq" not in frame] == ["heartbeat"]
    assert [frame["seq"] for frame in replay_frames if "seq" in frame] == list(
        range(1, live_marker["last_seq"] + 1)
    )


def test_the_template_backend_sends_no_speaking_frame(ecosystem, pair, scenario, token):
    mira, tobias = pair

    async def scenario_run():
        async with Observer(ecosystem.pk, token) as observer:
            await observer.until_live()
            await asyncio.to_thread(play, mira.pk, tobias.pk, scenario.pk)
            return await frames_until_interaction(observer)

    received = run(scenario_run)
    assert [frame["type"] for _, frame in received] == ["character_interaction"]


# --- Under Daphne: the direct socket write, and a client that ignores unknown frames -----------


def speak_and_write(ecosystem_id: uuid.UUID, count: int) -> None:
    """``count`` times: a speaking frame, then a committed event (from a thread of its own)."""
    try:
        for index in range(count):
            ephemeral_broadcast(
                ecosystem_id=ecosystem_id,
                frame=speaking_frame(
                    character_id=str(uuid.uuid4()),
                    name=f"Speaker {index}",
                    scenario_id=None,
                    speaking=True,
                ),
            )
            with transaction.atomic():
                events_append(
                    ecosystem_id=ecosystem_id, events=[user_message_event(f"line {index}")]
                )
    finally:
        connection.close()


def test_under_daphne_speaking_frames_reach_the_socket_and_the_python_client_ignores_them(
    user, ecosystem, daphne
):
    server = daphne()
    token = token_for(user)
    count = 20

    async def scenario():
        raw_frames: list[dict] = []
        client_events: list[dict] = []
        live = asyncio.Event()

        async def raw_client() -> None:
            protocols = [Subprotocol("ecosystem.v1"), Subprotocol(f"bearer.{token}")]
            url = stream_url(server.url, ecosystem.pk, None)
            async with connect(url, subprotocols=protocols) as websocket:
                async for text in websocket:
                    frame = json.loads(text)
                    if frame["type"] == "heartbeat":
                        live.set()
                        continue
                    raw_frames.append(frame)
                    if frame.get("seq") == count:
                        return

        async def python_client() -> None:
            stream = stream_events(server.url, ecosystem.pk, token, since=0)
            async with contextlib.aclosing(stream):
                async for event in stream:
                    client_events.append(event)
                    if len(client_events) == count:
                        return

        readers = asyncio.gather(raw_client(), python_client())
        await asyncio.wait_for(live.wait(), 20)
        await asyncio.to_thread(speak_and_write, ecosystem.pk, count)
        await asyncio.wait_for(readers, 30)
        return raw_frames, client_events

    raw_frames, client_events = async_to_sync(scenario)()
    # The raw socket got every speaking frame, each before the event written after it, and
    # every event once, in order.
    assert [frame["type"] for frame in raw_frames] == ["speaking", "user_message"] * count
    assert [frame["data"]["name"] for frame in raw_frames[::2]] == [
        f"Speaker {index}" for index in range(count)
    ]
    assert all("seq" not in frame for frame in raw_frames[::2])
    assert [frame["seq"] for frame in raw_frames[1::2]] == list(range(1, count + 1))
    # observatory.client yields the events only, each once, in order.
    assert [event["seq"] for event in client_events] == list(range(1, count + 1))
    assert {event["type"] for event in client_events} == {"user_message"}
