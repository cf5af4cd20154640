"""The Neo4j graph sync: PostgreSQL relationships -> the graph read model.

PostgreSQL is the source of truth. ``Relationship.version`` is bumped on every change (under
the interaction's row locks) and ``graph_version`` records the newest version Neo4j is known
to hold, so ``version > graph_version`` means "pending". In the embedded mode (no
``NEO4J_BOLT_URL``) relationships simply stay pending and ``manage.py sync_graph`` can send
them later.

Why no update is ever lost (docs/graph.md has the long form):

1. A write sends the row's *current* state with its version, read from PostgreSQL after the
   change committed. Neo4j keeps a version only over an older one
   (``WHERE r.version IS NULL OR r.version < row.version``), so repeats, reordered tasks and
   concurrent workers can only move the graph forward.
2. ``graph_version`` is raised (never lowered, ``graph_version < v``) only *after* the Neo4j
   transaction committed, and only to the version that was sent. A change made meanwhile has
   a higher version and stays pending.
3. Anything pending is resent by the next task for that ecosystem, by the periodic reconcile
   (``relationships.graph_reconcile``) or by ``sync_graph``: a crash, a lost task or a Neo4j
   outage only delays the graph.

Cypher is only ever built from constants; every value travels as a parameter.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import BigIntegerField, Case, F, QuerySet, Value, When
from kombu.exceptions import OperationalError as KombuOperationalError
from neo4j import Query
from neo4j.exceptions import DatabaseError, ServiceUnavailable, SessionExpired, TransientError
from redis.exceptions import RedisError

from characters.models import Character, Ecosystem
from core.errors import ServiceUnavailableError

from .models import Relationship

logger = logging.getLogger(__name__)

# A lost task leaves its flag for at most this long (and the reconcile sends its changes).
GRAPH_SYNC_QUEUED_FLAG_SECONDS = 30

T = TypeVar("T")
ProgressCallback = Callable[[int, int], None]
# A character or ecosystem primary key, as a UUID or its text.
EntityId = uuid.UUID | str

# Neo4j is away, restarting or refused the transaction for a passing reason: try again later.
GRAPH_UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    ServiceUnavailable,
    SessionExpired,
    TransientError,
    DatabaseError,
    OSError,
)
# Deadlocks between concurrent batches are retried in place this many times before the
# error goes up to Celery's own (slower) retry.
TRANSIENT_WRITE_ATTEMPTS = 5
MARK_CHUNK_SIZE = 500
DELETE_CHUNK_SIZE = 5000
ORPHAN_SCAN_CHUNK_SIZE = 5000
# The orphan sweep leaves nodes written less than this long ago alone (see
# graph_remove_orphans). Overridable with settings.GRAPH_ORPHAN_GRACE_SECONDS.
DEFAULT_ORPHAN_GRACE_SECONDS = 600

GRAPH_SCHEMA_STATEMENTS = (
    # The same names neomodel's install_labels uses for CharacterNode, so both agree.
    "CREATE CONSTRAINT constraint_unique_Character_uid IF NOT EXISTS "
    "FOR (c:Character) REQUIRE c.uid IS UNIQUE",
    "CREATE INDEX index_Character_ecosystem_id IF NOT EXISTS FOR (c:Character) ON (c.ecosystem_id)",
)

# One batch, one transaction. Nodes first, in uid order, each written (SET takes the node's
# write lock): every batch locks nodes in the same global order, so concurrent batches
# serialize on shared nodes instead of deadlocking, and the relationship MERGE below runs with
# both ends locked, so two workers can never create the same pair twice.
SYNC_BATCH_CYPHER = """
UNWIND $nodes AS node
MERGE (c:Character {uid: node.uid})
SET c.name = node.name, c.ecosystem_id = node.ecosystem_id, c.synced_at = datetime()
WITH count(c) AS locked_nodes
UNWIND $relationships AS row
MATCH (a:Character {uid: row.from_uid})
MATCH (b:Character {uid: row.to_uid})
MERGE (a)-[r:RELATES_TO]->(b)
WITH r, row
WHERE r.version IS NULL OR r.version < row.version
SET r.strength = row.strength,
    r.trust = row.trust,
    r.interaction_count = row.interaction_count,
    r.last_interaction_at = datetime(row.last_interaction_at),
    r.version = row.version
