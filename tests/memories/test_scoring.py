"""The memory stream's pure figures: importance and the retrieval score (Park et al. 2023)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memories import scoring

unit = st.floats(min_value=0, max_value=1, allow_nan=False)
cosine = st.floats(min_value=-1, max_value=1, allow_nan=False)
age = st.floats(min_value=0, max_value=10 * 86400, allow_nan=False)
candidates = st.lists(st.tuples(age, unit, cosine), min_size=1, max_size=30)


def score_of(rows):
    ages, importances, relevances = (list(column) for column in zip(*rows, strict=True))
    return scoring.retrieval_scores(
        ages_seconds=ages, importances=importances, relevances=relevances
    )


def test_a_quarrel_that_moves_the_relationship_matters_more_than_a_greeting():
    greeting = scoring.importance(
        interaction_type="greeting", sentiment=0.1, strength_delta=0.005, trust_delta=0.0
    )
    quarrel = scoring.importance(
        interaction_type="conflict", sentiment=-0.8, strength_delta=-0.12, trust_delta=-0.05
    )
    assert 0 <= greeting < 0.2 < 0.8 < quarrel <= 1


@given(
    st.sampled_from(["greeting", "chat", "conflict", "collaboration"]),
    st.floats(min_value=-1, max_value=1),
    st.floats(min_value=-2, max_value=2),
    st.floats(min_value=-1, max_value=1),
)
def test_importance_is_within_0_and_1_and_grows_with_sentiment_strength(kind, sent, ds, dt):
    value = scoring.importance(
        interaction_type=kind, sentiment=sent, strength_delta=ds, trust_delta=dt
    )
    assert 0 <= value <= 1
    stronger = scoring.importance(
        interaction_type=kind,
        sentiment=min(1.0, abs(sent) + 0.1),
        strength_delta=ds,
        trust_delta=dt,
    )
    assert stronger >= value - 1e-12


def test_recency_halves_every_half_life():
    assert scoring.recency(0) == 1
    assert scoring.recency(3600, 3600) == pytest.approx(0.5)
    assert scoring.recency(7200, 3600) == pytest.approx(0.25)


@given(candidates)
def test_scores_lie_between_zero_and_the_sum_of_the_weights(rows):
    for score in score_of(rows):
        assert 0 <= score <= 3 + 1e-9


@given(candidates, st.randoms())
def test_a_score_does_not_depend_on_the_order_of_the_candidates(rows, rng):
    shuffled = list(rows)
    rng.shuffle(shuffled)
    by_row = dict(zip(rows, score_of(rows), strict=True))
    for row, score in zip(shuffled, score_of(shuffled), strict=True):
        assert score == pytest.approx(by_row[row])


@given(candidates, age, unit, cosine)
def test_of_two_memories_alike_but_for_age_the_newer_ranks_at_least_as_high(rows, older, imp, rel):
    newer = older / 2
    scores = score_of([*rows, (older, imp, rel), (newer, imp, rel)])
    assert scores[-1] >= scores[-2] - 1e-9


@given(candidates, age, unit, cosine)
def test_more_relevant_or_more_important_never_ranks_lower(rows, when, imp, rel):
    scores = score_of([*rows, (when, imp, rel), (when, imp, min(1.0, rel + 0.3))])
    assert scores[-1] >= scores[-2] - 1e-9
    scores = score_of([*rows, (when, imp, rel), (when, min(1.0, imp + 0.3), rel)])
    assert scores[-1] >= scores[-2] - 1e-9


def test_the_weights_decide_what_counts():
    rows = dict(ages_seconds=[0, 86400], importances=[0.1, 0.9], relevances=[0.0, 0.0])
    only_recency = scoring.retrieval_scores(**rows, weights=(1, 0, 0))
    only_importance = scoring.retrieval_scores(**rows, weights=(0, 1, 0))
    assert only_recency[0] > only_recency[1]
    assert only_importance[1] > only_importance[0]
