"""Writes of lore: documents and their chunks, all-or-nothing (docs/lore.md).

Text is extracted, chunked and embedded before the transaction (CPU only, no lock held);
the document and every chunk are then stored in one transaction, so a failure midway leaves
nothing behind. On commit, processes drop their cached copy and the Neo4j sync is queued.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction

from characters.models import Character, Ecosystem
from core.embeddings import embedder
from core.errors import ApplicationError

from .chunking import chunk_text
from .extract import clean_document_text, text_from_upload
from .graph import lore_remove_enqueue, lore_sync_enqueue
from .keyed import normalise_keys
from .models import Chunk, Document
from .selectors import lore_generation_bump

CHUNK_INSERT_BATCH = 1000


def _build_chunks(*, document: Document, content: str) -> list[Chunk]:
    spans = chunk_text(content)
    model = embedder()
    vectors = model.embed([span.text for span in spans]) if spans else np.zeros((0, 1))
    return [
        Chunk(
            document=document,
            ecosystem_id=document.ecosystem_id,
            position=span.position,
            text=span.text,
            start_offset=span.start,
            end_offset=span.end,
            embedding=vectors[index].astype("<f4").tobytes(),
            embedding_model=model.name,
            dimension=model.dimension,
        )
        for index, span in enumerate(spans)
    ]


def _characters_of(ecosystem: Ecosystem, character_ids: Iterable[object]) -> list[Character]:
    wanted = {str(pk) for pk in character_ids}
    if not wanted:
        return []
    try:
        found = list(Character.objects.filter(ecosystem=ecosystem, pk__in=wanted))
    except Exception as error:  # a malformed UUID
        raise ApplicationError("characters: unknown character id.", code="invalid") from error
    if len(found) != len(wanted):
        raise ApplicationError(
            "characters: every character must belong to this ecosystem.", code="invalid"
        )
    return found


def _on_commit(ecosystem_id: object, removed_chunk_ids: Sequence[int] = ()) -> None:
    def after() -> None:
        lore_generation_bump(ecosystem_id)
        lore_remove_enqueue(chunk_ids=removed_chunk_ids, ecosystem_id=ecosystem_id)
        lore_sync_enqueue(ecosystem_id=ecosystem_id)

    transaction.on_commit(after)


def document_create(
    *,
    ecosystem: Ecosystem,
    title: str,
    content: str,
    kind: str = Document.Kind.TEXT,
    character_ids: Iterable[object] = (),
    keys: Sequence[str] = (),
    secondary_keys: Sequence[str] = (),
    constant: bool = False,
    order: int = 100,
    enabled: bool = True,
    source_name: str = "",
) -> Document:
    content = clean_document_text(content, max_bytes=settings.LORE_MAX_DOCUMENT_BYTES)
    title = " ".join(title.split())[:200] or "Untitled"
    characters = _characters_of(ecosystem, character_ids)
    document = Document(
        ecosystem=ecosystem,
        title=title,
        kind=kind,
        content=content,
        keys=normalise_keys(keys),
        secondary_keys=normalise_keys(secondary_keys),
        constant=constant,
        order=order,
        enabled=enabled,
        source_name=source_name[:255],
    )
    with transaction.atomic():
        document.save()
        document.characters.set(characters)
        Chunk.objects.bulk_create(
            _build_chunks(document=document, content=content), batch_size=CHUNK_INSERT_BATCH
        )
        _on_commit(ecosystem.pk)
    return document


def document_create_from_upload(
    *, ecosystem: Ecosystem, filename: str, data: bytes, title: str = "", **fields: Any
) -> Document:
    kind, text = text_from_upload(
        filename=filename, data=data, max_bytes=settings.LORE_MAX_DOCUMENT_BYTES
    )
    stem = filename.rsplit("/", 1)[-1].rsplit(".", 1)[0] if filename else ""
    return document_create(
        ecosystem=ecosystem,
        title=title or stem or "Untitled",
        content=text,
        kind=kind,
        source_name=filename,
        **fields,
    )


UPDATABLE_FIELDS = (
    "title",
    "content",
    "kind",
    "keys",
    "secondary_keys",
    "constant",
    "order",
    "enabled",
)


def document_update(
    *, document: Document, character_ids: Iterable[object] | None = None, **changes: Any
) -> Document:
    """Change a document; its chunks are rebuilt and re-embedded (old vectors removed)."""
    unknown = set(changes) - set(UPDATABLE_FIELDS)
    if unknown:
        raise ApplicationError(f"Cannot change: {', '.join(sorted(unknown))}.")
    if "content" in changes:
        changes["content"] = clean_document_text(
            changes["content"], max_bytes=settings.LORE_MAX_DOCUMENT_BYTES
        )
    if "title" in changes:
        changes["title"] = " ".join(str(changes["title"]).split())[:200] or "Untitled"
    for name in ("keys", "secondary_keys"):
        if name in changes:
            changes[name] = normalise_keys(changes[name])
    characters = (
        _characters_of(document.ecosystem, character_ids) if character_ids is not None else None
    )
    for name, value in changes.items():
        setattr(document, name, value)
    new_chunks = _build_chunks(document=document, content=document.content)
    with transaction.atomic():
        Document.objects.select_for_update().filter(pk=document.pk).first()
        old_ids = list(document.chunks.values_list("pk", flat=True))
        document.save()
        if characters is not None:
            document.characters.set(characters)
        Chunk.objects.filter(pk__in=old_ids).delete()
        Chunk.objects.bulk_create(new_chunks, batch_size=CHUNK_INSERT_BATCH)
        _on_commit(document.ecosystem_id, old_ids)
    return document


def document_delete(*, document: Document) -> None:
    """Delete a document, its chunks and (on commit) their vectors in Neo4j."""
    with transaction.atomic():
        chunk_ids = list(document.chunks.values_list("pk", flat=True))
        ecosystem_id = document.ecosystem_id
        document.delete()
        _on_commit(ecosystem_id, chunk_ids)


def chunks_reembed(*, batch_size: int = 500, progress: Any = None) -> int:
    """Move every chunk to the configured model (``manage.py reembed``): new vector, model
    and dimension, version bumped so the index takes it. Returns how many moved."""
    from django.db.models import F

    model = embedder()
    stale = Chunk.objects.exclude(embedding_model=model.name)
    total = stale.count()
    moved = 0
    ecosystems: set[Any] = set()
    while True:
        batch = list(stale.order_by("pk").values_list("pk", "text", "ecosystem_id")[:batch_size])
        if not batch:
            break
        vectors = model.embed([text for _pk, text, _eco in batch])
        with transaction.atomic():
            for (pk, _text, ecosystem_id), vector in zip(batch, vectors, strict=True):
                Chunk.objects.filter(pk=pk).update(
                    embedding=vector.astype("<f4").tobytes(),
                    embedding_model=model.name,
                    dimension=model.dimension,
                    version=F("version") + 1,
                )
                ecosystems.add(ecosystem_id)
        moved += len(batch)
        if progress is not None:
            progress(moved, total)
    for ecosystem_id in ecosystems:
        lore_generation_bump(ecosystem_id)
        lore_sync_enqueue(ecosystem_id=ecosystem_id)
    return moved
