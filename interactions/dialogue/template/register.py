"""Register: formal or casual wording, and the casing of sentence starts."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

_FORMAL_REPLACEMENTS = {
    "I'm": "I am",
    "don't": "do not",
    "Don't": "Do not",
    "can't": "cannot",
    "won't": "will not",
    "it's": "it is",
    "It's": "It is",
    "that's": "that is",
    "That's": "That is",
    "you're": "you are",
    "You're": "You are",
    "we're": "we are",
    "isn't": "is not",
    "didn't": "did not",
    "doesn't": "does not",
    "haven't": "have not",
    "I've": "I have",
    "I'd": "I would",
    "I'll": "I will",
    "we'd": "we would",
    "you'd": "you would",
    "Okay": "Very well",
    "okay": "all right",
    "Hey": "Hello",
    "Eh, ": "",
    "Ha! ": "",
    "Ooh, ": "Oh, ",
    "Aw, ": "Oh, ",
}
_CASUAL_REPLACEMENTS = {
    "going to": "gonna",
    "kind of": "kinda",
    "want to": "wanna",
    "Yes": "Yeah",
    "yes": "yeah",
    "Hello": "Hey",
    "do not": "don't",
    "cannot": "can't",
    "Perhaps": "Maybe",
    "a little": "a bit",
    "Good day": "Hey",
}


# "Don't you dare", "isn't it?": an inverted negative stays contracted ("Do not you dare").
_INVERSION = r"(?! (?:you|it|we|they|he|she|I)\b)"


_NOT_AFTER_A_WORD = r"(?<![A-Za-z'])"


def _key_pattern(key: str) -> str:
    """A key as matched after ``_NOT_AFTER_A_WORD``: whole words only."""
    pattern = re.escape(key)
    if key[-1].isalpha():
        pattern += r"(?![A-Za-z'])"
    if key.endswith("n't"):
        pattern += _INVERSION
    return pattern


def _replacer(table: Mapping[str, str]) -> Callable[[str], str]:
    # The look-behind is shared by every key, so it is written once in front of the
    # alternation: the regex engine checks it once a position, not once a key (10x faster;
    # the sentence keys of the repetition check run this on every line).
    pattern = re.compile(
        _NOT_AFTER_A_WORD
        + "(?:"
        + "|".join(_key_pattern(key) for key in sorted(table, key=len, reverse=True))
        + ")"
    )

    def replace(text: str) -> str:
        return pattern.sub(lambda match: table[match.group(0)], text)

    return replace


formalize = _replacer(_FORMAL_REPLACEMENTS)
casualize = _replacer(_CASUAL_REPLACEMENTS)


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def lower_first(text: str, keep: frozenset[str]) -> str:
    first = text.split(" ", 1)[0].rstrip(",.!?")
    if first in ("I", "I'm", "I've", "I'd", "I'll") or first in keep:
        return text
    if len(first) > 1 and first[1].isupper():  # an acronym
        return text
    return text[:1].lower() + text[1:]
