"""The scenario director: who speaks on this turn, to whom, and what kind of exchange it is.

Pure and seeded: the same inputs give the same plan in every process (the random stream is
``random.Random(f"{seed}:{turn}")``, and participants are taken in id order, so the order
the caller lists them in does not matter). No Django, no I/O. Formulas and their reasons:
``docs/models.md``, section "Director".
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from characters.emotion import PAD
from characters.energy import can_interact
from characters.personality import INTERACTION_TYPES, BigFive, InteractionType, talkativeness
from interactions.sentiment import mood_tension, sentiment
from relationships.dynamics import (
    INITIAL_STRENGTH,
    INITIAL_TRUST,
    RelationshipState,
)

# --- Who speaks ------------------------------------------------------------------------------
# weight = max(talkativeness, 0.05) * energy
#          * 0.2 if they spoke last
#          * 0.4 ** (how often they spoke among the last 8 utterances, i.e. ~4 exchanges)
# Talkativeness is mostly extraversion (Mehl et al. 2006); tired people talk less; the two
# penalties pass the floor on, as turn-taking in a group does (Sacks, Schegloff & Jefferson
# 1974), so even a character ten times as talkative as the rest does not hold it.
TALKATIVENESS_FLOOR = 0.05
LAST_SPEAKER_PENALTY = 0.2
FLOOR_WINDOW = 8
FLOOR_PENALTY = 0.4

# --- To whom -------------------------------------------------------------------------------
# weight = 0.25 + |strength| + 0.5 * count / (count + 5)
#          * 3 if the candidate spoke last (a reply)
#          * (1 + 2 * C * trust) when the scenario has objectives
# People address those they feel strongly about, either way, and those they know; a turn
# usually answers the last speaker; conscientious people pursue a goal with those they trust.
TARGET_BASE_WEIGHT = 0.25
TARGET_FAMILIARITY_WEIGHT = 0.5
FAMILIARITY_HALF_COUNT = 5
REPLY_BONUS = 3.0
OBJECTIVE_TRUST_GAIN = 2.0

# --- How -------------------------------------------------------------------------------------
# weight(type) = BASE_TYPE_WEIGHTS[type] times the factors below
# (docs/models.md, "How: the interaction type").
BASE_TYPE_WEIGHTS: dict[str, float] = {
    InteractionType.GREETING: 0.15,
    InteractionType.CHAT: 1.0,
    InteractionType.CONFLICT: 0.3,
    InteractionType.COLLABORATION: 0.4,
}
FIRST_MEETING_GREETING_BONUS = 2.0  # added to greeting when they have never spoken
MOOD_CONFLICT_GAIN = 1.5  # conflict * exp(1.5 * tension)
MOOD_COLLABORATION_GAIN = 0.8  # collaboration * exp(-0.8 * tension)
RELATIONSHIP_CONFLICT_GAIN = 2.0  # conflict * exp(-2 * strength)
TEMPER_CONFLICT_GAIN = 2.0  # conflict * exp(2 * ((0.5 - A) + (N - 0.5)))
EMOTION_PLEASURE_CONFLICT_GAIN = 0.8  # conflict * exp(-0.8 * pleasure + 0.4 * max(0, arousal))
EMOTION_AROUSAL_CONFLICT_GAIN = 0.4
OBJECTIVE_COLLABORATION_BONUS = 1.5  # collaboration * 1.5 * exp(2 (C - 0.5)) with objectives
OBJECTIVE_CONSCIENTIOUSNESS_GAIN = 2.0
PLAIN_CONSCIENTIOUSNESS_GAIN = 0.5  # collaboration * exp(0.5 (C - 0.5)) without objectives
TRUST_COLLABORATION_OFFSET = 0.5  # collaboration * (0.5 + trust)

# A person's message at or below this VADER compound score is answered as a conflict.
HOSTILE_SENTIMENT = -0.5


@dataclass(frozen=True)
class Participant:
    id: str
    personality: BigFive
    energy: float
    active: bool  # status is "active" (not resting, not archived)
    emotion: PAD


@dataclass(frozen=True)
class PendingMessage:
    """A person's message waiting for an answer; ``target_id`` names who should answer."""

    content: str
    target_id: str | None


