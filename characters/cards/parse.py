"""Read a card file (JSON, PNG/APNG, CHARX) into a ``ParsedCard``.

Forgiving where the formats vary, strict where a wrong value would be stored: ``data`` is
the truth for V2/V3, a root-level field is used only when ``data`` lacks it (older tools
wrote both), unknown fields are kept, and a field of the wrong type is a 400 naming it.
"""

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from core.jsonlimits import JSONRefused, loads_document

from . import charx, png
from .errors import CardError
from .lexicon import score_text

EXTENSION_KEY = "character_ecosystem"
SPEC_V2 = "chara_card_v2"
SPEC_V3 = "chara_card_v3"
STRING_FIELDS = (
    "name",
    "description",
    "personality",
    "scenario",
    "first_mes",
    "mes_example",
    "creator_notes",
    "system_prompt",
    "post_history_instructions",
    "creator",
    "character_version",
    "nickname",
)
LIST_FIELDS = ("alternate_greetings", "tags", "group_only_greetings")
BIG_FIVE = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")
PAD = ("pleasure", "arousal", "dominance")
MAX_NAME_LENGTH = 80
MAX_BIO_LENGTH = 2000  # Character.bio
MAX_VOICE_EXAMPLES_LENGTH = 20000  # Character.voice_examples
MAX_AVATAR_BYTES = 8 * 1024 * 1024
IMAGE_TYPES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def image_type(data: bytes) -> str | None:
    """The image's media type from its first bytes (PNG, JPEG, GIF, WebP), else None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in IMAGE_TYPES if data.startswith(magic)), None)


def compose_bio(description: str, personality: str, scenario: str) -> str:
    """The character's bio: the card's description, personality and scenario, in that
    order, blank ones left out, cut at MAX_BIO_LENGTH (the card keeps them whole)."""
    bio = "\n\n".join(part.strip() for part in (description, personality, scenario) if part.strip())
    return bio if len(bio) <= MAX_BIO_LENGTH else bio[: MAX_BIO_LENGTH - 1] + "\u2026"


def _without_nul(value: Any) -> Any:
    """NUL cannot be stored in PostgreSQL text or jsonb: dropped from every string."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    return value


@dataclass
class ParsedCard:
    spec: str  # chara_card_v1 | chara_card_v2 | chara_card_v3
    container: str  # json | png | charx
    data: dict[str, Any]  # every field of the card's data, unknown ones included
    avatar: bytes | None = None
    big_five: dict[str, float] = field(default_factory=dict)
    big_five_source: str = "lexicon"  # lexicon | extensions
    big_five_evidence: dict[str, list[str]] = field(default_factory=dict)
    pad: dict[str, float] | None = None
    energy: float | None = None

    def text(self, name: str) -> str:
        value = self.data.get(name)
        return value if isinstance(value, str) else ""

    @property
    def greetings(self) -> list[str]:
        first = self.text("first_mes")
        return [g for g in [first, *self.data.get("alternate_greetings", [])] if g.strip()]

    @property
    def lore_entries(self) -> list[dict[str, Any]]:
        book = self.data.get("character_book")
        return list(book["entries"]) if isinstance(book, dict) else []


def _loads(raw: bytes | str, where: str) -> Any:
    try:
        parsed = loads_document(raw)
    except JSONRefused as refused:
        raise CardError(f"The {where} {refused.reason}.", code=refused.code) from None
    return _without_nul(parsed)


def _b64_json(text: str, keyword: str) -> Any:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise CardError(
            f"The PNG's {keyword!r} chunk is not valid base64.", code="invalid_base64"
        ) from None
    return _loads(raw, f"card in the PNG's {keyword!r} chunk")


def _check_string(name: str, value: Any, where: str) -> str:
    if value is None:
        return ""
    if (
        name == "character_version"
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    ):
        return str(value)  # many tools write 1.0 as a number
    if not isinstance(value, str):
        raise CardError(
            f"{where}.{name} must be a string, got {type(value).__name__}.", code="invalid_field"
        )
    return value


