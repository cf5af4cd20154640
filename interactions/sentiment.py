"""Sentiment of an utterance: VADER's compound score.

VADER (Hutto & Gilbert, 2014) is a lexicon- and rule-based model tuned for short, informal
text, which is what characters say to each other. It needs no model download and scores a
sentence in tens of microseconds, so it can sit on the hot path of every interaction.
"""

from __future__ import annotations

import threading
from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

_analyzer: SentimentIntensityAnalyzer | None = None
_analyzer_lock = threading.Lock()


def _get_analyzer() -> SentimentIntensityAnalyzer:
    # Built on first use, not at import: loading the lexicon takes ~20 ms, and importing
    # this module (Django startup, migrations) should not pay for it.
    global _analyzer
    if _analyzer is None:
        with _analyzer_lock:
            if _analyzer is None:
                _analyzer = SentimentIntensityAnalyzer()
    return _analyzer


@lru_cache(maxsize=4096)
def sentiment(text: str) -> float:
    """Return VADER's compound score of ``text``, from -1 (most negative) to 1 (most positive).

    Blank text scores 0.0 (neutral). Kept per process by text: the score depends on nothing
    else, and openings, greetings and a user's repeated lines come back (VADER was ~3% of a
    web process's CPU under bench_interactions).
    """
    if not text or not text.strip():
        return 0.0
    return float(_get_analyzer().polarity_scores(text)["compound"])


# Mood words that VADER's lexicon misses or scores the other way ("competitive" is +0.18
# there). They carry the social climate of a scenario, which is what the director and the
# template voice need from the mood text, not its pleasantness alone.
_TENSE_MOOD_WORDS = frozenset(
    {
        "adversarial",
        "charged",
        "competitive",
        "confrontational",
        "conflict",
        "dispute",
        "feud",
        "heated",
        "rivalry",
        "strained",
        "suspicious",
        "tense",
        "tension",
        "uneasy",
    }
)
_COOPERATIVE_MOOD_WORDS = frozenset(
    {
        "collaborative",
        "cooperative",
        "cooperation",
        "focused",
        "productive",
        "supportive",
        "team",
        "teamwork",
        "together",
        "united",
    }
)
_MOOD_KEYWORD_WEIGHT = 0.5


@lru_cache(maxsize=512)
def mood_tension(mood: str) -> float:
    """How charged a scenario's mood text is, from -1 (warm, cooperative) to 1 (hostile).

    tension = clamp(-sentiment(mood) + 0.5 * (#tense words - #cooperative words), -1, 1)

    VADER gives the valence ("hostile" -0.38, "friendly" +0.49); the two keyword sets add
    the climate words it lacks. Cached: a scenario's mood is scored once per process.
    """
    if not mood or not mood.strip():
        return 0.0
    words = [word.strip(".,;:!?\"'()").lower() for word in mood.split()]
    keyword_score = sum(word in _TENSE_MOOD_WORDS for word in words) - sum(
        word in _COOPERATIVE_MOOD_WORDS for word in words
    )
    value = -sentiment(mood) + _MOOD_KEYWORD_WEIGHT * keyword_score
    return max(-1.0, min(1.0, value))
