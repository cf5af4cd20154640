"""Cards and lorebooks in and out (docs/cards.md): a card is a character *and* its lore, so
its import and export are orchestrated here, above both apps.

Writes are whole or nothing: the character, its card row and every entry of its book (or
every entry of a World Info file) are stored in one transaction; a refused entry rolls all
of it back. The lore service embeds each entry's text inside that transaction (CPU only, no
network); the embedding model is loaded before it begins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from characters.cards.export import card_v3
from characters.cards.parse import ParsedCard, parse_card
from characters.models import Character, CharacterCard, Ecosystem
from characters.services import character_import_parsed_card
from core.embeddings import embedder
from core.errors import ApplicationError, NotFoundError
from lore.models import Document
from lore.services import document_create

from .lorebooks import (
    CHARACTER_BOOK,
    WORLD_INFO,
    Lorebook,
    LoreEntry,
    character_book,
    entries_from_character_book,
    parse_lorebook,
    source_name,
    source_of,
    world_info,
)


@dataclass
class LorebookImport:
    shape: str
    character_id: Any
    document_ids: list[int] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)


def _store_entries(
    *,
    ecosystem: Ecosystem,
    book: Lorebook,
    character: Character | None,
    kind: str,
    where: str,
    progress: Callable[[int, int], None] | None = None,
) -> list[int]:
    """Each entry as a keyed lore document (call inside a transaction). A refused entry
    raises the lore service's error, its message naming the entry."""
    ids = []
    for entry in book.entries:
        try:
            document = document_create(
                ecosystem=ecosystem,
                title=entry.title,
                content=entry.content,
                keys=entry.keys,
                secondary_keys=entry.secondary_keys,
                constant=entry.constant,
                order=entry.order,
                enabled=entry.enabled,
                character_ids=[character.pk] if character is not None else [],
                source_name=source_name(kind, entry.number, book.name),
            )
        except ApplicationError as error:
            label = "uid" if kind == WORLD_INFO else "index"
            raise type(error)(
                f"{where} entry ({label} {entry.number}): {error.message}", code=error.code
            ) from error
        ids.append(document.pk)
        if progress is not None:
            progress(len(ids), len(book.entries))
    return ids


# --------------------------------------------------------------------------- cards


def card_preview(*, data: bytes, filename: str = "") -> ParsedCard:
    """The card read and scored, its book checked; nothing saved."""
    card = parse_card(data, filename)
    entries_from_character_book(card.data.get("character_book"))
    return card


def card_import(
    *,
    ecosystem: Ecosystem,
    data: bytes,
    filename: str = "",
    overrides: Mapping[str, float] | None = None,
) -> Character:
    """Import one card (JSON, PNG/APNG or CHARX) as a new character of ``ecosystem`` with
    its ``character_book`` as the character's keyed lore entries, whole or not at all.
    ``overrides`` are the Big Five the author adjusted after the preview."""
    card = parse_card(data, filename)
    book = entries_from_character_book(card.data.get("character_book"))
    if book.entries:
        embedder()  # loaded before the transaction, never under its locks
    with transaction.atomic():
        character = character_import_parsed_card(
            ecosystem=ecosystem, card=card, overrides=overrides
        )
        _store_entries(
            ecosystem=ecosystem,
            book=book,
            character=character,
            kind=CHARACTER_BOOK,
            where="character_book",
        )
    return character


def _entry_of(document: Document, *, kind: str | None = None) -> LoreEntry:
    """The document as a lorebook entry; ``number`` is where it came from (its uid or its
    place in the card's book) when it came from a lorebook of ``kind`` (None: any)."""
    source = source_of(document.source_name)
    if source is not None and kind is not None and source[0] != kind:
        source = None
    return LoreEntry(
        title=document.title,
        content=document.content,
        keys=list(document.keys or []),
        secondary_keys=list(document.secondary_keys or []),
        constant=document.constant,
        order=document.order,
        enabled=document.enabled,
        number=source[1] if source else None,
    )


def _is_keyed(document: Document) -> bool:
    """A lorebook entry rather than a plain document: it has keys, is constant, or came
    from a lorebook."""
    return bool(document.keys) or document.constant or source_of(document.source_name) is not None


def _keyed_documents(documents: Iterable[Document]) -> list[Document]:
    return [document for document in documents if _is_keyed(document)]


def character_lore_entries(*, character: Character) -> list[Document]:
    """The character's keyed lore entries (tied to it), in the order they were made."""
    return _keyed_documents(
        Document.objects.filter(ecosystem_id=character.ecosystem_id, characters=character)
        .order_by("pk")
        .distinct()
    )


def card_export(*, character: Character) -> tuple[dict[str, Any], bytes | None]:
    """The character as a V3 card (``character_book`` from its keyed lore entries) and its
    avatar's bytes (None without one)."""
    stored_card = CharacterCard.objects.filter(character=character).first()
    stored = stored_card.data if stored_card else None
    card = card_v3(character, stored)
    entries = [
        _entry_of(document, kind=CHARACTER_BOOK)
        for document in character_lore_entries(character=character)
    ]
    book = character_book(entries, (stored or {}).get("character_book"))
    if book is None:
        card["data"].pop("character_book", None)
    else:
        card["data"]["character_book"] = book
    avatar = bytes(stored_card.avatar) if stored_card and stored_card.avatar else None
    return card, avatar


# --------------------------------------------------------------------------- lorebooks


def _character_of(ecosystem: Ecosystem, character: Character | None) -> Character | None:
    if character is not None and character.ecosystem_id != ecosystem.pk:
        raise NotFoundError("No such character in this ecosystem.")
    return character


def lorebook_import(
    *,
    ecosystem: Ecosystem,
    data: bytes,
    max_bytes: int,
    filename: str = "",
    character: Character | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LorebookImport:
    """A World Info file (or a bare character_book) as the ecosystem's keyed lore entries,
    tied to ``character`` when given; every entry or none."""
    character = _character_of(ecosystem, character)
    book = parse_lorebook(data, max_bytes=max_bytes, filename=filename)
    if not book.name and filename:
        book.name = filename.rsplit("/", 1)[-1].removesuffix(".json")
    if book.entries:
        embedder()  # loaded before the transaction, never under its locks
    with transaction.atomic():
        ids = _store_entries(
            ecosystem=ecosystem,
            book=book,
            character=character,
            kind=WORLD_INFO,
            where=filename or "lorebook",
            progress=progress,
        )
    return LorebookImport(
        shape=book.shape,
        character_id=character.pk if character is not None else None,
        document_ids=ids,
        skipped=book.skipped,
    )


def lorebook_export(*, ecosystem: Ecosystem, character: Character | None = None) -> dict[str, Any]:
    """The ecosystem's keyed lore entries tied to no character (or those tied to
    ``character``) as SillyTavern World Info JSON."""
    character = _character_of(ecosystem, character)
    documents = Document.objects.filter(ecosystem=ecosystem).order_by("pk")
    if character is None:
        documents = documents.filter(characters__isnull=True)
    else:
        documents = documents.filter(characters=character).distinct()
    return world_info(_entry_of(document) for document in _keyed_documents(documents))
