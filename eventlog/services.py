"""The event log and its broadcast.

Events are written inside the caller's transaction with the next ``seq`` of their ecosystem
(taken under the ecosystem row's lock, so commit order equals ``seq`` order), and published to
the ecosystem's channel group after commit. The log, not the channel layer, is the source of
truth: an observer that misses a broadcast fills the gap from the database.
"""

import json
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import redis
from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from redis.exceptions import RedisError

from characters.models import Ecosystem
from core import fast_paths, metrics
from core.cache import redis_client_options

from .models import Event
from .types import EventSpec

logger = logging.getLogger(__name__)


def ecosystem_group_name(ecosystem_id: uuid.UUID | str) -> str:
    """The channel-layer group of one ecosystem's observers: ``ecosystem.<uuid-hex>``."""
    return f"ecosystem.{uuid.UUID(str(ecosystem_id)).hex}"


def _allocate_seqs(*, ecosystem_id: uuid.UUID, count: int) -> int:
    """Advance the ecosystem's counter by ``count`` and return the new last seq.

    The UPDATE takes the row lock and holds it until the surrounding transaction commits, so
    two writers on one ecosystem get disjoint ranges and commit in ``seq`` order.
    """
    table = Ecosystem._meta.db_table
    pk = Ecosystem._meta.pk
    assert pk is not None
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_seq = last_seq + %s WHERE id = %s RETURNING last_seq",  # noqa: S608
            [count, pk.get_db_prep_value(ecosystem_id, connection)],
        )
        row = cursor.fetchone()
    if row is None:
        raise Ecosystem.DoesNotExist(f"Ecosystem {ecosystem_id} does not exist.")
    return int(row[0])


# PostgreSQL: the counter's UPDATE and the rows' INSERT in one statement (one round trip,
# no ORM bulk_create on the hot path); the UPDATE still holds the ecosystem row's lock
# until commit. Rows are numbered in the order given. The rows are a VALUES list (one
# statement text per count of events) rather than arrays, whose dumping costs more.
_APPEND_SQL = f"""
WITH counter AS (
    UPDATE {Ecosystem._meta.db_table} SET last_seq = last_seq + %s WHERE id = %s
    RETURNING last_seq
)
INSERT INTO {Event._meta.db_table} (ecosystem_id, seq, type, payload, created)
SELECT %s, counter.last_seq - %s + item.position, item.type, item.payload, %s
FROM counter, (VALUES {{rows}}) AS item (type, payload, position)
RETURNING id, seq
"""  # noqa: S608 (table names from the models)


@lru_cache(maxsize=16)
def _append_sql(count: int) -> str:
    rows = ", ".join(f"(%s, %s::jsonb, {position})" for position in range(1, count + 1))
    return _APPEND_SQL.format(rows=rows)


def _numbered(
    *, ecosystem_id: uuid.UUID, events: Sequence[EventSpec], first_seq: int, now: datetime
) -> list[Event]:
    return [
        Event(
            ecosystem_id=ecosystem_id,
            seq=first_seq + offset,
            type=event_type,
            payload=payload,
            created=now,
        )
        for offset, (event_type, payload) in enumerate(events)
    ]


def _append_params(
    *, ecosystem_id: uuid.UUID, events: Sequence[EventSpec], now: datetime
) -> list[Any]:
    return [
        len(events),
        ecosystem_id,
        ecosystem_id,
        len(events),
        now,
        *(value for event_type, payload in events for value in (event_type, json.dumps(payload))),
    ]


def _rows_of(
    *,
    ecosystem_id: uuid.UUID,
    events: Sequence[EventSpec],
    now: datetime,
    inserted: Sequence[tuple[int, int]],
) -> list[Event]:
    """The events as written, from the statement's ``(id, seq)`` rows."""
    ids_by_seq = {seq: pk for pk, seq in inserted}
    if not ids_by_seq:
        raise Ecosystem.DoesNotExist(f"Ecosystem {ecosystem_id} does not exist.")
    rows = _numbered(ecosystem_id=ecosystem_id, events=events, first_seq=min(ids_by_seq), now=now)
    for row in rows:
        row.pk = ids_by_seq[row.seq]
    return rows


