"""Writing and recalling the memory stream (docs/models.md, "Memory").

The engine calls three things, each cheap enough for the hot path:

* ``memories_recall`` in its plan step (no lock): the top memories of each speaker, ranked
  by recency, importance and relevance to one query embedded once;
* ``memory_embedding`` before its apply transaction: the exchange's vector;
* ``memories_form`` inside the apply transaction (both characters locked): one memory per
  participant and the running importance and count in one statement (PostgreSQL), a reflection
  when the importance since the last one passes the threshold, pruning past the retention.
  It answers the events to append with the interaction's own.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection
from django.db.models import UUIDField

from characters.models import Character
from core.db import insert_statement, rows_execute, rows_fetch, rows_insert, rows_mark_saved
from core.embeddings import (
    Embedder,
    EmbeddingModelUnavailable,
    configured_model_name,
    load_embedder,
)
from eventlog import types as event_types
from eventlog.types import EventSpec
from relationships.dynamics import RelationshipState, relationship_label_of

from . import scoring
from .models import Memory, MemoryStream
from .recalled import RecalledMemory

# The candidates a recall scores, per speaker: its latest memories of the listener and
# its most important memories of anyone (reflections included). Few, so recall stays
# well under a millisecond after the query's embedding.
RECALL_PAIR_RECENT = 10
RECALL_TOP_IMPORTANT = 5
REFLECTION_WINDOW = 40  # at most this many memories since the last reflection are read
# Query texts embedded per process and model (4,096 x 256 float32: 4 MiB).
QUERY_VECTOR_CACHE_SIZE = 4096
RETENTION_SLACK = 0.1  # prune once a stream holds 10% more than the retention
SNAPPED_SENTIMENT = -0.05
KIND_SENTIMENT = 0.05
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # before any memory: "no reflection yet"

_UUID = UUIDField()
logger = logging.getLogger(__name__)


def setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def _db_uuid(value: uuid.UUID | str) -> Any:
    return _UUID.get_db_prep_value(uuid.UUID(str(value)), connection)


@dataclass(frozen=True)
class Embedding:
    vector: bytes
    model: str
    dimension: int


NO_EMBEDDING = Embedding(b"", "", 0)

_load_lock = threading.Lock()
_loaded: dict[str, Embedder | None] = {}  # model name -> the model (None: unavailable)
_loading: set[str] = set()


def _load(name: str) -> Embedder | None:
    with _load_lock:  # one load per process, however many threads ask at once
        if name not in _loaded:
            try:
                _loaded[name] = load_embedder(name)
            except EmbeddingModelUnavailable as error:
                logger.warning("Memories are stored without vectors: %s", error)
                _loaded[name] = None
        return _loaded[name]


def embedder_preload() -> None:
    """Loads the configured model (apps.MemoriesConfig.ready starts this in a thread)."""
    name = configured_model_name()
    with _load_lock:
        if name in _loading or name in _loaded:
            return
        _loading.add(name)
    _load(name)


def embedder_ready() -> Embedder | None:
    """The embedding model, never loaded inside a transaction: loading takes about a second,
    and a transaction holding locks must not wait on it. Inside one (a scenario's turn) the
    first call starts the load in the background and answers None (memories formed then
    carry no vector and rank by recency and importance alone)."""
    name = configured_model_name()
    if name in _loaded:
        return _loaded[name]
    if not connection.in_atomic_block:
        return _load(name)
    with _load_lock:
        if name in _loading or name in _loaded:
            return _loaded.get(name)
        _loading.add(name)
    threading.Thread(target=_load, args=(name,), name="embedder-load", daemon=True).start()
    return None


def memory_embedding(text: str) -> Embedding:
    """``text`` embedded with the configured model; no vector while the model is absent or
    still loading (such a memory ranks by recency and importance only)."""
    model = embedder_ready()
    if model is None:
        return NO_EMBEDDING
    vectors = model.embed([text])
    return Embedding(vectors[0].astype(np.float32).tobytes(), model.name, model.dimension)


def query_vector(text: str) -> np.ndarray | None:
    """``text``'s vector to rank memories or lore against (read-only: it may be shared), or
    None while the model is absent or loading."""
    model = embedder_ready()
    if model is None:
        return None
    return _query_vector(model.name, text)


@lru_cache(maxsize=QUERY_VECTOR_CACHE_SIZE)
def _query_vector(model_name: str, text: str) -> np.ndarray:
    """What an exchange is about repeats (a scenario's few pairs and four interaction types
    in one setting): each query text is embedded once per process and model (~3% of a
    scenario worker's time when embedded on every turn, py-spy)."""
    model = _loaded[model_name]
    assert model is not None  # query_vector asks only once it is loaded
    vector = model.embed([text])[0].astype(np.float32)
    vector.flags.writeable = False
    return vector


# --- recall -------------------------------------------------------------------------------

_RECALL_COLUMNS = (
    "id, character_id, counterpart_id, kind, text, heard, importance, {created_epoch}, "
    "interaction_type, sentiment, embedding, embedding_model, embedding_dimension"
)
# ``created`` as seconds since the epoch, all a recall needs of it: the database's own
# arithmetic instead of a timestamp parsed in Python for every candidate (that parsing was
# a tenth of the recall's time, py-spy).
_CREATED_EPOCH = {
    "postgresql": "date_part('epoch', created)",
    "sqlite": "(julianday(created) - 2440587.5) * 86400.0",
}


@lru_cache(maxsize=1)
def _recall_branches() -> tuple[str, str]:
    table = connection.ops.quote_name(Memory._meta.db_table)
    columns = _RECALL_COLUMNS.format(created_epoch=_CREATED_EPOCH[connection.vendor])
    pair = (
        f"SELECT * FROM (SELECT {columns} FROM {table} "  # noqa: S608
        "WHERE character_id = %s AND counterpart_id = %s ORDER BY created DESC LIMIT %s) AS {alias}"
    )
    top = (
        f"SELECT * FROM (SELECT {columns} FROM {table} "  # noqa: S608
        "WHERE character_id = %s ORDER BY importance DESC LIMIT %s) AS {alias}"
    )
    return pair, top


def memories_recall(
    *,
    pairs: list[tuple[uuid.UUID, uuid.UUID]],
    query_text: str,
    now: datetime,
    k: int | None = None,
    embed: Callable[[str], np.ndarray | None] = query_vector,
) -> dict[uuid.UUID, tuple[RecalledMemory, ...]]:
    """For each ``(speaker_id, listener_id)``: the speaker's top ``k`` memories
    (``MEMORY_RECALL_K``) by the retrieval score against ``query_text``, best first. One
    query for all pairs; the query text is embedded once, by ``embed``, and only when there
    are memories to rank."""
    k = int(setting("MEMORY_RECALL_K", 3)) if k is None else k
    if not pairs or k <= 0:
        return {}
    pair_sql, top_sql = _recall_branches()
    branches: list[str] = []
    params: list[Any] = []
    for index, (speaker_id, listener_id) in enumerate(pairs):
        branches.append(pair_sql.format(alias=f"p{index}"))
        params += [_db_uuid(speaker_id), _db_uuid(listener_id), RECALL_PAIR_RECENT]
        branches.append(top_sql.format(alias=f"t{index}"))
        params += [_db_uuid(speaker_id), RECALL_TOP_IMPORTANT]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(branches), params)
        rows = [_Candidate.of(row) for row in cursor.fetchall()]
    if not rows:
        return {}
    vector = embed(query_text)
    half_life = float(
        setting("MEMORY_RECENCY_HALF_LIFE_SECONDS", scoring.RECENCY_HALF_LIFE_SECONDS)
    )
    by_speaker: dict[uuid.UUID, dict[uuid.UUID, _Candidate]] = defaultdict(dict)
    for row in rows:
        by_speaker[row.character_id][row.id] = row
    recalled: dict[uuid.UUID, tuple[RecalledMemory, ...]] = {}
    for speaker_id, _listener_id in pairs:
        candidates = list(by_speaker.get(speaker_id, {}).values())
        if not candidates:
            continue
        ages = [max(0.0, now.timestamp() - memory.created_epoch) for memory in candidates]
        scores = scoring.retrieval_scores(
            ages_seconds=ages,
            importances=[memory.importance for memory in candidates],
            relevances=_relevances(candidates, vector),
            half_life_seconds=half_life,
        )
        ranked = sorted(range(len(candidates)), key=lambda i: (-scores[i], ages[i]))[:k]
        recalled[speaker_id] = tuple(
            RecalledMemory(
                id=str(candidates[i].id),
                kind=candidates[i].kind,
                text=candidates[i].text,
                heard=candidates[i].heard,
                counterpart_id=candidates[i].counterpart_id,
                interaction_type=candidates[i].interaction_type,
                sentiment=candidates[i].sentiment,
                importance=candidates[i].importance,
                score=round(scores[i], 4),
                age_seconds=ages[i],
            )
            for i in ranked
        )
    return recalled


@dataclass(frozen=True)
class _Candidate:
    """A row of the recall query (plain values: building model instances cost more than
    the query)."""

    id: uuid.UUID
    character_id: uuid.UUID
    counterpart_id: str | None
    kind: str
    text: str
    heard: str
    importance: float
    created_epoch: float
    interaction_type: str
    sentiment: float
    embedding: bytes
    embedding_model: str
    embedding_dimension: int

    @classmethod
    def of(cls, row: tuple[Any, ...]) -> _Candidate:
        return cls(
            id=_as_uuid(row[0]),
            character_id=_as_uuid(row[1]),
            counterpart_id=str(_as_uuid(row[2])) if row[2] else None,
            kind=row[3],
            text=row[4],
            heard=row[5],
            importance=float(row[6]),
            created_epoch=float(row[7]),
            interaction_type=row[8],
            sentiment=float(row[9]),
            embedding=bytes(row[10] or b""),
            embedding_model=row[11],
            embedding_dimension=int(row[12]),
        )


def _as_uuid(value: Any) -> uuid.UUID:
    """A UUID column's value: a UUID from PostgreSQL already, 32 hex digits from SQLite."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _relevances(memories: Sequence[Memory | _Candidate], vector: np.ndarray | None) -> list[float]:
    """Cosine of each memory's vector to the query (0 where either has none or the models
    differ: ``manage.py reembed`` brings them back in line)."""
    if vector is None:
        return [0.0] * len(memories)
    relevances = []
    for memory in memories:
        stored = bytes(memory.embedding or b"")
        if memory.embedding_dimension != len(vector) or len(stored) != 4 * len(vector):
            relevances.append(0.0)
            continue
        relevances.append(float(np.frombuffer(stored, dtype=np.float32) @ vector))
    return relevances


def memories_ranked(
    *, character: Character, query_text: str | None, limit: int, now: datetime
) -> list[tuple[Memory, float | None]]:
    """The API's view: the character's memories, newest first, or ranked by the retrieval
    score against ``query_text`` (over its newest ``MEMORY_RETENTION_PER_CHARACTER``)."""
    queryset = Memory.objects.filter(character=character).select_related(
        "counterpart", "interaction"
    )
    if not query_text:
        return [(memory, None) for memory in queryset.order_by("-created")[:limit]]
    retention = int(setting("MEMORY_RETENTION_PER_CHARACTER", 500))
    candidates = list(queryset.order_by("-created")[: retention * 2])
    if not candidates:
        return []
    scores = scoring.retrieval_scores(
        ages_seconds=[max(0.0, (now - memory.created).total_seconds()) for memory in candidates],
        importances=[memory.importance for memory in candidates],
        relevances=_relevances(candidates, query_vector(query_text)),
        half_life_seconds=float(
            setting("MEMORY_RECENCY_HALF_LIFE_SECONDS", scoring.RECENCY_HALF_LIFE_SECONDS)
        ),
    )
    ranked = sorted(zip(candidates, scores, strict=True), key=lambda pair: -pair[1])
    return [(memory, round(score, 4)) for memory, score in ranked[:limit]]


# --- forming ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    """One participant's side of an interaction, as the engine measured it."""

    character_id: uuid.UUID
    character_name: str
    counterpart_id: uuid.UUID
    counterpart_name: str
    initiated: bool
    said: str
    heard: str
    interaction_type: str
    heard_sentiment: float
    strength_delta: float
    trust_delta: float
    strength_after: float
    trust_after: float
    interaction_count: int