RETURN count(r) AS written
"""

DELETE_CHARACTERS_CYPHER = """
UNWIND $uids AS uid
MATCH (c:Character {uid: uid})
DETACH DELETE c
RETURN count(*) AS removed
"""

DELETE_ECOSYSTEM_CHUNK_CYPHER = """
MATCH (c:Character {ecosystem_id: $ecosystem_id})
WITH c LIMIT $limit
DETACH DELETE c
RETURN count(*) AS removed
"""

DELETE_ALL_CHUNK_CYPHER = """
MATCH (c:Character)
WITH c LIMIT $limit
DETACH DELETE c
RETURN count(*) AS removed
"""

ORPHAN_CANDIDATES_CYPHER = """
MATCH (c:Character)
WHERE c.uid > $after
  AND (c.synced_at IS NULL OR c.synced_at < datetime() - duration({seconds: $grace_seconds}))
RETURN c.uid AS uid
ORDER BY c.uid
LIMIT $limit
"""

ORPHAN_CANDIDATES_IN_ECOSYSTEM_CYPHER = """
MATCH (c:Character {ecosystem_id: $ecosystem_id})
WHERE c.uid > $after
  AND (c.synced_at IS NULL OR c.synced_at < datetime() - duration({seconds: $grace_seconds}))
RETURN c.uid AS uid
ORDER BY c.uid
LIMIT $limit
"""

ROW_FIELDS = (
    "pk",
    "ecosystem_id",
    "from_character_id",
    "from_character__name",
    "to_character_id",
    "to_character__name",
    "strength",
    "trust",
    "interaction_count",
    "last_interaction_at",
    "version",
)


class GraphNotConfiguredError(ServiceUnavailableError):
    default_code = "graph_not_configured"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "Neo4j is not configured (NEO4J_BOLT_URL is unset): the relationship graph and "
            "its queries are unavailable. Relationship changes stay pending in the database."
        )


@dataclass(frozen=True)
class SyncReport:
    """What one sync pass did: rows read from PostgreSQL and sent, relationships whose
    stored version Neo4j replaced, and the wall time."""

    sent: int = 0
    written: int = 0
    batches: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    def __add__(self, other: SyncReport) -> SyncReport:
        return SyncReport(
            sent=self.sent + other.sent,
            written=self.written + other.written,
            batches=self.batches + other.batches,
            seconds=self.seconds + other.seconds,
        )


# --------------------------------------------------------------------------- plumbing


def graph_is_configured() -> bool:
    return bool(settings.GRAPH_SYNC_ENABLED)


def graph_require_configured() -> None:
    if not graph_is_configured():
        raise GraphNotConfiguredError()


def with_reconnect(operation: Callable[[], T]) -> T:
    """Run ``operation``; if the pooled connection it got had died (Neo4j restarted since),
    run it once more. The driver drops an address's idle connections when it finds one
    dead, so the second attempt connects afresh, and fails fast if Neo4j is really down.
    Only for idempotent work: every read here, and the sync's version-guarded writes."""
    try:
        return operation()
    except (SessionExpired, ServiceUnavailable) as error:
        logger.info("Neo4j connection lost (%s); retrying once on a new connection", error)
        return operation()


def graph_cypher(query: str | Query, params: dict[str, Any] | None = None) -> list[list[Any]]:
    """Run one parameterized statement (auto-commit) on neomodel's connection."""
    from neomodel import db

    def run() -> list[list[Any]]:
        rows, _columns = db.cypher_query(query, params or {})
        return rows

    return with_reconnect(run)


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _batch_size(batch_size: int | None) -> int:
    return max(1, batch_size or settings.GRAPH_SYNC_BATCH_SIZE)


# --------------------------------------------------------------------------- enqueue


def graph_sync_queued_key(ecosystem_id: EntityId) -> str:
    return f"graph-sync-queued:{ecosystem_id}"


