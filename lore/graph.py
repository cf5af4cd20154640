"""Lore chunks -> Neo4j's native vector index (docs/lore.md "Search").

The same scheme as the relationship graph (relationships/graph.py, docs/graph.md): a chunk's
``version`` is bumped when what Neo4j holds about it changes; a write keeps a version only
over an older one; ``graph_version`` is raised only after Neo4j committed, and only to the
version sent. Repeats, reordered tasks and outages can only delay the index, never corrupt
it. Removed chunks are deleted by uid (on commit of the delete) and swept by the reconcile.

A node's uid is ``<ecosystem id>:<chunk id>`` (``chunk_uid``): chunk ids are a database's
own sequence, so several databases that share one Neo4j (a development database, the test
databases, the benchmarks') would otherwise write over each other's nodes.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import math
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db.models import F
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

LORE_INDEX_NAME = "lore_chunk_embedding"
LORE_SYNC_BATCH_SIZE = 500
LORE_SYNC_QUEUED_FLAG_SECONDS = 30

# The vector is stored as a float32 array (db.create.setNodeVectorProperty): half the size
# of a LIST<FLOAT> (float64) in the store, the form the vector index reads.
UPSERT_CYPHER = """
UNWIND $rows AS row
MERGE (c:LoreChunk {uid: row.uid})
WITH c, row
WHERE c.version IS NULL OR c.version < row.version
SET c.ecosystem_id = row.ecosystem_id,
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

# The approximate path: the HNSW index over every ecosystem's chunks, asked for more
# candidates than wanted (see lore_vector_query), filtered to one ecosystem, model and
# character.
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