def exchange_text(exchange: Exchange) -> str:
    other = exchange.counterpart_name
    if exchange.initiated:
        text = f'I said to {other}: "{exchange.said}" {other} answered: "{exchange.heard}"'
    else:
        text = f'{other} said to me: "{exchange.heard}" I answered: "{exchange.said}"'
    if exchange.heard_sentiment <= -0.3:
        text += " It stung."
    elif exchange.heard_sentiment >= 0.3:
        text += " It felt warm."
    return text


def memories_form(
    *,
    ecosystem_id: uuid.UUID,
    interaction_id: uuid.UUID,
    exchanges: list[Exchange],
    embedding: Embedding,
    now: datetime,
) -> list[EventSpec]:
    """One memory per participant, in the caller's transaction (the characters locked).
    Answers the events: ``memory_formed``, and ``reflection_formed`` for each reflection."""
    memories = [
        Memory(
            ecosystem_id=ecosystem_id,
            character_id=exchange.character_id,
            kind=Memory.Kind.MEMORY,
            text=exchange_text(exchange),
            heard=exchange.heard,
            importance=round(
                scoring.importance(
                    interaction_type=exchange.interaction_type,
                    sentiment=exchange.heard_sentiment,
                    strength_delta=exchange.strength_delta,
                    trust_delta=exchange.trust_delta,
                ),
                4,
            ),
            created=now,
            interaction_id=interaction_id,
            counterpart_id=exchange.counterpart_id,
            interaction_type=exchange.interaction_type,
            sentiment=exchange.heard_sentiment,
            strength_delta=exchange.strength_delta,
            trust_delta=exchange.trust_delta,
            strength_after=exchange.strength_after,
            trust_after=exchange.trust_after,
            embedding=embedding.vector,
            embedding_model=embedding.model,
            embedding_dimension=embedding.dimension,
        )
        for exchange in exchanges
    ]
    streams = _memories_insert(memories)
    names = {str(e.character_id): e.character_name for e in exchanges}
    events: list[EventSpec] = [
        event_types.memory_formed(
            interaction_id=str(interaction_id),
            memories=[
                {
                    "memory_id": str(memory.pk),
                    "character_id": str(memory.character_id),
                    "name": names[str(memory.character_id)],
                    "counterpart_id": str(memory.counterpart_id),
                    "importance": memory.importance,
                    "text": memory.text,
                }
                for memory in memories
            ],
        )
    ]
    threshold = float(setting("MEMORY_REFLECTION_THRESHOLD", scoring.REFLECTION_THRESHOLD))
    retention = int(setting("MEMORY_RETENTION_PER_CHARACTER", 500))
    for exchange in exchanges:
        accumulated, count = streams[exchange.character_id]
        if accumulated >= threshold:
            reflection = _reflect(exchange, ecosystem_id=ecosystem_id, now=now)
            if reflection is not None:
                events.append(reflection)
                count += 1
        if count > retention * (1 + RETENTION_SLACK):
            _prune(exchange.character_id, retention=retention, now=now)
    return events


