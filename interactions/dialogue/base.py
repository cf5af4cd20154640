"""The dialogue contract: who is talking to whom, in what situation, and the backend protocol.

Nothing here touches Django or the database; the interaction service builds a
``DialogueContext`` from its rows and asks a backend for a line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from characters.emotion import PAD
from characters.personality import BigFive
from memories.recalled import RecalledMemory
from relationships.dynamics import RelationshipState

DEFAULT_BACKEND = "template"
BACKEND_NAMES = ("template", "openai")
# Backends that write a line in the process in well under a millisecond: the engine
# announces no "speaking" frame for them (docs/events.md, "Ephemeral frames").
INSTANT_BACKENDS = frozenset({"template"})


@dataclass(frozen=True)
class Speaker:
    """A character as the backends see it. ``greetings`` (a card's ``first_mes`` and
    ``alternate_greetings``) and ``voice_examples`` (its ``mes_example``) are stored with
    their ``{{char}}``/``{{user}}`` placeholders; ``card_text`` resolves them."""

    id: str
    name: str
    bio: str
    personality: BigFive
    emotion: PAD
    energy: float
    greetings: tuple[str, ...] = ()
    voice_examples: str = ""


# SillyTavern's macros for the character and the person it talks to, and TavernAI's older
# <BOT>/<USER>; case-insensitive, as the tools read them.
_CARD_PLACEHOLDER = re.compile(r"\{\{\s*(char|user)\s*\}\}|<(bot|user)>", re.IGNORECASE)


def card_text(text: str, *, char: str, user: str) -> str:
    """A card's text with ``{{char}}`` (``<BOT>``) as ``char`` and ``{{user}}`` (``<USER>``)
    as ``user``: in this world the person a character talks to is the listener."""

    def name_for(match: re.Match[str]) -> str:
        return char if (match.group(1) or match.group(2)).lower() in ("char", "bot") else user

    return _CARD_PLACEHOLDER.sub(name_for, text)


@dataclass(frozen=True)
class LoreFact:
    """A piece of the world's lore the plan step found for this exchange (a lore chunk or
    keyed entry): ``keys`` are an entry's trigger keys, empty for a plain chunk."""

    id: str
    title: str
    text: str
    keys: tuple[str, ...] = ()
    score: float = 0.0


class DialogueLine(str):
    """A line, and what it drew on: ``({"kind": "memory"|"reflection"|"lore", "id": ...,
    "text": ...}, ...)``. A plain ``str`` everywhere else; the engine records ``drew_on``
    on the Interaction."""

    drew_on: tuple[dict[str, str], ...] = ()

    def __new__(cls, text: str, drew_on: tuple[dict[str, str], ...] = ()) -> DialogueLine:
        line = super().__new__(cls, text)
        line.drew_on = tuple(drew_on)
        return line


def drew_on_of(line: str) -> tuple[dict[str, str], ...]:
    return line.drew_on if isinstance(line, DialogueLine) else ()


@dataclass(frozen=True)
class DialogueContext:
    """Everything a backend may use to write the speaker's next line.

    ``relationship`` is how the speaker regards the listener. ``utterance`` is what the
    listener just said to the speaker, or None when the speaker opens the exchange.
    ``recent`` holds the last exchanges of the conversation as ``(speaker_name, text)``,
    oldest first. ``memories`` are the speaker's recalled memories (best first, from the
    plan step; docs/models.md "Memory"), ``lore`` the world's lore that matches the
    exchange (docs/dialogue.md).
    """

    speaker: Speaker
    listener: Speaker
    interaction_type: str
    relationship: RelationshipState
    utterance: str | None
    setting: str = ""
    mood: str = ""
    objectives: tuple[str, ...] = ()
    recent: tuple[tuple[str, str], ...] = ()
    seed: int = 0
    memories: tuple[RecalledMemory, ...] = ()
    lore: tuple[LoreFact, ...] = ()


class DialogueBackend(Protocol):
    name: str

    def reply(self, ctx: DialogueContext) -> str:
        """The speaker's answer to ``ctx.utterance``."""
        ...

    def opening(self, ctx: DialogueContext) -> str:
        """The speaker's first line of an interaction of ``ctx.interaction_type``."""
        ...


def get_backend(name: str = DEFAULT_BACKEND, **options: Any) -> DialogueBackend:
    """Build the backend called ``name`` ("template" or "openai"; blank means "template").

    The caller passes every setting it has; each backend takes what it needs, so the
    Django side can call ``get_backend(settings.DIALOGUE_BACKEND, base_url=..., model=...,
    api_key=..., timeout=...)`` whatever the backend. "openai" needs ``base_url`` and
    ``model``; it falls back to the template backend whenever the server fails.
    """
    backend_name = (name or DEFAULT_BACKEND).strip().lower()
    if backend_name == "template":
        from interactions.dialogue.template.recall import RecallingTemplateBackend

        return RecallingTemplateBackend()
    if backend_name == "openai":
        from interactions.dialogue.openai_compat import OpenAICompatBackend

        base_url = options.get("base_url")
        model = options.get("model")
        if not base_url or not model:
            raise ValueError("the openai dialogue backend needs base_url and model")
        timeout = options.get("timeout")
        return OpenAICompatBackend(
            base_url=str(base_url),
            model=str(model),
            api_key=options.get("api_key") or None,
            timeout=float(timeout) if timeout is not None else 5.0,
            client=options.get("client"),
        )
    raise ValueError(
        f"unknown dialogue backend {name!r}; expected one of {', '.join(BACKEND_NAMES)}"
    )
