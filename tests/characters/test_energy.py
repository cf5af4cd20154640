"""Properties and worked examples of characters.energy (pure; no Django)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from characters.energy import (
    MIN_ENERGY_TO_TALK,
    RECOVERY_HALF_LIFE_SECONDS,
    RESTING_THRESHOLD,
    WAKE_THRESHOLD,
    apply_interaction,
    can_interact,
    interaction_energy_delta,
    next_status,
    recover,
)
from characters.personality import INTERACTION_TYPES, BigFive

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
big_five = st.builds(
    BigFive,
    openness=unit,
    conscientiousness=unit,
    extraversion=unit,
    agreeableness=unit,
    neuroticism=unit,
)
interaction_type = st.sampled_from(INTERACTION_TYPES)
sociable_type = st.sampled_from(("greeting", "chat", "collaboration"))
idle = st.floats(min_value=-1e6, max_value=1e9, allow_nan=False)

AVERAGE = BigFive(0.5, 0.5, 0.5, 0.5, 0.5)


def with_extraversion(extraversion: float) -> BigFive:
    return dataclasses.replace(AVERAGE, extraversion=extraversion)


# --- cost of an exchange ----------------------------------------------------------------------


@given(unit, big_five, interaction_type, st.booleans())
def test_applying_an_interaction_keeps_energy_within_zero_and_one(
    energy: float, p: BigFive, kind: str, initiated: bool
) -> None:
    assert 0.0 <= apply_interaction(energy, p, interaction_type=kind, initiated=initiated) <= 1.0


@given(big_five, interaction_type, st.booleans())
def test_an_interaction_changes_energy_by_a_small_step(
    p: BigFive, kind: str, initiated: bool
) -> None:
    assert -0.2 < interaction_energy_delta(p, interaction_type=kind, initiated=initiated) < 0.1


@given(big_five, sociable_type, st.booleans(), unit, unit)
def test_an_extravert_gains_more_from_a_sociable_exchange_than_an_introvert(
    p: BigFive, kind: str, initiated: bool, low: float, high: float
) -> None:
    assume(high - low > 1e-6)
    introvert = dataclasses.replace(p, extraversion=low)
    extravert = dataclasses.replace(p, extraversion=high)
    assert interaction_energy_delta(
        extravert, interaction_type=kind, initiated=initiated
    ) > interaction_energy_delta(introvert, interaction_type=kind, initiated=initiated)


def test_an_extravert_recharges_by_chatting_and_an_introvert_spends() -> None:
    extravert, introvert = with_extraversion(1.0), with_extraversion(0.0)
    assert interaction_energy_delta(extravert, interaction_type="chat", initiated=False) > 0.0
    assert interaction_energy_delta(introvert, interaction_type="chat", initiated=False) < 0.0


@given(big_five, st.booleans(), sociable_type)
def test_conflict_costs_more_than_any_other_exchange(
    p: BigFive, initiated: bool, other: str
) -> None:
    assert interaction_energy_delta(
        p, interaction_type="conflict", initiated=initiated
    ) < interaction_energy_delta(p, interaction_type=other, initiated=initiated)


@given(big_five, interaction_type)
def test_starting_an_exchange_costs_more_than_answering_it(p: BigFive, kind: str) -> None:
    assert interaction_energy_delta(p, interaction_type=kind, initiated=True) < (
        interaction_energy_delta(p, interaction_type=kind, initiated=False)
    )


def test_an_unknown_interaction_type_is_refused() -> None:
    with pytest.raises(ValueError, match="interaction_type"):
        interaction_energy_delta(AVERAGE, interaction_type="nap", initiated=False)


@pytest.mark.parametrize(
    ("extraversion", "kind", "initiated", "expected"),
    [
        # -cost * (1.25 if initiated) + charge * 2 * (E - 0.5)
        (0.5, "chat", False, -0.03),
        (0.5, "chat", True, -0.0375),
        (1.0, "chat", False, 0.01),
        (0.0, "chat", False, -0.07),
        (1.0, "greeting", False, 0.005),
        (0.0, "collaboration", True, -0.0925),
        (1.0, "conflict", False, -0.10),
        (0.0, "conflict", True, -0.125),
    ],
)
def test_worked_examples_of_energy_deltas(
    extraversion: float, kind: str, initiated: bool, expected: float
) -> None:
    delta = interaction_energy_delta(
        with_extraversion(extraversion), interaction_type=kind, initiated=initiated
    )
    assert delta == pytest.approx(expected, abs=1e-12)


def test_worked_example_energy_is_clamped_at_zero() -> None:
    assert apply_interaction(0.05, AVERAGE, interaction_type="conflict", initiated=True) == 0.0


# --- recovery -------------------------------------------------------------------------------------


@given(unit, big_five, idle)
def test_recovery_keeps_energy_within_zero_and_one(
    energy: float, p: BigFive, seconds: float
) -> None:
    assert 0.0 <= recover(energy, p, idle_seconds=seconds) <= 1.0


@given(unit, big_five, st.floats(max_value=0.0, allow_nan=False))
def test_no_idle_time_leaves_energy_unchanged(energy: float, p: BigFive, seconds: float) -> None:
    assert recover(energy, p, idle_seconds=seconds) == energy


@given(unit, big_five, st.floats(min_value=0.0, max_value=1e9, allow_nan=False))
def test_recovery_never_lowers_energy(energy: float, p: BigFive, seconds: float) -> None:
    assert recover(energy, p, idle_seconds=seconds) >= energy


@given(st.floats(min_value=0.0, max_value=0.95), big_five, st.floats(min_value=60.0, max_value=1e5))
def test_a_minute_or_more_of_rest_increases_energy(
    energy: float, p: BigFive, seconds: float
) -> None:
    assert recover(energy, p, idle_seconds=seconds) > energy


@given(st.floats(min_value=0.0, max_value=0.95), st.floats(60.0, 1e4), unit, unit)
def test_introverts_recover_faster_alone(
    energy: float, seconds: float, low: float, high: float
) -> None:
    assume(high - low > 0.01)
    assert recover(energy, with_extraversion(low), idle_seconds=seconds) > recover(
        energy, with_extraversion(high), idle_seconds=seconds
    )


@given(unit, big_five, st.floats(0.0, 1e5), st.floats(0.0, 1e5))
def test_recovery_in_two_steps_equals_recovery_in_one(
    energy: float, p: BigFive, first: float, second: float
) -> None:
    stepwise = recover(recover(energy, p, idle_seconds=first), p, idle_seconds=second)
    assert stepwise == pytest.approx(recover(energy, p, idle_seconds=first + second), abs=1e-9)


def test_worked_examples_of_recovery() -> None:
    # Average person: the deficit halves every 5 minutes, 0.2 -> 1 - 0.8 / 2 = 0.6.
    assert recover(0.2, AVERAGE, idle_seconds=RECOVERY_HALF_LIFE_SECONDS) == pytest.approx(0.6)
    # Introvert (E = 0) recovers at 1.5x the rate: 1 - 0.8 * 2 ** -1.5.
    assert recover(
        0.2, with_extraversion(0.0), idle_seconds=RECOVERY_HALF_LIFE_SECONDS
    ) == pytest.approx(1 - 0.8 * 2**-1.5)
    # Extravert (E = 1) at half the rate: 1 - 0.8 * 2 ** -0.5.
    assert recover(
        0.2, with_extraversion(1.0), idle_seconds=RECOVERY_HALF_LIFE_SECONDS
    ) == pytest.approx(1 - 0.8 * 2**-0.5)


# --- status -------------------------------------------------------------------------------------


def test_thresholds_leave_a_hysteresis_band() -> None:
    assert MIN_ENERGY_TO_TALK <= RESTING_THRESHOLD < WAKE_THRESHOLD


@given(unit)
def test_an_archived_character_stays_archived(energy: float) -> None:
    assert next_status(energy, "archived") == "archived"


@given(unit, st.sampled_from(("active", "resting")))
def test_status_is_always_active_or_resting_for_a_live_character(
    energy: float, status: str
) -> None:
    assert next_status(energy, status) in {"active", "resting"}


@given(st.floats(min_value=0.0, max_value=RESTING_THRESHOLD, exclude_max=True))
def test_an_exhausted_active_character_goes_to_rest(energy: float) -> None:
    assert next_status(energy, "active") == "resting"


@given(st.floats(min_value=RESTING_THRESHOLD, max_value=WAKE_THRESHOLD, exclude_max=True))
def test_inside_the_hysteresis_band_status_does_not_change(energy: float) -> None:
    assert next_status(energy, "active") == "active"
    assert next_status(energy, "resting") == "resting"


@given(st.floats(min_value=WAKE_THRESHOLD, max_value=1.0))
def test_a_resting_character_wakes_once_recovered(energy: float) -> None:
    assert next_status(energy, "resting") == "active"


def test_worked_example_rest_and_wake_cycle() -> None:
    status = "active"
    trace = []
    for energy in (0.5, 0.2, 0.14, 0.3, 0.39, 0.4, 0.2):
        status = next_status(energy, status)
        trace.append(status)
    assert trace == ["active", "active", "resting", "resting", "resting", "active", "active"]


def test_an_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="status"):
        next_status(0.5, "sleeping")


@given(unit)
def test_a_character_can_interact_exactly_when_it_has_enough_energy(energy: float) -> None:
    assert can_interact(energy) is (energy >= MIN_ENERGY_TO_TALK)


def test_worked_examples_of_can_interact() -> None:
    assert can_interact(MIN_ENERGY_TO_TALK)
    assert not can_interact(0.09)
    assert can_interact(1.0)
