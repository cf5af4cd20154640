"""Writes for ecosystems and characters."""

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from . import emotion
from .models import Character, Ecosystem


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
