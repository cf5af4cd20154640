"""Sentiment of utterances (VADER) and the tension of a scenario's mood text."""

import time

from hypothesis import given
from hypothesis import strategies as st

from interactions import sentiment as sentiment_module
from interactions.sentiment import mood_tension, sentiment


def test_kind_words_score_positive():
    assert sentiment("Thank you so much, you're wonderful and I love working with you!") > 0.5


def test_insults_score_negative():
    assert sentiment("You're a liar and I hate what you did, you ruined everything.") < -0.5


def test_a_plain_fact_scores_neutral():
    assert abs(sentiment("The caravan leaves at noon from the north gate.")) < 0.1


def test_blank_text_scores_zero():
    assert sentiment("") == 0.0
    assert sentiment("   \n") == 0.0


def test_negation_flips_the_score():
    assert sentiment("This is good.") > 0 > sentiment("This is not good.")


def test_one_analyzer_is_built_and_reused():
    sentiment("warm up")
    analyzer = sentiment_module._analyzer
    sentiment("again")
    assert analyzer is not None
    assert sentiment_module._analyzer is analyzer


def test_scoring_is_fast():
    sentiment("warm up")
    started = time.perf_counter()
    for _ in range(1000):
        sentiment("Honestly, I don't think the new bakery is worth the fuss, but it's nice.")
    assert time.perf_counter() - started < 1.0  # about 40 microseconds each on a laptop


@given(st.text(max_size=300))
def test_any_text_scores_within_bounds(text):
    assert -1.0 <= sentiment(text) <= 1.0


def test_tense_and_hostile_moods_are_tense_and_friendly_ones_are_not():
    assert mood_tension("tense") > 0.5
    assert mood_tension("hostile negotiations") > 0.2
    assert mood_tension("competitive") > 0  # VADER alone scores "competitive" as pleasant
    assert mood_tension("friendly") < -0.2
    assert mood_tension("cooperative and focused") < -0.5
    assert mood_tension("") == 0.0


@given(st.text(max_size=100))
def test_mood_tension_stays_within_bounds(mood):
    assert -1.0 <= mood_tension(mood) <= 1.0
