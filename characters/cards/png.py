"""A small PNG chunk reader and writer (zlib and struct only), enough for card text chunks.

A PNG is an 8-byte signature and a list of chunks: length (4 bytes, big-endian), type
(4 ASCII letters), data, CRC-32 of type + data. Cards live in ``tEXt`` chunks (keyword,
NUL, Latin-1 text: the base64 of the card's UTF-8 JSON). APNG is the same container with
extra animation chunks, which are kept as they are.
"""

import struct
import zlib
from collections.abc import Iterator

from .errors import CardError

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CARD_KEYWORDS = ("ccv3", "chara")
# iTXt/zTXt text is inflated at most this far (a compressed text chunk cannot be a bomb).
MAX_TEXT_INFLATED = 16 * 1024 * 1024


def is_png(data: bytes) -> bool:
    return data.startswith(SIGNATURE)


def iter_chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(type, data) of each chunk up to IEND. A cut-off file raises ``truncated_png``."""
    if not is_png(data):
        raise CardError("Not a PNG file: the PNG signature is missing.", code="not_png")
    offset = len(SIGNATURE)
    while True:
        if offset + 8 > len(data):
            raise CardError(
                "Truncated PNG: the file ends before its IEND chunk.", code="truncated_png"
            )
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        chunk_type = data[offset + 4 : offset + 8]
        end = offset + 8 + length + 4
        if end > len(data):
            raise CardError(
                f"Truncated PNG: the {chunk_type.decode('latin-1')!r} chunk at byte {offset} "
                f"claims {length} bytes but the file ends first.",
                code="truncated_png",
            )
        yield chunk_type, data[offset + 8 : offset + 8 + length]
        offset = end
        if chunk_type == b"IEND":
            return


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, MAX_TEXT_INFLATED)
    if inflater.unconsumed_tail:
        raise CardError("A compressed PNG text chunk inflates past the limit.", code="too_large")
    return out


def text_chunks(data: bytes) -> dict[str, str]:
    """Keyword -> text of the tEXt, zTXt and iTXt chunks (the first of each keyword wins)."""
    texts: dict[str, str] = {}
    for chunk_type, body in iter_chunks(data):
        keyword, _, rest = body.partition(b"\x00")
        name = keyword.decode("latin-1")
        try:
            if chunk_type == b"tEXt":
                text = rest.decode("latin-1")
            elif chunk_type == b"zTXt":
                text = _inflate(rest[1:]).decode("latin-1")
            elif chunk_type == b"iTXt":
                compressed, _method = rest[0], rest[1]
                _language, _, rest = rest[2:].partition(b"\x00")
                _translated, _, payload = rest.partition(b"\x00")
                text = (_inflate(payload) if compressed else payload).decode("utf-8")
            else:
                continue
        except (IndexError, UnicodeDecodeError, zlib.error):
            raise CardError(
                f"The PNG text chunk {name!r} is malformed.", code="invalid_png_text"
            ) from None
        texts.setdefault(name, text)
    return texts


def chunk(chunk_type: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(chunk_type + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + chunk_type + body + struct.pack(">I", crc)


def without_card_chunks(data: bytes) -> bytes:
    """The image without its card text chunks (what the avatar keeps)."""
    parts = [SIGNATURE]
    for chunk_type, body in iter_chunks(data):
        if chunk_type in (b"tEXt", b"zTXt", b"iTXt"):
            keyword = body.partition(b"\x00")[0].decode("latin-1")
            if keyword in CARD_KEYWORDS:
                continue
        parts.append(chunk(chunk_type, body))
    return b"".join(parts)


def with_text_chunks(data: bytes, texts: dict[str, str]) -> bytes:
    """The image with ``texts`` as tEXt chunks before IEND (old card chunks replaced)."""
    stripped = without_card_chunks(data)
    iend = chunk(b"IEND", b"")
    assert stripped.endswith(iend)
    extra = b"".join(
        chunk(b"tEXt", keyword.encode("latin-1") + b"\x00" + text.encode("latin-1"))
        for keyword, text in texts.items()
    )
    return stripped[: -len(iend)] + extra + iend


def write_rgb(width: int, height: int, rows: list[bytes]) -> bytes:
    """A truecolour 8-bit PNG from ``height`` rows of ``width`` RGB triples."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 per row
    return (
        SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def placeholder_portrait(name: str, size: int = 64) -> bytes:
    """A generated portrait: a head-and-shoulders silhouette on a colour drawn from the name."""
    digest = zlib.crc32(name.encode("utf-8"))
    background = (96 + digest % 128, 96 + (digest >> 8) % 128, 96 + (digest >> 16) % 128)
    figure = tuple(max(0, channel - 70) for channel in background)
    rows = []
    centre = size / 2
    head_y, head_r = size * 0.38, size * 0.18
    for y in range(size):
        row = bytearray()
        for x in range(size):
            in_head = (x - centre) ** 2 + (y - head_y) ** 2 <= head_r**2
            shoulders_r = size * 0.36
            in_body = (
                y >= size * 0.62
                and (x - centre) ** 2 + (y - size) ** 2 <= (shoulders_r + size * 0.06) ** 2
            )
            row += bytes(figure if in_head or in_body else background)
        rows.append(bytes(row))
    return write_rgb(size, size, rows)
