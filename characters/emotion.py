"""Emotion as a point in PAD space: personality baseline, appraisal, decay and label.

Pure domain code: no Django, no I/O, plain float math (it runs on every interaction).
Formulas, reasons and citations: docs/models.md, section "Emotion".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .personality import TRAIT_MIDPOINT, BigFive, InteractionType

PAD_MIN = -1.0
PAD_MAX = 1.0


@dataclass(frozen=True, slots=True)
class PAD:
    """Pleasure, arousal, dominance; each in -1..1 (Mehrabian & Russell's three axes)."""

    pleasure: float
    arousal: float
    dominance: float


def _clamp(value: float) -> float:
    return PAD_MIN if value < PAD_MIN else PAD_MAX if value > PAD_MAX else value


# --- Baseline: Big Five -> PAD temperament --------------------------------------------
# Mehrabian (1996), as inverted into PAD by Gebhard (2005, ALMA), with traits centred to
# -1..1. The printed "N" in ALMA is emotional *stability* (= -neuroticism): Mehrabian's own
# equation gives Emotional Stability = .50P - .55A, so a neurotic temperament is unpleasant
# and aroused, and we feed stability = 1 - 2 * neuroticism.
BASELINE_PLEASURE_EXTRAVERSION = 0.21
BASELINE_PLEASURE_AGREEABLENESS = 0.59
BASELINE_PLEASURE_STABILITY = 0.19
BASELINE_AROUSAL_OPENNESS = 0.15
BASELINE_AROUSAL_AGREEABLENESS = 0.30
BASELINE_AROUSAL_STABILITY = -0.57
BASELINE_DOMINANCE_OPENNESS = 0.25
BASELINE_DOMINANCE_CONSCIENTIOUSNESS = 0.17
BASELINE_DOMINANCE_EXTRAVERSION = 0.60
BASELINE_DOMINANCE_AGREEABLENESS = -0.32

# --- Appraisal ----------------------------------------------------------------------------
# The push each kind of exchange gives, before sentiment and personality. Conflict is the
# anger direction of PAD (unpleasant, aroused, dominant: Russell & Mehrabian 1977).
# Only conflict pushes arousal and dominance up; a chat soothes a little (company lowers
# arousal: Coan & Sbarra 2015), greeting and collaboration leave them alone. Were every
# exchange arousing and dominating, as before issue #15, a busy cast would pile up in the
# aroused-dominant octants (joy or anger) and stay there (docs/models.md, "Why the range").
INTERACTION_IMPULSES: dict[str, PAD] = {
    "greeting": PAD(pleasure=0.05, arousal=0.0, dominance=0.0),
    "chat": PAD(pleasure=0.0, arousal=-0.05, dominance=0.0),
    "conflict": PAD(pleasure=-0.15, arousal=0.30, dominance=0.15),
    "collaboration": PAD(pleasure=0.05, arousal=0.0, dominance=0.0),
}
# Pleasure follows the utterance's valence; a strongly valenced utterance is a little arousing.
SENTIMENT_PLEASURE_GAIN = 0.3
SENTIMENT_AROUSAL_GAIN = 0.05
# Trait reactivity (Larsen & Ketelaar 1991): neuroticism amplifies negative affect,
# extraversion positive affect. Factor = 1 + gain * (trait - 0.5): 1 for an average person.
NEUROTICISM_NEGATIVE_GAIN = 1.0
EXTRAVERSION_POSITIVE_GAIN = 0.6
# Agreeableness damps the arousal/dominance (anger) push of conflict (Meier et al. 2006;
# Graziano et al. 1996). Factor = 1 - damping * (A - 0.5): 0.6 .. 1.4.
AGREEABLENESS_ANGER_DAMPING = 0.8
# Hearing an utterance moves you fully; your own utterance moves you half as much.
HEARD_UTTERANCE_WEIGHT = 1.0
OWN_UTTERANCE_WEIGHT = 0.5

# --- Decay ----------------------------------------------------------------------------------
# 2 minutes: an emotion, not a mood. At the clock's 5 s tick a character is appraised about
# every 15 s; with 10 minutes decay gave back ~2% of the way between two appraisals.
EMOTION_HALF_LIFE_SECONDS = 120.0
_DECAY_RATE_PER_SECOND = math.log(2.0) / EMOTION_HALF_LIFE_SECONDS

# --- Label ----------------------------------------------------------------------------------
# Within this distance of the origin a state is "neutral"; elsewhere its PAD octant names it
# (Mehrabian 1996 temperament octants, given the emotion word nearest each octant).
NEUTRAL_RADIUS = 0.15
NEUTRAL = "neutral"
OCTANT_LABELS: dict[tuple[bool, bool, bool], str] = {
    # (pleasure >= 0, arousal >= 0, dominance >= 0): label   # Mehrabian's octant name
    (True, True, True): "joy",  # exuberant
    (True, True, False): "surprise",  # dependent
    (True, False, True): "calm",  # relaxed
    (True, False, False): "content",  # docile
    (False, True, True): "anger",  # hostile
    (False, True, False): "fear",  # anxious
    (False, False, True): "contempt",  # disdainful
    (False, False, False): "sadness",  # bored / depressed
}
EMOTION_LABELS: tuple[str, ...] = (NEUTRAL, *OCTANT_LABELS.values())


def baseline(p: BigFive) -> PAD:
    """The personality's resting mood (temperament), clamped to -1..1.

    With o, c, e, a = 2*trait - 1 and s = 1 - 2*neuroticism (emotional stability):
      P = 0.21 e + 0.59 a + 0.19 s
      A = 0.15 o + 0.30 a - 0.57 s
      D = 0.25 o + 0.17 c + 0.60 e - 0.32 a
    """
    openness = 2.0 * p.openness - 1.0
    conscientiousness = 2.0 * p.conscientiousness - 1.0
    extraversion = 2.0 * p.extraversion - 1.0
    agreeableness = 2.0 * p.agreeableness - 1.0
    stability = 1.0 - 2.0 * p.neuroticism
    return PAD(
        pleasure=_clamp(
            BASELINE_PLEASURE_EXTRAVERSION * extraversion
            + BASELINE_PLEASURE_AGREEABLENESS * agreeableness
            + BASELINE_PLEASURE_STABILITY * stability
        ),
        arousal=_clamp(
            BASELINE_AROUSAL_OPENNESS * openness
            + BASELINE_AROUSAL_AGREEABLENESS * agreeableness
            + BASELINE_AROUSAL_STABILITY * stability
        ),
        dominance=_clamp(
            BASELINE_DOMINANCE_OPENNESS * openness
            + BASELINE_DOMINANCE_CONSCIENTIOUSNESS * conscientiousness
            + BASELINE_DOMINANCE_EXTRAVERSION * extraversion
            + BASELINE_DOMINANCE_AGREEABLENESS * agreeableness
        ),
    )


def _approach_bound(value: float, change: float) -> float:
    """Move value by change, scaled by the room left toward the bound it moves to.

    value + change * (1 - value) when rising, value + change * (1 + value) when falling:
    big pushes saturate instead of piling up against +-1.
    """
    if change > 0.0:
        return _clamp(value + change * (PAD_MAX - value))
    return _clamp(value + change * (value - PAD_MIN))


def appraise(
    state: PAD,
    personality: BigFive,
    *,
    sentiment: float,
    interaction_type: str,
    heard: bool,
) -> PAD:
    """The emotional state after one utterance of an exchange; always within -1..1.

    s = sentiment clamped to -1..1 (VADER compound); (iP, iA, iD) = INTERACTION_IMPULSES[type]
      dP = iP + 0.3 s,  times 1 + 1.0 (N - 0.5) if dP < 0 else 1 + 0.6 (E - 0.5)
      dA = iA + 0.1 |s|
      dD = iD
      conflict: dA, dD times 1 - 0.8 (A - 0.5)
      all three times 1.0 if heard else 0.5 (own utterance)
    Each axis then moves by its d, scaled by the room left toward the bound (see
    _approach_bound). Raises ValueError for an unknown interaction_type.
    """
    impulse = INTERACTION_IMPULSES.get(interaction_type)
    if impulse is None:
        raise ValueError(f"unknown interaction_type {interaction_type!r}")
    sentiment = -1.0 if sentiment < -1.0 else 1.0 if sentiment > 1.0 else sentiment

    pleasure_change = impulse.pleasure + SENTIMENT_PLEASURE_GAIN * sentiment
    arousal_change = impulse.arousal + SENTIMENT_AROUSAL_GAIN * abs(sentiment)
    dominance_change = impulse.dominance

    if pleasure_change < 0.0:
        pleasure_change *= 1.0 + NEUROTICISM_NEGATIVE_GAIN * (
            personality.neuroticism - TRAIT_MIDPOINT
        )
    else:
        pleasure_change *= 1.0 + EXTRAVERSION_POSITIVE_GAIN * (
            personality.extraversion - TRAIT_MIDPOINT
        )
    if interaction_type == InteractionType.CONFLICT:
        anger_softening = 1.0 - AGREEABLENESS_ANGER_DAMPING * (
            personality.agreeableness - TRAIT_MIDPOINT
        )
        arousal_change *= anger_softening
        dominance_change *= anger_softening

    weight = HEARD_UTTERANCE_WEIGHT if heard else OWN_UTTERANCE_WEIGHT
    return PAD(
        pleasure=_approach_bound(state.pleasure, weight * pleasure_change),
        arousal=_approach_bound(state.arousal, weight * arousal_change),
        dominance=_approach_bound(state.dominance, weight * dominance_change),
    )


def decay(state: PAD, personality: BigFive, *, elapsed_seconds: float) -> PAD:
    """Relax toward baseline(personality) exponentially; elapsed_seconds <= 0 -> unchanged.

    x' = b + (x - b) * 2 ** (-elapsed / EMOTION_HALF_LIFE_SECONDS), per axis, b the baseline.
    Never overshoots the baseline; decay(decay(x, t1), t2) == decay(x, t1 + t2).
    """
    if not elapsed_seconds > 0.0:  # also refuses NaN
        return state
    remaining = math.exp(-_DECAY_RATE_PER_SECOND * elapsed_seconds)
    rest = baseline(personality)
    return PAD(
        pleasure=_clamp(rest.pleasure + (state.pleasure - rest.pleasure) * remaining),
        arousal=_clamp(rest.arousal + (state.arousal - rest.arousal) * remaining),
        dominance=_clamp(rest.dominance + (state.dominance - rest.dominance) * remaining),
    )


def label(state: PAD) -> str:
    """A readable name for a PAD state, one of EMOTION_LABELS.

    "neutral" when P^2 + A^2 + D^2 < 0.15^2, else the name of the PAD octant
    (sign of each axis, zero counted as positive).
    """
    pleasure, arousal, dominance = state.pleasure, state.arousal, state.dominance
    if pleasure * pleasure + arousal * arousal + dominance * dominance < NEUTRAL_RADIUS**2:
        return NEUTRAL
    return OCTANT_LABELS[(pleasure >= 0.0, arousal >= 0.0, dominance >= 0.0)]