def _check_list(name: str, value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise CardError(f"{where}.{name} must be a list of strings.", code="invalid_field")
    return value


def _check_book(book: Any, where: str) -> dict[str, Any] | None:
    if book is None:
        return None
    if not isinstance(book, dict) or not isinstance(book.get("entries", []), list):
        raise CardError(
            f"{where}.character_book must be an object with an 'entries' list.",
            code="invalid_field",
        )
    entries = []
    for index, entry in enumerate(book.get("entries", [])):
        at = f"{where}.character_book.entries[{index}]"
        if not isinstance(entry, dict):
            raise CardError(f"{at} must be an object.", code="invalid_field")
        order = entry.get("insertion_order", entry.get("order", 100))
        if isinstance(order, bool) or not isinstance(order, int | float):
            raise CardError(f"{at}.insertion_order must be a number.", code="invalid_field")
        for flag in ("constant", "enabled", "selective", "case_sensitive"):
            if flag in entry and not isinstance(entry[flag], bool):
                raise CardError(f"{at}.{flag} must be true or false.", code="invalid_field")
        entries.append(
            {
                **entry,
                "keys": _check_list("keys", entry.get("keys"), at),
                "secondary_keys": _check_list("secondary_keys", entry.get("secondary_keys"), at),
                "content": _check_string("content", entry.get("content"), at),
                "constant": entry.get("constant", False),
                "enabled": entry.get("enabled", True),
                "insertion_order": int(order),
            }
        )
    return {**book, "entries": entries}


def _unit(value: Any, low: float, high: float, at: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise CardError(f"{at} must be a number from {low} to {high}.", code="invalid_field")
    return float(value)


def normalise(root: Any, container: str) -> ParsedCard:
    """A card's JSON (any version) -> ``ParsedCard``."""
    if not isinstance(root, dict):
        raise CardError("A card must be a JSON object.", code="not_a_card")
    spec = root.get("spec")
    if spec in (SPEC_V2, SPEC_V3):
        data = root.get("data")
        if not isinstance(data, dict):
            raise CardError(f"A {spec} card needs a 'data' object.", code="invalid_field")
        # Legacy root fields fill what data lacks; data wins where both exist.
        merged = {
            key: value for key, value in root.items() if key not in ("spec", "spec_version", "data")
        }
        merged.update(data)
        data, where = merged, "data"
    elif spec is not None:
        raise CardError(
            f"Unsupported card spec {spec!r}: expected chara_card_v2, chara_card_v3 or a V1 "
            "card (no spec).",
            code="unsupported_spec",
        )
    elif "entries" in root and "name" not in root:
        raise CardError("This is a lorebook (World Info), not a character card.", code="not_a_card")
    elif isinstance(root.get("name"), str) or "char_name" in root:
        spec, data, where = "chara_card_v1", dict(root), "card"
        data.setdefault("name", root.get("char_name"))
    else:
        raise CardError("Not a character card: no 'spec' and no 'name' field.", code="not_a_card")

    for name in STRING_FIELDS:
        if name in data or name in ("name", "description", "personality", "scenario"):
            data[name] = _check_string(name, data.get(name), where)
    for name in LIST_FIELDS:
        if name in data or name in ("alternate_greetings", "tags"):
            data[name] = _check_list(name, data.get(name), where)
    data["character_book"] = _check_book(data.get("character_book"), where)
    extensions = data.get("extensions", {})
    if extensions is None:
        extensions = {}
    if not isinstance(extensions, dict):
        raise CardError(f"{where}.extensions must be an object.", code="invalid_field")
    data["extensions"] = extensions
    name = data["name"].strip()
    if not name:
        raise CardError(f"{where}.name is empty: a card needs a name.", code="invalid_field")
    if len(name) > MAX_NAME_LENGTH:
        raise CardError(
            f"{where}.name is {len(name)} characters; the limit is {MAX_NAME_LENGTH}.",
            code="invalid_field",
        )
    data["name"] = name
    if len(data.get("mes_example", "")) > MAX_VOICE_EXAMPLES_LENGTH:
        raise CardError(
            f"{where}.mes_example is over {MAX_VOICE_EXAMPLES_LENGTH} characters.",
            code="invalid_field",
        )

    card = ParsedCard(spec=str(spec), container=container, data=data)
    ours = extensions.get(EXTENSION_KEY)
    at = f"{where}.extensions.{EXTENSION_KEY}"
    if ours is not None and not isinstance(ours, dict):
        raise CardError(f"{at} must be an object.", code="invalid_field")
    if ours and isinstance(ours.get("big_five"), dict):
        card.big_five = {
            trait: _unit(ours["big_five"].get(trait), 0.0, 1.0, f"{at}.big_five.{trait}")
            for trait in BIG_FIVE
        }
        card.big_five_source = "extensions"
    else:
        scored = score_text("\n".join(card.text(n) for n in ("personality", "description")))
        card.big_five, card.big_five_evidence = scored.scores, scored.evidence
    if ours and isinstance(ours.get("pad_baseline"), dict):
        card.pad = {
            axis: _unit(ours["pad_baseline"].get(axis), -1.0, 1.0, f"{at}.pad_baseline.{axis}")
            for axis in PAD
        }
    if ours and "energy" in ours:
        card.energy = _unit(ours["energy"], 0.0, 1.0, f"{at}.energy")
    return card


def parse_card(data: bytes, filename: str = "") -> ParsedCard:
    """Detect the container by its bytes (the name is only a hint in messages)."""
    if not data:
        raise CardError("The file is empty.", code="empty_file")
    if png.is_png(data):
        texts = png.text_chunks(data)
        for keyword in png.CARD_KEYWORDS:  # ccv3 first: V3 is preferred when both exist
            if keyword in texts:
                card = normalise(_b64_json(texts[keyword], keyword), "png")
                card.avatar = png.without_card_chunks(data)
                return _checked_avatar(card)
        raise CardError(
            "The PNG holds no character card (no 'ccv3' or 'chara' text chunk).",
            code="png_without_card",
        )
    if charx.is_zip(data):
        card_json, members = charx.read_charx(data)
        card = normalise(_loads(card_json, "CHARX card.json"), "charx")
        card.avatar = charx.avatar_from_assets(card.data.get("assets"), members)
        return _checked_avatar(card)
    if data.lstrip()[:1] in (b"{", b"[") or data.startswith(b"\xef\xbb\xbf"):
        return normalise(_loads(data, "card JSON"), "json")
    raise CardError(
        f"{filename or 'The file'} is not a card: expected JSON, PNG or CHARX (zip).",
        code="unsupported_format",
    )


def _checked_avatar(card: ParsedCard) -> ParsedCard:
    if card.avatar is not None and image_type(card.avatar) is None:
        card.avatar = None  # an icon we cannot serve as an image is left in the zip's past
    if card.avatar is not None and len(card.avatar) > MAX_AVATAR_BYTES:
        raise CardError(
            f"The card's image is over {MAX_AVATAR_BYTES} bytes.", code="avatar_too_large"
        )
    return card


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
