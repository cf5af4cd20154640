"""Relationship dynamics: how one exchange moves one character's regard for another.

Pure domain code: no Django, no I/O, plain float math (it runs twice per interaction, once
per direction). Formulas, reasons and citations: docs/models.md, section "Relationships".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# Only for tests/interactions/test_dialogue_template.py, which still imports it from here:
# the definition is characters.personality.InteractionType. Remove with that import.

STRENGTH_MIN = -1.0
STRENGTH_MAX = 1.0
TRUST_MIN = 0.0
TRUST_MAX = 1.0
SIGNED_MIN = -1.0
SIGNED_MAX = 1.0

# Where a new relationship starts (the Relationship model's defaults should match).
INITIAL_STRENGTH = 0.0
INITIAL_TRUST = 0.3


@dataclass(frozen=True, slots=True)
class RelationshipState:
    """How one character regards another: strength -1..1, trust 0..1, exchanges so far."""

    strength: float
    trust: float
    interaction_count: int = 0


@dataclass(frozen=True, slots=True)
class RelationshipDelta:
    """The change one exchange makes to a RelationshipState (already saturated)."""

    strength_delta: float
    trust_delta: float


@dataclass(frozen=True, slots=True)
class InteractionRates:
    """Per-interaction-type rates, before compatibility and saturation.

    raw = base + gain * s for sentiment s >= 0, base + loss * s for s < 0.
    """

    strength_base: float
    strength_gain: float
    strength_loss: float
    trust_base: float
    trust_gain: float
    trust_loss: float


# Negative sentiment weighs about five times positive (Gottman's ~5:1 ratio; "bad is
# stronger than good", Baumeister et al. 2001). Trust is slow to build and quick to lose
# (Slovic 1993; Rempel et al. 1985): trust_loss is 4-24x trust_gain. Plain contact breeds a
# little liking (mere exposure: Reis et al. 2011); conflict itself costs something even when
# politely worded; working together builds trust by itself (Rempel et al. 1985; Simpson 2007).
INTERACTION_RATES: dict[str, InteractionRates] = {
    "greeting": InteractionRates(
        strength_base=0.01,
        strength_gain=0.03,
        strength_loss=0.08,
        trust_base=0.0,
        trust_gain=0.005,
        trust_loss=0.025,
    ),
    "chat": InteractionRates(
        strength_base=0.01,
        strength_gain=0.05,
        strength_loss=0.15,
        trust_base=0.0,
        trust_gain=0.01,
        trust_loss=0.05,
    ),
    "collaboration": InteractionRates(
        strength_base=0.02,
        strength_gain=0.06,
        strength_loss=0.15,
        trust_base=0.01,
        trust_gain=0.03,
        trust_loss=0.12,
    ),
    "conflict": InteractionRates(
        strength_base=-0.05,
        strength_gain=0.02,
        strength_loss=0.25,
        trust_base=-0.01,
        trust_gain=0.005,
        trust_loss=0.12,
    ),
}

# Compatible pairs gain more from good exchanges and lose less from bad ones:
# gains times 1 + 0.3 c, losses times 1 - 0.3 c (c = compatibility, -1..1).
COMPATIBILITY_MODERATION = 0.3

# Labels (thresholds on strength, plus trust for "close friend").
STRANGER = "stranger"
ACQUAINTANCE = "acquaintance"
FRIEND = "friend"
CLOSE_FRIEND = "close friend"
RIVAL = "rival"
ENEMY = "enemy"
RELATIONSHIP_LABELS: tuple[str, ...] = (STRANGER, ACQUAINTANCE, FRIEND, CLOSE_FRIEND, RIVAL, ENEMY)
STRANGER_MAX_ABS_STRENGTH = 0.05  # below this |strength| they still hardly know each other
ENEMY_MAX_STRENGTH = -0.6
RIVAL_MAX_STRENGTH = -0.2
CLOSE_FRIEND_MIN_STRENGTH = 0.6
CLOSE_FRIEND_MIN_TRUST = 0.6
FRIEND_MIN_STRENGTH = 0.3


def _clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


def _moderated(raw: float, compatibility: float) -> float:
    """raw * (1 + 0.3 c) for a gain, raw * (1 - 0.3 c) for a loss."""
    if raw > 0.0:
        return raw * (1.0 + COMPATIBILITY_MODERATION * compatibility)
    return raw * (1.0 - COMPATIBILITY_MODERATION * compatibility)


def relationship_delta(
    *,
    interaction_type: str,
    sentiment: float,
    compatibility: float,
    current: RelationshipState,
) -> RelationshipDelta:
    """How THIS character's regard for the other changes after the other said something.

    s = sentiment of the other's utterance, c = compatibility, both clamped to -1..1;
    r = INTERACTION_RATES[interaction_type]; for x in (strength, trust):
      raw_x = r.x_base + (r.x_gain * s if s >= 0 else r.x_loss * s)
      mod_x = raw_x * (1 + 0.3 c) if raw_x > 0 else raw_x * (1 - 0.3 c)
    Diminishing returns near the bounds (the step shrinks with the room left):
      strength_delta = mod_s * (1 - strength) if mod_s > 0 else mod_s * (1 + strength)
      trust_delta    = mod_t * (1 - trust)    if mod_t > 0 else mod_t * trust
    Raises ValueError for an unknown interaction_type.
    """
    rates = INTERACTION_RATES.get(interaction_type)
    if rates is None:
        raise ValueError(f"unknown interaction_type {interaction_type!r}")
    sentiment = _clamp(sentiment, SIGNED_MIN, SIGNED_MAX)
    compatibility = _clamp(compatibility, SIGNED_MIN, SIGNED_MAX)
    strength = _clamp(current.strength, STRENGTH_MIN, STRENGTH_MAX)
    trust = _clamp(current.trust, TRUST_MIN, TRUST_MAX)

    if sentiment >= 0.0:
        raw_strength = rates.strength_base + rates.strength_gain * sentiment
        raw_trust = rates.trust_base + rates.trust_gain * sentiment
    else:
        raw_strength = rates.strength_base + rates.strength_loss * sentiment
        raw_trust = rates.trust_base + rates.trust_loss * sentiment

    strength_change = _moderated(raw_strength, compatibility)
    trust_change = _moderated(raw_trust, compatibility)
    return RelationshipDelta(
        strength_delta=strength_change
        * ((STRENGTH_MAX - strength) if strength_change > 0.0 else (strength - STRENGTH_MIN)),
        trust_delta=trust_change
        * ((TRUST_MAX - trust) if trust_change > 0.0 else (trust - TRUST_MIN)),
    )


def apply_delta(current: RelationshipState, delta: RelationshipDelta) -> RelationshipState:
    """current + delta, strength clamped to -1..1 and trust to 0..1; interaction_count + 1."""
    return RelationshipState(
        strength=_clamp(current.strength + delta.strength_delta, STRENGTH_MIN, STRENGTH_MAX),
        trust=_clamp(current.trust + delta.trust_delta, TRUST_MIN, TRUST_MAX),
        interaction_count=current.interaction_count + 1,
    )


def relationship_label(strength: float, trust: float, interaction_count: int) -> str:
    """A readable name for a relationship, one of RELATIONSHIP_LABELS.

    First match wins: stranger (no exchanges, or |strength| < 0.05); enemy (strength <= -0.6);
    rival (<= -0.2); close friend (strength >= 0.6 and trust >= 0.6); friend (>= 0.3);
    otherwise acquaintance.
    """
    if interaction_count <= 0 or abs(strength) < STRANGER_MAX_ABS_STRENGTH:
        return STRANGER
    if strength <= ENEMY_MAX_STRENGTH:
        return ENEMY
    if strength <= RIVAL_MAX_STRENGTH:
        return RIVAL
    if strength >= CLOSE_FRIEND_MIN_STRENGTH and trust >= CLOSE_FRIEND_MIN_TRUST:
        return CLOSE_FRIEND
    if strength >= FRIEND_MIN_STRENGTH:
        return FRIEND
    return ACQUAINTANCE


class RelationshipLike(Protocol):
    """Anything holding a relationship's state: a ``Relationship`` row or a
    ``RelationshipState``."""

    @property
    def strength(self) -> float: ...

    @property
    def trust(self) -> float: ...

    @property
    def interaction_count(self) -> int: ...


def relationship_label_of(relationship: RelationshipLike) -> str:
    """``relationship_label`` of a relationship row or state."""
    return relationship_label(
        relationship.strength, relationship.trust, relationship.interaction_count
    )
