"""Lore chunks -> Neo4j's native vector index (docs/lore.md "Search").

The same scheme as the relationship graph (relationships/graph.py, docs/graph.md): a chunk's
``version`` is bumped when what Neo4j holds about it changes; a write keeps a version only
over an older one; ``graph_version`` is raised only after Neo4j committed, and only to the
version sent. Repeats, reordered tasks and outages can only delay the index, never corrupt
it. Removed chunks are deleted by uid (on commit of the delete) and swept by the reconcile.

A node's uid is ``<ecosystem id>:<chunk id>`` (``chunk_uid``): chunk ids are a database's
own sequence, so several databases that share one Neo4j (a development database, the test
databases, the benchmarks') would otherwise write over each other's nodes.

Each node also carries its ecosystem's label (``lore_node_label``), and an ecosystem that
outgrows the exact scan gets a vector index of its own over that label
(``lore_ecosystem_index_ensure``, docs/lore.md "Vector index: one per large ecosystem").
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import re
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Max
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from core.embeddings import configured_model_name
from relationships.graph import (
    GRAPH_UNAVAILABLE_ERRORS,
    graph_cypher,
    graph_is_configured,
    with_reconnect,
)

from .models import Chunk

logger = logging.getLogger(__name__)

# Before the per-ecosystem indexes: one vector index over every ecosystem's chunks. Dropped
# on install (it cost every write and served no search).
LEGACY_INDEX_NAME = "lore_chunk_embedding"
ECOSYSTEM_INDEX_PREFIX = "lore_eco_"
LORE_SYNC_BATCH_SIZE = 500
LORE_SYNC_QUEUED_FLAG_SECONDS = 30

# The vector is stored as a float32 array (db.create.setNodeVectorProperty): half the size
# of a LIST<FLOAT> (float64) in the store, the form the vector index reads.
UPSERT_CYPHER = """
UNWIND $rows AS row
MERGE (c:LoreChunk {uid: row.uid})
WITH c, row
WHERE c.version IS NULL OR c.version < row.version
SET c:$(row.label),
    c.ecosystem_id = row.ecosystem_id,
    c.document_id = row.document_id,
    c.character_ids = row.character_ids,
    c.embedding_model = row.embedding_model,
    c.version = row.version
WITH c, row
CALL db.create.setNodeVectorProperty(c, 'embedding', row.embedding)
RETURN count(c) AS written
"""

DELETE_CYPHER = """
UNWIND $uids AS uid
MATCH (c:LoreChunk {uid: uid})
DELETE c
RETURN count(*) AS removed
"""

# The approximate path: the ecosystem's own HNSW index, asked for more candidates than
# wanted (see lore_vector_query), filtered to the model and character (and, as a guard, the
# ecosystem).
QUERY_CYPHER = """
CALL db.index.vector.queryNodes($index, $candidates, $vector) YIELD node, score
WHERE node.ecosystem_id = $ecosystem_id
  AND node.embedding_model = $model
  AND ($character_id IS NULL OR size(node.character_ids) = 0
       OR $character_id IN node.character_ids)
RETURN node.uid AS uid, score
ORDER BY score DESC
LIMIT $k
"""

# The exact path: every chunk of the ecosystem (the range index on ecosystem_id), scored
# with the same similarity as the index, best first. Recall 1 by construction.
EXACT_QUERY_CYPHER = """
MATCH (node:LoreChunk {ecosystem_id: $ecosystem_id})
WHERE node.embedding_model = $model
  AND ($character_id IS NULL OR size(node.character_ids) = 0
       OR $character_id IN node.character_ids)
