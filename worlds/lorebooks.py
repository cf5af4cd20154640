"""Lorebooks both ways, pure (no database): SillyTavern World Info JSON and a Character
Card's ``character_book`` <-> ``LoreEntry``, the fields of one keyed lore entry
(``lore.Document``: title, content, keys, secondary keys, constant, order, enabled).

Reading is forgiving where the shapes vary (``entries`` as an object keyed by id or as a
list, ``null`` read as empty, an integral float read as an integer) and strict where a wrong
value would be stored: a field of the wrong type is a 400 naming the entry and the field.
Unknown fields of an entry are kept in ``LoreEntry.extra``; what keeps them afterwards is
the caller's business (a card keeps its whole book; docs/cards.md, "Lorebooks").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import ApplicationError
from core.jsonlimits import JSONRefused, loads_document

WORLD_INFO = "world_info"
CHARACTER_BOOK = "character_book"
MAX_ENTRIES = 5000
MAX_TITLE_LENGTH = 200  # lore.Document.title
DEFAULT_ORDER = 100

# The fields a keyed lore entry holds, per shape; every other field of an entry is "extra".
WORLD_INFO_FIELDS = (
    "uid",
    "key",
    "keysecondary",
    "content",
    "constant",
    "order",
    "disable",
    "comment",
)
BOOK_FIELDS = (
    "keys",
    "secondary_keys",
    "content",
    "constant",
    "insertion_order",
    "order",
    "enabled",
)

# What lore.Document.source_name says of an entry that came from a lorebook:
# "lorebook:<book name>#<uid>" (World Info) or "character_book#<index in the card's book>".
_SOURCE = re.compile(r"^(?P<kind>lorebook:.*|character_book)#(?P<number>\d{1,9})$", re.DOTALL)
SOURCE_NAME_LENGTH = 255


class LorebookError(ApplicationError):
    """Not a lorebook we can read; ``code`` names the problem (docs/cards.md)."""

    status_code = 400
    default_code = "invalid_lorebook"


class LorebookTooLarge(ApplicationError):
    status_code = 413
    default_code = "lorebook_too_large"


@dataclass
class LoreEntry:
    title: str
    content: str
    keys: list[str] = field(default_factory=list)
    secondary_keys: list[str] = field(default_factory=list)
    constant: bool = False
    order: int = DEFAULT_ORDER
    enabled: bool = True
    # World Info: the entry's uid; a card's book: the entry's index in the book.
    number: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Lorebook:
    shape: str  # world_info | character_book
    name: str
    entries: list[LoreEntry]
    # Entries that cannot become lore (blank content): {"entry": uid or index, "reason": ...}.
    skipped: list[dict[str, Any]] = field(default_factory=list)


# --------------------------------------------------------------------------- reading


def _without_nul(value: Any) -> Any:
    """NUL cannot be stored in PostgreSQL text or jsonb: dropped from every string."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    return value


