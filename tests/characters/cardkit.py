"""Cards the tests make themselves, written independently of characters/cards/: JSON of each
version, PNG images with card text chunks, and CHARX zips."""

import base64
import io
import json
import struct
import zipfile
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def tiny_png(colour: tuple[int, int, int] = (200, 30, 30), size: int = 4) -> bytes:
    row = b"\x00" + bytes(colour) * size
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
        + png_chunk(b"IDAT", zlib.compress(row * size))
        + png_chunk(b"IEND", b"")
    )


def b64(card: dict) -> bytes:
    return base64.b64encode(json.dumps(card).encode("utf-8"))


def png_with(texts: dict[str, bytes], image: bytes | None = None) -> bytes:
    image = image or tiny_png()
    head, iend = image[:-12], image[-12:]
    extra = b"".join(
        png_chunk(b"tEXt", key.encode() + b"\x00" + value) for key, value in texts.items()
    )
    return head + extra + iend


def text_chunks(data: bytes) -> dict[str, bytes]:
    """tEXt keyword -> text, read by this module's own walk."""
    assert data.startswith(PNG_SIGNATURE)
    offset, found = 8, {}
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"tEXt":
            key, _, value = body.partition(b"\x00")
            found[key.decode()] = value
        offset += 12 + length
    return found


def decode_chunk(value: bytes) -> dict:
    return json.loads(base64.b64decode(value))


V1 = {
    "name": "Old Tom",
    "description": "A ferryman.",
    "personality": "quiet, reserved and careful",
    "scenario": "The river at dusk.",
    "first_mes": "Need a crossing?",
    "mes_example": "<START>\n{{char}}: Hm.",
}


def v2(**data) -> dict:
    return {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {
            "name": "Seraphina",
            "description": "A forest guardian.",
            "personality": "kind, warm, talkative and curious; never anxious",
            "scenario": "You wake in her glade.",
            "first_mes": "*She smiles.* You're awake.",
            "alternate_greetings": ["Hello, traveller.", "Rest now."],
            "mes_example": "<START>\n{{user}}: Hi\n{{char}}: Greetings, friend.",
            "creator_notes": "For gentle stories.",
            "system_prompt": "",
            "post_history_instructions": "",
            "tags": ["fantasy", "guardian"],
            "creator": "tester",
            "character_version": "1.2",
            "extensions": {"depth_prompt": {"depth": 4, "prompt": "x"}},
            "character_book": {
                "name": "Glade lore",
                "entries": [
                    {
                        "keys": ["glade"],
                        "secondary_keys": ["forest"],
                        "content": "The glade is hidden.",
                        "constant": False,
                        "insertion_order": 10,
                        "enabled": True,
                        "extensions": {},
                    },
                    {
                        "keys": ["amulet"],
                        "content": "Her amulet glows.",
                        "constant": True,
                        "insertion_order": 20,
                        "enabled": False,
                        "extensions": {},
                    },
                ],
            },
            **data,
        },
    }


def v3(**data) -> dict:
    card = v2(**data)
    card["spec"], card["spec_version"] = "chara_card_v3", "3.0"
    card["data"].setdefault("group_only_greetings", [])
    card["data"].setdefault("nickname", "Sera")
    return card


def charx(card: dict, members: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("card.json", json.dumps(card))
        for name, content in (members or {}).items():
            archive.writestr(name, content)
    return buffer.getvalue()
