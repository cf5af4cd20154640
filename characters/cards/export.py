"""A character -> Character Card V3 JSON, and a PNG carrying it in ``ccv3`` and ``chara``.

Our own figures go under ``data.extensions.character_ecosystem`` (Big Five, PAD, energy,
lore links), so importing the card gives back the same character (docs/cards.md).
"""

import base64
from typing import Any, Protocol

from . import png
from .parse import BIG_FIVE, EXTENSION_KEY, PAD, compose_bio, dumps

EXTENSION_VERSION = 1
V3_ONLY_FIELDS = (
    "group_only_greetings",
    "assets",
    "nickname",
    "creator_notes_multilingual",
    "source",
    "creation_date",
    "modification_date",
)


class CharacterLike(Protocol):
    name: str
    bio: str
    greetings: list[str]
    voice_examples: str
    energy: float


def card_v3(character: CharacterLike, stored: dict[str, Any] | None) -> dict[str, Any]:
    """The V3 card of ``character``; ``stored`` is the data of the card it came from."""
    data: dict[str, Any] = dict(stored or {})
    texts = [data.get(name) or "" for name in ("description", "personality", "scenario")]
    if not stored or compose_bio(*texts) != character.bio:
        # Never imported, or the bio was edited since: the bio is the description.
        texts = [character.bio, "", ""]
    greetings = list(character.greetings)
    extensions = dict(data.get("extensions") or {})
    extensions[EXTENSION_KEY] = {
        "version": EXTENSION_VERSION,
        "big_five": {trait: getattr(character, trait) for trait in BIG_FIVE},
        "pad_baseline": {axis: getattr(character, axis) for axis in PAD},
        "energy": character.energy,
        "lore_links": [],
    }
    data.update(
        {
            "name": character.name,
            "description": texts[0],
            "personality": texts[1],
            "scenario": texts[2],
            "first_mes": greetings[0] if greetings else "",
            "alternate_greetings": greetings[1:],
            "mes_example": character.voice_examples,
            "creator_notes": data.get("creator_notes") or "",
            "system_prompt": data.get("system_prompt") or "",
            "post_history_instructions": data.get("post_history_instructions") or "",
            "tags": data.get("tags") or [],
            "creator": data.get("creator") or "",
            "character_version": data.get("character_version") or "",
            "group_only_greetings": data.get("group_only_greetings") or [],
            "extensions": extensions,
        }
    )
    if data.get("character_book") is None:
        data.pop("character_book", None)
    return {"spec": "chara_card_v3", "spec_version": "3.0", "data": data}


def card_v2(card: dict[str, Any]) -> dict[str, Any]:
    """The same card for V2 readers: V3-only fields left out."""
    data = {key: value for key, value in card["data"].items() if key not in V3_ONLY_FIELDS}
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": data}


def _b64(card: dict[str, Any]) -> str:
    return base64.b64encode(dumps(card).encode("utf-8")).decode("ascii")


def card_png(card: dict[str, Any], image: bytes | None) -> bytes:
    """A PNG with both chunks: the avatar when it is a PNG, else a generated portrait."""
    if image is None or not png.is_png(image):
        image = png.placeholder_portrait(card["data"]["name"])
    return png.with_text_chunks(image, {"ccv3": _b64(card), "chara": _b64(card_v2(card))})
