"""Reads for ecosystems and characters, always scoped to the requesting user; and a
character's state as of now, and as clients see it."""

from datetime import datetime
from typing import Any, TypeVar

from django.contrib.auth.models import User
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Count, Model, QuerySet
from django.http import Http404
from django.utils import timezone

from . import emotion, energy
from .models import Character, Ecosystem

# Emotion and energy in API bodies and event payloads: four decimal places.
STATE_DECIMALS = 4

T = TypeVar("T", bound=Model)


def ecosystem_list(*, user: User) -> QuerySet[Ecosystem]:
    return Ecosystem.objects.filter(owner=user).annotate(
        character_count=Count("characters", distinct=True)
    )


def character_list(*, user: User) -> QuerySet[Character]:
    return Character.objects.filter(ecosystem__owner=user).select_related("ecosystem")


def get_or_404(queryset: QuerySet[T], pk: object) -> T:
    """The row with this primary key, or Http404 (also for a malformed id)."""
    try:
        return queryset.get(pk=pk)
    except (ObjectDoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("Not found.") from None


def ecosystem_get(*, user: User, ecosystem_id: object) -> Ecosystem:
    """The user's ecosystem, or Http404 (another user's ecosystem is not found either)."""
    return get_or_404(Ecosystem.objects.filter(owner=user), ecosystem_id)


def character_get(*, user: User, character_id: object) -> Character:
    return get_or_404(character_list(user=user), character_id)


def character_state_now(*, character: Character, now: datetime | None = None) -> Character:
    """The character with emotion and energy brought up to ``now``: emotional decay toward
    the personality baseline and energy recovery over the idle time since
    ``state_updated_at``, and the status that follows from the energy.

    Changes the instance in memory and saves nothing: a writer that wants it kept saves it
    inside its own transaction. Returns the same instance."""
    now = now or timezone.now()
    idle_seconds = max(0.0, (now - character.state_updated_at).total_seconds())
    if idle_seconds <= 0:
        return character
    personality = character.personality
    mood = emotion.decay(
        emotion.PAD(
            pleasure=character.pleasure, arousal=character.arousal, dominance=character.dominance
        ),
        personality,
        elapsed_seconds=idle_seconds,
    )
    character.pleasure, character.arousal, character.dominance = (
        mood.pleasure,
        mood.arousal,
        mood.dominance,
    )
    character.emotion = emotion.label(mood)
    character.energy = energy.recover(character.energy, personality, idle_seconds=idle_seconds)
    character.status = energy.next_status(character.energy, character.status)
    character.state_updated_at = now
    return character


def character_state(
    character: Character, *, emotion_key: str = "emotion", pad: bool = True
) -> dict[str, Any]:
    """A character's state as API bodies and event payloads show it: name, the PAD axes,
    the emotion label, energy and status (numbers to four places).

    ``emotion_key`` names the label: ``"emotion"`` in API bodies, ``"label"`` in the
    interaction events' ``emotional_states``. ``pad=False`` leaves out the three axes (the
    scenario events' participants)."""
    state: dict[str, Any] = {"name": character.name}
    if pad:
        state["pleasure"] = round(character.pleasure, STATE_DECIMALS)
        state["arousal"] = round(character.arousal, STATE_DECIMALS)
        state["dominance"] = round(character.dominance, STATE_DECIMALS)
    state[emotion_key] = character.emotion
    state["energy"] = round(character.energy, STATE_DECIMALS)
    state["status"] = character.status
    return state