def _memories_insert(memories: list[Memory]) -> dict[uuid.UUID, tuple[float, int]]:
    """Inserts the memories and adds each one's importance and one to its character's
    stream. On PostgreSQL in one statement (the INSERT a data-modifying CTE of the upsert):
    one round trip instead of two on the interaction's hot path."""
    if connection.vendor != "postgresql":
        rows_insert(memories)
        return _stream_add(memories)
    insert_sql, insert_params = insert_statement(memories)
    upsert_sql, upsert_params = _stream_add_sql(memories)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH inserted AS ({insert_sql}) {upsert_sql}", insert_params + upsert_params
        )
        rows = cursor.fetchall()
    rows_mark_saved(memories)
    return {uuid.UUID(str(row[0])): (float(row[1]), int(row[2])) for row in rows}


def _stream_add(memories: list[Memory]) -> dict[uuid.UUID, tuple[float, int]]:
    """Adds each memory's importance and one to its character's stream, in one upsert;
    answers ``{character_id: (importance since the last reflection, memory count)}``."""
    sql, params = _stream_add_sql(memories)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {uuid.UUID(str(row[0])): (float(row[1]), int(row[2])) for row in rows}


def _stream_add_sql(memories: list[Memory]) -> tuple[str, list[Any]]:
    table = connection.ops.quote_name(MemoryStream._meta.db_table)
    values = ", ".join(["(%s, %s, 1)"] * len(memories))
    params: list[Any] = []
    for memory in memories:
        params += [_db_uuid(memory.character_id), memory.importance]
    sql = (
        f"INSERT INTO {table} (character_id, importance_since_reflection, memory_count) "  # noqa: S608
        f"VALUES {values} ON CONFLICT (character_id) DO UPDATE SET "
        f"importance_since_reflection = {table}.importance_since_reflection "
        "+ excluded.importance_since_reflection, "
        f"memory_count = {table}.memory_count + 1 "
        "RETURNING character_id, importance_since_reflection, memory_count"
    )
    return sql, params


