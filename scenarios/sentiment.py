"""Sentiment of an utterance: VADER's compound score.

VADER (Hutto & Gilbert, 2014) is a lexicon- and rule-based model tuned for short, informal
text, which is what characters say to each other. It needs no model download and scores a
sentence in tens of microseconds, so it can sit on the hot path of every interaction.
"""

from __future__ import annotations

import threading

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


def sentiment(text: str) -> float:
    """Return VADER's compound score of ``text``, from -1 (most negative) to 1 (most positive).

    Blank text scores 0.0 (neutral).
    """
    if not text or not text.strip():
        return 0.0
    return float(_get_analyzer().polarity_scores(text)["compound"])
