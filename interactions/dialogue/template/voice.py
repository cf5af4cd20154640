"""The speaker's voice in one exchange: stance toward the listener and the traits that
decide how much is said and how (from personality, emotion, relationship and the scenario).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from characters.emotion import label as emotion_label
from interactions.dialogue.base import DialogueContext
from interactions.sentiment import mood_tension
from relationships.dynamics import relationship_label_of

WARM, NEUTRAL, COLD, HOSTILE = "warm", "neutral", "cold", "hostile"

# --- How the voice is derived ------------------------------------------------------------
# warmth = 1.3 (A - 0.5) + 0.7 strength + 0.3 (trust - 0.5) + 0.25 pleasure
#          - 0.25 mood_tension + TYPE_WARMTH[type] + EMOTION_WARMTH[label]
# Agreeableness weighs most: it is the trait of warmth and of softening disagreement
# (Graziano et al. 1996), so an agreeable character stays kind even in a conflict.
WARMTH_AGREEABLENESS = 1.3
WARMTH_STRENGTH = 0.7
WARMTH_TRUST = 0.3
WARMTH_PLEASURE = 0.25
WARMTH_MOOD_TENSION = -0.25
TYPE_WARMTH = {"greeting": 0.15, "chat": 0.1, "conflict": -0.45, "collaboration": 0.15}
EMOTION_WARMTH = {"anger": -0.3, "contempt": -0.3, "joy": 0.1, "content": 0.1}
STANCE_THRESHOLDS = ((0.3, WARM), (-0.15, NEUTRAL), (-0.55, COLD))
COOL_RELATIONS = frozenset({"rival", "enemy"})
# Formal register at high conscientiousness, casual at low.
FORMAL_CONSCIENTIOUSNESS = 0.72
CASUAL_CONSCIENTIOUSNESS = 0.3
LOW_ENERGY = 0.3
# Extra sentences after the core: int(2.6 E + 1.1 u + 0.4 max(0, arousal) - 0.35), u ~ U(0,1),
# one fewer when tired, clamped to 0..3. Extraverts talk more (Mehl et al. 2006).
EXTRA_PER_EXTRAVERSION = 2.6
EXTRA_RANDOM_SPAN = 1.1
EXTRA_PER_AROUSAL = 0.4
EXTRA_OFFSET = -0.35
MAX_EXTRAS = 3

# How likely a yes/no question gets "yes", by stance (a conflict takes 0.2 off).
YES_LEANING = {WARM: 0.75, NEUTRAL: 0.55, COLD: 0.4, HOSTILE: 0.3}


@dataclass(frozen=True, slots=True)
class Voice:
    """How the speaker sounds in this exchange: traits, emotion and relation labels, stance."""

    openness: float
    conscientiousness: float
    extraversion: float
    agreeableness: float
    neuroticism: float
    emotion: str
    relation: str
    stance: str
    arousal: float
    energy: float


def stance_of(warmth: float) -> str:
    """warm (>= 0.3) | neutral (>= -0.15) | cold (>= -0.55) | hostile."""
    for threshold, stance in STANCE_THRESHOLDS:
        if warmth >= threshold:
            return stance
    return HOSTILE


def voice_of(ctx: DialogueContext) -> Voice:
    """The speaker's voice toward the listener in ``ctx``."""
    personality = ctx.speaker.personality
    emotion = ctx.speaker.emotion
    relationship = ctx.relationship
    emotion_name = emotion_label(emotion)
    warmth = (
        WARMTH_AGREEABLENESS * (personality.agreeableness - 0.5)
        + WARMTH_STRENGTH * relationship.strength
        + WARMTH_TRUST * (relationship.trust - 0.5)
        + WARMTH_PLEASURE * emotion.pleasure
        + WARMTH_MOOD_TENSION * mood_tension(ctx.mood)
        + TYPE_WARMTH.get(ctx.interaction_type, 0.0)
        + EMOTION_WARMTH.get(emotion_name, 0.0)
    )
    relation = relationship_label_of(relationship)
    stance = stance_of(warmth)
    if relation in COOL_RELATIONS and stance == WARM:
        # No friendly familiarity with a rival or an enemy, however agreeable the speaker.
        stance = NEUTRAL
    return Voice(
        openness=personality.openness,
        conscientiousness=personality.conscientiousness,
        extraversion=personality.extraversion,
        agreeableness=personality.agreeableness,
        neuroticism=personality.neuroticism,
        emotion=emotion_name,
        relation=relation,
        stance=stance,
        arousal=emotion.arousal,
        energy=ctx.speaker.energy,
    )


def extras_count(voice: Voice, rng: random.Random) -> int:
    """How many extra sentences follow the core (draws one number from ``rng``)."""
    count = int(
        EXTRA_PER_EXTRAVERSION * voice.extraversion
        + EXTRA_RANDOM_SPAN * rng.random()
        + EXTRA_PER_AROUSAL * max(0.0, voice.arousal)
        + EXTRA_OFFSET
    )
    if voice.energy < LOW_ENERGY:
        count -= 1
    return max(0, min(MAX_EXTRAS, count))


def hedge_probability(voice: Voice) -> float:
    """Neurotic and careless speakers hedge their opinions."""
    return (
        0.05
        + 0.6 * max(0.0, voice.neuroticism - 0.45) / 0.55
        + 0.35 * max(0.0, 0.4 - voice.conscientiousness) / 0.4
    )


def vocative_probability(voice: Voice) -> float:
    """How likely the listener is named in the core sentence, by relationship."""
    return {
        "stranger": 0.1,
        "acquaintance": 0.2,
        "friend": 0.35,
        "close friend": 0.45,
        "rival": 0.25,
        "enemy": 0.3,
    }.get(voice.relation, 0.2)


def deflect_probability(voice: Voice) -> float:
    """Disagreeable and neurotic speakers, and rivals, enemies and strangers, dodge questions."""
    return (
        0.08
        + 0.3 * max(0.0, 0.5 - voice.agreeableness)
        + 0.15 * max(0.0, voice.neuroticism - 0.5)
        + (0.2 if voice.relation in ("rival", "enemy") else 0.0)
        + (0.1 if voice.relation == "stranger" else 0.0)
    )
