"""What a character brought from its Character Card, as the template backend speaks it:
its own greetings (a card's ``first_mes`` and ``alternate_greetings``) and the vocabulary of
its example dialogue (``mes_example``) (docs/cards.md, docs/dialogue.md "Greetings and
voice examples").

A card's text is written for a chat front end: ``{{char}}``/``{{user}}`` placeholders
(``<BOT>``/``<USER>`` in older cards), actions between asterisks ("*She smiles.*") and
several paragraphs. What is said keeps the author's words; only the placeholders are
resolved, the actions dropped and a long greeting cut at a sentence.
"""

from __future__ import annotations

import re
from functools import lru_cache

from interactions.dialogue.base import Speaker, card_text
from interactions.dialogue.template.analysis import bio_things

GREETING_MAX_CHARS = 300
# The part of the example dialogue read for vocabulary (a card may hold 20,000 characters).
VOICE_EXAMPLES_MAX_CHARS = 4000

_OTHER_MACRO = re.compile(r"\{\{[^{}]*\}\}")
_ACTION = re.compile(r"\*[^*]{0,500}\*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_QUOTES = '"\u201c\u201d'
_START = re.compile(r"<\s*start\s*>", re.IGNORECASE)
_TURN = re.compile(r"^\s*([^:\n]{1,60}):\s*(.*)$")


def speaker_greetings(speaker: Speaker) -> tuple[str, ...]:
    """The speaker's card greetings, as stored (empty for a character without a card)."""
    return tuple(greeting for greeting in speaker.greetings if greeting.strip())


def first_sentences(text: str, max_chars: int) -> str:
    """The leading sentences of ``text`` that fit in ``max_chars`` (at least the first,
    cut at a word with "..." if it alone is too long)."""
    sentences = _SENTENCE_END.split(" ".join(text.split()))
    kept = ""
    for sentence in sentences:
        candidate = f"{kept} {sentence}".strip()
        if len(candidate) > max_chars:
            break
        kept = candidate
    if not kept:
        kept = sentences[0][:max_chars].rsplit(" ", 1)[0].rstrip(",;:") + "..."
    return kept


def resolve_placeholders(text: str, *, char: str, user: str) -> str:
    """``{{char}}`` (``<BOT>``) as ``char``, ``{{user}}`` (``<USER>``) as ``user``; any
    other ``{{macro}}`` of a chat front end is dropped."""
    return _OTHER_MACRO.sub("", card_text(text, char=char, user=user))


@lru_cache(maxsize=1024)
def spoken_greeting(greeting: str, speaker_name: str, listener_name: str) -> str:
    """A card greeting as the speaker says it to the listener: placeholders resolved,
    actions dropped, whitespace collapsed, wrapping quotes removed, cut to
    ``GREETING_MAX_CHARS`` at a sentence; "" when nothing spoken is left."""
    text = resolve_placeholders(greeting, char=speaker_name, user=listener_name)
    text = " ".join(_ACTION.sub(" ", text).replace("*", " ").split())
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    if not any(character.isalpha() for character in text):
        return ""
    if len(text) > GREETING_MAX_CHARS:
        text = first_sentences(text, GREETING_MAX_CHARS)
    return text


@lru_cache(maxsize=256)
def own_example_lines(voice_examples: str, speaker_name: str) -> tuple[str, ...]:
    """What the character itself says in its example dialogue: the turns of ``{{char}}``
    (or of its name), actions dropped, ``{{user}}`` read as "you". A turn runs on over
    the lines after it until the next "Name:" line or ``<START>``."""
    text = resolve_placeholders(
        voice_examples[:VOICE_EXAMPLES_MAX_CHARS], char=speaker_name, user="you"
    )
    own = speaker_name.strip().lower()
    lines: list[str] = []
    current: list[str] | None = None  # the own turn being read; None in another's turn
    for raw in _START.sub("\n", text).splitlines():
        turn = _TURN.match(raw)
        label = turn.group(1).strip().strip("*").strip().lower() if turn is not None else ""
        if turn is not None and label and len(label.split()) <= 3:
            if current:
                lines.append(" ".join(current))
            current = [turn.group(2)] if label == own else None
        elif current is not None and raw.strip():
            current.append(raw)
    if current:
        lines.append(" ".join(current))
    spoken = (" ".join(_ACTION.sub(" ", line).replace("*", " ").split()) for line in lines)
    return tuple(line for line in spoken if line)


@lru_cache(maxsize=1024)
def _things(bio: str, voice_examples: str, name: str) -> tuple[str, ...]:
    things = list(bio_things(bio, name))
    seen = {thing.lower() for thing in things}
    for line in own_example_lines(voice_examples, name):
        for thing in bio_things(line, name, spoken=True):
            if thing.lower() not in seen:
                seen.add(thing.lower())
                things.append(thing)
    return tuple(things)


def speaker_things(speaker: Speaker) -> tuple[str, ...]:
    """What the speaker talks about: the noun phrases of its bio, then those of its own
    lines in its card's example dialogue ("my beehives", "the old mill")."""
    return _things(speaker.bio, speaker.voice_examples, speaker.name)
