"""Process-local fan-out of live events: one group subscription per ecosystem per process.

The Channels way gives every consumer its own channel and joins it to the ecosystem's group,
so a broadcast to an ecosystem with N observers in a process costs N channel-layer messages:
N msgpack decodes, N receive tasks woken, N ``asyncio.wait`` rounds and N dispatches, and N
JSON encodes of the same event. Here the process subscribes **once** per ecosystem (a hub
keyed by channel layer, event loop and ecosystem): the hub receives each
``{"type": "event.publish", "events": [...]}`` message once, encodes each envelope's JSON once,
and hands the encoded events to every local subscriber directly. The last subscriber to leave
takes the hub's subscription down.

The hub only moves bytes; every guarantee (exactly once, ``seq`` order, gap fill from the log,
replay then live, slow-reader drop) stays with the subscriber (``EcosystemConsumer``), which
receives events here exactly as it did from its own channel. Works with any channel layer that
has groups: the channels-redis pub/sub layer, ``RedisChannelLayer`` and the in-memory layer.
"""

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any, Protocol

from channels.layers import BaseChannelLayer
from redis.exceptions import RedisError

from eventlog.services import EPHEMERAL_MESSAGE_TYPE, ecosystem_group_name

from .fanout_daphne import text_frame

logger = logging.getLogger(__name__)

# Group memberships expire in the in-memory layer and RedisChannelLayer (``group_expiry``,
# a day by default): a hub older than that renews its membership.
GROUP_RENEW_SECONDS = 3600.0
# After an unexpected failure to receive, wait this long before trying again.
RECEIVE_RETRY_SECONDS = 1.0


class LiveEvent:
    """One event ready to send: its ``seq``, its JSON text and, made on first use and shared
    by every connection, its WebSocket frame."""

    __slots__ = ("_frame", "seq", "text")

    def __init__(self, seq: int, text: str) -> None:
        self.seq = seq
        self.text = text
        self._frame: bytes | None = None

    @classmethod
    def of(cls, envelope: dict[str, Any]) -> "LiveEvent":
        return cls(envelope["seq"], encode_frame(envelope))

    @property
    def frame(self) -> bytes:
        if self._frame is None:
            self._frame = text_frame(self.text)
        return self._frame


class Subscriber(Protocol):
    def receive_live(self, events: list[LiveEvent]) -> None:
        """Take live events of the ecosystem, in the order they were broadcast.

        Called by the hub's single receive task for every subscriber in turn, so it cannot
        wait: it sends what it can without blocking and queues the rest for a task of its own.
        """


def encode_frame(frame: dict[str, Any]) -> str:
    """The JSON text of a frame; the same for an event sent live and one replayed."""
    return json.dumps(frame, separators=(",", ":"))


