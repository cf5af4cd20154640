"""Process-local fan-out (observatory.fanout): one group subscription per ecosystem per
process, shared by all its observers here, dropped when the last one leaves; on the real Redis
pub/sub layer and on the in-memory layer of the embedded mode."""

import asyncio
import json
import time

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings as django_settings
from django.db import connection, transaction
from websockets.asyncio.client import connect

from eventlog.services import ecosystem_group_name, events_append
from observatory import fanout
from observatory.client import stream_url
from tests.conftest import token_for
from tests.factories import EcosystemFactory, user_message_event
from tests.observatory.test_ws_stream import Observer, seqs_of, write_events

pytestmark = pytest.mark.django_db(transaction=True)


def run(scenario):
    return async_to_sync(scenario)()


def redis_subscribers_of(ecosystem_id) -> int:
    """Redis' own count of connections subscribed to the ecosystem's group channel."""
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    try:
        channel = f"asgi__group__{ecosystem_group_name(ecosystem_id)}"
        [(_, count)] = client.pubsub_numsub(channel)
        return int(count)
    finally:
        client.close()


async def eventually(predicate, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def test_observers_of_one_ecosystem_share_one_subscription_and_each_get_every_event(user):
    first, second = EcosystemFactory(owner=user), EcosystemFactory(owner=user)
    token = token_for(user)

    async def scenario():
        observers = [Observer(first.pk, token) for _ in range(5)]
        observers.append(Observer(second.pk, token))
        await asyncio.gather(*(observer.__aenter__() for observer in observers))
        try:
            await asyncio.gather(*(observer.until_live() for observer in observers))
            subscriptions = fanout.subscription_count()
            numsub = await asyncio.to_thread(redis_subscribers_of, first.pk)
            await database_sync_to_async(write_events)(first.pk, 20)
            received = await asyncio.gather(*(observer.events(20) for observer in observers[:5]))
            assert await observers[5].nothing_more(0.5)
            hub = fanout._hubs[fanout._key(get_channel_layer(), ecosystem_group_name(first.pk))]
            return subscriptions, numsub, received, hub.messages_received
        finally:
            await asyncio.gather(*(observer.__aexit__(None, None, None) for observer in observers))

    subscriptions, numsub, received, messages_received = run(scenario)
    assert subscriptions == 2  # one per ecosystem, not one per observer
    assert numsub == 1
    for events in received:
        assert seqs_of(events) == list(range(1, 21))
    assert messages_received == 20  # each broadcast taken from the layer once, for all five


def test_the_last_observer_to_leave_unsubscribes_and_a_new_one_subscribes_again(ecosystem, user):
    token = token_for(user)

    async def scenario():
        async with Observer(ecosystem.pk, token) as one, Observer(ecosystem.pk, token) as two:
            await one.until_live()
            await two.until_live()
            while_both = await asyncio.to_thread(redis_subscribers_of, ecosystem.pk)
        after_both = fanout.subscription_count()
        unsubscribed = await eventually(lambda: redis_subscribers_of(ecosystem.pk) == 0)
        async with Observer(ecosystem.pk, token, since=0) as again:
            await again.until_live()
            await database_sync_to_async(write_events)(ecosystem.pk, 3)
            events = await again.events(3)
        return while_both, after_both, unsubscribed, events

    while_both, after_both, unsubscribed, events = run(scenario)
    assert while_both == 1
    assert after_both == 0
    assert unsubscribed
    assert seqs_of(events) == [1, 2, 3]


def test_one_observer_leaving_does_not_stop_the_others(ecosystem, user):
    token = token_for(user)

    async def scenario():
        async with Observer(ecosystem.pk, token) as staying:
            await staying.until_live()
            async with Observer(ecosystem.pk, token) as leaving:
                await leaving.until_live()
                await database_sync_to_async(write_events)(ecosystem.pk, 2)
                await leaving.events(2)
            await database_sync_to_async(write_events)(ecosystem.pk, 2)
            return await staying.events(4)

    assert seqs_of(run(scenario)) == [1, 2, 3, 4]


def test_the_embedded_in_memory_layer_streams_replay_then_live(ecosystem, user, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    token = token_for(user)
    write_events(ecosystem.pk, 3)

    async def scenario():
        assert isinstance(get_channel_layer(), InMemoryChannelLayer)
        async with (
            Observer(ecosystem.pk, token, since=1) as replaying,
            Observer(ecosystem.pk, token) as live_only,
        ):
            replayed = await replaying.events(2)
            await replaying.until_live()
            await live_only.until_live()
            await database_sync_to_async(write_events)(ecosystem.pk, 4)
            both = await asyncio.gather(replaying.events(4), live_only.events(4))
        return replayed, both, fanout.subscription_count()

    replayed, (replaying_live, live_only_live), subscriptions_after = run(scenario)
    assert seqs_of(replayed) == [2, 3]
    assert seqs_of(replaying_live) == seqs_of(live_only_live) == [4, 5, 6, 7]
    assert subscriptions_after == 0


def test_under_daphne_every_observer_gets_every_event_intact_and_in_order(user, ecosystem, daphne):
    """Through the real server, where live frames are written straight to the sockets: small
    events, and events large enough to fill socket buffers so Twisted holds the rest."""
    server = daphne()
    token = token_for(user)
    sizes = [10, 200_000, 50, 70_000, 5, 300_000, 20] * 6  # 42 events, ~3.5 MB each observer
    observers = 12

    async def observe(ready: asyncio.Event, counter: list[int], frames: list[dict]) -> None:
        url = stream_url(server.url, ecosystem.pk, None)
        async with connect(
            url, subprotocols=["ecosystem.v1", f"bearer.{token}"], max_size=2**22
        ) as websocket:
            assert json.loads(await websocket.recv())["type"] == "heartbeat"
            counter[0] += 1
            if counter[0] == observers:
                ready.set()
            while len(frames) < len(sizes):
                frame = json.loads(await websocket.recv())
                if frame.get("type") != "heartbeat":
                    frames.append(frame)

    def write_sized() -> None:
        try:
            for size in sizes:
                with transaction.atomic():
                    events_append(
                        ecosystem_id=ecosystem.pk,
                        events=[user_message_event("x" * size)],
                    )
        finally:
            connection.close()

    async def scenario() -> list[list[dict]]:
        ready, counter = asyncio.Event(), [0]
        received: list[list[dict]] = [[] for _ in range(observers)]
        readers = asyncio.gather(*(observe(ready, counter, frames) for frames in received))
        await asyncio.wait_for(ready.wait(), 20)
        await asyncio.to_thread(write_sized)
        await asyncio.wait_for(readers, 60)
        return received

    for frames in async_to_sync(scenario)():
        assert seqs_of(frames) == list(range(1, len(sizes) + 1))
        assert [len(frame["data"]["content"]) for frame in frames] == sizes


def test_every_observer_of_an_ecosystem_given_away_is_closed_4403(user, other_user, ecosystem):
    """Their access checks share reads of the ecosystem; each is still closed in time."""
    token = token_for(user)

    def give_away():
        ecosystem.owner = other_user
        ecosystem.save(update_fields=["owner"])

    async def scenario():
        observers = [Observer(ecosystem.pk, token) for _ in range(10)]
        await asyncio.gather(*(observer.__aenter__() for observer in observers))
        try:
            await asyncio.gather(*(observer.until_live() for observer in observers))
            await database_sync_to_async(give_away)()
            started = time.monotonic()
            codes = await asyncio.gather(
                *(
                    observer.close_code(timeout=django_settings.WS_REVALIDATE_SECONDS + 3)
                    for observer in observers
                )
            )
            return codes, time.monotonic() - started
        finally:
            await asyncio.gather(*(observer.__aexit__(None, None, None) for observer in observers))

    codes, waited = run(scenario)
    assert codes == [4403] * 10
    assert waited <= django_settings.WS_REVALIDATE_SECONDS + 1