@dataclass(frozen=True)
class TurnPlan:
    initiator_id: str
    target_id: str
    interaction_type: str
    answers_user: bool
    user_message: str | None


def can_talk(participant: Participant) -> bool:
    """Active and with enough energy for an exchange (the interaction service's own rule)."""
    return participant.active and can_interact(participant.energy)


def relationship_between(
    relationships: Mapping[tuple[str, str], RelationshipState], from_id: str, to_id: str
) -> RelationshipState:
    """How ``from_id`` regards ``to_id``; a missing pair is a stranger at the initial values."""
    found = relationships.get((from_id, to_id))
    if found is not None:
        return found
    return RelationshipState(strength=INITIAL_STRENGTH, trust=INITIAL_TRUST, interaction_count=0)


def speaker_weight(participant: Participant, recent_speakers: Sequence[str]) -> float:
    weight = max(talkativeness(participant.personality), TALKATIVENESS_FLOOR) * max(
        participant.energy, 0.0
    )
    if recent_speakers and recent_speakers[-1] == participant.id:
        weight *= LAST_SPEAKER_PENALTY
    window = recent_speakers[-FLOOR_WINDOW:]
    weight *= FLOOR_PENALTY ** sum(1 for speaker_id in window if speaker_id == participant.id)
    return weight


def target_weight(
    speaker: Participant,
    candidate: Participant,
    relationship: RelationshipState,
    *,
    last_speaker: str | None,
    has_objectives: bool,
) -> float:
    count = max(relationship.interaction_count, 0)
    familiarity = count / (count + FAMILIARITY_HALF_COUNT)
    weight = (
        TARGET_BASE_WEIGHT + abs(relationship.strength) + TARGET_FAMILIARITY_WEIGHT * familiarity
    )
    if candidate.id == last_speaker:
        weight *= REPLY_BONUS
    if has_objectives:
        weight *= (
            1.0 + OBJECTIVE_TRUST_GAIN * speaker.personality.conscientiousness * relationship.trust
        )
    return weight


def interaction_type_weights(
    speaker: Participant,
    relationship: RelationshipState,
    *,
    tension: float,
    has_objectives: bool,
) -> dict[str, float]:
    """Unnormalised odds of each interaction type for this speaker and pair."""
    personality, emotion = speaker.personality, speaker.emotion
    weights = dict(BASE_TYPE_WEIGHTS)
    if relationship.interaction_count <= 0:
        weights[InteractionType.GREETING] += FIRST_MEETING_GREETING_BONUS
    temper = (0.5 - personality.agreeableness) + (personality.neuroticism - 0.5)
    weights[InteractionType.CONFLICT] *= math.exp(
        MOOD_CONFLICT_GAIN * tension
        - RELATIONSHIP_CONFLICT_GAIN * relationship.strength
        + TEMPER_CONFLICT_GAIN * temper
        - EMOTION_PLEASURE_CONFLICT_GAIN * emotion.pleasure
        + EMOTION_AROUSAL_CONFLICT_GAIN * max(0.0, emotion.arousal)
    )
    collaboration = math.exp(-MOOD_COLLABORATION_GAIN * tension) * (
        TRUST_COLLABORATION_OFFSET + relationship.trust
    )
    conscientiousness = personality.conscientiousness - 0.5
    if has_objectives:
        collaboration *= OBJECTIVE_COLLABORATION_BONUS * math.exp(
            OBJECTIVE_CONSCIENTIOUSNESS_GAIN * conscientiousness
        )
    else:
        collaboration *= math.exp(PLAIN_CONSCIENTIOUSNESS_GAIN * conscientiousness)
    weights[InteractionType.COLLABORATION] *= collaboration
    return weights


def _weighted_pick(rng: random.Random, options: Sequence[str], weights: Sequence[float]) -> str:
    if sum(weights) <= 0.0:
        return options[0]
    return rng.choices(options, weights=weights, k=1)[0]


