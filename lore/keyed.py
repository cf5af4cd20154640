"""Keyed lore entries: one Aho-Corasick automaton per ecosystem over every key
(pyahocorasick), so matching costs one pass over the conversation text however many keys
there are. Keys match case-insensitively, as whole words."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import ahocorasick


@dataclass(frozen=True)
class KeyedEntry:
    document_id: int
    keys: tuple[str, ...]
    secondary_keys: tuple[str, ...]
    constant: bool
    order: int
    title: str


def _is_word_character(character: str) -> bool:
    return character.isalnum() or character == "_"


class KeyMatcher:
    def __init__(self, entries: Iterable[KeyedEntry]) -> None:
        self.entries = sorted(entries, key=lambda entry: (entry.order, entry.title))
        self._automaton = ahocorasick.Automaton()
        # key (lowercased) -> [(entry index, is_secondary)]
        owners: dict[str, list[tuple[int, bool]]] = {}
        for index, entry in enumerate(self.entries):
            for key in entry.keys:
                owners.setdefault(key.lower(), []).append((index, False))
            for key in entry.secondary_keys:
                owners.setdefault(key.lower(), []).append((index, True))
        for key, key_owners in owners.items():
            if key.strip():
                self._automaton.add_word(key, (len(key), key_owners))
        self._has_keys = bool(len(self._automaton))
        if self._has_keys:
            self._automaton.make_automaton()

    def triggered(self, text: str) -> list[KeyedEntry]:
        """Entries triggered by ``text`` (constant ones always), in entry order."""
        primary: set[int] = set()
        secondary: set[int] = set()
        if self._has_keys and text:
            lowered = text.lower()
            for end, (length, key_owners) in self._automaton.iter(lowered):
                start = end - length + 1
                if start > 0 and _is_word_character(lowered[start - 1]):
                    continue
                if end + 1 < len(lowered) and _is_word_character(lowered[end + 1]):
                    continue
                for index, is_secondary in key_owners:
                    (secondary if is_secondary else primary).add(index)
        return [
            entry
            for index, entry in enumerate(self.entries)
            if entry.constant
            or (index in primary and (not entry.secondary_keys or index in secondary))
        ]


def normalise_keys(keys: Sequence[str]) -> list[str]:
    seen: dict[str, str] = {}
    for key in keys:
        cleaned = " ".join(str(key).split())
        if cleaned and cleaned.lower() not in seen:
            seen[cleaned.lower()] = cleaned
    return list(seen.values())