def _insert_numbered(
    *, ecosystem_id: uuid.UUID, events: Sequence[EventSpec], now: datetime
) -> list[Event]:
    """Give ``events`` the ecosystem's next seqs and insert them."""
    if connection.vendor != "postgresql":
        last_seq = _allocate_seqs(ecosystem_id=ecosystem_id, count=len(events))
        return Event.objects.bulk_create(
            _numbered(
                ecosystem_id=ecosystem_id,
                events=events,
                first_seq=last_seq - len(events) + 1,
                now=now,
            )
        )
    with connection.cursor() as cursor:
        cursor.execute(
            _append_sql(len(events)),
            _append_params(ecosystem_id=ecosystem_id, events=events, now=now),
        )
        inserted = cursor.fetchall()
    return _rows_of(ecosystem_id=ecosystem_id, events=events, now=now, inserted=inserted)


def events_append(*, ecosystem_id: uuid.UUID, events: Sequence[EventSpec]) -> list[Event]:
    """Write events in the current transaction; broadcast them once it commits.

    Build each event with its ``eventlog.types`` builder. Payloads are not validated here
    (this is the interaction hot path): the builders fix their shape, and
    ``tests/eventlog/test_event_types.py`` holds them to ``eventlog.schemas``.
    """
    if not events:
        return []
    if not connection.in_atomic_block:
        raise RuntimeError("events_append must run inside transaction.atomic()")
    rows = _insert_numbered(ecosystem_id=ecosystem_id, events=events, now=timezone.now())
    _broadcast_on_commit(ecosystem_id, lambda: rows)
    return rows


def _broadcast_on_commit(ecosystem_id: uuid.UUID, rows: Callable[[], list[Event]]) -> None:
    def broadcast() -> None:
        written = rows()
        metrics.events_written(len(written))
        events_broadcast(ecosystem_id=ecosystem_id, envelopes=[row.envelope() for row in written])

    transaction.on_commit(broadcast)


class EventBatch:
    """The events of an ``atomic_with_events`` transaction: appended once, written as the
    transaction's last statement; ``rows`` are the written events, with their seqs, once the
    block has ended."""

    def __init__(self) -> None:
        self.ecosystem_id: uuid.UUID | None = None
        self.specs: Sequence[EventSpec] = ()
        self._rows: list[Event] | None = None
        self._fetch: Callable[[], list[Event]] | None = None

    def append(self, *, ecosystem_id: uuid.UUID, events: Sequence[EventSpec]) -> None:
        if self.ecosystem_id is not None:
            raise RuntimeError("an atomic_with_events transaction appends its events once")
        self.ecosystem_id, self.specs = ecosystem_id, events

    @property
    def rows(self) -> list[Event]:
        if self._rows is None:
            if self._fetch is None:
                raise RuntimeError("the events are written when the atomic_with_events block ends")
            self._rows, self._fetch = self._fetch(), None
        return self._rows

    def _end(self, flight: ExitStack | None = None) -> None:
        """Write what was appended, as the block ends: queued in ``flight``'s pipeline to go
        out with the COMMIT, or without a flight by ``events_append`` here and now (inside
        the caller's transaction, or on SQLite)."""
        if self.ecosystem_id is None:
            self._rows = []
        elif flight is None:
            self._rows = events_append(ecosystem_id=self.ecosystem_id, events=self.specs)
        else:
            self._send(self.ecosystem_id, flight)

    def _send(self, ecosystem_id: uuid.UUID, flight: ExitStack) -> None:
        specs, now = self.specs, timezone.now()
        flight.enter_context(connection.connection.pipeline())
        cursor = flight.enter_context(connection.cursor())
        cursor.execute(
            _append_sql(len(specs)),
            _append_params(ecosystem_id=ecosystem_id, events=specs, now=now),
        )
        self._fetch = lambda: _rows_of(
            ecosystem_id=ecosystem_id, events=specs, now=now, inserted=cursor.fetchall()
        )
        _broadcast_on_commit(ecosystem_id, lambda: self.rows)

        def read_once_committed(exc_type: type[BaseException] | None, *_: object) -> None:
            if exc_type is None:  # before the cursor closes
                self.rows  # noqa: B018

        flight.push(read_once_committed)


