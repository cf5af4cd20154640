"""The hot path: one interaction between two characters, in one transaction.

Locks both characters (in primary-key order, so two interactions never deadlock), brings
their emotion and energy up to date, asks the dialogue backend for the words, scores them
with VADER, moves both directions of the relationship, writes the Interaction and its
events, and after commit broadcasts the events and enqueues the graph sync.
"""

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from characters import emotion, energy
from characters.models import PAD_FIELDS, Character, Ecosystem
from characters.personality import compatibility
from characters.services import (
    character_bring_up_to_date,
    character_emotion,
    character_set_emotion,
)
from core import metrics
from core.db import rows_insert, rows_select, rows_update
from core.errors import ConflictError, NotFoundError
from eventlog.services import events_append
from relationships.dynamics import (
    RelationshipState,
    apply_delta,
    relationship_delta,
    relationship_label,
)
from relationships.graph import graph_sync_enqueue
from relationships.models import Relationship

from .dialogue import get_backend
from .dialogue.base import DialogueBackend, DialogueContext, Speaker
from .models import Interaction
from .sentiment import sentiment

CHARACTER_STATE_FIELDS = (*PAD_FIELDS, "emotion", "energy", "status", "state_updated_at")
RELATIONSHIP_FIELDS = (
    "strength",
    "trust",
    "interaction_count",
    "last_interaction_at",
    "version",
    "updated_at",
)


class InteractionRefused(ConflictError):
    default_code = "interaction_refused"


@dataclass(frozen=True)
class InteractionResult:
    interaction: Interaction
    relationship_change: dict[str, float]
    emotional_state: dict[str, Any]
    event_seq: int


@lru_cache(maxsize=1)
def dialogue_backend() -> DialogueBackend:
    return get_backend(
        settings.DIALOGUE_BACKEND,
        base_url=settings.DIALOGUE_OPENAI_BASE_URL,
        model=settings.DIALOGUE_OPENAI_MODEL,
        api_key=settings.DIALOGUE_OPENAI_API_KEY or None,
        timeout=settings.DIALOGUE_TIMEOUT_SECONDS,
    )


def character_speaker(character: Character) -> Speaker:
    """The dialogue backends' view of a character."""
    return Speaker(
        id=str(character.pk),
        name=character.name,
        bio=character.bio,
        personality=character.personality,
        emotion=character_emotion(character=character),
        energy=character.energy,
    )


def _state_of(character: Character) -> dict[str, Any]:
    return {
        "name": character.name,
        "pleasure": round(character.pleasure, 4),
        "arousal": round(character.arousal, 4),
        "dominance": round(character.dominance, 4),
        "label": character.emotion,
        "energy": round(character.energy, 4),
        "status": character.status,
    }


_OWNED_BY = f"ecosystem_id IN (SELECT id FROM {Ecosystem._meta.db_table} WHERE owner_id = %s)"  # noqa: S608


def _load_pair(
    *, initiator_id: uuid.UUID, target_id: uuid.UUID, owner: User | None
) -> tuple[Character, Character]:
    if initiator_id == target_id:
        raise InteractionRefused("A character cannot interact with itself.", code="same_character")
    where = "id IN (%s, %s)"
    params: list[object] = [initiator_id, target_id]
    if owner is not None:
        where += f" AND {_OWNED_BY}"
        params.append(owner.pk)
    # Locked in primary-key order, so two interactions on one pair never deadlock.
    by_id = {
        character.pk: character
        for character in rows_select(Character, where, params, for_update=True)
    }
    for character_id in (initiator_id, target_id):
        if character_id not in by_id:
            raise NotFoundError(f"Character {character_id} was not found.")
    return by_id[initiator_id], by_id[target_id]


def _check_feasible(initiator: Character, target: Character) -> None:
    if initiator.ecosystem_id != target.ecosystem_id:
        raise InteractionRefused(
            f"{initiator.name} and {target.name} live in different ecosystems.",
            code="different_ecosystems",
        )
    for character in (initiator, target):
        if character.status == Character.Status.ARCHIVED:
            raise InteractionRefused(f"{character.name} is archived.", code="archived")
        if character.status == Character.Status.RESTING or not energy.can_interact(
            character.energy
        ):
            raise InteractionRefused(
                f"{character.name} is too tired to talk (energy {character.energy:.2f}); "
                "let them rest a while.",
                code="too_tired",
            )


RelationshipRows = Mapping[tuple[uuid.UUID, uuid.UUID], Relationship]