# When this process last queued each ecosystem's sync task itself (time.monotonic()).
_queued_here: dict[EntityId, float] = {}


def graph_sync_enqueue(
    *, relationship_ids: Sequence[int], ecosystem_id: EntityId | None = None
) -> None:
    """Called on commit by services that changed relationships.

    With ``ecosystem_id``, at most one sync task per ecosystem waits in the queue: a flag in
    the cache says one is queued, and the task clears it before it reads what is pending, so
    a change committed before the clearing is sent by that task and one committed after it
    queues the next. A busy ecosystem costs one cache write per change instead of one task,
    and the task sends everything pending in one batch. The task starts
    ``GRAPH_SYNC_DELAY_SECONDS`` after it was queued, which gathers more changes into it.

    For the first half of that delay after this process queued the task, it does not even
    ask the cache: the task cannot have started, so it will send this change (committed
    already). That spares most interactions of a busy process a Redis round trip."""
    if not graph_is_configured() or not relationship_ids:
        return
    from .tasks import graph_sync_relationships

    delay = settings.GRAPH_SYNC_DELAY_SECONDS
    if ecosystem_id is not None:
        queued_at = _queued_here.get(ecosystem_id)
        if queued_at is not None and time.monotonic() - queued_at < delay / 2:
            return
        try:
            if not cache.add(
                graph_sync_queued_key(ecosystem_id), 1, timeout=GRAPH_SYNC_QUEUED_FLAG_SECONDS
            ):
                return
        except (RedisError, OSError) as error:
            logger.warning("graph sync flag unavailable (%s); enqueueing anyway", error)
    queued_at = time.monotonic()
    try:
        graph_sync_relationships.apply_async((list(relationship_ids),), countdown=delay or None)
    except (KombuOperationalError, OSError) as error:
        # The change is committed and stays pending: the reconcile sends it. An unreachable
        # broker must not turn a successful interaction into an error.
        logger.warning("graph sync not enqueued (%s); the reconcile will send it", error)
        return
    if ecosystem_id is not None:
        _queued_here[ecosystem_id] = queued_at


def graph_remove_enqueue(
    *, character_ids: Sequence[EntityId] = (), ecosystem_id: EntityId | None = None
) -> None:
    """Schedule the removal of characters (or a whole ecosystem) from the graph."""
    if not graph_is_configured() or (not character_ids and ecosystem_id is None):
        return
    from .tasks import graph_remove

    try:
        graph_remove.delay(
            character_ids=[str(pk) for pk in character_ids],
            ecosystem_id=str(ecosystem_id) if ecosystem_id is not None else None,
        )
    except (KombuOperationalError, OSError) as error:
        logger.warning("graph removal not enqueued (%s); the orphan sweep will do it", error)


# --------------------------------------------------------------------------- writes


def _payload(rows: Iterable[tuple[Any, ...]]) -> tuple[list[dict], list[dict], list[tuple]]:
    """Cypher parameters for a batch: the nodes (sorted by uid: the lock order), the
    relationships, and the (id, version) pairs to mark once Neo4j committed."""
    nodes: dict[str, dict[str, str]] = {}
    relationships: list[dict[str, Any]] = []
    sent: list[tuple[int, int]] = []
    for (
        pk,
        ecosystem_id,
        from_id,
        from_name,
        to_id,
        to_name,
        strength,
        trust,
        interaction_count,
        last_interaction_at,
        version,
    ) in rows:
        ecosystem = str(ecosystem_id)
        from_uid, to_uid = str(from_id), str(to_id)
        nodes[from_uid] = {"uid": from_uid, "name": from_name, "ecosystem_id": ecosystem}
        nodes[to_uid] = {"uid": to_uid, "name": to_name, "ecosystem_id": ecosystem}
        relationships.append(
            {
                "from_uid": from_uid,
                "to_uid": to_uid,
                "strength": float(strength),
                "trust": float(trust),
                "interaction_count": int(interaction_count),
                # ISO text, parsed by Cypher: packing a driver DateTime costs ~60 µs a row
                # in Python, more than the rest of the write. datetime(null) is null.
                "last_interaction_at": (
                    last_interaction_at.isoformat() if last_interaction_at else None
                ),
                "version": int(version),
            }
        )
        sent.append((int(pk), int(version)))
    ordered_nodes = [nodes[uid] for uid in sorted(nodes)]
    relationships.sort(key=lambda row: (row["from_uid"], row["to_uid"]))
    return ordered_nodes, relationships, sent