def reflection_text(
    *,
    counterpart_name: str,
    snapped: int,
    kind: int,
    talks: int,
    strength: float,
    trust: float,
    interaction_count: int,
) -> str:
    """The template backend's reflection, written from the figures."""
    name = counterpart_name
    if snapped >= 2 and snapped >= kind:
        feeling = (
            f"I don't trust {name}"
            if trust < 0.45 or strength < 0
            else f"but I still think well of {name}"
        )
        separator = ";" if feeling.startswith("I") else ","
        return (
            f"{name} has snapped at me {scoring.times_words(snapped)} lately{separator} {feeling}."
        )
    if kind >= 2:
        feeling = f"I feel close to {name}" if strength >= 0.3 else f"I am starting to like {name}"
        return f"{name} has been kind to me {scoring.times_words(kind)} lately; {feeling}."
    label = relationship_label_of(
        RelationshipState(strength=strength, trust=trust, interaction_count=interaction_count)
    )
    article = "an" if label[0] in "aeiou" else "a"
    talked = scoring.times_words(talks)
    return f"I have talked with {name} {talked} lately; to me {name} is {article} {label}."


@dataclass(frozen=True)
class _Source:
    """A memory a reflection reads: the figures, not the text and the vector (~1 KiB)."""

    pk: uuid.UUID
    counterpart_id: uuid.UUID | None
    importance: float
    sentiment: float
    interaction_type: str
    strength_after: float
    trust_after: float