def _pair_relationships(
    initiator: Character, target: Character, known: RelationshipRows | None
) -> tuple[Relationship, Relationship]:
    """Both directions of the pair, locked: from ``known`` (rows the caller locked) or the
    database; a direction that does not exist yet is created."""
    directions = ((initiator, target), (target, initiator))
    found = dict(known or {})
    if known is None:
        pair = [initiator.pk, target.pk]
        for rel in rows_select(
            Relationship,
            "from_character_id IN (%s, %s) AND to_character_id IN (%s, %s)",
            pair * 2,
            for_update=True,
        ):
            found[(rel.from_character_id, rel.to_character_id)] = rel
    missing = [
        Relationship(ecosystem_id=initiator.ecosystem_id, from_character=a, to_character=b)
        for a, b in directions
        if (a.pk, b.pk) not in found
    ]
    rows_insert(missing)
    for rel in missing:
        found[(rel.from_character_id, rel.to_character_id)] = rel
    return found[(initiator.pk, target.pk)], found[(target.pk, initiator.pk)]


def _relationship_state(rel: Relationship) -> RelationshipState:
    return RelationshipState(
        strength=rel.strength, trust=rel.trust, interaction_count=rel.interaction_count
    )


def _move_relationship(
    rel: Relationship, *, interaction_type: str, heard_sentiment: float, compat: float, now: Any
) -> dict[str, Any]:
    before = _relationship_state(rel)
    delta = relationship_delta(
        interaction_type=interaction_type,
        sentiment=heard_sentiment,
        compatibility=compat,
        current=before,
    )
    after = apply_delta(before, delta)
    rel.strength, rel.trust, rel.interaction_count = (
        after.strength,
        after.trust,
        after.interaction_count,
    )
    rel.last_interaction_at = now
    rel.updated_at = now
    rel.version += 1
    return {
        "from": str(rel.from_character_id),
        "to": str(rel.to_character_id),
        "strength_before": round(before.strength, 4),
        "strength_after": round(after.strength, 4),
        "trust_before": round(before.trust, 4),
        "trust_after": round(after.trust, 4),
        "strength_delta": round(after.strength - before.strength, 4),
        "trust_delta": round(after.trust - before.trust, 4),
        "interaction_count": after.interaction_count,
        "label": relationship_label(after.strength, after.trust, after.interaction_count),
        "version": rel.version,
    }


def _feel_and_tire(
    character: Character,
    *,
    interaction_type: str,
    own_sentiment: float,
    heard_sentiment: float,
    initiated: bool,
) -> None:
    personality = character.personality
    state = character_emotion(character=character)
    state = emotion.appraise(
        state, personality, sentiment=own_sentiment, interaction_type=interaction_type, heard=False
    )
    state = emotion.appraise(
        state, personality, sentiment=heard_sentiment, interaction_type=interaction_type, heard=True
    )
    character_set_emotion(character=character, state=state)
    character.energy = energy.apply_interaction(
        character.energy, personality, interaction_type=interaction_type, initiated=initiated
    )
    character.status = energy.next_status(character.energy, character.status)


def _recent_exchanges(initiator: Character, target: Character) -> tuple[tuple[str, str], ...]:
    rows = (
        Interaction.objects.filter(
            Q(initiator=initiator, target=target) | Q(initiator=target, target=initiator)
        )
        .order_by("-created")
        .values_list("initiator_id", "content", "response")[:3]
    )
    names = {initiator.pk: (initiator.name, target.name), target.pk: (target.name, initiator.name)}
    exchanges: list[tuple[str, str]] = []
    for initiator_id, content, response in reversed(list(rows)):
        first, second = names[initiator_id]
        exchanges += [(first, content), (second, response)]
    return tuple(exchanges)


def interaction_process(
    *,
    initiator_id: uuid.UUID,
    target_id: uuid.UUID,
    interaction_type: str,
    content: str | None = None,
    owner: User | None = None,
    scenario: Any = None,
    turn: int | None = None,
    user_message: Any = None,
    seed: int = 0,
) -> InteractionResult:
    """Run one interaction in a transaction of its own. ``owner`` scopes the characters to
    one user's ecosystems (API callers); ``content`` None lets the initiator's own voice
    open. Raises NotFoundError (404) or InteractionRefused (409); writes nothing then."""
    started = time.perf_counter()
    with transaction.atomic():
        initiator, target = _load_pair(initiator_id=initiator_id, target_id=target_id, owner=owner)
        return interaction_process_locked(
            initiator=initiator,
            target=target,
            interaction_type=interaction_type,
            content=content,
            scenario=scenario,
            turn=turn,
            user_message=user_message,
            seed=seed,
            started=started,
        )