def _write_batch(nodes: list[dict], relationships: list[dict]) -> int:
    """One Neo4j transaction for the batch; deadlocks and other transient refusals are
    retried here a few times with jitter, anything else goes up."""
    from neomodel import db

    def write() -> int:
        with db.transaction:
            rows, _ = db.cypher_query(
                SYNC_BATCH_CYPHER, {"nodes": nodes, "relationships": relationships}
            )
        return int(rows[0][0]) if rows else 0

    for attempt in range(1, TRANSIENT_WRITE_ATTEMPTS + 1):
        try:
            return with_reconnect(write)
        except TransientError:
            if attempt == TRANSIENT_WRITE_ATTEMPTS:
                raise
            time.sleep(random.uniform(0.01, 0.05) * attempt)
    return 0  # pragma: no cover - the loop returns or raises


# The rows are locked in primary-key order first, as an interaction locks the two
# directions of its pair (interactions.services): an UPDATE joined to the VALUES locks
# them in whatever order the join meets them, and one that met (B, A) before (A, B) while an
# interaction held (A, B) and waited for (B, A) was a deadlock (bench_scenarios, whose
# worker runs the sync beside the clock: the clock's task died and its scenarios starved).
MARK_SENT_POSTGRESQL_SQL = (
    "WITH sent(id, version) AS (VALUES {rows}), "
    "locked AS MATERIALIZED (SELECT rel.id FROM {table} AS rel JOIN sent ON rel.id = sent.id "
    "WHERE rel.graph_version < sent.version ORDER BY rel.id FOR NO KEY UPDATE OF rel) "
    "UPDATE {table} AS rel SET graph_version = sent.version FROM sent, locked "
    "WHERE rel.id = locked.id AND rel.id = sent.id AND rel.graph_version < sent.version"
)


def _mark_sent(sent: Sequence[tuple[int, int]]) -> int:
    """Record in PostgreSQL that Neo4j holds these versions. Only ever raises
    ``graph_version`` (a slower worker that sent an older version cannot lower it).

    One ``UPDATE ... FROM (VALUES ...)`` per chunk on PostgreSQL (a hash join); elsewhere
    (SQLite) the portable ORM form, a CASE per row."""
    marked = 0
    for chunk in _chunks(sent, MARK_CHUNK_SIZE):
        if connection.vendor == "postgresql":
            sql = MARK_SENT_POSTGRESQL_SQL.format(
                table=connection.ops.quote_name(Relationship._meta.db_table),
                rows=", ".join(["(%s::bigint, %s::bigint)"] * len(chunk)),
            )
            with connection.cursor() as cursor:
                cursor.execute(sql, [value for pair in chunk for value in pair])
                marked += cursor.rowcount
            continue
        sent_version = Case(
            *(When(pk=pk, then=Value(version)) for pk, version in chunk),
            output_field=BigIntegerField(),
        )
        marked += Relationship.objects.filter(
            pk__in=[pk for pk, _ in chunk], graph_version__lt=sent_version
        ).update(graph_version=sent_version)
    return marked


def _send_rows(rows: Sequence[tuple[Any, ...]]) -> SyncReport:
    if not rows:
        return SyncReport()
    _schema_install_once()
    started = time.perf_counter()
    nodes, relationships, sent = _payload(rows)
    written = _write_batch(nodes, relationships)
    _mark_sent(sent)
    return SyncReport(
        sent=len(rows), written=written, batches=1, seconds=time.perf_counter() - started
    )