def _string(value: Any, at: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise LorebookError(
            f"{at} must be a string, got {type(value).__name__}.", code="invalid_field"
        )
    return value


def _strings(value: Any, at: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise LorebookError(f"{at} must be a list of strings.", code="invalid_field")
    return list(value)


def _flag(value: Any, default: bool, at: str) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise LorebookError(f"{at} must be true or false.", code="invalid_field")
    return value


def _integer(value: Any, default: int, at: str) -> int:
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise LorebookError(f"{at} must be a whole number.", code="invalid_field")
    if not -1_000_000 <= value <= 1_000_000:
        raise LorebookError(f"{at} must be from -1000000 to 1000000.", code="invalid_field")
    return value


def derived_title(keys: list[str], content: str) -> str:
    """The title of an entry that has no name or comment: its first key, else its opening
    words."""
    if keys and keys[0].strip():
        return " ".join(keys[0].split())[:MAX_TITLE_LENGTH]
    words = " ".join(content.split())
    return (words[:60].rsplit(" ", 1)[0] if len(words) > 60 else words) or "Untitled"


def _title(name: str, keys: list[str], content: str) -> str:
    return " ".join(name.split())[:MAX_TITLE_LENGTH] or derived_title(keys, content)


def _world_info_entry(label: str, raw: Any, position: int) -> LoreEntry:
    at = f"entries[{label}]"
    if not isinstance(raw, dict):
        raise LorebookError(f"{at} must be an object.", code="invalid_field")
    uid = raw.get("uid", label if label.isascii() and label.isdecimal() else position)
    if isinstance(uid, str) and uid.strip().isascii() and uid.strip().isdecimal():
        uid = int(uid)  # some tools write uids as strings
    number = _integer(uid, position, f"{at}.uid")
    keys = _strings(raw.get("key"), f"{at}.key")
    content = _string(raw.get("content"), f"{at}.content")
    return LoreEntry(
        title=_title(_string(raw.get("comment"), f"{at}.comment"), keys, content),
        content=content,
        keys=keys,
        secondary_keys=_strings(raw.get("keysecondary"), f"{at}.keysecondary"),
        constant=_flag(raw.get("constant"), False, f"{at}.constant"),
        order=_integer(raw.get("order"), DEFAULT_ORDER, f"{at}.order"),
        enabled=not _flag(raw.get("disable"), False, f"{at}.disable"),
        number=number,
        extra={key: value for key, value in raw.items() if key not in WORLD_INFO_FIELDS},
    )


def _book_entry(index: int, raw: Any, where: str = "") -> LoreEntry:
    at = f"{where}entries[{index}]"
    if not isinstance(raw, dict):
        raise LorebookError(f"{at} must be an object.", code="invalid_field")
    keys = _strings(raw.get("keys"), f"{at}.keys")
    content = _string(raw.get("content"), f"{at}.content")
    name = _string(raw.get("name"), f"{at}.name") or _string(raw.get("comment"), f"{at}.comment")
    order = raw.get("insertion_order", raw.get("order"))
    return LoreEntry(
        title=_title(name, keys, content),
        content=content,
        keys=keys,
        secondary_keys=_strings(raw.get("secondary_keys"), f"{at}.secondary_keys"),
        constant=_flag(raw.get("constant"), False, f"{at}.constant"),
        order=_integer(order, DEFAULT_ORDER, f"{at}.insertion_order"),
        enabled=_flag(raw.get("enabled"), True, f"{at}.enabled"),
        number=index,
        extra={key: value for key, value in raw.items() if key not in BOOK_FIELDS},
    )


def _kept(entries: Iterable[LoreEntry], shape: str) -> tuple[list[LoreEntry], list[dict]]:
    kept, skipped = [], []
    for entry in entries:
        if entry.content.strip():
            kept.append(entry)
        else:
            skipped.append({"entry": entry.number, "reason": "blank content"})
    return kept, skipped


def entries_from_character_book(book: Mapping[str, Any] | None) -> Lorebook:
    """A card's ``character_book`` (V2/V3: ``entries`` a list) -> entries (each ``number``
    its index in the book)."""
    if book is None:
        return Lorebook(shape=CHARACTER_BOOK, name="", entries=[])
    if not isinstance(book, Mapping) or not isinstance(book.get("entries", []), list):
        raise LorebookError(
            "character_book must be an object with an 'entries' list.", code="invalid_field"
        )
    raw_entries = book.get("entries") or []
    if len(raw_entries) > MAX_ENTRIES:
        raise LorebookTooLarge(
            f"The book has {len(raw_entries)} entries; the limit is {MAX_ENTRIES}."
        )
    parsed = [_book_entry(index, raw, "character_book.") for index, raw in enumerate(raw_entries)]
    kept, skipped = _kept(parsed, CHARACTER_BOOK)
    name = book.get("name")
    return Lorebook(
        shape=CHARACTER_BOOK,
        name=name if isinstance(name, str) else "",
        entries=kept,
        skipped=skipped,
    )


def lorebook_from_json(root: Any) -> Lorebook:
    """A parsed lorebook file: World Info (``entries`` an object keyed by uid; a list of
    ``key``-shaped entries is read too) or a bare ``character_book`` (``entries`` a list of
    ``keys``-shaped entries)."""
    root = _without_nul(root)
    if not isinstance(root, dict):
        raise LorebookError("A lorebook must be a JSON object.", code="not_a_lorebook")
    if "spec" in root or ("entries" not in root and "name" in root):
        raise LorebookError(
            "This is a character card, not a lorebook: import it at "
            "/api/v1/ecosystem/{id}/characters/import.",
            code="not_a_lorebook",
        )
    entries = root.get("entries")
    if entries is None:
        raise LorebookError(
            "Not a lorebook: no 'entries' (World Info has an object of entries keyed by id).",
            code="not_a_lorebook",
        )
    if not isinstance(entries, dict | list):
        raise LorebookError(
            "'entries' must be an object keyed by id (World Info) or a list.",
            code="invalid_field",
        )
    if len(entries) > MAX_ENTRIES:
        raise LorebookTooLarge(
            f"The lorebook has {len(entries)} entries; the limit is {MAX_ENTRIES}."
        )
    name = root.get("name")
    name = name if isinstance(name, str) else ""
    if isinstance(entries, list) and any(
        isinstance(raw, dict) and "keys" in raw and "key" not in raw for raw in entries
    ):
        return entries_from_character_book(root)
    pairs = (
        list(entries.items())
        if isinstance(entries, dict)
        else [(str(index), raw) for index, raw in enumerate(entries)]
    )
    parsed = [
        _world_info_entry(str(label), raw, position) for position, (label, raw) in enumerate(pairs)
    ]
    seen: set[int] = set()
    for entry in parsed:  # uids name entries: two alike would merge on the way back out
        if entry.number in seen:
            raise LorebookError(f"Two entries have the uid {entry.number}.", code="invalid_field")
        seen.add(entry.number)  # type: ignore[arg-type]
    kept, skipped = _kept(parsed, WORLD_INFO)
    return Lorebook(shape=WORLD_INFO, name=name, entries=kept, skipped=skipped)


def parse_lorebook(data: bytes, *, max_bytes: int, filename: str = "") -> Lorebook:
    """A lorebook file's bytes (UTF-8 JSON, a BOM allowed) -> ``Lorebook``."""
    where = filename or "the lorebook"
    if len(data) > max_bytes:
        raise LorebookTooLarge(f"{where} is {len(data)} bytes; the limit is {max_bytes}.")
    if not data.strip():
        raise LorebookError(f"{where} is empty.", code="empty_file")
    try:
        root = loads_document(data)
    except JSONRefused as refused:
        raise LorebookError(f"{where} {refused.reason}.", code=refused.code) from None
    return lorebook_from_json(root)


# --------------------------------------------------------------------------- provenance


def source_name(kind: str, number: int | None, book_name: str = "") -> str:
    """``lore.Document.source_name`` for an imported entry: where it came from, so export
    gives it back its uid (World Info) or its place in the card's book."""
    if number is None:
        return ""
    if kind == CHARACTER_BOOK:
        return f"character_book#{number}"
    suffix = f"#{number}"
    return f"lorebook:{book_name}"[: SOURCE_NAME_LENGTH - len(suffix)] + suffix


def source_of(source: str) -> tuple[str, int] | None:
    """``(kind, number)`` of a source name written by ``source_name``, else None."""
    match = _SOURCE.match(source or "")
    if match is None:
        return None
    kind = CHARACTER_BOOK if match["kind"] == CHARACTER_BOOK else WORLD_INFO
    return kind, int(match["number"])


# --------------------------------------------------------------------------- writing


def world_info(entries: Iterable[LoreEntry]) -> dict[str, Any]:
    """SillyTavern World Info JSON: ``{"entries": {"<uid>": {...}}}``. An entry keeps its
    uid when it has one no other entry took; the rest get the next free numbers. Fields we
    do not hold are written with SillyTavern's defaults, and ``caseSensitive`` /
    ``matchWholeWords`` say how our keys match (case-insensitive, whole words)."""
    entries = list(entries)
    taken: set[int] = set()
    uids: list[int | None] = []
    for entry in entries:
        if entry.number is not None and entry.number >= 0 and entry.number not in taken:
            taken.add(entry.number)
            uids.append(entry.number)
        else:
            uids.append(None)
    next_uid = 0
    out: dict[str, Any] = {}
    for index, (entry, uid) in enumerate(zip(entries, uids, strict=True)):
        if uid is None:
            while next_uid in taken:
                next_uid += 1
            uid = next_uid
            taken.add(uid)
        out[str(uid)] = {
            "uid": uid,
            "key": list(entry.keys),
            "keysecondary": list(entry.secondary_keys),
            "comment": entry.title,
            "content": entry.content,
            "constant": entry.constant,
            "selective": True,
            "selectiveLogic": 0,
            "addMemo": True,
            "order": entry.order,
            "position": 0,
            "disable": not entry.enabled,
            "excludeRecursion": False,
            "probability": 100,
            "useProbability": True,
            "depth": 4,
            "caseSensitive": False,
            "matchWholeWords": True,
            "displayIndex": index,
            **{key: value for key, value in entry.extra.items() if key not in WORLD_INFO_FIELDS},
        }
    return {"entries": dict(sorted(out.items(), key=lambda item: int(item[0])))}


def character_book(
    entries: Iterable[LoreEntry], stored: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """A card's ``character_book`` from the character's keyed lore entries.

    ``stored`` is the book the card came with: its own fields (name, scan_depth, ...) are
    kept, and an entry that came from it (``number`` its index there) starts from its stored
    entry, so fields we do not hold (``id``, ``extensions``, ``position``, ...) survive; our
    fields then overwrite it. Stored entries with blank content (never imported: lore needs
    text) are kept in their place; stored entries whose lore was deleted are left out. No
    entries and no stored book: ``None`` (the card has no book)."""
    stored_entries: list[Any] = list((stored or {}).get("entries") or [])
    linked: dict[int, LoreEntry] = {}
    new: list[LoreEntry] = []
    for entry in entries:
        number = entry.number
        if number is not None and 0 <= number < len(stored_entries) and number not in linked:
            linked[number] = entry
            continue
        new.append(entry)
    out: list[dict[str, Any]] = []
    for index, base in enumerate(stored_entries):
        if index in linked:
            out.append(_book_entry_out(linked[index], base if isinstance(base, dict) else {}))
        elif isinstance(base, dict) and not str(base.get("content") or "").strip():
            out.append(base)
    out.extend(_book_entry_out(entry, None) for entry in new)
    if not out and stored is None:
        return None
    if stored is None:  # a book made here: the spec's required fields
        return {"extensions": {}, "entries": out}
    book = {key: value for key, value in stored.items() if key != "entries"}
    book["entries"] = out
    return book


def _book_entry_out(entry: LoreEntry, base: dict[str, Any] | None) -> dict[str, Any]:
    if base is None:  # made here: the spec's fields, secondary keys used when present
        return {
            "keys": list(entry.keys),
            "secondary_keys": list(entry.secondary_keys),
            "content": entry.content,
            "constant": entry.constant,
            "selective": bool(entry.secondary_keys),
            "insertion_order": entry.order,
            "enabled": entry.enabled,
            "comment": entry.title,
            "extensions": {},
        }
    out = {key: value for key, value in base.items() if key != "order"}
    out.update(
        {
            "keys": list(entry.keys),
            "secondary_keys": list(entry.secondary_keys),
            "content": entry.content,
            "constant": entry.constant,
            "insertion_order": entry.order,
            "enabled": entry.enabled,
        }
    )
    out.setdefault("extensions", {})
    # The title goes back where it came from; a title derived from the keys stays derived
    # unless the author renamed the entry.
    if isinstance(base.get("name"), str) and base["name"].strip():
        out["name"] = entry.title
    elif (isinstance(base.get("comment"), str) and base["comment"].strip()) or (
        entry.title != derived_title(entry.keys, entry.content)
    ):
        out["comment"] = entry.title
    return out