@contextmanager
def atomic_with_events() -> Iterator[EventBatch]:
    """``transaction.atomic()`` whose last statement writes the events appended to the
    yielded batch (the interaction hot path).

    Numbering takes the ecosystem row's lock until commit (``events_append``), and every
    writer of the ecosystem waits for it. Here, on PostgreSQL and outside any transaction,
    the numbered insert and the COMMIT are sent in one pipeline (psycopg's pipeline mode):
    the COMMIT follows the insert without waiting for its answer, so the lock is not held
    across a round trip, nor while the client's thread waits for the GIL to read that answer
    in a busy web process. Measured with two web processes under load: the numbering
    statement's mean time (mostly waiting for that lock) 4.5-5.7 ms before, 0.4-0.6 ms
    after. Inside a caller's transaction (a scenario turn) the events are written as the
    block ends, in that transaction, and commit with it. A block that raises writes nothing.
    """
    batch = EventBatch()
    if connection.in_atomic_block:
        yield batch
        batch._end()
        return
    if connection.vendor != "postgresql":
        with transaction.atomic():
            yield batch
            batch._end()
        return
    # Exits in reverse: the atomic block commits (its COMMIT queued behind the insert, both
    # sent at the pipeline's sync), then the cursor and the pipeline close.
    with ExitStack() as flight, transaction.atomic():
        yield batch
        batch._end(flight)


def events_broadcast(*, ecosystem_id: uuid.UUID | str, envelopes: list[dict[str, Any]]) -> None:
    """Publish committed events to the ecosystem's observers. A failure here loses nothing:
    observers resume from the log."""
    channel_layer = get_channel_layer()
    if channel_layer is None or not envelopes:
        return
    message = {"type": "event.publish", "events": envelopes}
    try:
        _group_publisher(channel_layer)(ecosystem_group_name(ecosystem_id), message)
        metrics.events_broadcast(len(envelopes))
    except (RedisError, OSError) as error:
        logger.warning("Broadcast of events %s.. failed: %s", envelopes[0]["seq"], error)


# The channel-layer message of a frame that is not an event (docs/events.md, "Ephemeral
# frames"): ``{"type": "ephemeral.publish", "frame": {...}}``, sent to the ecosystem's group
# like events; the stream forwards the frame as it is, with no seq, and never logs it.
EPHEMERAL_MESSAGE_TYPE = "ephemeral.publish"


def ephemeral_broadcast(*, ecosystem_id: uuid.UUID | str, frame: dict[str, Any]) -> None:
    """Publish ``frame`` (``{"type": ..., "data": ...}``, no ``seq``) to the ecosystem's
    observers now: not written to the log, not replayed, lost by an observer that is not
    connected (or not yet live) at that moment. Best effort: a failure is logged, never
    raised, since nothing depends on it."""
    channel_layer = get_channel_layer()
    if channel_layer is None:
        return
    message = {"type": EPHEMERAL_MESSAGE_TYPE, "frame": frame}
    try:
        _group_publisher(channel_layer)(ecosystem_group_name(ecosystem_id), message)
    except (RedisError, OSError) as error:
        logger.warning("Broadcast of a %r frame failed: %s", frame.get("type"), error)


def speaking_frame(
    *, character_id: str, name: str, scenario_id: str | None, speaking: bool
) -> dict[str, Any]:
    """``{"type": "speaking", "data": {character_id, name, scenario_id, speaking}}``: a
    character is writing a line (``speaking`` true) or has finished (false)."""
    return {
        "type": "speaking",
        "data": {
            "character_id": character_id,
            "name": name,
            "scenario_id": scenario_id,
            "speaking": speaking,
        },
    }


GroupPublisher = Callable[[str, dict[str, Any]], None]
_publishers: dict[int, tuple[BaseChannelLayer, bool, GroupPublisher]] = {}


