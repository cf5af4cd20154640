"""Splitting a document into chunks at paragraph and sentence boundaries (docs/lore.md).

A chunk holds whole sentences, up to ``CHUNK_TARGET_CHARS``; it ends early at a paragraph
break once it holds at least half that. The next chunk repeats the previous chunk's last
sentences, up to ``CHUNK_OVERLAP_CHARS``, so a fact spanning the boundary is found from
either side. A single sentence longer than ``CHUNK_MAX_CHARS`` is cut at whitespace.
Offsets index the original text: ``text == content[start:end]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHUNK_TARGET_CHARS = 800
CHUNK_OVERLAP_CHARS = 150
CHUNK_MAX_CHARS = 1200

# A sentence ends after . ! ? (and closing quotes/brackets) followed by whitespace; a blank
# line ends a paragraph.
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n\s*\n")
_PARAGRAPH = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class ChunkSpan:
    position: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    paragraph_end: bool


def _units(content: str) -> list[_Unit]:
    units: list[_Unit] = []
    cursor = 0
    for match in _BOUNDARY.finditer(content):
        _add_unit(units, content, cursor, match.start(), bool(_PARAGRAPH.search(match.group())))
        cursor = match.end()
    _add_unit(units, content, cursor, len(content), True)
    return units


def _add_unit(units: list[_Unit], content: str, start: int, end: int, paragraph_end: bool) -> None:
    while start < end and content[start].isspace():
        start += 1
    while end > start and content[end - 1].isspace():
        end -= 1
    if start >= end:
        return
    while end - start > CHUNK_MAX_CHARS:
        cut = content.rfind(" ", start + CHUNK_TARGET_CHARS // 2, start + CHUNK_MAX_CHARS)
        cut = cut if cut > start else start + CHUNK_MAX_CHARS
        units.append(_Unit(start, cut, False))
        start = cut
        while start < end and content[start].isspace():
            start += 1
    if start < end:
        units.append(_Unit(start, end, paragraph_end))


def chunk_text(content: str) -> list[ChunkSpan]:
    units = _units(content)
    spans: list[ChunkSpan] = []
    index = 0
    while index < len(units):
        first = index
        end_index = index
        while end_index + 1 < len(units):
            size = units[end_index].end - units[first].start
            if units[end_index].paragraph_end and size >= CHUNK_TARGET_CHARS // 2:
                break
            if units[end_index + 1].end - units[first].start > CHUNK_TARGET_CHARS:
                break
            end_index += 1
        start, end = units[first].start, units[end_index].end
        spans.append(ChunkSpan(len(spans), start, end, content[start:end]))
        if end_index + 1 >= len(units):
            break
        # Overlap: restart at the last sentences of this chunk that fit the overlap, but
        # always move forward by at least one unit.
        next_index = end_index + 1
        while (
            next_index - 1 > first
            and units[end_index].end - units[next_index - 1].start <= CHUNK_OVERLAP_CHARS
            and not units[next_index - 2].paragraph_end
        ):
            next_index -= 1
        index = next_index
    return spans
