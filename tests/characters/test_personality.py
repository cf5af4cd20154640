"""Properties and worked examples of characters.personality (pure; no Django)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from characters.personality import (
    INTERACTION_TYPES,
    BigFive,
    compatibility,
    partner_quality,
    similarity,
    talkativeness,
)

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
big_five = st.builds(
    BigFive,
    openness=unit,
    conscientiousness=unit,
    extraversion=unit,
    agreeableness=unit,
    neuroticism=unit,
)

AVERAGE = BigFive(0.5, 0.5, 0.5, 0.5, 0.5)
ALICE = BigFive(
    openness=0.7, conscientiousness=0.6, extraversion=0.8, agreeableness=0.7, neuroticism=0.3
)
BOB = BigFive(
    openness=0.4, conscientiousness=0.3, extraversion=0.2, agreeableness=0.4, neuroticism=0.8
)


@given(big_five, big_five)
def test_compatibility_stays_within_minus_one_and_one(a: BigFive, b: BigFive) -> None:
    assert -1.0 <= compatibility(a, b) <= 1.0


@given(big_five, big_five)
def test_compatibility_is_exactly_symmetric(a: BigFive, b: BigFive) -> None:
    assert compatibility(a, b) == compatibility(b, a)


@given(big_five, big_five)
def test_partner_quality_and_similarity_stay_within_minus_one_and_one(
    a: BigFive, b: BigFive
) -> None:
    assert -1.0 <= partner_quality(a) <= 1.0
    assert -1.0 <= similarity(a, b) <= 1.0


@given(big_five)
def test_a_personality_is_fully_similar_to_itself(a: BigFive) -> None:
    assert similarity(a, a) == 1.0


@pytest.mark.parametrize(
    ("trait", "better"),
    [
        ("neuroticism", "lower"),
        ("agreeableness", "higher"),
        ("conscientiousness", "higher"),
        ("extraversion", "higher"),
    ],
)
@given(a=big_five, b=big_five, low=unit, high=unit)
def test_a_partner_with_better_trait_levels_is_never_less_compatible(
    trait: str, better: str, a: BigFive, b: BigFive, low: float, high: float
) -> None:
    # Level effects outweigh the similarity term: moving a trait the way Malouff et al.
    # (2010) found good for partners never lowers compatibility, whatever else holds.
    low, high = min(low, high), max(low, high)
    worse_value, better_value = (high, low) if better == "lower" else (low, high)
    worse_b = dataclasses.replace(b, **{trait: worse_value})
    better_b = dataclasses.replace(b, **{trait: better_value})
    assert compatibility(a, better_b) >= compatibility(a, worse_b)


def test_two_average_personalities_get_only_the_similarity_bonus() -> None:
    assert compatibility(AVERAGE, AVERAGE) == pytest.approx(0.15, abs=1e-12)


def test_worked_example_alice_and_bob() -> None:
    # partner_quality(Alice) = (.12*.2 + .06*.6 + .15*.4 + .22*.4) / .55 = .208 / .55
    # partner_quality(Bob)   = (-.12*.4 - .06*.6 - .15*.2 - .22*.6) / .55 = -.246 / .55
    # similarity = 1 - 2 * (.3 + .3 + .6 + .3 + .5) / 5 = 0.2
    # compatibility = .85 * (.208 - .246) / (2 * .55) + .15 * .2
    assert partner_quality(ALICE) == pytest.approx(0.208 / 0.55, abs=1e-12)
    assert partner_quality(BOB) == pytest.approx(-0.246 / 0.55, abs=1e-12)
    assert similarity(ALICE, BOB) == pytest.approx(0.2, abs=1e-12)
    assert compatibility(ALICE, BOB) == pytest.approx(0.000636363636, abs=1e-9)


def test_the_ideal_partner_pair_is_highly_compatible_and_the_worst_pair_is_not() -> None:
    ideal = BigFive(0.5, 1.0, 1.0, 1.0, 0.0)
    worst = BigFive(0.5, 0.0, 0.0, 0.0, 1.0)
    assert compatibility(ideal, ideal) == pytest.approx(1.0, abs=1e-12)
    assert compatibility(worst, worst) == pytest.approx(-0.7, abs=1e-12)
    assert compatibility(ideal, worst) == pytest.approx(0.0 * 0.85 + 0.15 * -0.6, abs=1e-12)


@given(big_five)
def test_talkativeness_stays_within_zero_and_one(p: BigFive) -> None:
    assert 0.0 <= talkativeness(p) <= 1.0


@given(big_five, unit, unit)
def test_talkativeness_rises_with_extraversion(p: BigFive, low: float, high: float) -> None:
    low, high = min(low, high), max(low, high)
    assert talkativeness(dataclasses.replace(p, extraversion=high)) >= talkativeness(
        dataclasses.replace(p, extraversion=low)
    )


def test_worked_example_talkativeness() -> None:
    # 0.8 E + 0.1 O + 0.1 (1 - N)
    assert talkativeness(ALICE) == pytest.approx(0.78, abs=1e-12)
    assert talkativeness(BOB) == pytest.approx(0.22, abs=1e-12)
    assert talkativeness(AVERAGE) == pytest.approx(0.5, abs=1e-12)


def test_big_five_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        AVERAGE.openness = 0.9  # type: ignore[misc]


def test_interaction_types_are_the_four_of_the_design() -> None:
    assert INTERACTION_TYPES == ("greeting", "chat", "conflict", "collaboration")
