"""Reads of lore: documents, keyed entries, retrieval and search (docs/lore.md)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet
from redis.exceptions import RedisError

from characters.models import Ecosystem
from characters.selectors import get_or_404
from core.embeddings import cosine_scores, embedder, top_k_rows
from core.errors import ServiceUnavailableError
from relationships.graph import GRAPH_UNAVAILABLE_ERRORS, graph_is_configured

from .keyed import KeyedEntry, KeyMatcher
from .models import Chunk, Document

# Without a shared generation stamp (cache evicted or down), a process rebuilds its
# in-memory copy of an ecosystem's lore at most this stale.
LORE_LOCAL_MAX_AGE_SECONDS = 30.0
# A process asks the shared stamp at most this often per ecosystem: the plan step reads
# lore twice per interaction, and a Redis round trip per read cost more than the search.
# A write made by another process is seen within this long (by this one, at once).
LORE_GENERATION_CHECK_SECONDS = 0.5


@dataclass(frozen=True)
class LoreHit:
    text: str
    score: float
    document_id: int
    document_title: str
    position: int
    keys: list[str] = field(default_factory=list)
    triggered: bool = False


def document_list(*, ecosystem: Ecosystem) -> QuerySet[Document]:
    return Document.objects.filter(ecosystem=ecosystem).prefetch_related("characters")


def document_get(*, user: Any, document_id: object, ecosystem_id: object | None = None) -> Document:
    """The user's document, or 404 (also for another user's document)."""
    documents = Document.objects.filter(ecosystem__owner=user).select_related("ecosystem")
    if ecosystem_id is not None:
        ecosystem = get_or_404(Ecosystem.objects.filter(owner=user), ecosystem_id)
        documents = documents.filter(ecosystem=ecosystem)
    return get_or_404(documents.prefetch_related("characters"), document_id)


# --------------------------------------------------------------- in-process lore snapshot
#
# Each process keeps, per (ecosystem, embedding model, dimension), the enabled documents'
# chunk vectors as one C-contiguous float32 matrix, rows normalised once at load, beside
# their texts, the keyed-entry matcher and per-character visibility masks. Exact search is
# then one matrix-vector product and a partial sort. A write to the ecosystem's lore bumps a
# shared generation stamp (Redis) on commit: every process reloads on its next read. A
# different configured model (``manage.py reembed``) reads another key, never vectors of
# another model.


def lore_generation_key(ecosystem_id: object) -> str:
    return f"lore-generation:{ecosystem_id}"


def lore_generation_bump(ecosystem_id: object) -> None:
    """Called on commit of any lore change: every process reloads that ecosystem's lore."""
    # Redis down: each process's copy ages out after LORE_LOCAL_MAX_AGE_SECONDS instead.
    with contextlib.suppress(RedisError, OSError):
        cache.set(lore_generation_key(ecosystem_id), time.time_ns(), None)
    with _snapshots_lock:
        for key in [key for key in _snapshots if key[0] == str(ecosystem_id)]:
            del _snapshots[key]


@dataclass
class _Snapshot:
    generation: Any
    loaded_at: float
    chunk_ids: np.ndarray
    matrix: np.ndarray  # (rows, dimension) float32, C-contiguous, unit rows
    # per row: (text, document_id, position)
    rows: list[tuple[str, int, int]]
    documents: dict[int, tuple[str, list[str], frozenset[str]]]  # title, keys, characters
    matcher: KeyMatcher
    first_chunk: dict[int, int]  # document id -> row of its first chunk
    model: str
    row_documents: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    checked_at: float = field(default_factory=time.monotonic)  # when the stamp last matched
    # character id -> rows that character may see (None: every row); filled on demand.
    visible_masks: dict[str, np.ndarray | None] = field(default_factory=dict)


SnapshotKey = tuple[str, str, int]  # ecosystem id, embedding model, dimension
_snapshots: dict[SnapshotKey, _Snapshot] = {}
_snapshots_lock = threading.Lock()