def interaction_process_locked(
    *,
    initiator: Character,
    target: Character,
    interaction_type: str,
    content: str | None = None,
    relationships: RelationshipRows | None = None,
    scenario: Any = None,
    turn: int | None = None,
    user_message: Any = None,
    seed: int = 0,
    now: datetime | None = None,
    started: float | None = None,
) -> InteractionResult:
    """The hot path on two characters the caller has locked (``select_for_update``, in
    primary-key order) inside its transaction. ``relationships`` holds the pair's rows when
    the caller has locked those too (the scenario clock has). Raises InteractionRefused
    before it writes anything."""
    started = time.perf_counter() if started is None else started
    backend = dialogue_backend()
    now = now or timezone.now()
    character_bring_up_to_date(character=initiator, now=now)
    character_bring_up_to_date(character=target, now=now)
    _check_feasible(initiator, target)
    regard_of_target, regard_of_initiator = _pair_relationships(initiator, target, relationships)

    recent = _recent_exchanges(initiator, target) if backend.name != "template" else ()

    def context(
        speaker: Character, listener: Character, regard: Relationship, utterance: str | None
    ) -> DialogueContext:
        return DialogueContext(
            speaker=character_speaker(speaker),
            listener=character_speaker(listener),
            interaction_type=interaction_type,
            relationship=_relationship_state(regard),
            utterance=utterance,
            recent=recent,
            seed=seed,
            setting=scenario.setting if scenario else "",
            mood=scenario.mood if scenario else "",
            objectives=tuple(scenario.objectives) if scenario else (),
        )

    if content is None:
        content = backend.opening(context(initiator, target, regard_of_target, None))
    response = backend.reply(context(target, initiator, regard_of_initiator, content))
    content_sentiment = sentiment(content)
    response_sentiment = sentiment(response)
    compat = compatibility(initiator.personality, target.personality)

    changes = [
        _move_relationship(
            regard_of_target,
            interaction_type=interaction_type,
            heard_sentiment=response_sentiment,
            compat=compat,
            now=now,
        ),
        _move_relationship(
            regard_of_initiator,
            interaction_type=interaction_type,
            heard_sentiment=content_sentiment,
            compat=compat,
            now=now,
        ),
    ]
    _feel_and_tire(
        initiator,
        interaction_type=interaction_type,
        own_sentiment=content_sentiment,
        heard_sentiment=response_sentiment,
        initiated=True,
    )
    _feel_and_tire(
        target,
        interaction_type=interaction_type,
        own_sentiment=response_sentiment,
        heard_sentiment=content_sentiment,
        initiated=False,
    )
    rows_update([initiator, target], CHARACTER_STATE_FIELDS)
    rows_update([regard_of_target, regard_of_initiator], RELATIONSHIP_FIELDS)

    emotional_states = {
        str(initiator.pk): _state_of(initiator),
        str(target.pk): _state_of(target),
    }
    relationship_change = {
        "strength_delta": changes[0]["strength_delta"],
        "trust_delta": changes[0]["trust_delta"],
        "new_strength": changes[0]["strength_after"],
        "new_trust": changes[0]["trust_after"],
        "reverse": {
            "strength_delta": changes[1]["strength_delta"],
            "trust_delta": changes[1]["trust_delta"],
            "new_strength": changes[1]["strength_after"],
            "new_trust": changes[1]["trust_after"],
        },
    }
    latency_ms = (time.perf_counter() - started) * 1000
    interaction = Interaction(
        ecosystem_id=initiator.ecosystem_id,
        scenario=scenario,
        turn=turn,
        initiator=initiator,
        target=target,
        interaction_type=interaction_type,
        content=content,
        response=response,
        content_sentiment=content_sentiment,
        response_sentiment=response_sentiment,
        relationship_change=relationship_change,
        emotional_states=emotional_states,
        user_message=user_message,
        latency_ms=latency_ms,
    )
    rows_insert([interaction])
    names = {str(initiator.pk): initiator.name, str(target.pk): target.name}
    for change in changes:
        change["from_name"] = names[change["from"]]
        change["to_name"] = names[change["to"]]
    events = events_append(
        ecosystem_id=initiator.ecosystem_id,
        events=[
            (
                "character_interaction",
                {
                    "interaction_id": str(interaction.pk),
                    "participants": [str(initiator.pk), str(target.pk)],
                    "names": names,
                    "interaction_type": interaction_type,
                    "content": content,
                    "response": response,
                    "sentiment": {
                        "content": round(content_sentiment, 4),
                        "response": round(response_sentiment, 4),
                    },
                    "relationship_change": relationship_change,
                    "emotional_states": emotional_states,
                    "scenario_id": str(scenario.pk) if scenario else None,
                    "turn": turn,
                    "user_message_id": str(user_message.pk) if user_message else None,
                },
            ),
            ("relationship_changed", {"changes": changes}),
            ("character_state_changed", {"characters": emotional_states}),
        ],
    )
    relationship_ids = [regard_of_target.pk, regard_of_initiator.pk]
    ecosystem_id = initiator.ecosystem_id
    transaction.on_commit(
        lambda: graph_sync_enqueue(relationship_ids=relationship_ids, ecosystem_id=ecosystem_id)
    )
    elapsed_seconds = time.perf_counter() - started
    transaction.on_commit(lambda: metrics.interaction_latency_observe(elapsed_seconds))
    return InteractionResult(
        interaction=interaction,
        relationship_change=relationship_change,
        emotional_state=emotional_states,
        event_seq=events[-1].seq,
    )
