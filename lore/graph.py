"""Lore chunks -> Neo4j's native vector index (docs/lore.md "Search").

The same scheme as the relationship graph (relationships/graph.py, docs/graph.md): a chunk's
``version`` is bumped when what Neo4j holds about it changes; a write keeps a version only
over an older one; ``graph_version`` is raised only after Neo4j committed, and only to the
version sent. Repeats, reordered tasks and outages can only delay the index, never corrupt
it. Removed chunks are deleted by uid (on commit of the delete) and swept by the reconcile.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db.models import F
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from relationships.graph import GRAPH_UNAVAILABLE_ERRORS, graph_cypher, graph_is_configured

from .models import Chunk

logger = logging.getLogger(__name__)

LORE_INDEX_NAME = "lore_chunk_embedding"
LORE_SYNC_BATCH_SIZE = 500
LORE_SYNC_QUEUED_FLAG_SECONDS = 30

UPSERT_CYPHER = """
UNWIND $rows AS row
MERGE (c:LoreChunk {uid: row.uid})
WITH c, row
WHERE c.version IS NULL OR c.version < row.version
SET c.ecosystem_id = row.ecosystem_id,
    c.document_id = row.document_id,
    c.character_ids = row.character_ids,
    c.embedding_model = row.embedding_model,
    c.embedding = row.embedding,
    c.version = row.version
RETURN count(c) AS written
"""

DELETE_CYPHER = """
UNWIND $uids AS uid
MATCH (c:LoreChunk {uid: uid})
DELETE c
RETURN count(*) AS removed
"""

QUERY_CYPHER = """
CALL db.index.vector.queryNodes($index, $candidates, $vector) YIELD node, score
WHERE node.ecosystem_id = $ecosystem_id
  AND ($character_id IS NULL OR size(node.character_ids) = 0
       OR $character_id IN node.character_ids)
RETURN node.uid AS uid, score
LIMIT $k
"""


def lore_index_statements(dimension: int) -> list[str]:
    # The dimension is an integer from the embedder, never user input.
    return [
        "CREATE CONSTRAINT lore_chunk_uid IF NOT EXISTS FOR (c:LoreChunk) REQUIRE c.uid IS UNIQUE",
        "CREATE INDEX lore_chunk_ecosystem IF NOT EXISTS FOR (c:LoreChunk) ON (c.ecosystem_id)",
        f"CREATE VECTOR INDEX {LORE_INDEX_NAME} IF NOT EXISTS FOR (c:LoreChunk) ON c.embedding "
        f"OPTIONS {{indexConfig: {{`vector.dimensions`: {int(dimension)}, "
        "`vector.similarity_function`: 'cosine'}}",
    ]


_index_ready: set[int] = set()


def lore_index_install(dimension: int) -> None:
    """Create the constraint and the vector index if missing (idempotent)."""
    if dimension in _index_ready:
        return
    for statement in lore_index_statements(dimension):
        graph_cypher(statement)
    _index_ready.add(dimension)


def lore_index_dimension() -> int | None:
    """The dimension of the existing vector index, or None when there is none."""
    rows = graph_cypher(
        "SHOW INDEXES YIELD name, options WHERE name = $name RETURN options",
        {"name": LORE_INDEX_NAME},
    )
    if not rows:
        return None
    config = (rows[0][0] or {}).get("indexConfig") or {}
    dimension = config.get("vector.dimensions")
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


def lore_remove_enqueue(*, chunk_ids: Sequence[int]) -> None:
    if not graph_is_configured() or not chunk_ids:
        return
    from .tasks import lore_graph_remove

    try:
        lore_graph_remove.delay([int(pk) for pk in chunk_ids])
    except (KombuOperationalError, OSError) as error:
        logger.warning("lore removal not enqueued (%s); the reconcile sweeps it", error)


def _rows(chunks: Sequence[Any], characters: dict[int, list[str]]) -> list[dict]:
    return [
        {
            "uid": str(chunk["pk"]),
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


def lore_remove_chunks(*, chunk_ids: Sequence[int]) -> int:
    removed = 0
    for start in range(0, len(chunk_ids), 5000):
        rows = graph_cypher(
            DELETE_CYPHER, {"uids": [str(pk) for pk in chunk_ids[start : start + 5000]]}
        )
        removed += int(rows[0][0]) if rows else 0
    return removed


def lore_remove_orphans(*, ecosystem_id: object | None = None) -> int:
    """Delete LoreChunk nodes whose chunk no longer exists in the database."""
    query = "MATCH (c:LoreChunk) RETURN c.uid"
    params: dict[str, Any] = {}
    if ecosystem_id is not None:
        query = "MATCH (c:LoreChunk {ecosystem_id: $ecosystem_id}) RETURN c.uid"
        params = {"ecosystem_id": str(ecosystem_id)}
    uids = [int(row[0]) for row in graph_cypher(query, params) if str(row[0]).isdigit()]
    existing: set[int] = set()
    for start in range(0, len(uids), 5000):
        existing.update(
            Chunk.objects.filter(pk__in=uids[start : start + 5000]).values_list("pk", flat=True)
        )
    return lore_remove_chunks(chunk_ids=[pk for pk in uids if pk not in existing])


def lore_vector_query(
    *, ecosystem_id: object, vector: np.ndarray, k: int, character_id: object | None = None
) -> list[tuple[int, float]]:
    """Top ``k`` chunk ids by cosine from Neo4j's vector index. The index spans every
    ecosystem, so it asks for more candidates and filters, widening until it has ``k`` or
    the index has no more (a Neo4j error goes up: the caller answers 503)."""
    lore_index_install(len(vector))
    candidates = max(4 * k, 50)
    vector_list = np.asarray(vector, dtype=np.float32).tolist()
    while True:
        rows = graph_cypher(
            QUERY_CYPHER,
            {
                "index": LORE_INDEX_NAME,
                "candidates": candidates,
                "vector": vector_list,
                "ecosystem_id": str(ecosystem_id),
                "character_id": str(character_id) if character_id else None,
                "k": k,
            },
        )
        if len(rows) >= k or candidates >= settings.LORE_MAX_VECTOR_CANDIDATES:
            # Neo4j's cosine score is (1 + cos) / 2; report the cosine like the exact search.
            return [(int(uid), 2.0 * float(score) - 1.0) for uid, score in rows]
        candidates = min(candidates * 8, settings.LORE_MAX_VECTOR_CANDIDATES)


__all__ = ["GRAPH_UNAVAILABLE_ERRORS"]