STATS_CYPHER = """
CALL { MATCH (c:LoreChunk) RETURN count(c) AS total }
CALL { MATCH (c:LoreChunk {ecosystem_id: $ecosystem_id}) RETURN count(c) AS mine }
RETURN total, mine
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


def lore_index_statements(dimension: int) -> list[str]:
    # The dimension is an integer from the embedder, never user input; the rest constants.
    config = ", ".join(
        f"`{name}`: {_cypher_literal(value)}"
        for name, value in {"vector.dimensions": int(dimension), **LORE_INDEX_CONFIG}.items()
    )
    return [
        "CREATE CONSTRAINT lore_chunk_uid IF NOT EXISTS FOR (c:LoreChunk) REQUIRE c.uid IS UNIQUE",
        "CREATE INDEX lore_chunk_ecosystem IF NOT EXISTS FOR (c:LoreChunk) ON (c.ecosystem_id)",
        f"CREATE VECTOR INDEX {LORE_INDEX_NAME} IF NOT EXISTS FOR (c:LoreChunk) ON c.embedding "
        f"OPTIONS {{indexConfig: {{{config}}}}}",
    ]


def _cypher_literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value) + "'"


_index_ready: set[int] = set()


def _index_config_matches(config: dict[str, Any], dimension: int) -> bool:
    wanted = {"vector.dimensions": int(dimension), **LORE_INDEX_CONFIG}
    return all(
        str(config.get(name)).lower() == str(value).lower() for name, value in wanted.items()
    )


def lore_index_install(dimension: int) -> None:
    """Create the constraint and the vector index if missing (idempotent). An index built
    with other settings (an older release's, or another dimension) is dropped and built
    again from the nodes, which keep their vectors."""
    if dimension in _index_ready:
        return
    existing = lore_index_config()
    if existing is not None and not _index_config_matches(existing, dimension):
        logger.warning(
            "lore vector index %s has %s; rebuilding it with %s",
            LORE_INDEX_NAME,
            existing,
            {"vector.dimensions": dimension, **LORE_INDEX_CONFIG},
        )
        graph_cypher(f"DROP INDEX {LORE_INDEX_NAME} IF EXISTS")
    for statement in lore_index_statements(dimension):
        graph_cypher(statement)
    _index_ready.add(dimension)


def lore_index_config() -> dict[str, Any] | None:
    """The existing vector index's ``indexConfig``, or None when there is none."""
    rows = graph_cypher(
        "SHOW INDEXES YIELD name, options WHERE name = $name RETURN options",
        {"name": LORE_INDEX_NAME},
    )
    if not rows:
        return None
    return dict((rows[0][0] or {}).get("indexConfig") or {})


def lore_index_dimension() -> int | None:
    """The dimension of the existing vector index, or None when there is none."""
    config = lore_index_config()
    dimension = (config or {}).get("vector.dimensions")
    return int(dimension) if dimension is not None else None


def lore_index_drop() -> None:
    graph_cypher(f"DROP INDEX {LORE_INDEX_NAME} IF EXISTS")
    _index_ready.clear()


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
            return sent
        lore_index_install(int(batch[0]["dimension"]))
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
# Neo4j 5.26 Community's vector index spans every ecosystem's chunks and cannot filter
# inside its HNSW search, so lore_vector_query picks a plan by how much of the index the
# ecosystem holds (docs/lore.md "Vector index: one ecosystem at a time"):
#
# * an ecosystem of at most LORE_VECTOR_EXACT_MAX_CHUNKS chunks, or whose share of the index
#   is too small for the candidate cap, is scored exactly in Neo4j over its own nodes
#   (EXACT_QUERY_CYPHER through the ecosystem_id range index): recall 1;
# * a larger one asks the index for ``max(k * oversample, min_candidates) / share``
#   candidates (at most LORE_MAX_VECTOR_CANDIDATES), so that about ``min_candidates`` of
#   them are its own, keeps its own, and widens fourfold while fewer than ``k`` survive;
#   at the cap it falls back to the exact plan. A query of one ecosystem never returns
#   another's chunks: every plan filters on ecosystem_id in the same statement.

# The three figures are settings (LORE_VECTOR_EXACT_MAX_CHUNKS 3,000, LORE_VECTOR_OVERSAMPLE
# 4, LORE_VECTOR_MIN_CANDIDATES 20). HNSW's search list is the candidate count: Lucene's
# time grows with it (bench_lore: k 10 ~15 ms, 100 ~35 ms, 1,000 ~110 ms on the shared
# machine), recall too; 4 x k measured recall@10 >= 0.95 (docs/lore.md).
LORE_VECTOR_STATS_SECONDS = 30.0

_stats: dict[str, tuple[float, int, int]] = {}  # ecosystem -> (read at, total, mine)
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


def lore_index_stats(ecosystem_id: object) -> tuple[int, int]:
    """``(chunks in the index, chunks of this ecosystem)``, cached per process for
    LORE_VECTOR_STATS_SECONDS (both from Neo4j's counts: the count store and the range
    index)."""
    key = str(ecosystem_id)
    now = time.monotonic()
    with _stats_lock:
        cached = _stats.get(key)
    if cached is not None and now - cached[0] < LORE_VECTOR_STATS_SECONDS:
        return cached[1], cached[2]
    total, mine = _read(STATS_CYPHER, {"ecosystem_id": key})[0]
    with _stats_lock:
        _stats[key] = (now, int(total), int(mine))
    return int(total), int(mine)


def lore_vector_query(
    *,
    ecosystem_id: object,
    vector: np.ndarray,
    k: int,
    character_id: object | None = None,
    model: str | None = None,
) -> list[tuple[int, float]]:
    """Top ``k`` chunk ids of one ecosystem by cosine, from Neo4j: the vector index with
    over-fetching, or an exact scan of the ecosystem's own nodes (see above). A Neo4j error
    goes up: the caller answers 503."""
    lore_index_install(len(vector))
    params: dict[str, Any] = {
        "index": LORE_INDEX_NAME,
        "vector": np.asarray(vector, dtype=np.float32).tolist(),
        "ecosystem_id": str(ecosystem_id),
        "model": model or configured_model_name(),
        "character_id": str(character_id) if character_id else None,
        "k": int(k),
    }
    total, mine = lore_index_stats(ecosystem_id)
    exact_max = settings.LORE_VECTOR_EXACT_MAX_CHUNKS
    cap = settings.LORE_MAX_VECTOR_CANDIDATES
    wanted = max(k * settings.LORE_VECTOR_OVERSAMPLE, settings.LORE_VECTOR_MIN_CANDIDATES)
    share = mine / total if total else 0.0
    if mine <= exact_max or share <= 0 or wanted / share > cap:
        return _scores(_read(EXACT_QUERY_CYPHER, params))
    candidates = min(cap, math.ceil(wanted / share))
    while True:
        rows = _read(QUERY_CYPHER, {**params, "candidates": candidates})
        if len(rows) >= k or candidates >= total:
            return _scores(rows)  # enough, or every node of the index was a candidate
        if candidates >= cap:
            # The ecosystem (or the character's part of it) is too thin in the index.
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