@lru_cache(maxsize=1)
def _reflection_sql() -> tuple[str, str]:
    """A reflection's two statements, written once (the ORM compiled the subquery and the
    update on every reflection, and a scenario's small cast reflects every few turns):
    its character's memories since its last reflection, newest first (parameters: the
    character, the memory kind, the character, the reflection kind, the epoch, the window);
    and the stream's restart (parameter: the character)."""
    memories = connection.ops.quote_name(Memory._meta.db_table)
    stream = connection.ops.quote_name(MemoryStream._meta.db_table)
    sources = (
        "SELECT id, counterpart_id, importance, sentiment, interaction_type, "  # noqa: S608
        f"strength_after, trust_after FROM {memories} "
        "WHERE character_id = %s AND kind = %s AND created > COALESCE("
        f"(SELECT created FROM {memories} WHERE character_id = %s AND kind = %s "
        "ORDER BY created DESC LIMIT 1), %s) "
        "ORDER BY created DESC LIMIT %s"
    )
    # The accumulator restarts and the reflection counts, in one statement.
    restart = (
        f"UPDATE {stream} SET importance_since_reflection = 0.0, "  # noqa: S608
        "memory_count = memory_count + 1 WHERE character_id = %s"
    )
    return sources, restart


def _reflection_sources(character_id: uuid.UUID) -> list[_Source]:
    sources_sql, _restart_sql = _reflection_sql()
    rows = rows_fetch(
        sources_sql,
        [
            character_id,
            Memory.Kind.MEMORY.value,
            character_id,
            Memory.Kind.REFLECTION.value,
            connection.ops.adapt_datetimefield_value(EPOCH),
            REFLECTION_WINDOW,
        ],
    )
    return [
        _Source(
            pk=_as_uuid(row[0]),
            counterpart_id=_as_uuid(row[1]) if row[1] else None,
            importance=float(row[2]),
            sentiment=float(row[3]),
            interaction_type=row[4],
            strength_after=float(row[5]),
            trust_after=float(row[6]),
        )
        for row in rows
    ]