WITH node, vector.similarity.cosine(node.embedding, $vector) AS score
ORDER BY score DESC
LIMIT $k
RETURN node.uid AS uid, score
"""

# The index's build settings (Neo4j 5.26 Community, docs/lore.md "Vector index"):
# quantization off (on by default since 5.23; its int8 vectors cost recall on our
# near-duplicate lore chunks), and a denser graph than the defaults (m 16, ef_construction
# 100) for recall at a larger candidate list.
LORE_INDEX_CONFIG: dict[str, Any] = {
    "vector.similarity_function": "COSINE",
    "vector.quantization.enabled": False,
    "vector.hnsw.m": 16,
    "vector.hnsw.ef_construction": 100,
}


def lore_ecosystem_key(ecosystem_id: object) -> str:
    """The ecosystem's id as a name part: letters, digits and underscores only (a UUID's
    dashes become underscores), so labels and index names built from it need no escaping."""
    return re.sub(r"[^0-9A-Za-z]", "_", str(ecosystem_id))


def lore_node_label(ecosystem_id: object) -> str:
    return f"LoreEco_{lore_ecosystem_key(ecosystem_id)}"


def lore_index_name(ecosystem_id: object) -> str:
    return f"{ECOSYSTEM_INDEX_PREFIX}{lore_ecosystem_key(ecosystem_id)}"


SCHEMA_STATEMENTS = (
    "CREATE CONSTRAINT lore_chunk_uid IF NOT EXISTS FOR (c:LoreChunk) REQUIRE c.uid IS UNIQUE",
    "CREATE INDEX lore_chunk_ecosystem IF NOT EXISTS FOR (c:LoreChunk) ON (c.ecosystem_id)",
    f"DROP INDEX {LEGACY_INDEX_NAME} IF EXISTS",
)


def lore_vector_index_statement(ecosystem_id: object, dimension: int) -> str:
    # Names from lore_ecosystem_key, the dimension an integer from the embedder, the rest
    # constants: nothing here is user input.
    config = ", ".join(
        f"`{name}`: {_cypher_literal(value)}"
        for name, value in {"vector.dimensions": int(dimension), **LORE_INDEX_CONFIG}.items()
    )
    return (
        f"CREATE VECTOR INDEX {lore_index_name(ecosystem_id)} IF NOT EXISTS "
        f"FOR (c:{lore_node_label(ecosystem_id)}) ON c.embedding "
        f"OPTIONS {{indexConfig: {{{config}}}}}"
    )


def _cypher_literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value) + "'"


# What this process has installed: "schema", and (index name, dimension) pairs.
_index_ready: set[object] = set()


def _index_config_matches(config: dict[str, Any], dimension: int) -> bool:
    wanted = {"vector.dimensions": int(dimension), **LORE_INDEX_CONFIG}
    return all(
        str(config.get(name)).lower() == str(value).lower() for name, value in wanted.items()
    )


def lore_index_install() -> None:
    """The uid constraint and the ecosystem range index, if missing (idempotent); the
    legacy all-ecosystem vector index is dropped."""
    if "schema" in _index_ready:
        return
    for statement in SCHEMA_STATEMENTS:
        graph_cypher(statement)
    _index_ready.add("schema")


def lore_vector_indexes() -> dict[str, tuple[str, dict[str, Any]]]:
    """Every lore vector index: ``{name: (state, indexConfig)}``."""
    rows = graph_cypher(
        "SHOW VECTOR INDEXES YIELD name, state, options "
        "WHERE name STARTS WITH $prefix OR name = $legacy RETURN name, state, options",
        {"prefix": ECOSYSTEM_INDEX_PREFIX, "legacy": LEGACY_INDEX_NAME},
    )
    return {
        str(name): (str(state), dict((options or {}).get("indexConfig") or {}))
        for name, state, options in rows
    }


def lore_ecosystem_index_ensure(ecosystem_id: object, dimension: int) -> None:
    """The ecosystem's own vector index, created if missing (Neo4j populates it in the
    background); one built with other settings (another dimension after a re-embed, an
    older release's) is dropped and built again from the nodes, which keep their vectors."""
    name = lore_index_name(ecosystem_id)
    if (name, dimension) in _index_ready:
        return
    existing = lore_vector_indexes().get(name)
    if existing is not None and not _index_config_matches(existing[1], dimension):
        logger.warning("lore vector index %s has %s; rebuilding it", name, existing[1])
        graph_cypher(f"DROP INDEX {name} IF EXISTS")
    graph_cypher(lore_vector_index_statement(ecosystem_id, dimension))
    _index_ready.add((name, dimension))


def lore_ecosystem_nodes(ecosystem_id: object) -> int:
    """The ecosystem's nodes in Neo4j (its label's count, from the count store)."""
    return int(graph_cypher(f"MATCH (c:{lore_node_label(ecosystem_id)}) RETURN count(c)")[0][0])


def lore_index_drop(names: Sequence[str] | None = None) -> None:
    """Drop these lore vector indexes (all of them without ``names``)."""
    dropped = set(lore_vector_indexes() if names is None else names)
    for name in dropped:
        graph_cypher(f"DROP INDEX {name} IF EXISTS")
    _index_ready.difference_update(
        [ready for ready in _index_ready if isinstance(ready, tuple) and ready[0] in dropped]
    )


def lore_sync_queued_key(ecosystem_id: object) -> str:
    return f"lore-sync-queued:{ecosystem_id}"


def lore_sync_enqueue(*, ecosystem_id: object) -> None:
    """On commit of a lore change: one sync task per ecosystem waits in the queue at most."""
    if not graph_is_configured():
        return
    from .tasks import lore_graph_sync

    try:
        if not cache.add(lore_sync_queued_key(ecosystem_id), 1, LORE_SYNC_QUEUED_FLAG_SECONDS):
            return
    except (RedisError, OSError) as error:
        logger.warning("lore sync flag unavailable (%s); enqueueing anyway", error)
    try:
        lore_graph_sync.apply_async((str(ecosystem_id),), countdown=0.1)
    except (KombuOperationalError, OSError) as error:
        logger.warning("lore sync not enqueued (%s); the reconcile will send it", error)


def chunk_uid(ecosystem_id: object, chunk_id: int) -> str:
    return f"{ecosystem_id}:{int(chunk_id)}"


def chunk_id_of(uid: object) -> int | None:
    """The chunk id in a node's uid (None for a uid of another form)."""
    _ecosystem, _, chunk_id = str(uid).rpartition(":")
    return int(chunk_id) if _ecosystem and chunk_id.isdigit() else None


def lore_remove_enqueue(*, chunk_ids: Sequence[int], ecosystem_id: object) -> None:
    if not graph_is_configured() or not chunk_ids:
        return
    from .tasks import lore_graph_remove

    try:
        lore_graph_remove.delay([int(pk) for pk in chunk_ids], str(ecosystem_id))
    except (KombuOperationalError, OSError) as error:
        logger.warning("lore removal not enqueued (%s); the reconcile sweeps it", error)


def _rows(chunks: Sequence[Any], characters: dict[int, list[str]]) -> list[dict]:
    return [
        {
            "uid": chunk_uid(chunk["ecosystem_id"], chunk["pk"]),
            "ecosystem_id": str(chunk["ecosystem_id"]),
            "document_id": int(chunk["document_id"]),
            "character_ids": characters.get(chunk["document_id"], []),
            "embedding_model": chunk["embedding_model"],
            "label": lore_node_label(chunk["ecosystem_id"]),
            "embedding": np.frombuffer(bytes(chunk["embedding"]), dtype="<f4").tolist(),
            "version": int(chunk["version"]),
        }
        for chunk in chunks
    ]


def lore_sync_pending(*, ecosystem_id: object | None = None, batch_size: int = 0) -> int:
    """Send every pending chunk (of one ecosystem, or all) to Neo4j; returns how many."""
    from .models import Document

    size = batch_size or LORE_SYNC_BATCH_SIZE
    sent = 0
    after = 0
    dimensions: dict[str, int] = {}  # of the ecosystems written to
    while True:
        pending = Chunk.objects.filter(version__gt=F("graph_version"), pk__gt=after)
        if ecosystem_id is not None:
            pending = pending.filter(ecosystem_id=str(ecosystem_id))
        batch = list(
            pending.order_by("pk").values(
                "pk",
                "ecosystem_id",
                "document_id",
                "embedding_model",
                "embedding",
                "version",
                "dimension",
            )[:size]
        )
        if not batch:
            lore_indexes_ensure(dimensions)
            return sent
        lore_index_install()
        characters: dict[int, list[str]] = defaultdict(list)
        for document_id, character_id in Document.characters.through.objects.filter(
            document_id__in={chunk["document_id"] for chunk in batch}
        ).values_list("document_id", "character_id"):
            characters[document_id].append(str(character_id))
        graph_cypher(UPSERT_CYPHER, {"rows": _rows(batch, characters)})
        by_version: dict[int, list[int]] = defaultdict(list)
        for chunk in batch:
            by_version[int(chunk["version"])].append(int(chunk["pk"]))
        for version, ids in by_version.items():
            Chunk.objects.filter(pk__in=ids, graph_version__lt=version).update(
                graph_version=version
            )
        sent += len(batch)
        after = int(batch[-1]["pk"])
        dimensions.update((str(chunk["ecosystem_id"]), int(chunk["dimension"])) for chunk in batch)


def lore_indexes_ensure(dimensions: Mapping[str, int]) -> None:
    """A vector index for each of these ecosystems (``{id: dimension}``) that holds more
    nodes than the exact scan serves (LORE_VECTOR_EXACT_MAX_CHUNKS)."""
    for ecosystem_id, dimension in dimensions.items():
        if lore_ecosystem_nodes(ecosystem_id) > settings.LORE_VECTOR_EXACT_MAX_CHUNKS:
            lore_ecosystem_index_ensure(ecosystem_id, dimension)


def lore_indexes_reconcile() -> tuple[int, int]:
    """The beat's pass over the indexes: ensure one for every ecosystem of this database
    past the exact scan's size (a sync that failed after writing its nodes), and drop the
    index of an ecosystem with no node left (deleted; indexes of ecosystems of other
    databases sharing this Neo4j keep theirs while they have nodes). Answers (ensured,
    dropped)."""
    large = (
        Chunk.objects.values("ecosystem_id")
        .annotate(chunks=Count("pk"), dimension=Max("dimension"))
        .filter(chunks__gt=settings.LORE_VECTOR_EXACT_MAX_CHUNKS)
    )
    dimensions = {str(row["ecosystem_id"]): int(row["dimension"]) for row in large}
    lore_indexes_ensure(dimensions)
    empty = [
        name
        for name in lore_vector_indexes()
        if name.startswith(ECOSYSTEM_INDEX_PREFIX)
        and lore_ecosystem_nodes(name.removeprefix(ECOSYSTEM_INDEX_PREFIX)) == 0
    ]
    lore_index_drop(empty)
    return len(dimensions), len(empty)


def lore_remove_chunks(*, chunk_ids: Sequence[int], ecosystem_id: object | None = None) -> int:
    """Delete the nodes of these chunks (of ``ecosystem_id``; without it, nodes whose uid
    is the bare chunk id, as an older release wrote them)."""
    uids = [
        chunk_uid(ecosystem_id, pk) if ecosystem_id is not None else str(int(pk))
        for pk in chunk_ids
    ]
    return _remove_uids(uids)


def _remove_uids(uids: Sequence[str]) -> int:
    removed = 0
    for start in range(0, len(uids), 5000):
        rows = graph_cypher(DELETE_CYPHER, {"uids": list(uids[start : start + 5000])})
        removed += int(rows[0][0]) if rows else 0
    return removed


def lore_remove_orphans(*, ecosystem_id: object | None = None) -> int:
    """Delete LoreChunk nodes whose chunk no longer exists in the database, and nodes of
    an older uid form (their chunks are sent again under the new one)."""
    query = "MATCH (c:LoreChunk) RETURN c.uid"
    params: dict[str, Any] = {}
    if ecosystem_id is not None:
        query = "MATCH (c:LoreChunk {ecosystem_id: $ecosystem_id}) RETURN c.uid"
        params = {"ecosystem_id": str(ecosystem_id)}
    by_id: dict[int, str] = {}
    doomed: list[str] = []
    for (uid,) in graph_cypher(query, params):
        chunk_id = chunk_id_of(uid)
        if chunk_id is None:
            doomed.append(str(uid))
        else:
            by_id[chunk_id] = str(uid)
    ids = list(by_id)
    existing: set[tuple[str, int]] = set()
    for start in range(0, len(ids), 5000):
        existing.update(
            (str(eco), pk)
            for pk, eco in Chunk.objects.filter(pk__in=ids[start : start + 5000]).values_list(
                "pk", "ecosystem_id"
            )
        )
    doomed += [uid for pk, uid in by_id.items() if (uid.rpartition(":")[0], pk) not in existing]
    return _remove_uids(doomed)


# --------------------------------------------------------------- the search's read path
#
# Neo4j 5.26 Community cannot filter inside an HNSW search (filtered vector search came
# later, with the SEARCH clause), so each large ecosystem has an index of its own and
# lore_vector_query picks a plan by the ecosystem's size (docs/lore.md "Vector index: one
# per large ecosystem"):
#
# * an ecosystem of at most LORE_VECTOR_EXACT_MAX_CHUNKS chunks, or whose index is not
#   online yet, is scored exactly in Neo4j over its own nodes (EXACT_QUERY_CYPHER through
#   the ecosystem_id range index): recall 1;
# * a larger one asks its own index for ``max(k * oversample, min_candidates)`` candidates
#   and keeps those of the model (and the character's visibility), widening fourfold while
#   fewer than ``k`` survive; at LORE_MAX_VECTOR_CANDIDATES it falls back to the exact plan.
#   A query of one ecosystem never returns another's chunks: its index holds only its own
#   nodes, and every plan filters on ecosystem_id in the same statement as well.
LORE_VECTOR_STATS_SECONDS = 30.0

_stats: dict[str, tuple[float, int, int | None]] = {}  # ecosystem -> (read at, nodes, dim)
_stats_lock = threading.Lock()
_sessions = threading.local()
_open_sessions: weakref.WeakSet[Any] = weakref.WeakSet()


@atexit.register
def _close_sessions() -> None:
    for session in list(_open_sessions):
        with contextlib.suppress(Exception):
            session.close()


def _read(query: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """One read on a session kept per thread on neomodel's driver (no neomodel object
    layer on the search's path); a dead session or connection is replaced once."""
    from neomodel import db

    def run() -> list[tuple[Any, ...]]:
        session = getattr(_sessions, "session", None)
        if session is None or getattr(_sessions, "driver", None) is not db.driver:
            if db.driver is None:
                graph_cypher("RETURN 1")  # neomodel connects on first use
            session = db.driver.session(database=getattr(db, "_database_name", None))
            _sessions.session, _sessions.driver = session, db.driver
            _open_sessions.add(session)
        try:
            return [tuple(record.values()) for record in session.run(query, params)]
        except BaseException:
            _sessions.session = None
            with contextlib.suppress(Exception):
                session.close()
            raise

    return with_reconnect(run)


def lore_index_stats(ecosystem_id: object) -> tuple[int, int | None]:
    """``(the ecosystem's nodes, the dimension of its own index when that is online)``,
    cached per process for LORE_VECTOR_STATS_SECONDS."""
    key = str(ecosystem_id)
    now = time.monotonic()
    with _stats_lock:
        cached = _stats.get(key)
    if cached is not None and now - cached[0] < LORE_VECTOR_STATS_SECONDS:
        return cached[1], cached[2]
    nodes = int(_read(f"MATCH (c:{lore_node_label(key)}) RETURN count(c)", {})[0][0])
    index = _read(
        "SHOW VECTOR INDEXES YIELD name, state, options WHERE name = $name RETURN state, options",
        {"name": lore_index_name(key)},
    )
    dimension = None
    if index and index[0][0] == "ONLINE":
        dimension = int(((index[0][1] or {}).get("indexConfig") or {})["vector.dimensions"])
    with _stats_lock:
        _stats[key] = (now, nodes, dimension)
    return nodes, dimension


def lore_vector_query(
    *,
    ecosystem_id: object,
    vector: np.ndarray,
    k: int,
    character_id: object | None = None,
    model: str | None = None,
) -> list[tuple[int, float]]:
    """Top ``k`` chunk ids of one ecosystem by cosine, from Neo4j: its own vector index
    with over-fetching, or an exact scan of its nodes (see above). A Neo4j error goes up:
    the caller answers 503."""
    params: dict[str, Any] = {
        "index": lore_index_name(ecosystem_id),
        "vector": np.asarray(vector, dtype=np.float32).tolist(),
        "ecosystem_id": str(ecosystem_id),
        "model": model or configured_model_name(),
        "character_id": str(character_id) if character_id else None,
        "k": int(k),
    }
    nodes, dimension = lore_index_stats(ecosystem_id)
    cap = settings.LORE_MAX_VECTOR_CANDIDATES
    if nodes <= settings.LORE_VECTOR_EXACT_MAX_CHUNKS or dimension != len(vector):
        return _scores(_read(EXACT_QUERY_CYPHER, params))
    candidates = min(
        cap, max(k * settings.LORE_VECTOR_OVERSAMPLE, settings.LORE_VECTOR_MIN_CANDIDATES)
    )
    while True:
        rows = _read(QUERY_CYPHER, {**params, "candidates": candidates})
        if len(rows) >= k or candidates >= nodes:
            return _scores(rows)  # enough, or every node of the index was a candidate
        if candidates >= cap:
            # The character's part of the ecosystem (or the model's) is too thin in it.
            return _scores(_read(EXACT_QUERY_CYPHER, params))
        candidates = min(cap, candidates * 4)


def _scores(rows: Sequence[Sequence[Any]]) -> list[tuple[int, float]]:
    # Neo4j's cosine score is (1 + cos) / 2; report the cosine like the exact search.
    return [
        (chunk_id, 2.0 * float(score) - 1.0)
        for uid, score in rows
        if (chunk_id := chunk_id_of(uid)) is not None
    ]


__all__ = ["GRAPH_UNAVAILABLE_ERRORS"]