def _missing_pubsub_internals() -> list[str]:
    missing = [
        *fast_paths.missing_attributes(RedisPubSubChannelLayer, ["serialize"]),
        *fast_paths.missing_attributes(RedisPubSubLoopLayer, ["_get_group_channel_name"]),
    ]
    if not missing:
        # The layer's name for a group's Redis channel, which _pubsub_publisher writes itself.
        probe = SimpleNamespace(prefix="prefix")
        if RedisPubSubLoopLayer._get_group_channel_name(probe, "group") != "prefix__group__group":
            missing.append("RedisPubSubLoopLayer._get_group_channel_name as '<prefix>__group__'")
    return missing


BROADCAST_PUBLISH = fast_paths.FastPath(
    setting="FAST_BROADCAST_PUBLISH",
    description="The raw-PUBLISH broadcast (eventlog.services._group_publisher)",
    stock="the channel layer's group_send",
    missing_internals=_missing_pubsub_internals,
)


def _group_publisher(channel_layer: BaseChannelLayer) -> GroupPublisher:
    """``group_send`` for synchronous callers (views, Celery tasks, the clock), one per layer.

    The pub/sub layer keeps its Redis connections per event loop, so ``async_to_sync`` from a
    worker with no loop of its own opens (and closes) a connection on every call: ~5 ms a
    broadcast. For that layer we publish the same bytes to the same Redis channel through a
    pooled synchronous client instead (``test_sync_publish_reaches_the_layers_subscribers``
    holds us to the layer's naming); any other layer goes through ``group_send``. That reads
    the layer's private configuration and naming: ``FAST_BROADCAST_PUBLISH``
    (core.fast_paths) fences it, and without it every layer goes through ``group_send``.
    """
    fast = fast_paths.enabled(BROADCAST_PUBLISH)
    cached = _publishers.get(id(channel_layer))
    if cached is not None and cached[0] is channel_layer and cached[1] is fast:
        return cached[2]
    publisher = _pubsub_publisher(channel_layer) if fast else None
    if publisher is None:
        publisher = async_to_sync(channel_layer.group_send)
    _publishers[id(channel_layer)] = (channel_layer, fast, publisher)
    return publisher


def _pubsub_publisher(channel_layer: BaseChannelLayer) -> GroupPublisher | None:
    if not isinstance(channel_layer, RedisPubSubChannelLayer):
        return None
    # Set by the layer's constructor; read from the instance's own attributes, since the
    # layer hands any name it lacks to a per-loop layer.
    missing = [
        f"RedisPubSubChannelLayer.{name}"
        for name in ("_args", "_kwargs")
        if name not in vars(channel_layer)
    ]
    if missing:
        fast_paths.refuse(BROADCAST_PUBLISH, missing)
        return None
    hosts = channel_layer._kwargs.get("hosts") or (channel_layer._args[:1] or [None])[0]
    if not hosts or len(hosts) != 1 or not isinstance(hosts[0], str):
        return None  # sharded or dict-configured hosts: leave the routing to the layer
    prefix = channel_layer._kwargs.get("prefix", "asgi")
    # Bounded timeouts and retries: a Redis that is down must not hold the request.
    client = redis.Redis.from_url(hosts[0], **redis_client_options())

    def publish(group: str, message: dict[str, Any]) -> None:
        client.publish(f"{prefix}__group__{group}", channel_layer.serialize(message))

    return publish


def events_since(*, ecosystem_id: uuid.UUID | str, since: int, limit: int = 500) -> list[Event]:
    return list(
        Event.objects.filter(ecosystem_id=ecosystem_id, seq__gt=since).order_by("seq")[:limit]
    )


def events_oldest_retained_seq(*, ecosystem_id: uuid.UUID | str) -> int | None:
    return (
        Event.objects.filter(ecosystem_id=ecosystem_id)
        .order_by("seq")
        .values_list("seq", flat=True)
        .first()
    )


def events_prune(*, older_than: timedelta | None = None) -> int:
    """Delete events past retention (``EVENT_RETENTION_DAYS``); returns how many."""
    if older_than is None:
        older_than = timedelta(days=settings.EVENT_RETENTION_DAYS)
    horizon = timezone.now() - older_than
    deleted, _ = Event.objects.filter(created__lt=horizon).delete()
    return deleted


def envelopes_of(rows: Iterable[Event]) -> list[dict[str, Any]]:
    return [row.envelope() for row in rows]
