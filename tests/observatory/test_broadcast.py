"""Broadcast from synchronous code reaches the channel layer's group subscribers."""

import asyncio
import os
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from eventlog.services import ecosystem_group_name, events_broadcast


async def _receive_broadcast(layer, ecosystem_id, *, publish):
    group = ecosystem_group_name(ecosystem_id)
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    try:
        await asyncio.get_running_loop().run_in_executor(None, publish)
        return await asyncio.wait_for(layer.receive(channel), timeout=5)
    finally:
        await layer.group_discard(group, channel)


REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
HOST, PORT = REDIS_URL.split("//")[1].split("/")[0].split(":")


@pytest.mark.parametrize(
    "backend, hosts",
    [
        # The full stack's layer: published by the synchronous fast path, which must use
        # the layer's own channel naming and encoding for its subscribers to decode it.
        ("channels_redis.pubsub.RedisPubSubChannelLayer", [REDIS_URL]),
        ("channels.layers.InMemoryChannelLayer", None),
        ("channels_redis.core.RedisChannelLayer", [REDIS_URL]),
        # Shapes the synchronous fast path does not route itself.
        ("channels_redis.pubsub.RedisPubSubChannelLayer", [(HOST, int(PORT))]),
        ("channels_redis.pubsub.RedisPubSubChannelLayer", [REDIS_URL, REDIS_URL]),
    ],
)
def test_every_layer_configuration_delivers(settings, backend, hosts):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": backend, **({"CONFIG": {"hosts": hosts}} if hosts else {})}
    }
    layer = get_channel_layer()
    ecosystem_id = uuid.uuid4()
    envelopes = [{"seq": 1, "type": "scenario_started", "data": {"title": "Harbor \u2693"}}]

    message = async_to_sync(_receive_broadcast)(
        layer,
        ecosystem_id,
        publish=lambda: events_broadcast(ecosystem_id=ecosystem_id, envelopes=envelopes),
    )

    assert message == {"type": "event.publish", "events": envelopes}
