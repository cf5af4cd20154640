"""Big Five personality: the trait vector, pair compatibility and talkativeness; and the
interaction types.

Pure domain code: no Django, no I/O, plain float math (it runs on every interaction).
Formulas, reasons and citations: docs/models.md, section "Personality".
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum


class InteractionType(StrEnum):
    """The kinds of exchange: the one definition of the vocabulary. The pure models
    (emotion, energy, relationship dynamics), the director and ``Interaction.Type`` (the
    model's choices) all take it from here, the lowest layer that needs it."""

    GREETING = "greeting"
    CHAT = "chat"
    CONFLICT = "conflict"
    COLLABORATION = "collaboration"


INTERACTION_TYPES: tuple[str, ...] = tuple(kind.value for kind in InteractionType)

# A trait's population mean (every trait is in 0..1).
TRAIT_MIDPOINT = 0.5
# A trait at or past these reads as clearly high / low (the dialogue backends' wording).
TRAIT_HIGH = 0.65
TRAIT_LOW = 0.35

# Partner effects on relationship satisfaction, Malouff et al. (2010) meta-analysis,
# in correlation units: a partner's low neuroticism (r = -.22), high agreeableness (.15),
# high conscientiousness (.12) and high extraversion (.06). Openness was not significant.
PARTNER_WEIGHT_OPENNESS = 0.0
PARTNER_WEIGHT_CONSCIENTIOUSNESS = 0.12
PARTNER_WEIGHT_EXTRAVERSION = 0.06
PARTNER_WEIGHT_AGREEABLENESS = 0.15
PARTNER_WEIGHT_NEUROTICISM = -0.22
# Normaliser: the largest possible |weighted sum| of centred traits (each in -1..1).
PARTNER_WEIGHT_TOTAL = (
    abs(PARTNER_WEIGHT_OPENNESS)
    + abs(PARTNER_WEIGHT_CONSCIENTIOUSNESS)
    + abs(PARTNER_WEIGHT_EXTRAVERSION)
    + abs(PARTNER_WEIGHT_AGREEABLENESS)
    + abs(PARTNER_WEIGHT_NEUROTICISM)
)

# Level effects dominate; similarity adds little (Dyrenforth et al. 2010; Montoya et al. 2008).
COMPATIBILITY_LEVEL_WEIGHT = 0.85
COMPATIBILITY_SIMILARITY_WEIGHT = 0.15

# Talkativeness: the extraversion marker itself (Mehl et al. 2006), a little openness
# (more to talk about) and a little emotional stability (less social anxiety).
TALKATIVENESS_WEIGHT_EXTRAVERSION = 0.8
TALKATIVENESS_WEIGHT_OPENNESS = 0.1
TALKATIVENESS_WEIGHT_STABILITY = 0.1

UNIT_MIN = 0.0
UNIT_MAX = 1.0
SIGNED_MIN = -1.0
SIGNED_MAX = 1.0


@dataclass(frozen=True, slots=True)
class BigFive:
    """A Big Five (OCEAN) trait vector; every trait is in 0..1 with 0.5 the population mean.

    Not validated on construction (callers hold validated model fields); every function in
    the pure models clamps its output, so an out-of-range trait cannot push a result out of
    its bounds.
    """

    openness: float
    conscientiousness: float
    extraversion: float
    agreeableness: float
    neuroticism: float


# The trait names, in OCEAN order: also the Character model's field names.
BIG_FIVE_FIELDS: tuple[str, ...] = tuple(field.name for field in fields(BigFive))


def _centred(trait: float) -> float:
    """Map a 0..1 trait to -1..1 around the population midpoint: 2 * (trait - 0.5)."""
    return 2.0 * (trait - TRAIT_MIDPOINT)


def _clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


def partner_quality(p: BigFive) -> float:
    """How much this personality tends to make a relationship satisfying, in -1..1.

    partner_quality = sum_t(w_t * (2*t - 1)) / sum_t|w_t|, weights from Malouff et al. (2010).
    """
    weighted = (
        PARTNER_WEIGHT_OPENNESS * _centred(p.openness)
        + PARTNER_WEIGHT_CONSCIENTIOUSNESS * _centred(p.conscientiousness)
        + PARTNER_WEIGHT_EXTRAVERSION * _centred(p.extraversion)
        + PARTNER_WEIGHT_AGREEABLENESS * _centred(p.agreeableness)
        + PARTNER_WEIGHT_NEUROTICISM * _centred(p.neuroticism)
    )
    return _clamp(weighted / PARTNER_WEIGHT_TOTAL, SIGNED_MIN, SIGNED_MAX)


def similarity(a: BigFive, b: BigFive) -> float:
    """Profile similarity in -1..1: 1 - 2 * mean_t |a_t - b_t| (1 identical, -1 opposite)."""
    mean_distance = (
        abs(a.openness - b.openness)
        + abs(a.conscientiousness - b.conscientiousness)
        + abs(a.extraversion - b.extraversion)
        + abs(a.agreeableness - b.agreeableness)
        + abs(a.neuroticism - b.neuroticism)
    ) / len(BIG_FIVE_FIELDS)
    return _clamp(1.0 - 2.0 * mean_distance, SIGNED_MIN, SIGNED_MAX)


def compatibility(a: BigFive, b: BigFive) -> float:
    """Expected quality of a relationship between two personalities, in -1..1; symmetric.

    compatibility = 0.85 * (partner_quality(a) + partner_quality(b)) / 2
                  + 0.15 * similarity(a, b)

    Mostly the level of both people's traits (each is the other's partner), plus a small
    similarity term. Symmetric exactly: both terms are computed order-independently.
    """
    level = (partner_quality(a) + partner_quality(b)) / 2.0
    value = COMPATIBILITY_LEVEL_WEIGHT * level + COMPATIBILITY_SIMILARITY_WEIGHT * similarity(a, b)
    return _clamp(value, SIGNED_MIN, SIGNED_MAX)


def talkativeness(p: BigFive) -> float:
    """How readily this character speaks, in 0..1.

    talkativeness = 0.8 * E + 0.1 * O + 0.1 * (1 - N)
    """
    value = (
        TALKATIVENESS_WEIGHT_EXTRAVERSION * p.extraversion
        + TALKATIVENESS_WEIGHT_OPENNESS * p.openness
        + TALKATIVENESS_WEIGHT_STABILITY * (1.0 - p.neuroticism)
    )
    return _clamp(value, UNIT_MIN, UNIT_MAX)