def _load_snapshot(
    ecosystem_id: str, generation: Any, model_name: str, dimension: int
) -> _Snapshot:
    documents: dict[int, tuple[str, list[str], frozenset[str]]] = {}
    entries: list[KeyedEntry] = []
    characters: dict[int, set[str]] = {}
    for document_id, character_id in Document.characters.through.objects.filter(
        document__ecosystem_id=ecosystem_id
    ).values_list("document_id", "character_id"):
        characters.setdefault(document_id, set()).add(str(character_id))
    for pk, title, keys, secondary, constant, order in Document.objects.filter(
        ecosystem_id=ecosystem_id, enabled=True
    ).values_list("pk", "title", "keys", "secondary_keys", "constant", "order"):
        documents[pk] = (title, list(keys or []), frozenset(characters.get(pk, ())))
        if keys or constant:
            entries.append(
                KeyedEntry(pk, tuple(keys or ()), tuple(secondary or ()), constant, order, title)
            )
    chunks = list(
        Chunk.objects.filter(
            ecosystem_id=ecosystem_id,
            document_id__in=list(documents),
            embedding_model=model_name,
            dimension=dimension,
        )
        .order_by("document_id", "position")
        .values_list("pk", "document_id", "position", "text", "embedding")
    )
    # One buffer, one copy: the rows are stored little-endian float32 of ``dimension`` values.
    matrix = (
        np.frombuffer(b"".join(bytes(chunk[4]) for chunk in chunks), dtype="<f4")
        .reshape(len(chunks), dimension)
        .astype(np.float32, order="C")
    )
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.divide(matrix, norms, out=matrix, where=norms > 0)
    first_chunk: dict[int, int] = {}
    for row, chunk in enumerate(chunks):
        first_chunk.setdefault(chunk[1], row)
    return _Snapshot(
        generation=generation,
        loaded_at=time.monotonic(),
        chunk_ids=np.array([chunk[0] for chunk in chunks], dtype=np.int64),
        matrix=matrix,
        rows=[(text, document_id, position) for _pk, document_id, position, text, _v in chunks],
        documents=documents,
        matcher=KeyMatcher(entries),
        first_chunk=first_chunk,
        model=model_name,
        row_documents=np.array([chunk[1] for chunk in chunks], dtype=np.int64),
    )


def lore_snapshot(ecosystem_id: object) -> _Snapshot:
    """The process's copy of the ecosystem's lore for the configured embedding model,
    reloaded when a write bumped the generation (or, with the cache down, when older than
    ``LORE_LOCAL_MAX_AGE_SECONDS``)."""
    model = embedder()
    key: SnapshotKey = (str(ecosystem_id), model.name, int(model.dimension))
    with _snapshots_lock:
        snapshot = _snapshots.get(key)
    now = time.monotonic()
    if snapshot is not None and now - snapshot.checked_at < LORE_GENERATION_CHECK_SECONDS:
        return snapshot  # a write in this process drops it at once (lore_generation_bump)
    try:
        generation = cache.get(lore_generation_key(key[0]))
    except (RedisError, OSError):  # redis-py's ConnectionError is not an OSError
        generation = None
    fresh = snapshot is not None and (
        (generation is not None and snapshot.generation == generation)
        or (generation is None and now - snapshot.loaded_at < LORE_LOCAL_MAX_AGE_SECONDS)
    )
    if snapshot is not None and fresh:
        snapshot.checked_at = now
        return snapshot
    snapshot = _load_snapshot(key[0], generation, key[1], key[2])
    with _snapshots_lock:
        _snapshots[key] = snapshot
    return snapshot


def _visible(snapshot: _Snapshot, document_id: int, character_id: object | None) -> bool:
    if character_id is None:
        return True
    tied = snapshot.documents[document_id][2]
    return not tied or str(character_id) in tied


def _visible_mask(snapshot: _Snapshot, character_id: object | None) -> np.ndarray | None:
    """Rows ``character_id`` may see (documents tied to no character or to it); None: all."""
    if character_id is None:
        return None
    key = str(character_id)
    if key not in snapshot.visible_masks:
        hidden = [
            document_id
            for document_id, (_title, _keys, tied) in snapshot.documents.items()
            if tied and key not in tied
        ]
        snapshot.visible_masks[key] = ~np.isin(snapshot.row_documents, hidden) if hidden else None
    return snapshot.visible_masks[key]


# --------------------------------------------------------------- the engine's fast paths


def lore_entries_triggered(
    ecosystem_id: object, text: str, character_id: object | None = None
) -> list[LoreHit]:
    """Keyed entries triggered by ``text`` (and constant ones) that ``character_id`` may
    see (all when None), in entry order."""
    return _triggered(lore_snapshot(ecosystem_id), text, character_id)