class EcosystemHub:
    """The subscription of one process (one event loop) to one ecosystem's group."""

    def __init__(self, key: "HubKey", channel_layer: BaseChannelLayer, group: str) -> None:
        self.key = key
        self.channel_layer = channel_layer
        self.group = group
        self.subscribers: dict[Subscriber, None] = {}  # insertion-ordered set
        self.channel_name: str | None = None
        self.subscribed: asyncio.Future[None] = asyncio.ensure_future(self._subscribe())
        self.receive_task: asyncio.Task[None] | None = None
        self.renew_handle: asyncio.TimerHandle | None = None
        self.renew_task: asyncio.Task[None] | None = None
        self.messages_received = 0

    async def _subscribe(self) -> None:
        self.channel_name = await self.channel_layer.new_channel()
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.receive_task = asyncio.ensure_future(self._receive_loop())
        self._schedule_renewal()

    async def _receive_loop(self) -> None:
        assert self.channel_name is not None
        while True:
            try:
                message = await self.channel_layer.receive(self.channel_name)
            except (RedisError, OSError) as error:
                # The layer reconnects on the next call; meanwhile subscribers notice the log
                # running ahead at their periodic check and read it.
                logger.warning("Receiving %s failed: %s", self.group, error)
                await asyncio.sleep(RECEIVE_RETRY_SECONDS)
                continue
            self.messages_received += 1
            if message.get("type") == EPHEMERAL_MESSAGE_TYPE:
                # A frame with no seq (docs/events.md, "Ephemeral frames"), encoded once like
                # an event (seq 0 marks it: events start at 1), for subscribers that take it.
                frame = LiveEvent(0, encode_frame(message["frame"]))
                for subscriber in list(self.subscribers):
                    if hasattr(subscriber, "receive_ephemeral"):
                        self._hand_over(subscriber, [frame], ephemeral=True)
                continue
            if message.get("type") != "event.publish":
                logger.warning("Ignoring a %r message on %s", message.get("type"), self.group)
                continue
            events = [LiveEvent.of(envelope) for envelope in message["events"]]
            for subscriber in list(self.subscribers):
                self._hand_over(subscriber, events)
            # Messages already queued would be taken without ever yielding: let the
            # subscribers' own tasks (a pump woken by this message) run first.
            await asyncio.sleep(0)

    def _hand_over(
        self, subscriber: Subscriber, events: list[LiveEvent], ephemeral: bool = False
    ) -> None:
        try:
            if ephemeral:
                subscriber.receive_ephemeral(events[0])  # type: ignore[attr-defined]
            else:
                subscriber.receive_live(events)
        except Exception:
            # One broken subscriber must not starve the others; it is logged, not hidden.
            logger.exception("Subscriber of %s failed to take live events", self.group)

    def _schedule_renewal(self) -> None:
        loop = asyncio.get_running_loop()
        self.renew_handle = loop.call_later(GROUP_RENEW_SECONDS, self._start_renewal)

    def _start_renewal(self) -> None:
        self.renew_task = asyncio.ensure_future(self._renew())

    async def _renew(self) -> None:
        assert self.channel_name is not None
        try:
            await self.channel_layer.group_add(self.group, self.channel_name)
        except (RedisError, OSError) as error:
            logger.warning("Renewing %s failed: %s", self.group, error)
        finally:
            self.renew_task = None
            self._schedule_renewal()

    async def close(self) -> None:
        """Leave the group and stop receiving (the pub/sub layer unsubscribes on cancel)."""
        if self.renew_handle is not None:
            self.renew_handle.cancel()
        tasks = [self.receive_task, self.renew_task]
        if not self.subscribed.done():
            tasks.append(self.subscribed)  # type: ignore[arg-type]
        for task in tasks:
            if task is not None:
                task.cancel()
        for task in tasks:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
                    await task
        if self.channel_name is not None:
            try:
                await self.channel_layer.group_discard(self.group, self.channel_name)
            except (RedisError, OSError) as error:
                # The subscription dies with the connection to Redis anyway.
                logger.warning("Leaving %s failed: %s", self.group, error)


HubKey = tuple[int, int, str]  # (id of channel layer, id of event loop, group)
_hubs: dict[HubKey, EcosystemHub] = {}
_closing: set[asyncio.Task[None]] = set()  # teardowns nobody awaits (kept from the GC)


def _key(channel_layer: BaseChannelLayer, group: str) -> HubKey:
    return (id(channel_layer), id(asyncio.get_running_loop()), group)


async def join(
    channel_layer: BaseChannelLayer, ecosystem_id: uuid.UUID, subscriber: Subscriber
) -> None:
    """Subscribe to the ecosystem's live events; returns once the group subscription is on,
    so that every event broadcast from now on reaches ``subscriber``."""
    group = ecosystem_group_name(ecosystem_id)
    key = _key(channel_layer, group)
    hub = _hubs.get(key)
    if hub is None:
        hub = _hubs[key] = EcosystemHub(key, channel_layer, group)
    hub.subscribers[subscriber] = None
    try:
        await asyncio.shield(hub.subscribed)
    except BaseException:
        # Subscribing failed (or this joiner was cancelled): leave. The last one to leave a
        # failed hub removes it, so the next joiner starts afresh.
        teardown = leave(channel_layer, ecosystem_id, subscriber)
        if teardown is not None:
            await asyncio.shield(teardown)
        raise


def leave(
    channel_layer: BaseChannelLayer, ecosystem_id: uuid.UUID, subscriber: Subscriber
) -> "asyncio.Task[None] | None":
    """Stop handing events to ``subscriber``; the last one out takes the subscription down.

    The subscriber is gone at once (no event reaches it after this call). When this was the
    last subscriber, answers the teardown task: await it to wait until the process has left
    the group, or drop it and it finishes in the background.
    """
    key = _key(channel_layer, ecosystem_group_name(ecosystem_id))
    hub = _hubs.get(key)
    if hub is None or subscriber not in hub.subscribers:
        return None
    del hub.subscribers[subscriber]
    if hub.subscribers:
        return None
    del _hubs[key]
    teardown = asyncio.ensure_future(hub.close())
    _closing.add(teardown)
    teardown.add_done_callback(_closing.discard)
    return teardown


def subscription_count() -> int:
    """Group subscriptions this process holds (one per observed ecosystem and event loop)."""
    return len(_hubs)


def subscriber_count(channel_layer: BaseChannelLayer, ecosystem_id: uuid.UUID) -> int:
    hub = _hubs.get(_key(channel_layer, ecosystem_group_name(ecosystem_id)))
    return 0 if hub is None else len(hub.subscribers)