def _send_in_batches(
    queryset: QuerySet[Relationship],
    *,
    batch_size: int | None,
    progress: ProgressCallback | None,
) -> SyncReport:
    """Keyset pagination by primary key: one pass, never the same row twice, and a row
    changed behind the cursor is left for the next pass (it is pending again)."""
    size = _batch_size(batch_size)
    total = queryset.count() if progress else 0
    report = SyncReport()
    last_pk = 0
    started = time.perf_counter()
    while True:
        rows = list(queryset.filter(pk__gt=last_pk).order_by("pk").values_list(*ROW_FIELDS)[:size])
        if not rows:
            break
        report = report + _send_rows(rows)
        last_pk = rows[-1][0]
        if progress:
            progress(report.sent, max(total, report.sent))
        if len(rows) < size:
            break
    return SyncReport(
        sent=report.sent,
        written=report.written,
        batches=report.batches,
        seconds=time.perf_counter() - started,
    )


def graph_relationships_write(*, relationship_ids: Sequence[int]) -> SyncReport:
    """Send these relationships' current state (whether pending or not)."""
    graph_require_configured()
    queryset = Relationship.objects.filter(pk__in=list(relationship_ids))
    return _send_in_batches(queryset, batch_size=None, progress=None)


def graph_sync_pending(
    *,
    ecosystem_id: EntityId | None = None,
    batch_size: int | None = None,
    progress: ProgressCallback | None = None,
) -> SyncReport:
    """Send every relationship whose version Neo4j lacks (``version > graph_version``),
    in batches of one UNWIND each; the partial index ``relationship_graph_pending`` keeps
    finding them cheap however large the table."""
    graph_require_configured()
    pending = Relationship.objects.filter(version__gt=F("graph_version"))
    if ecosystem_id is not None:
        pending = pending.filter(ecosystem_id=ecosystem_id)
    return _send_in_batches(pending, batch_size=batch_size, progress=progress)


def graph_rebuild(
    *,
    ecosystem_id: EntityId | None = None,
    batch_size: int | None = None,
    progress: ProgressCallback | None = None,
) -> SyncReport:
    """Delete the graph (or one ecosystem's part) and send everything again.

    ``graph_version`` is reset first, so an interrupted rebuild leaves the rest pending for
    the reconcile instead of wrongly marked as sent."""
    graph_require_configured()
    relationships = Relationship.objects.all()
    if ecosystem_id is not None:
        relationships = relationships.filter(ecosystem_id=ecosystem_id)
        graph_remove_ecosystem(ecosystem_id=ecosystem_id)
    else:
        _delete_in_chunks(DELETE_ALL_CHUNK_CYPHER, {})
    relationships.filter(graph_version__gt=0).update(graph_version=0)
    return _send_in_batches(relationships, batch_size=batch_size, progress=progress)


# --------------------------------------------------------------------------- removals


def _delete_in_chunks(query: str, params: dict[str, Any]) -> int:
    """DETACH DELETE in bounded transactions (a big ecosystem is not one huge commit)."""
    removed = 0
    while True:
        rows = graph_cypher(query, {**params, "limit": DELETE_CHUNK_SIZE})
        count = int(rows[0][0]) if rows else 0
        removed += count
        if count < DELETE_CHUNK_SIZE:
            return removed


def graph_remove_characters(*, character_ids: Sequence[EntityId]) -> int:
    """Remove these characters' nodes and every relationship touching them."""
    graph_require_configured()
    uids = sorted({str(pk) for pk in character_ids})
    removed = 0
    for chunk in _chunks(uids, DELETE_CHUNK_SIZE):
        rows = graph_cypher(DELETE_CHARACTERS_CYPHER, {"uids": list(chunk)})
        removed += int(rows[0][0]) if rows else 0
    return removed


def graph_remove_ecosystem(*, ecosystem_id: EntityId) -> int:
    graph_require_configured()
    return _delete_in_chunks(DELETE_ECOSYSTEM_CHUNK_CYPHER, {"ecosystem_id": str(ecosystem_id)})


def _existing_character_ids(uids: Sequence[str]) -> set[str]:
    valid: list[uuid.UUID] = []
    for uid in uids:
        try:
            valid.append(uuid.UUID(uid))
        except (ValueError, TypeError, AttributeError):
            continue  # not a character id at all: an orphan by definition
    found = Character.objects.filter(pk__in=valid).values_list("pk", flat=True)
    return {str(pk) for pk in found}


