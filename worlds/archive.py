"""World archives: one ecosystem in one versioned file (docs/archives.md).

An archive is gzip-compressed JSON with ``format`` and ``version`` at its top: the ecosystem,
its characters (with their cards and avatars, base64), relationships, lore documents with
their chunks (vectors optional), memories and reflections, scenarios with their user
messages, the interactions (the transcripts) and, when asked for, the event log.

Export (``ecosystem_export_archive``) reads plain rows. Import (``ecosystem_import_archive``)
reads the bytes under two limits (the file's size: 413; the decompressed size, which stops a
gzip bomb: 400), checks every record's fields and types and every reference before anything
is written, embeds again the vectors the archive lacks or that another model made (CPU only,
before the transaction), and then writes the whole world in one transaction under new ids,
with every reference (foreign keys, ids inside JSON such as event payloads, reflections'
sources and the lore a line drew on) remapped. Rows are inserted as they are, not saved
through their models, so timestamps and counters keep their archived values.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import math
import re
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, DataError, IntegrityError, connections, models, transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from characters.models import Character, CharacterCard, Ecosystem
from core.embeddings import configured_model_name, embedder
from core.errors import ApplicationError
from core.jsonlimits import JSONRefused, loads_document
from eventlog.models import Event
from interactions.models import Interaction
from lore.graph import lore_sync_enqueue
from lore.models import Chunk, Document
from lore.selectors import lore_generation_bump
from memories.models import Memory, MemoryStream
from relationships.graph import graph_sync_enqueue
from relationships.models import Relationship
from scenarios.models import Scenario, UserMessage

ARCHIVE_FORMAT = "character-ecosystem.world"
ARCHIVE_VERSION = 1
ARCHIVE_MEDIA_TYPE = "application/gzip"
ARCHIVE_SUFFIX = ".world.json.gz"

INSERT_BATCH = 500
EMBED_BATCH = 256

Progress = Callable[[int, int], None]


def archive_max_bytes() -> int:
    """The largest archive file taken (``ARCHIVE_MAX_BYTES``; 413 above it)."""
    return int(settings.ARCHIVE_MAX_BYTES)


def archive_max_decompressed_bytes() -> int:
    """The most JSON an archive may decompress to (``ARCHIVE_MAX_DECOMPRESSED_BYTES``; 400
    above it: a gzip bomb is refused before it fills the memory)."""
    return int(settings.ARCHIVE_MAX_DECOMPRESSED_BYTES)


class ArchiveInvalid(ApplicationError):
    """The file is not a world archive this installation can read (HTTP 400)."""

    default_code = "invalid_archive"


class ArchiveTooLarge(ApplicationError):
    status_code = 413
    default_code = "archive_too_large"


# --------------------------------------------------------------------------- the schema


@dataclass(frozen=True)
class Table:
    """How one model's rows are written in the archive: every concrete field under its
    name, except ``left_out`` (set on import: the owner, the parent, what Neo4j holds)."""

    model: type[Model]
    left_out: frozenset[str] = frozenset()
    # Foreign keys (by field name) to rows of the archive: field -> the id map they use.
    refs: Mapping[str, str] = field(default_factory=dict)

    def fields(self) -> list[models.Field]:
        return [f for f in self.model._meta.concrete_fields if f.name not in self.left_out]


ECOSYSTEM = Table(Ecosystem, frozenset({"owner"}))
CHARACTER = Table(Character, frozenset({"ecosystem"}))
CARD = Table(CharacterCard, frozenset({"character"}))
STREAM = Table(MemoryStream, frozenset({"character"}))
RELATIONSHIP = Table(
    Relationship,
    frozenset({"id", "ecosystem", "graph_version"}),
    {"from_character": "character", "to_character": "character"},
)
DOCUMENT = Table(Document, frozenset({"ecosystem"}))
CHUNK = Table(Chunk, frozenset({"id", "document", "ecosystem", "graph_version"}))
MEMORY = Table(
    Memory,
    frozenset({"ecosystem"}),
    {"character": "character", "counterpart": "character", "interaction": "interaction"},
)
SCENARIO = Table(Scenario, frozenset({"ecosystem", "claim_token"}))
USER_MESSAGE = Table(
    UserMessage, frozenset({"scenario", "author"}), {"target_character": "character"}
)
INTERACTION = Table(
    Interaction,
    frozenset({"ecosystem"}),
    {
        "scenario": "scenario",
        "initiator": "character",
        "target": "character",
        "user_message": "user_message",
    },
)
EVENT = Table(Event, frozenset({"id", "ecosystem"}))

TABLES = (
    ECOSYSTEM,
    CHARACTER,
    CARD,
    STREAM,
    RELATIONSHIP,
    DOCUMENT,
    CHUNK,
    MEMORY,
    SCENARIO,
    USER_MESSAGE,
    INTERACTION,
    EVENT,
)
"""Every table an archive carries (the round-trip test holds each model's fields to it)."""


def _json_value(model_field: models.Field, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(model_field, models.BinaryField):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _values(
    table: Table, queryset: models.QuerySet, extra: Sequence[str] = ()
) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    """The table's rows as archive records (``{field name: JSON value}``), each with the
    values of the ``extra`` lookups (a parent's id) beside it."""
    fields = table.fields()
    attnames = [f.attname for f in fields]
    for row in queryset.values_list(*attnames, *extra).iterator(chunk_size=2000):
        record = {
            f.name: _json_value(f, value)
            for f, value in zip(fields, row[: len(fields)], strict=True)
        }
        yield tuple(row[len(fields) :]), record


# --------------------------------------------------------------------------- export


def ecosystem_export(
    *,
    ecosystem: Ecosystem,
    events: bool = False,
    vectors: bool = True,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The archive's JSON document for ``ecosystem`` (see docs/archives.md)."""
    characters = Character.objects.filter(ecosystem=ecosystem).order_by("created", "id")
    relationships = Relationship.objects.filter(ecosystem=ecosystem).order_by("id")
    documents = Document.objects.filter(ecosystem=ecosystem).order_by("id")
    chunks = Chunk.objects.filter(ecosystem=ecosystem).order_by("document_id", "position")
    memories = Memory.objects.filter(ecosystem=ecosystem).order_by("created", "id")
    scenarios = Scenario.objects.filter(ecosystem=ecosystem).order_by("started_at", "id")
    messages = UserMessage.objects.filter(scenario__ecosystem=ecosystem).order_by("created", "id")
    interactions = Interaction.objects.filter(ecosystem=ecosystem).order_by("created", "id")
    log = Event.objects.filter(ecosystem=ecosystem).order_by("seq")
    total = sum(
        queryset.count()
        for queryset in (
            characters,
            relationships,
            documents,
            chunks,
            memories,
            scenarios,
            messages,
            interactions,
            *((log,) if events else ()),
        )
    )
    done = 0

    def step(count: int = 1) -> None:
        nonlocal done
        done += count
        if progress is not None and (done % 200 == 0 or done == total):
            progress(done, total)

    cards = {
        str(character_id): record
        for (character_id,), record in _values(
            CARD, CharacterCard.objects.filter(character__ecosystem=ecosystem), ("character_id",)
        )
    }
    streams = {
        str(character_id): record
        for (character_id,), record in _values(
            STREAM, MemoryStream.objects.filter(character__ecosystem=ecosystem), ("character_id",)
        )
    }
    character_records = []
    for _, record in _values(CHARACTER, characters):
        record["card"] = cards.get(record["id"])
        record["memory_stream"] = streams.get(record["id"])
        character_records.append(record)
        step()

    relationship_records = []
    for _, record in _values(RELATIONSHIP, relationships):
        relationship_records.append(record)
        step()

    tied: dict[int, list[str]] = {}
    for document_id, character_id in (
        Document.characters.through.objects.filter(document__ecosystem=ecosystem)
        .order_by("document_id", "character_id")
        .values_list("document_id", "character_id")
    ):
        tied.setdefault(document_id, []).append(str(character_id))
    chunks_of: dict[int, list[dict[str, Any]]] = {}
    for (document_id,), record in _values(CHUNK, chunks, ("document_id",)):
        if not vectors:
            record["embedding"] = None
        chunks_of.setdefault(document_id, []).append(record)
        step()
    lore_records = []
    for _, record in _values(DOCUMENT, documents):
        record["characters"] = tied.get(record["id"], [])
        record["chunks"] = chunks_of.get(record["id"], [])
        lore_records.append(record)
        step()

    memory_records = []
    for _, record in _values(MEMORY, memories):
        if not vectors:
            record["embedding"] = None
        memory_records.append(record)
        step()

    participants: dict[str, list[str]] = {}
    for scenario_id, character_id in (
        Scenario.participants.through.objects.filter(scenario__ecosystem=ecosystem)
        .order_by("scenario_id", "character_id")
        .values_list("scenario_id", "character_id")
    ):
        participants.setdefault(str(scenario_id), []).append(str(character_id))
    messages_of: dict[str, list[dict[str, Any]]] = {}
    for (scenario_id, author), record in _values(
        USER_MESSAGE, messages, ("scenario_id", "author__username")
    ):
        record["author"] = author
        messages_of.setdefault(str(scenario_id), []).append(record)
        step()
    scenario_records = []
    for _, record in _values(SCENARIO, scenarios):
        record["participants"] = participants.get(record["id"], [])
        record["user_messages"] = messages_of.get(record["id"], [])
        scenario_records.append(record)
        step()

    interaction_records = []
    for _, record in _values(INTERACTION, interactions):
        interaction_records.append(record)
        step()

    event_records: list[dict[str, Any]] | None = None
    if events:
        event_records = []
        for _, record in _values(EVENT, log):
            event_records.append(record)
            step()

    _, ecosystem_record = next(iter(_values(ECOSYSTEM, Ecosystem.objects.filter(pk=ecosystem.pk))))
    if progress is not None:
        progress(total, total)
    return {
        "format": ARCHIVE_FORMAT,
        "version": ARCHIVE_VERSION,
        "exported_at": timezone.now().isoformat(),
        "embedding_model": configured_model_name(),
        "vectors": vectors,
        "events_included": events,
        "ecosystem": ecosystem_record,
        "characters": character_records,
        "relationships": relationship_records,
        "lore": lore_records,
        "memories": memory_records,
        "scenarios": scenario_records,
        "interactions": interaction_records,
        "events": event_records,
    }


def archive_dump(document: Mapping[str, Any]) -> bytes:
    """The archive's bytes: compact UTF-8 JSON, gzip-compressed."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0)


def ecosystem_export_archive(
    *,
    ecosystem: Ecosystem,
    events: bool = False,
    vectors: bool = True,
    progress: Progress | None = None,
) -> bytes:
    return archive_dump(
        ecosystem_export(ecosystem=ecosystem, events=events, vectors=vectors, progress=progress)
    )


def archive_filename(ecosystem: Ecosystem) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in ecosystem.name)[:60]
    return f"{safe or 'world'}{ARCHIVE_SUFFIX}"


# --------------------------------------------------------------------------- reading


def archive_read(data: bytes) -> dict[str, Any]:
    """The archive's JSON document, read under the limits: over ``archive_max_bytes`` 413;
    not gzip, truncated, corrupt, decompressing past ``archive_max_decompressed_bytes``, not
    JSON, or of an unknown format or version 400."""
    limit = archive_max_bytes()
    if len(data) > limit:
        raise ArchiveTooLarge(
            f"The archive is {len(data)} bytes; the limit is {limit} (ARCHIVE_MAX_BYTES)."
        )
    if data[:2] != b"\x1f\x8b":
        raise ArchiveInvalid(
            "Not a world archive: the file is not gzip-compressed (a world archive is "
            f"gzip-compressed JSON, *{ARCHIVE_SUFFIX})."
        )
    expanded_limit = archive_max_decompressed_bytes()
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        text_bytes = decompressor.decompress(data, expanded_limit + 1)
    except zlib.error as error:
        raise ArchiveInvalid(f"The archive's gzip data is corrupt ({error}).") from None
    if len(text_bytes) > expanded_limit or decompressor.unconsumed_tail:
        raise ArchiveInvalid(
            f"The archive decompresses to more than {expanded_limit} bytes "
            "(ARCHIVE_MAX_DECOMPRESSED_BYTES); it is refused as a possible gzip bomb.",
            code="archive_too_large_decompressed",
        )
    if not decompressor.eof:
        raise ArchiveInvalid("The archive is truncated: its gzip stream ends early.")
    if decompressor.unused_data:
        raise ArchiveInvalid("The archive has data after its gzip stream.")
    try:
        document = loads_document(text_bytes)
    except JSONRefused as refused:  # the code stays invalid_archive (docs/archives.md)
        raise ArchiveInvalid(
            f"The archive does not hold valid JSON: it {refused.reason}."
        ) from None
    archive_check_version(document)
    return document


def archive_check_version(document: Any) -> None:
    if not isinstance(document, dict) or document.get("format") != ARCHIVE_FORMAT:
        found = document.get("format") if isinstance(document, dict) else None
        raise ArchiveInvalid(
            f"Not a world archive: format is {found!r}, expected {ARCHIVE_FORMAT!r}.",
            code="unknown_format",
        )
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ArchiveInvalid(
            f"Unknown world archive version {version!r}: this installation reads version "
            f"{ARCHIVE_VERSION}.",
            code="unsupported_version",
        )
    if version > ARCHIVE_VERSION:
        raise ArchiveInvalid(
            f"The archive is version {version}, newer than this installation reads "
            f"({ARCHIVE_VERSION}): import it into an up-to-date installation.",
            code="unsupported_version",
        )


# --------------------------------------------------------------------------- checking


class _Checker:
    """Turns archive records into column values, refusing wrong types with the record's
    path in the message (``characters[3].openness: ...``)."""

    def __init__(self) -> None:
        self.known: dict[str, set[Any]] = {
            "character": set(),
            "scenario": set(),
            "user_message": set(),
            "interaction": set(),
            "memory": set(),
            "document": set(),
        }

    @staticmethod
    def fail(path: str, message: str) -> ArchiveInvalid:
        return ArchiveInvalid(f"{path}: {message}", code="invalid_archive")

    def record(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"must be an object, not {_json_type(value)}.")
        return value

    def records(self, value: Any, path: str, *, optional: bool = False) -> list[dict[str, Any]]:
        if value is None and optional:
            return []
        if not isinstance(value, list):
            raise self.fail(path, f"must be a list, not {_json_type(value)}.")
        return [self.record(item, f"{path}[{index}]") for index, item in enumerate(value)]

    def uuid(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise self.fail(path, f"must be an id (UUID string), not {_json_type(value)}.")
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise self.fail(path, f"{value!r} is not a UUID.") from None

    def ref(self, value: Any, kind: str, path: str, *, nullable: bool) -> Any:
        if value is None:
            if nullable:
                return None
            raise self.fail(path, "must not be null.")
        key = self.document_id(value, path) if kind == "document" else self.uuid(value, path)
        if key not in self.known[kind]:
            raise self.fail(path, f"names no {kind.replace('_', ' ')} of this archive ({value}).")
        return key

    def document_id(self, value: Any, path: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(path, f"must be an integer id, not {_json_type(value)}.")
        return value

    def fields(
        self, table: Table, record: dict[str, Any], path: str, *, skip: Iterable[str] = ()
    ) -> dict[str, Any]:
        """``{attname: value}`` for every field of ``table`` the record carries (missing ones
        take the field's default, or fail when it has none); references stay archive ids
        (checked), the caller maps them."""
        out: dict[str, Any] = {}
        skipped = set(skip)
        for model_field in table.fields():
            name = model_field.name
            if name in skipped:
                continue
            where = f"{path}.{name}"
            if name not in record:
                if model_field.has_default():
                    out[model_field.attname] = model_field.get_default()
                    continue
                if model_field.null:
                    out[model_field.attname] = None
                    continue
                raise self.fail(where, "is missing.")
            raw = record[name]
            if name in table.refs:
                out[model_field.attname] = self.ref(
                    raw, table.refs[name], where, nullable=model_field.null
                )
                continue
            out[model_field.attname] = self.value(model_field, raw, where)
        return out

    def value(self, model_field: models.Field, raw: Any, path: str) -> Any:
        if raw is None:
            if model_field.null:
                return None
            raise self.fail(path, "must not be null.")
        value: Any
        if isinstance(model_field, models.UUIDField):
            value = uuid.UUID(self.uuid(raw, path))
        elif isinstance(model_field, models.BooleanField):
            if not isinstance(raw, bool):
                raise self.fail(path, f"must be true or false, not {_json_type(raw)}.")
            value = raw
        elif isinstance(model_field, models.IntegerField):  # every integer field
            if not isinstance(raw, int) or isinstance(raw, bool):
                raise self.fail(path, f"must be an integer, not {_json_type(raw)}.")
            value = raw
        elif isinstance(model_field, models.FloatField):
            if not isinstance(raw, int | float) or isinstance(raw, bool):
                raise self.fail(path, f"must be a number, not {_json_type(raw)}.")
            if not math.isfinite(raw):
                raise self.fail(path, "must be a finite number.")
            value = float(raw)
        elif isinstance(model_field, models.DateTimeField):
            if not isinstance(raw, str):
                raise self.fail(path, f"must be an ISO 8601 time, not {_json_type(raw)}.")
            try:
                parsed = parse_datetime(raw)
            except ValueError:
                parsed = None
            if parsed is None:
                raise self.fail(path, f"{raw[:40]!r} is not an ISO 8601 time.")
            value = parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)
            try:
                value.astimezone(UTC)  # what the database stores; year 1 at +14:00 is not
            except OverflowError:
                raise self.fail(path, f"{raw[:40]!r} is out of range.") from None
        elif isinstance(model_field, models.BinaryField):
            if not isinstance(raw, str):
                raise self.fail(path, f"must be base64 text, not {_json_type(raw)}.")
            try:
                value = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                raise self.fail(path, "is not valid base64.") from None
        elif isinstance(model_field, models.JSONField):
            default = model_field.get_default() if model_field.has_default() else None
            if isinstance(default, list) and not isinstance(raw, list):
                raise self.fail(path, f"must be a list, not {_json_type(raw)}.")
            if isinstance(default, dict) and not isinstance(raw, dict):
                raise self.fail(path, f"must be an object, not {_json_type(raw)}.")
            value = raw
        elif isinstance(model_field, models.CharField | models.TextField):
            if not isinstance(raw, str):
                raise self.fail(path, f"must be text, not {_json_type(raw)}.")
            if "\x00" in raw:
                raise self.fail(path, "must not contain NUL characters.")
            value = raw
        else:  # pragma: no cover - a field type the archive does not know yet
            raise self.fail(path, f"has a field type the archive cannot read ({model_field}).")
        if model_field.choices and value not in {choice for choice, _ in model_field.flatchoices}:
            allowed = ", ".join(str(choice) for choice, _ in model_field.flatchoices)
            raise self.fail(path, f"{value!r} is not one of {allowed}.")
        max_length = getattr(model_field, "max_length", None)
        if isinstance(value, str) and max_length is not None and len(value) > max_length:
            raise self.fail(path, f"is longer than {max_length} characters.")
        try:
            model_field.run_validators(value)
        except ValidationError as error:
            raise self.fail(path, " ".join(error.messages)) from None
        return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


@dataclass
class _Plan:
    """A checked archive: every row to insert, with archive ids still in references."""

    ecosystem: dict[str, Any]
    characters: list[dict[str, Any]] = field(default_factory=list)
    cards: list[dict[str, Any]] = field(default_factory=list)
    streams: list[dict[str, Any]] = field(default_factory=list)
    relationships: list[dict[str, Any]] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)
    document_characters: list[tuple[int, str]] = field(default_factory=list)
    chunks: list[dict[str, Any]] = field(default_factory=list)
    memories: list[dict[str, Any]] = field(default_factory=list)
    scenarios: list[dict[str, Any]] = field(default_factory=list)
    participants: list[tuple[str, str]] = field(default_factory=list)
    user_messages: list[dict[str, Any]] = field(default_factory=list)
    interactions: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    exported_at: datetime | None = None

    def rows(self) -> int:
        return (
            1
            + len(self.characters)
            + len(self.cards)
            + len(self.streams)
            + len(self.relationships)
            + len(self.documents)
            + len(self.document_characters)
            + len(self.chunks)
            + len(self.memories)
            + len(self.scenarios)
            + len(self.participants)
            + len(self.user_messages)
            + len(self.interactions)
            + len(self.events)
        )


def _unique(checker: _Checker, kind: str, key: Any, path: str) -> None:
    if key in checker.known[kind]:
        raise checker.fail(path, f"the {kind.replace('_', ' ')} id {key} appears twice.")
    checker.known[kind].add(key)


def archive_plan(document: dict[str, Any]) -> _Plan:
    """Check a read archive whole, before anything is written."""
    archive_check_version(document)
    check = _Checker()
    exported_at = document.get("exported_at")
    plan = _Plan(
        ecosystem=check.fields(
            ECOSYSTEM, check.record(document.get("ecosystem"), "ecosystem"), "ecosystem"
        ),
        exported_at=(
            check.value(Scenario._meta.get_field("started_at"), exported_at, "exported_at")
            if exported_at is not None
            else None
        ),
    )
    characters = check.records(document.get("characters"), "characters")
    for index, record in enumerate(characters):
        _unique(
            check,
            "character",
            check.uuid(record.get("id"), f"characters[{index}].id"),
            f"characters[{index}].id",
        )
    for index, record in enumerate(characters):
        path = f"characters[{index}]"
        row = check.fields(CHARACTER, record, path)
        plan.characters.append(row)
        if record.get("card") is not None:
            card = check.fields(CARD, check.record(record["card"], f"{path}.card"), f"{path}.card")
            card["character_id"] = str(row["id"])
            plan.cards.append(card)
        if record.get("memory_stream") is not None:
            stream = check.fields(
                STREAM,
                check.record(record["memory_stream"], f"{path}.memory_stream"),
                f"{path}.memory_stream",
            )
            stream["character_id"] = str(row["id"])
            plan.streams.append(stream)

    for index, record in enumerate(check.records(document.get("relationships"), "relationships")):
        row = check.fields(RELATIONSHIP, record, f"relationships[{index}]")
        if row["from_character_id"] == row["to_character_id"]:
            raise check.fail(f"relationships[{index}]", "a character cannot regard itself.")
        plan.relationships.append(row)

    for index, record in enumerate(check.records(document.get("lore"), "lore")):
        path = f"lore[{index}]"
        document_id = check.document_id(record.get("id"), f"{path}.id")
        _unique(check, "document", document_id, f"{path}.id")
        plan.documents.append(check.fields(DOCUMENT, record, path))
        tied = record.get("characters", [])
        if not isinstance(tied, list):
            raise check.fail(f"{path}.characters", f"must be a list, not {_json_type(tied)}.")
        for position, character_id in enumerate(tied):
            plan.document_characters.append(
                (
                    document_id,
                    check.ref(
                        character_id, "character", f"{path}.characters[{position}]", nullable=False
                    ),
                )
            )
        positions: set[int] = set()
        for chunk_index, chunk in enumerate(
            check.records(record.get("chunks", []), f"{path}.chunks")
        ):
            where = f"{path}.chunks[{chunk_index}]"
            # A chunk's vector is optional: without one (or of another model) it is embedded
            # again on import.
            row = check.fields(CHUNK, {"embedding": None, **chunk}, where, skip=("embedding",))
            raw_vector = chunk.get("embedding")
            row["embedding"] = (
                None
                if raw_vector is None
                else check.value(
                    Chunk._meta.get_field("embedding"), raw_vector, f"{where}.embedding"
                )
            )
            if row["embedding"] is not None and len(row["embedding"]) != 4 * row["dimension"]:
                raise check.fail(
                    f"{where}.embedding",
                    f"holds {len(row['embedding'])} bytes, not {row['dimension']} float32 values.",
                )
            if row["position"] in positions:
                raise check.fail(f"{where}.position", f"position {row['position']} appears twice.")
            positions.add(row["position"])
            row["document_id"] = document_id
            plan.chunks.append(row)

    scenarios = check.records(document.get("scenarios"), "scenarios")
    for index, record in enumerate(scenarios):
        _unique(
            check,
            "scenario",
            check.uuid(record.get("id"), f"scenarios[{index}].id"),
            f"scenarios[{index}].id",
        )
        for position, message in enumerate(
            check.records(record.get("user_messages", []), f"scenarios[{index}].user_messages")
        ):
            where = f"scenarios[{index}].user_messages[{position}].id"
            _unique(check, "user_message", check.uuid(message.get("id"), where), where)
    interactions = check.records(document.get("interactions"), "interactions")
    for index, record in enumerate(interactions):
        where = f"interactions[{index}].id"
        _unique(check, "interaction", check.uuid(record.get("id"), where), where)
    memories = check.records(document.get("memories"), "memories")
    for index, record in enumerate(memories):
        where = f"memories[{index}].id"
        _unique(check, "memory", check.uuid(record.get("id"), where), where)

    for index, record in enumerate(scenarios):
        path = f"scenarios[{index}]"
        row = check.fields(SCENARIO, record, path)
        plan.scenarios.append(row)
        chosen = record.get("participants", [])
        if not isinstance(chosen, list):
            raise check.fail(f"{path}.participants", f"must be a list, not {_json_type(chosen)}.")
        for position, character_id in enumerate(chosen):
            plan.participants.append(
                (
                    str(row["id"]),
                    check.ref(
                        character_id,
                        "character",
                        f"{path}.participants[{position}]",
                        nullable=False,
                    ),
                )
            )
        for position, message in enumerate(record.get("user_messages", [])):
            where = f"{path}.user_messages[{position}]"
            message_row = check.fields(USER_MESSAGE, message, where)
            author = message.get("author", "")
            if not isinstance(author, str | type(None)):
                raise check.fail(f"{where}.author", f"must be text, not {_json_type(author)}.")
            message_row["scenario_id"] = str(row["id"])
            plan.user_messages.append(message_row)

    for index, record in enumerate(interactions):
        plan.interactions.append(check.fields(INTERACTION, record, f"interactions[{index}]"))

    for index, record in enumerate(memories):
        path = f"memories[{index}]"
        row = check.fields(MEMORY, {"embedding": None, **record}, path, skip=("embedding",))
        raw_vector = record.get("embedding")
        row["embedding"] = (
            None
            if raw_vector is None
            else check.value(Memory._meta.get_field("embedding"), raw_vector, f"{path}.embedding")
        )
        cited = row["cited_ids"]
        if not all(isinstance(item, str) for item in cited):
            raise check.fail(f"{path}.cited_ids", "must be a list of memory ids.")
        plan.memories.append(row)

    events = document.get("events")
    seqs: set[int] = set()
    for index, record in enumerate(check.records(events, "events", optional=True)):
        row = check.fields(EVENT, record, f"events[{index}]")
        if row["seq"] < 1 or row["seq"] in seqs:
            raise check.fail(f"events[{index}].seq", "must be a positive number, once per seq.")
        if not isinstance(row["payload"], dict):
            raise check.fail(f"events[{index}].payload", "must be an object.")
        seqs.add(row["seq"])
        plan.events.append(row)
    return plan


# --------------------------------------------------------------------------- vectors


def _embed_missing(plan: _Plan) -> int:
    """Embed again, with the configured model, every chunk whose vector is missing or of
    another model, and every memory whose vector is of another model (or was left out of
    the archive). Memories that had no vector keep none. Returns how many were embedded."""
    wanted = configured_model_name()
    chunks = [
        row for row in plan.chunks if row["embedding"] is None or row["embedding_model"] != wanted
    ]
    memories = [
        row
        for row in plan.memories
        if row["embedding_model"] and (row["embedding"] is None or row["embedding_model"] != wanted)
    ]
    for row in plan.memories:
        if row["embedding"] is None and not row["embedding_model"]:
            row["embedding"] = b""
    if not chunks and not memories:
        return 0
    model = embedder()
    for rows, text_key, dimension_key in (
        (chunks, "text", "dimension"),
        (memories, "text", "embedding_dimension"),
    ):
        for start in range(0, len(rows), EMBED_BATCH):
            batch = rows[start : start + EMBED_BATCH]
            vectors = model.embed([row[text_key] for row in batch])
            for row, vector in zip(batch, vectors, strict=True):
                row["embedding"] = np.asarray(vector, dtype="<f4").tobytes()
                row["embedding_model"] = model.name
                row[dimension_key] = model.dimension
    return len(chunks) + len(memories)


# --------------------------------------------------------------------------- writing

_LORE_ID = re.compile(r"^(\d+):(\d+)$")


class _Remap:
    """Archive ids -> new ids: UUIDs (characters, scenarios, messages, interactions,
    memories, the ecosystem) by their text, lore documents by number."""

    def __init__(self) -> None:
        self.uuids: dict[str, uuid.UUID] = {}
        self.documents: dict[int, int] = {}

    def new_uuid(self, old: object) -> uuid.UUID:
        new = uuid.uuid4()
        self.uuids[str(old)] = new
        return new

    def id(self, old: Any) -> Any:
        if old is None:
            return None
        return self.uuids[str(old)]

    def json(self, value: Any) -> Any:
        """``value`` with every id of the archive it holds replaced by the new one: strings
        that are an archived UUID (values and keys), and the ``"document:position"`` id of
        lore a line drew on. A lore id the archive does not hold becomes null."""
        if isinstance(value, str):
            new = self.uuids.get(value)
            return str(new) if new is not None else value
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, dict):
            out = {
                self.json(key) if isinstance(key, str) else key: self.json(item)
                for key, item in value.items()
            }
            if value.get("kind") == "lore" and isinstance(value.get("id"), str):
                match = _LORE_ID.match(value["id"])
                if match:
                    document = self.documents.get(int(match.group(1)))
                    out["id"] = f"{document}:{match.group(2)}" if document is not None else None
            return out
        return value

    def rows(
        self,
        rows: Sequence[Mapping[str, Any]],
        *,
        ids: Sequence[str] = (),
        json: Sequence[str] = (),
        **fixed: Any,
    ) -> list[dict[str, Any]]:
        """``rows`` for the new world: the ``ids`` columns (UUIDs of archived rows) and
        the ids inside the ``json`` columns replaced by the new ones, the ``fixed`` values
        set."""
        return [
            {
                **row,
                **fixed,
                **{name: self.id(row[name]) for name in ids},
                **{name: self.json(row[name]) for name in json},
            }
            for row in rows
        ]


def _insert(
    model: type[Model], rows: Sequence[Mapping[str, Any]], *, returning: bool = False
) -> list[Any]:
    """INSERT the rows (``{attname: value}``, the same keys in each) as they are: no
    ``save()``, so ``auto_now`` timestamps keep the archived values. One multi-row INSERT per
    ``INSERT_BATCH`` rows; with ``returning``, one per row, answering the primary keys the
    database assigned, in order."""
    if not rows:
        return []
    database = connections[DEFAULT_DB_ALIAS]  # the wrapper itself, not the proxy
    meta = model._meta
    by_attname = {f.attname: f for f in meta.concrete_fields}
    fields = [by_attname[name] for name in rows[0]]
    quote = database.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    row_marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
    # The model's own table and column names, quoted; every value is a parameter.
    head = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "  # noqa: S608
    params = [
        [f.get_db_prep_save(row[f.attname], connection=database) for f in fields] for row in rows
    ]
    with database.cursor() as cursor:
        if not returning:
            for start in range(0, len(params), INSERT_BATCH):
                batch = params[start : start + INSERT_BATCH]
                cursor.execute(
                    head + ", ".join([row_marks] * len(batch)),
                    [value for values in batch for value in values],
                )
            return []
        assert meta.pk is not None
        keys = []
        for values in params:
            cursor.execute(f"{head}{row_marks} RETURNING {quote(str(meta.pk.column))}", values)
            keys.append(cursor.fetchone()[0])
        return keys


def _paused_on_arrival(row: dict[str, Any], exported_at: datetime | None) -> None:
    """An active scenario arrives paused: the clock of the new installation does not start
    playing it (and does not count the time between export and import as played). Its
    active time is what it had played when it was exported; the owner resumes it."""
    if row["status"] != Scenario.Status.ACTIVE:
        return
    if row["resumed_at"] is not None and exported_at is not None:
        played = (exported_at - row["resumed_at"]).total_seconds()
        row["active_seconds"] = float(row["active_seconds"]) + max(0.0, played)
    row["status"] = Scenario.Status.PAUSED
    row["resumed_at"] = None
    row["next_tick_at"] = None


def ecosystem_import(
    *,
    owner: Any,
    document: dict[str, Any],
    progress: Progress | None = None,
) -> Ecosystem:
    """Write the archived world into ``owner``'s account, all of it or nothing (see the
    module's docstring); returns the new ecosystem."""
    plan = archive_plan(document)
    _embed_missing(plan)
    total = plan.rows()
    done = 0

    def step(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, total)

    remap = _Remap()
    try:
        with transaction.atomic():
            ecosystem_row = dict(plan.ecosystem)
            ecosystem_id = remap.new_uuid(ecosystem_row["id"])
            ecosystem_row["id"] = ecosystem_id
            ecosystem_row["owner_id"] = owner.pk
            seqs = [row["seq"] for row in plan.events]
            # Without its log the world starts a new one at seq 1; with it, after its last.
            ecosystem_row["last_seq"] = max([ecosystem_row["last_seq"], *seqs]) if seqs else 0
            _insert(Ecosystem, [ecosystem_row])
            step(1)
            # New ids for every UUID row first: JSON anywhere may name any of them.
            for rows in (
                plan.characters,
                plan.scenarios,
                plan.user_messages,
                plan.interactions,
                plan.memories,
            ):
                for row in rows:
                    row["id"] = remap.new_uuid(row["id"])

            characters = remap.rows(plan.characters, ecosystem_id=ecosystem_id)
            _insert(Character, characters)
            step(len(characters))
            _insert(CharacterCard, remap.rows(plan.cards, ids=("character_id",)))
            _insert(MemoryStream, remap.rows(plan.streams, ids=("character_id",)))
            step(len(plan.cards) + len(plan.streams))

            for row in plan.documents:
                old = row.pop("id")
                (new,) = _insert(Document, [{**row, "ecosystem_id": ecosystem_id}], returning=True)
                remap.documents[old] = new
            step(len(plan.documents))
            _insert(
                Document.characters.through,
                [
                    {
                        "document_id": remap.documents[document_id],
                        "character_id": remap.id(character_id),
                    }
                    for document_id, character_id in plan.document_characters
                ],
            )
            step(len(plan.document_characters))
            _insert(
                Chunk,
                [
                    {**row, "document_id": remap.documents[row["document_id"]]}
                    for row in remap.rows(plan.chunks, ecosystem_id=ecosystem_id, graph_version=0)
                ],
            )
            step(len(plan.chunks))

            scenarios = remap.rows(
                plan.scenarios,
                json=("recent_speakers", "summary"),
                ecosystem_id=ecosystem_id,
                claim_token=None,
            )
            for row in scenarios:
                _paused_on_arrival(row, plan.exported_at)
            _insert(Scenario, scenarios)
            _insert(
                Scenario.participants.through,
                [
                    {"scenario_id": remap.id(scenario_id), "character_id": remap.id(character_id)}
                    for scenario_id, character_id in plan.participants
                ],
            )
            step(len(scenarios) + len(plan.participants))
            # People do not move between installations: the owner authored every message.
            _insert(
                UserMessage,
                remap.rows(
                    plan.user_messages,
                    ids=("scenario_id", "target_character_id"),
                    author_id=owner.pk,
                ),
            )
            step(len(plan.user_messages))
            _insert(
                Interaction,
                remap.rows(
                    plan.interactions,
                    ids=("scenario_id", "initiator_id", "target_id", "user_message_id"),
                    json=("relationship_change", "emotional_states", "drew_on"),
                    ecosystem_id=ecosystem_id,
                ),
            )
            step(len(plan.interactions))
            _insert(
                Relationship,
                remap.rows(
                    plan.relationships,
                    ids=("from_character_id", "to_character_id"),
                    ecosystem_id=ecosystem_id,
                    graph_version=0,
                ),
            )
            step(len(plan.relationships))
            _insert(
                Memory,
                remap.rows(
                    plan.memories,
                    ids=("character_id", "counterpart_id", "interaction_id"),
                    json=("cited_ids",),
                    ecosystem_id=ecosystem_id,
                ),
            )
            step(len(plan.memories))
            for start in range(0, len(plan.events), INSERT_BATCH):
                batch = plan.events[start : start + INSERT_BATCH]
                _insert(Event, remap.rows(batch, json=("payload",), ecosystem_id=ecosystem_id))
                step(len(batch))
            relationship_ids = list(
                Relationship.objects.filter(ecosystem_id=ecosystem_id).values_list("pk", flat=True)
            )
            transaction.on_commit(lambda: _after_import(ecosystem_id, relationship_ids))
    except (IntegrityError, DataError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ArchiveInvalid(
            f"The archive breaks a rule of the database ({reason}); nothing was imported."
        ) from None
    return Ecosystem.objects.get(pk=ecosystem_id)


def _after_import(ecosystem_id: uuid.UUID, relationship_ids: list[int]) -> None:
    lore_generation_bump(ecosystem_id)
    lore_sync_enqueue(ecosystem_id=ecosystem_id)
    graph_sync_enqueue(relationship_ids=relationship_ids, ecosystem_id=ecosystem_id)


def ecosystem_import_archive(
    *, owner: Any, data: bytes, progress: Progress | None = None
) -> Ecosystem:
    """Read an archive's bytes (limits, format, version) and import it for ``owner``."""
    return ecosystem_import(owner=owner, document=archive_read(data), progress=progress)
