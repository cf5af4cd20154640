"""The memory stream's pure figures (docs/models.md, "Memory"): how important an exchange
is, how a memory ranks for retrieval, and which memories pruning keeps.

After Park et al. (2023), *Generative Agents: Interactive Simulacra of Human Behavior*
(UIST '23), section 4.1: retrieval scores each memory by recency (exponential decay),
importance and relevance (cosine similarity of embeddings), each min-max normalised over
the candidates, summed with weights. Park et al. ask the language model for importance
("poignancy", 1..10); we compute it from what the engine measured instead.
"""

from __future__ import annotations

from collections.abc import Sequence

# --- importance ----------------------------------------------------------------------

# How much each kind of exchange matters on its own (a greeting hardly; a quarrel a lot).
TYPE_IMPORTANCE: dict[str, float] = {
    "greeting": 0.1,
    "chat": 0.3,
    "collaboration": 0.6,
    "conflict": 0.8,
}
IMPORTANCE_WEIGHT_TYPE = 0.4
IMPORTANCE_WEIGHT_SENTIMENT = 0.3
IMPORTANCE_WEIGHT_RELATIONSHIP = 0.3
# A change of strength plus trust this large (in absolute value) counts as the largest.
RELATIONSHIP_CHANGE_FULL = 0.2


def importance(
    *, interaction_type: str, sentiment: float, strength_delta: float, trust_delta: float
) -> float:
    """0..1: ``0.4·type + 0.3·|sentiment| + 0.3·min(1, (|Δstrength| + |Δtrust|) / 0.2)``."""
    type_part = TYPE_IMPORTANCE.get(interaction_type, 0.3)
    sentiment_part = min(1.0, abs(sentiment))
    change_part = min(1.0, (abs(strength_delta) + abs(trust_delta)) / RELATIONSHIP_CHANGE_FULL)
    value = (
        IMPORTANCE_WEIGHT_TYPE * type_part
        + IMPORTANCE_WEIGHT_SENTIMENT * sentiment_part
        + IMPORTANCE_WEIGHT_RELATIONSHIP * change_part
    )
    return max(0.0, min(1.0, value))


# --- retrieval -------------------------------------------------------------------------

# Park et al. weigh the three equally (alpha = 1 each); so do we.
WEIGHT_RECENCY = 1.0
WEIGHT_IMPORTANCE = 1.0
WEIGHT_RELEVANCE = 1.0
# Recency halves every this many seconds of world time (Park et al.: 0.995 per game hour,
# a half-life of ~5.8 game hours; our scenarios run minutes to hours of real time).
RECENCY_HALF_LIFE_SECONDS = 3600.0


def recency(age_seconds: float, half_life_seconds: float = RECENCY_HALF_LIFE_SECONDS) -> float:
    """``0.5 ** (age / half_life)``: 1 now, 0.5 one half-life ago, toward 0 after."""
    return 0.5 ** (max(0.0, age_seconds) / half_life_seconds)


def _min_max(values: Sequence[float]) -> list[float]:
    """Scaled to 0..1 over the candidates; all equal carries no information: all 0."""
    if not values:
        return []
    low, high = min(values), max(values)
    if high - low <= 1e-12:
        return [0.0] * len(values)
    return [(value - low) / (high - low) for value in values]


def retrieval_scores(
    *,
    ages_seconds: Sequence[float],
    importances: Sequence[float],
    relevances: Sequence[float],
    half_life_seconds: float = RECENCY_HALF_LIFE_SECONDS,
    weights: tuple[float, float, float] = (WEIGHT_RECENCY, WEIGHT_IMPORTANCE, WEIGHT_RELEVANCE),
) -> list[float]:
    """Each candidate's score: ``w_rec·norm(recency) + w_imp·norm(importance) +
    w_rel·norm(relevance)``, ``norm`` the min-max over the candidates (Park et al. 2023).
    ``relevances`` are cosines (-1..1). Scores lie in ``0..sum(weights)``."""
    if not (len(ages_seconds) == len(importances) == len(relevances)):
        raise ValueError("ages_seconds, importances and relevances differ in length")
    recencies = _min_max([recency(age, half_life_seconds) for age in ages_seconds])
    importance_parts = _min_max([float(value) for value in importances])
    relevance_parts = _min_max([float(value) for value in relevances])
    w_rec, w_imp, w_rel = weights
    return [
        w_rec * rec + w_imp * imp + w_rel * rel
        for rec, imp, rel in zip(recencies, importance_parts, relevance_parts, strict=True)
    ]


def retention_scores(*, ages_seconds: Sequence[float], importances: Sequence[float]) -> list[float]:
    """What pruning keeps the highest of: ``recency + importance`` (no relevance: there is
    no query), raw not normalised, so a fresh trivial memory and an old important one
    compare on one scale."""
    return [
        recency(age) + float(value) for age, value in zip(ages_seconds, importances, strict=True)
    ]


# --- reflections -----------------------------------------------------------------------

# A character reflects once the importance of its memories since its last reflection
# adds up to this (Park et al. use 150 on their 1..10 scale, roughly 2-3 reflections a
# game day; ours is on 0..1 per memory: about eight to fifteen exchanges).
REFLECTION_THRESHOLD = 4.0
# A reflection weighs at least this, and more the more its sources weighed.
REFLECTION_MIN_IMPORTANCE = 0.6


def reflection_importance(cited_importances: Sequence[float]) -> float:
    """``max(0.6, mean(cited)) `` raised halfway to 1: ``m + (1 - m) / 2``, at most 1."""
    mean = sum(cited_importances) / len(cited_importances) if cited_importances else 0.0
    base = max(REFLECTION_MIN_IMPORTANCE, mean)
    return min(1.0, base + (1.0 - base) / 2)


NUMBER_WORDS = ("no", "once", "twice", "three times", "four times", "five times", "six times")


def times_words(count: int) -> str:
    if 0 <= count < len(NUMBER_WORDS):
        return NUMBER_WORDS[count] if count else "never"
    return f"{count} times"