def graph_remove_orphans(
    *, ecosystem_id: EntityId | None = None, grace_seconds: float | None = None
) -> int:
    """Remove nodes whose character no longer exists in PostgreSQL: the safety net behind
    the delete hook (a removal task lost, or a slow sync that re-created a node after its
    character was deleted).

    Nodes the sync wrote less than ``grace_seconds`` ago are left alone: it costs nothing
    in production (the hook removes deleted characters at once) and keeps a second
    PostgreSQL database pointed at the same Neo4j (the test suite next to ``make run-full``)
    from sweeping the other's fresh nodes."""
    graph_require_configured()
    grace = (
        grace_seconds
        if grace_seconds is not None
        else getattr(settings, "GRAPH_ORPHAN_GRACE_SECONDS", DEFAULT_ORPHAN_GRACE_SECONDS)
    )
    if ecosystem_id is None:
        query, params = ORPHAN_CANDIDATES_CYPHER, {}
    else:
        query, params = ORPHAN_CANDIDATES_IN_ECOSYSTEM_CYPHER, {"ecosystem_id": str(ecosystem_id)}
    removed = 0
    after = ""
    while True:
        rows = graph_cypher(
            query,
            {**params, "after": after, "grace_seconds": grace, "limit": ORPHAN_SCAN_CHUNK_SIZE},
        )
        uids = [row[0] for row in rows]
        if not uids:
            return removed
        existing = _existing_character_ids(uids)
        orphans = [uid for uid in uids if uid not in existing]
        if orphans:
            result = graph_cypher(DELETE_CHARACTERS_CYPHER, {"uids": orphans})
            removed += int(result[0][0]) if result else 0
        if len(uids) < ORPHAN_SCAN_CHUNK_SIZE:
            return removed
        after = uids[-1]


# --------------------------------------------------------------------------- schema


# Whether this process has installed the schema: its first send does (_send_rows).
_schema_installed = False


def graph_install_constraints() -> list[str]:
    """The unique constraint on Character.uid and the index on ecosystem_id. ``IF NOT
    EXISTS`` makes running it twice harmless. Returns the statements run."""
    global _schema_installed
    graph_require_configured()
    for statement in GRAPH_SCHEMA_STATEMENTS:
        graph_cypher(statement)
    _schema_installed = True
    return list(GRAPH_SCHEMA_STATEMENTS)


def _schema_install_once() -> None:
    """Before a process's first send. Without the unique constraint, concurrent MERGEs of
    one character (a worker's prefork processes) each create a node: the duplicates then
    stop the constraint from ever being created. ``make run-full`` and the tests install it
    up front; a worker started any other way (``make bench``, a deployment that skipped
    the command) installs it here."""
    if not _schema_installed:
        graph_install_constraints()


# --------------------------------------------------------------------------- delete hook


def graph_on_character_deleted(sender: type, instance: Character, **kwargs: Any) -> None:
    """post_delete receiver (connected in ``RelationshipsConfig.ready``): the integration
    hook that removes deleted characters from the graph, because ``characters`` may not
    import this app. Runs on commit, so a rolled-back delete removes nothing.

    A character deleted because its ecosystem (or its owner) is being deleted is covered by
    the ecosystem's own removal, so only direct deletes schedule one here."""
    origin = kwargs.get("origin")
    direct = isinstance(origin, Character) or (
        isinstance(origin, QuerySet) and origin.model is Character
    )
    if not direct or not graph_is_configured():
        return
    character_id = instance.pk
    transaction.on_commit(
        lambda: graph_remove_enqueue(character_ids=[character_id]),
        using=kwargs.get("using"),
    )


def graph_on_ecosystem_deleted(sender: type, instance: Ecosystem, **kwargs: Any) -> None:
    """post_delete receiver: removes the ecosystem's nodes (see graph_on_character_deleted)."""
    if not graph_is_configured():
        return
    ecosystem_id = instance.pk
    transaction.on_commit(
        lambda: graph_remove_enqueue(ecosystem_id=ecosystem_id), using=kwargs.get("using")
    )
