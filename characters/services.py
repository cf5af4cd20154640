"""Writes for ecosystems and characters."""

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from . import emotion
from .cards.parse import ParsedCard, compose_bio, image_type, parse_card
from .models import Character, CharacterCard, Ecosystem


def ecosystem_create(*, owner: User, name: str, description: str = "") -> Ecosystem:
    return Ecosystem.objects.create(owner=owner, name=name, description=description)


def ecosystem_update(*, ecosystem: Ecosystem, **fields: Any) -> Ecosystem:
    for field, value in fields.items():
        setattr(ecosystem, field, value)
    ecosystem.full_clean()
    ecosystem.save(update_fields=list(fields))
    return ecosystem


@transaction.atomic
def character_create(*, ecosystem: Ecosystem, name: str, **fields: Any) -> Character:
    """Create a character whose mood starts at its personality's baseline."""
    character = Character(ecosystem=ecosystem, name=name, **fields)
    if not any(field in fields for field in ("pleasure", "arousal", "dominance")):
        character_set_emotion(character=character, state=emotion.baseline(character.personality))
    else:
        character.emotion = emotion.label(character_emotion(character=character))
    character.full_clean()
    character.save()
    return character


def character_update(*, character: Character, **fields: Any) -> Character:
    for field, value in fields.items():
        setattr(character, field, value)
    character.emotion = emotion.label(character_emotion(character=character))
    character.full_clean()
    character.save()
    return character


def character_emotion(*, character: Character) -> emotion.PAD:
    return emotion.PAD(
        pleasure=character.pleasure, arousal=character.arousal, dominance=character.dominance
    )


def character_set_emotion(*, character: Character, state: emotion.PAD) -> None:
    character.pleasure = state.pleasure
    character.arousal = state.arousal
    character.dominance = state.dominance
    character.emotion = emotion.label(state)


def character_card_preview(*, data: bytes, filename: str = "") -> ParsedCard:
    """The card read and scored, nothing saved (the author adjusts, then imports)."""
    return parse_card(data, filename)


def card_character_fields(*, card: ParsedCard) -> dict[str, Any]:
    """The Character fields a parsed card gives (docs/cards.md, "Fields")."""
    fields: dict[str, Any] = {
        "name": card.data["name"],
        "bio": compose_bio(
            card.text("description"), card.text("personality"), card.text("scenario")
        ),
        "greetings": card.greetings,
        "voice_examples": card.text("mes_example"),
        **card.big_five,
    }
    if card.pad is not None:
        fields.update(card.pad)
    if card.energy is not None:
        fields["energy"] = card.energy
    return fields


@transaction.atomic
def character_import_parsed_card(
    *,
    ecosystem: Ecosystem,
    card: ParsedCard,
    overrides: Mapping[str, float] | None = None,
) -> Character:
    """A parsed card as a new character of ``ecosystem`` with its card row (the stored card
    and its avatar). ``overrides`` are the Big Five the author adjusted after the preview.
    The card's lorebook becomes lore in ``worlds.card_services.card_import``, which calls
    this inside its own transaction (lore sits above characters)."""
    fields = card_character_fields(card=card)
    fields.update(overrides or {})
    character = character_create(ecosystem=ecosystem, **fields)
    CharacterCard.objects.create(
        character=character,
        spec=card.spec,
        container=card.container,
        data=card.data,
        avatar=card.avatar,
        avatar_type=image_type(card.avatar) or "" if card.avatar else "",
    )
    return character


def character_import_card(
    *,
    ecosystem: Ecosystem,
    data: bytes,
    filename: str = "",
    overrides: Mapping[str, float] | None = None,
) -> Character:
    """Read one card (JSON, PNG/APNG or CHARX) and import it as a character, whole or not at
    all; the character and its card row only (``worlds.card_services.card_import`` also
    brings its lorebook in)."""
    return character_import_parsed_card(
        ecosystem=ecosystem, card=parse_card(data, filename), overrides=overrides
    )