def _reflect(exchange: Exchange, *, ecosystem_id: uuid.UUID, now: datetime) -> EventSpec | None:
    """A reflection of ``exchange``'s character over its memories since its last one,
    about the counterpart that weighed most among them; resets the accumulator."""
    character_id = exchange.character_id
    sources = _reflection_sources(character_id)
    weight: dict[uuid.UUID, float] = defaultdict(float)
    for memory in sources:
        if memory.counterpart_id is not None:
            weight[memory.counterpart_id] += memory.importance
    if not weight:
        MemoryStream.objects.filter(character_id=character_id).update(
            importance_since_reflection=0.0
        )
        return None
    counterpart_id = max(weight, key=lambda key: (weight[key], str(key)))
    cited = [memory for memory in sources if memory.counterpart_id == counterpart_id]
    newest = cited[0]
    if counterpart_id == exchange.counterpart_id:
        counterpart_name = exchange.counterpart_name
    else:
        counterpart_name = (
            Character.objects.filter(pk=counterpart_id).values_list("name", flat=True).first()
            or "someone"
        )
    text = reflection_text(
        counterpart_name=counterpart_name,
        snapped=sum(
            1
            for m in cited
            if m.sentiment <= SNAPPED_SENTIMENT
            or (m.interaction_type == "conflict" and m.sentiment < KIND_SENTIMENT)
        ),
        kind=sum(
            1 for m in cited if m.sentiment >= KIND_SENTIMENT and m.interaction_type != "conflict"
        ),
        talks=len(cited),
        strength=newest.strength_after,
        trust=newest.trust_after,
        interaction_count=max(exchange.interaction_count, len(cited)),
    )
    embedding = memory_embedding(text)
    reflection = Memory(
        ecosystem_id=ecosystem_id,
        character_id=character_id,
        kind=Memory.Kind.REFLECTION,
        text=text,
        importance=round(scoring.reflection_importance([m.importance for m in cited]), 4),
        created=now,
        counterpart_id=counterpart_id,
        strength_after=newest.strength_after,
        trust_after=newest.trust_after,
        embedding=embedding.vector,
        embedding_model=embedding.model,
        embedding_dimension=embedding.dimension,
        cited_ids=[str(m.pk) for m in reversed(cited)],
    )
    rows_insert([reflection])
    rows_execute(_reflection_sql()[1], [character_id])
    return event_types.reflection_formed(
        memory_id=str(reflection.pk),
        character_id=str(character_id),
        name=exchange.character_name,
        counterpart_id=str(counterpart_id),
        counterpart_name=counterpart_name,
        text=text,
        importance=reflection.importance,
        cited_ids=list(reflection.cited_ids),
    )


def _prune(character_id: uuid.UUID, *, retention: int, now: datetime) -> int:
    """Keeps the character's ``retention`` memories of highest ``recency + importance``
    (docs/models.md); deletes the rest. Answers how many went."""
    rows = list(
        Memory.objects.filter(character_id=character_id).values_list("id", "created", "importance")
    )
    if len(rows) <= retention:
        MemoryStream.objects.filter(character_id=character_id).update(memory_count=len(rows))
        return 0
    scores = scoring.retention_scores(
        ages_seconds=[max(0.0, (now - created).total_seconds()) for _, created, _ in rows],
        importances=[value for _, _, value in rows],
    )
    order = sorted(range(len(rows)), key=lambda i: (-scores[i], -rows[i][1].timestamp()))
    doomed = [rows[i][0] for i in order[retention:]]
    Memory.objects.filter(pk__in=doomed).delete()
    MemoryStream.objects.filter(character_id=character_id).update(memory_count=retention)
    return len(doomed)