def _triggered(snapshot: _Snapshot, text: str, character_id: object | None) -> list[LoreHit]:
    hits = []
    for entry in snapshot.matcher.triggered(text):
        row = snapshot.first_chunk.get(entry.document_id)
        if row is None or not _visible(snapshot, entry.document_id, character_id):
            continue
        chunk_text, document_id, position = snapshot.rows[row]
        title, keys, _ = snapshot.documents[document_id]
        hits.append(LoreHit(chunk_text, 1.0, document_id, title, position, keys, True))
    return hits


def _exact_hits(
    snapshot: _Snapshot, vector: np.ndarray, k: int, character_id: object | None
) -> list[LoreHit]:
    """The ``k`` chunks closest to ``vector`` among those ``character_id`` may see: one
    product over the snapshot's matrix, hidden rows masked out, a partial sort."""
    if not len(snapshot.rows) or k <= 0:
        return []
    scores = cosine_scores(vector, snapshot.matrix)
    mask = _visible_mask(snapshot, character_id)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    hits: list[LoreHit] = []
    for row in top_k_rows(scores, k):
        score = float(scores[row])
        if score == -np.inf:
            break
        text, document_id, position = snapshot.rows[row]
        title, keys, _ = snapshot.documents[document_id]
        hits.append(LoreHit(text, score, document_id, title, position, keys))
    return hits


def lore_retrieve(
    ecosystem_id: object,
    query_text: str,
    k: int,
    character_id: object | None = None,
    embed: Callable[[str], np.ndarray | None] | None = None,
) -> list[LoreHit]:
    """Triggered entries first, then the closest chunks by meaning; at most ``k``.
    In-process and exact (numpy): the plan step never waits on Neo4j. The query is embedded
    only when there are chunks to compare it with, by ``embed`` when given (the engine's
    plan shares one embedding of its query with recall)."""
    if k <= 0:
        return []
    snapshot = lore_snapshot(ecosystem_id)
    hits = _triggered(snapshot, query_text, character_id)[:k]
    seen = {(hit.document_id, hit.position) for hit in hits}
    if len(hits) < k and len(snapshot.rows) and query_text.strip():
        vector = embed(query_text) if embed is not None else embedder().embed([query_text])[0]
        found = _exact_hits(snapshot, vector, k, character_id) if vector is not None else []
        for hit in found:
            if (hit.document_id, hit.position) not in seen and len(hits) < k:
                hits.append(hit)
    return hits


# --------------------------------------------------------------- the search API


class LoreSearchUnavailable(ServiceUnavailableError):
    default_code = "lore_search_unavailable"


def lore_search(
    *, ecosystem: Ecosystem, query: str, k: int, character_id: object | None = None
) -> list[LoreHit]:
    """Search by meaning: Neo4j's vector index in the full stack, exact numpy otherwise."""
    model = embedder()
    vector = model.embed([query])[0]
    if not graph_is_configured() or not settings.LORE_SEARCH_USE_NEO4J:
        return _exact_hits(lore_snapshot(ecosystem.pk), vector, k, character_id)
    from .graph import lore_vector_query

    try:
        ranked = lore_vector_query(
            ecosystem_id=ecosystem.pk,
            vector=vector,
            k=k,
            character_id=character_id,
            model=model.name,
        )
    except GRAPH_UNAVAILABLE_ERRORS as error:
        raise LoreSearchUnavailable(
            "Lore search is unavailable: Neo4j (its vector index) is not answering "
            f"({type(error).__name__}). Documents are kept and the index catches up."
        ) from error
    scores = dict(ranked)
    chunks = {
        chunk.pk: chunk
        for chunk in Chunk.objects.filter(pk__in=list(scores), document__enabled=True)
        .select_related("document")
        .only("pk", "text", "position", "document__id", "document__title", "document__keys")
    }
    return [
        LoreHit(
            chunk.text,
            score,
            chunk.document.pk,
            chunk.document.title,
            chunk.position,
            list(chunk.document.keys or []),
        )
        for pk, score in ranked
        if (chunk := chunks.get(pk)) is not None
    ]


def lore_sync_lag() -> dict[str, Any]:
    """Chunks Neo4j's vector index has not caught up with (health)."""
    from django.db.models import F

    pending = Chunk.objects.filter(version__gt=F("graph_version"))
    oldest = pending.order_by("created").values_list("created", flat=True).first()
    from django.utils import timezone

    return {
        "pending_chunks": pending.count(),
        "oldest_pending_seconds": (
            round((timezone.now() - oldest).total_seconds(), 1) if oldest else 0.0
        ),
    }
