"""Properties and worked examples of characters.emotion (pure; no Django)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from characters.emotion import (
    EMOTION_HALF_LIFE_SECONDS,
    EMOTION_LABELS,
    NEUTRAL_RADIUS,
    PAD,
    appraise,
    baseline,
    decay,
    label,
)
from characters.personality import INTERACTION_TYPES, BigFive

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
signed = st.floats(min_value=-1.0, max_value=1.0, allow_nan=False)
negative = st.floats(min_value=-1.0, max_value=-0.01, allow_nan=False)
big_five = st.builds(
    BigFive,
    openness=unit,
    conscientiousness=unit,
    extraversion=unit,
    agreeableness=unit,
    neuroticism=unit,
)
pad = st.builds(PAD, pleasure=signed, arousal=signed, dominance=signed)
interaction_type = st.sampled_from(INTERACTION_TYPES)
elapsed = st.floats(min_value=-1e6, max_value=1e9, allow_nan=False)

AVERAGE = BigFive(0.5, 0.5, 0.5, 0.5, 0.5)
ALICE = BigFive(
    openness=0.7, conscientiousness=0.6, extraversion=0.8, agreeableness=0.7, neuroticism=0.3
)
BOB = BigFive(
    openness=0.4, conscientiousness=0.3, extraversion=0.2, agreeableness=0.4, neuroticism=0.8
)
ORIGIN = PAD(0.0, 0.0, 0.0)


def as_tuple(state: PAD) -> tuple[float, float, float]:
    return (state.pleasure, state.arousal, state.dominance)


def assert_pad_close(actual: PAD, expected: PAD, tolerance: float = 1e-12) -> None:
    assert as_tuple(actual) == pytest.approx(as_tuple(expected), abs=tolerance)


def within_bounds(state: PAD) -> bool:
    return all(-1.0 <= axis <= 1.0 for axis in (state.pleasure, state.arousal, state.dominance))


# --- baseline -------------------------------------------------------------------------------


@given(big_five)
def test_baseline_stays_within_pad_bounds(p: BigFive) -> None:
    assert within_bounds(baseline(p))


def test_an_average_personality_rests_at_the_origin() -> None:
    assert_pad_close(baseline(AVERAGE), ORIGIN)


@given(big_five, unit, unit)
def test_a_more_neurotic_personality_rests_less_pleased_and_more_aroused(
    p: BigFive, low: float, high: float
) -> None:
    # The ALMA sign trap: the formula's "N" is emotional stability, not neuroticism.
    low, high = min(low, high), max(low, high)
    calm_one = baseline(dataclasses.replace(p, neuroticism=low))
    nervous_one = baseline(dataclasses.replace(p, neuroticism=high))
    assert nervous_one.pleasure <= calm_one.pleasure
    assert nervous_one.arousal >= calm_one.arousal


@given(big_five, unit, unit)
def test_a_more_extraverted_personality_rests_more_dominant(
    p: BigFive, low: float, high: float
) -> None:
    low, high = min(low, high), max(low, high)
    assert (
        baseline(dataclasses.replace(p, extraversion=high)).dominance
        >= baseline(dataclasses.replace(p, extraversion=low)).dominance
    )


def test_worked_example_baselines() -> None:
    # Alice: o=.4 c=.2 e=.6 a=.4 s=.4 -> P=.126+.236+.076 A=.06+.12-.228 D=.1+.034+.36-.128
    assert_pad_close(baseline(ALICE), PAD(0.438, -0.048, 0.366))
    # Bob: o=-.2 c=-.4 e=-.6 a=-.2 s=-.6
    assert_pad_close(baseline(BOB), PAD(-0.358, 0.252, -0.414))
    assert label(baseline(ALICE)) == "calm"
    assert label(baseline(BOB)) == "fear"


# --- appraise ---------------------------------------------------------------------------------


@given(pad, big_five, signed, interaction_type, st.booleans())
def test_appraisal_stays_within_pad_bounds(
    state: PAD, p: BigFive, sentiment: float, kind: str, heard: bool
) -> None:
    assert within_bounds(
        appraise(state, p, sentiment=sentiment, interaction_type=kind, heard=heard)
    )


@given(pad, big_five, st.floats(allow_nan=False), interaction_type, st.booleans())
def test_appraisal_stays_within_bounds_even_for_out_of_range_sentiment(
    state: PAD, p: BigFive, sentiment: float, kind: str, heard: bool
) -> None:
    assert within_bounds(
        appraise(state, p, sentiment=sentiment, interaction_type=kind, heard=heard)
    )


def test_appraisal_refuses_an_unknown_interaction_type() -> None:
    with pytest.raises(ValueError, match="interaction_type"):
        appraise(ORIGIN, AVERAGE, sentiment=0.0, interaction_type="hug", heard=True)


@given(pad, big_five, st.floats(min_value=0.01, max_value=1.0))
def test_hearing_something_kind_in_a_chat_raises_pleasure(
    state: PAD, p: BigFive, sentiment: float
) -> None:
    assume(state.pleasure < 0.99)  # at the very bound there is no room left to rise
    after = appraise(state, p, sentiment=sentiment, interaction_type="chat", heard=True)
    assert after.pleasure > state.pleasure


@given(pad, big_five, negative, interaction_type, st.booleans(), unit, unit)
def test_neuroticism_amplifies_a_negative_appraisal(
    state: PAD,
    p: BigFive,
    sentiment: float,
    kind: str,
    heard: bool,
    low: float,
    high: float,
) -> None:
    low, high = min(low, high), max(low, high)
    stable_after = appraise(
        state,
        dataclasses.replace(p, neuroticism=low),
        sentiment=sentiment,
        interaction_type=kind,
        heard=heard,
    )
    neurotic_after = appraise(
        state,
        dataclasses.replace(p, neuroticism=high),
        sentiment=sentiment,
        interaction_type=kind,
        heard=heard,
    )
    assert neurotic_after.pleasure <= stable_after.pleasure


def test_neuroticism_amplifies_a_negative_appraisal_strictly() -> None:
    stable = dataclasses.replace(AVERAGE, neuroticism=0.1)
    neurotic = dataclasses.replace(AVERAGE, neuroticism=0.9)
    stable_after = appraise(ORIGIN, stable, sentiment=-0.5, interaction_type="chat", heard=True)
    neurotic_after = appraise(ORIGIN, neurotic, sentiment=-0.5, interaction_type="chat", heard=True)
    # dP = 0.3 * -0.5 = -0.15, times 1 + (N - 0.5)
    assert stable_after.pleasure == pytest.approx(-0.15 * 0.6, abs=1e-12)
    assert neurotic_after.pleasure == pytest.approx(-0.15 * 1.4, abs=1e-12)


@given(pad, big_five, signed, st.booleans(), unit, unit)
def test_agreeableness_softens_anger_in_conflict(
    state: PAD, p: BigFive, sentiment: float, heard: bool, low: float, high: float
) -> None:
    low, high = min(low, high), max(low, high)
    prickly_after = appraise(
        state,
        dataclasses.replace(p, agreeableness=low),
        sentiment=sentiment,
        interaction_type="conflict",
        heard=heard,
    )
    agreeable_after = appraise(
        state,
        dataclasses.replace(p, agreeableness=high),
        sentiment=sentiment,
        interaction_type="conflict",
        heard=heard,
    )
    assert agreeable_after.arousal <= prickly_after.arousal
    assert agreeable_after.dominance <= prickly_after.dominance


def test_agreeableness_lowers_arousal_after_conflict_strictly() -> None:
    prickly = dataclasses.replace(AVERAGE, agreeableness=0.0)
    agreeable = dataclasses.replace(AVERAGE, agreeableness=1.0)
    # dA = (0.30 + 0.05 * 0.6) * (1 - 0.8 * (A - 0.5))
    prickly_after = appraise(
        ORIGIN, prickly, sentiment=-0.6, interaction_type="conflict", heard=True
    )
    agreeable_after = appraise(
        ORIGIN, agreeable, sentiment=-0.6, interaction_type="conflict", heard=True
    )
    assert prickly_after.arousal == pytest.approx(0.33 * 1.4, abs=1e-12)
    assert agreeable_after.arousal == pytest.approx(0.33 * 0.6, abs=1e-12)


@given(pad, big_five, signed, interaction_type)
def test_an_own_utterance_moves_a_character_less_than_one_heard(
    state: PAD, p: BigFive, sentiment: float, kind: str
) -> None:
    heard = appraise(state, p, sentiment=sentiment, interaction_type=kind, heard=True)
    spoken = appraise(state, p, sentiment=sentiment, interaction_type=kind, heard=False)
    for axis in ("pleasure", "arousal", "dominance"):
        before = getattr(state, axis)
        assert abs(getattr(spoken, axis) - before) <= abs(getattr(heard, axis) - before) + 1e-12


@given(pad, big_five, negative)
def test_negative_conflict_makes_a_character_less_pleased_and_more_aroused(
    state: PAD, p: BigFive, sentiment: float
) -> None:
    after = appraise(state, p, sentiment=sentiment, interaction_type="conflict", heard=True)
    assert after.pleasure <= state.pleasure
    assert after.arousal >= state.arousal


def test_worked_example_average_character_hears_hostile_conflict() -> None:
    after = appraise(ORIGIN, AVERAGE, sentiment=-0.6, interaction_type="conflict", heard=True)
    # dP = -0.15 + 0.3 * -0.6 = -0.33; dA = 0.30 + 0.05 * 0.6 = 0.33; dD = 0.15
    assert_pad_close(after, PAD(-0.33, 0.33, 0.15))
    assert label(after) == "anger"


def test_worked_example_saturation_near_the_bound() -> None:
    # From P = 0.8 a pleasant greeting (dP = (0.05 + 0.3 * 1.0) * 1.0) covers 35% of the
    # remaining 0.2: 0.8 + 0.35 * 0.2 = 0.87.
    start = PAD(0.8, 0.0, 0.0)
    after = appraise(start, AVERAGE, sentiment=1.0, interaction_type="greeting", heard=True)
    assert after.pleasure == pytest.approx(0.87, abs=1e-12)


def test_worked_example_the_same_conflict_makes_bob_afraid_rather_than_angry() -> None:
    after = appraise(baseline(BOB), BOB, sentiment=-0.6, interaction_type="conflict", heard=True)
    # dP = -0.33 * (1 + 0.3) = -0.429 -> -0.358 - 0.429 * 0.642
    # dA = 0.33 * (1 - 0.8 * -0.1) = 0.3564 -> 0.252 + 0.3564 * 0.748
    # dD = 0.15 * 1.08 = 0.162 -> -0.414 + 0.162 * 1.414
    assert_pad_close(after, PAD(-0.633418, 0.5185872, -0.184932))
    assert label(after) == "fear"


# --- decay --------------------------------------------------------------------------------------


@given(pad, big_five, elapsed)
def test_decay_stays_within_pad_bounds(state: PAD, p: BigFive, seconds: float) -> None:
    assert within_bounds(decay(state, p, elapsed_seconds=seconds))


@given(pad, big_five, st.floats(max_value=0.0, allow_nan=False))
def test_no_elapsed_time_leaves_the_state_unchanged(state: PAD, p: BigFive, seconds: float) -> None:
    assert decay(state, p, elapsed_seconds=seconds) == state


@given(pad, big_five, st.floats(min_value=0.0, max_value=1e9, allow_nan=False))
def test_decay_moves_toward_baseline_and_never_overshoots(
    state: PAD, p: BigFive, seconds: float
) -> None:
    rest = baseline(p)
    after = decay(state, p, elapsed_seconds=seconds)
    for axis in ("pleasure", "arousal", "dominance"):
        before_gap = getattr(state, axis) - getattr(rest, axis)
        after_gap = getattr(after, axis) - getattr(rest, axis)
        assert abs(after_gap) <= abs(before_gap) + 1e-12
        assert after_gap * before_gap >= -1e-12  # same side of the baseline (or on it)


@given(pad, big_five, st.floats(0.0, 1e5), st.floats(0.0, 1e5))
def test_decay_in_two_steps_equals_decay_in_one(
    state: PAD, p: BigFive, first: float, second: float
) -> None:
    stepwise = decay(decay(state, p, elapsed_seconds=first), p, elapsed_seconds=second)
    at_once = decay(state, p, elapsed_seconds=first + second)
    assert_pad_close(stepwise, at_once, tolerance=1e-9)


def test_worked_example_one_half_life_halves_the_distance_to_baseline() -> None:
    after = decay(PAD(0.5, 0.5, -0.5), AVERAGE, elapsed_seconds=EMOTION_HALF_LIFE_SECONDS)
    assert_pad_close(after, PAD(0.25, 0.25, -0.25))
    long_after = decay(PAD(1.0, 1.0, 1.0), ALICE, elapsed_seconds=24 * 3600)
    assert_pad_close(long_after, baseline(ALICE))


# --- label ----------------------------------------------------------------------------------------


@given(pad)
def test_every_state_has_a_label_from_the_fixed_set(state: PAD) -> None:
    assert label(state) in EMOTION_LABELS


near_zero = st.floats(min_value=-0.08, max_value=0.08, allow_nan=False)


@given(st.builds(PAD, pleasure=near_zero, arousal=near_zero, dominance=near_zero))
def test_states_near_the_origin_are_neutral(state: PAD) -> None:
    assert (state.pleasure**2 + state.arousal**2 + state.dominance**2) ** 0.5 < NEUTRAL_RADIUS
    assert label(state) == "neutral"


@given(pad)
def test_states_away_from_the_origin_are_never_neutral(state: PAD) -> None:
    assume(state.pleasure**2 + state.arousal**2 + state.dominance**2 >= NEUTRAL_RADIUS**2)
    assert label(state) != "neutral"


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (ORIGIN, "neutral"),
        (PAD(0.6, 0.5, 0.4), "joy"),
        (PAD(0.4, 0.67, -0.13), "surprise"),
        (PAD(0.5, -0.4, 0.3), "calm"),
        (PAD(0.4, -0.3, -0.3), "content"),
        (PAD(-0.51, 0.59, 0.25), "anger"),
        (PAD(-0.64, 0.6, -0.43), "fear"),
        (PAD(-0.4, -0.2, 0.3), "contempt"),
        (PAD(-0.63, -0.27, -0.33), "sadness"),
    ],
)
def test_each_pad_octant_has_its_label(state: PAD, expected: str) -> None:
    assert label(state) == expected


def test_emotion_labels_are_unique_and_include_neutral() -> None:
    assert len(set(EMOTION_LABELS)) == len(EMOTION_LABELS) == 9
    assert "neutral" in EMOTION_LABELS