def _pick_initiator(
    rng: random.Random,
    able: Sequence[Participant],
    by_id: Mapping[str, Participant],
    recent_speakers: Sequence[str],
    pending: PendingMessage | None,
) -> Participant:
    """Who speaks: the person's addressee (or, with nobody able named, the most talkative)
    when a message waits; otherwise a draw weighted by ``speaker_weight``."""
    if pending is not None:
        named = by_id.get(pending.target_id) if pending.target_id is not None else None
        if named is not None and can_talk(named):
            return named
        # Nobody named (or the named one cannot talk): the most talkative answers.
        return min(able, key=lambda p: (-talkativeness(p.personality) * p.energy, p.id))
    return by_id[
        _weighted_pick(
            rng,
            [p.id for p in able],
            [speaker_weight(p, recent_speakers) for p in able],
        )
    ]


def _pick_target(
    rng: random.Random,
    initiator: Participant,
    able: Sequence[Participant],
    relationships: Mapping[tuple[str, str], RelationshipState],
    *,
    last_speaker: str | None,
    has_objectives: bool,
) -> Participant:
    """To whom: a draw among the others, weighted by ``target_weight``."""
    candidates = [p for p in able if p.id != initiator.id]
    picked = _weighted_pick(
        rng,
        [p.id for p in candidates],
        [
            target_weight(
                initiator,
                candidate,
                relationship_between(relationships, initiator.id, candidate.id),
                last_speaker=last_speaker,
                has_objectives=has_objectives,
            )
            for candidate in candidates
        ],
    )
    return next(p for p in candidates if p.id == picked)


def _pick_type(
    rng: random.Random,
    initiator: Participant,
    relationship: RelationshipState,
    *,
    mood: str,
    has_objectives: bool,
    pending: PendingMessage | None,
) -> str:
    """How: conflict or chat by the waiting message's tone; otherwise a draw weighted by
    ``interaction_type_weights``."""
    if pending is not None:
        hostile = sentiment(pending.content) <= HOSTILE_SENTIMENT
        return InteractionType.CONFLICT if hostile else InteractionType.CHAT
    weights = interaction_type_weights(
        initiator, relationship, tension=mood_tension(mood), has_objectives=has_objectives
    )
    return _weighted_pick(rng, INTERACTION_TYPES, [weights[kind] for kind in INTERACTION_TYPES])


def plan_turn(
    *,
    participants: Sequence[Participant],
    relationships: Mapping[tuple[str, str], RelationshipState],
    recent_speakers: Sequence[str],
    mood: str,
    objectives: Sequence[str],
    seed: int,
    turn: int,
    pending: PendingMessage | None = None,
) -> TurnPlan | None:
    """Decide one scenario turn, or None when fewer than two participants can talk.

    ``relationships[(a, b)]`` is how a regards b (a missing pair is a stranger).
    ``recent_speakers`` are ids in the order they spoke, most recent last: a turn in which A
    opens and B answers adds A, then B. The random draws come in one order: initiator,
    target, type.
    """
    by_id: dict[str, Participant] = {}
    for participant in participants:
        by_id.setdefault(participant.id, participant)
    able = [by_id[key] for key in sorted(by_id) if can_talk(by_id[key])]
    if len(able) < 2:
        return None
    rng = random.Random(f"{seed}:{turn}")
    has_objectives = any(objective.strip() for objective in objectives)
    initiator = _pick_initiator(rng, able, by_id, recent_speakers, pending)
    target = _pick_target(
        rng,
        initiator,
        able,
        relationships,
        last_speaker=recent_speakers[-1] if recent_speakers else None,
        has_objectives=has_objectives,
    )
    interaction_type = _pick_type(
        rng,
        initiator,
        relationship_between(relationships, initiator.id, target.id),
        mood=mood,
        has_objectives=has_objectives,
        pending=pending,
    )
    return TurnPlan(
        initiator_id=initiator.id,
        target_id=target.id,
        interaction_type=interaction_type,
        answers_user=pending is not None,
        user_message=pending.content if pending is not None else None,
    )
