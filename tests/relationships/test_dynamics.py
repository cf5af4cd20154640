"""Properties and worked examples of relationships.dynamics (pure; no Django)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from characters.personality import INTERACTION_TYPES
from relationships.dynamics import (
    INITIAL_STRENGTH,
    INITIAL_TRUST,
    INTERACTION_RATES,
    RELATIONSHIP_LABELS,
    RelationshipDelta,
    RelationshipState,
    apply_delta,
    relationship_delta,
    relationship_label,
)

signed = st.floats(min_value=-1.0, max_value=1.0, allow_nan=False)
unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
positive = st.floats(min_value=0.01, max_value=1.0, allow_nan=False)
non_negative = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
negative = st.floats(min_value=-1.0, max_value=-0.01, allow_nan=False)
counts = st.integers(min_value=0, max_value=10_000)
states = st.builds(RelationshipState, strength=signed, trust=unit, interaction_count=counts)
interaction_type = st.sampled_from(INTERACTION_TYPES)
friendly_type = st.sampled_from(("greeting", "chat", "collaboration"))


def delta_for(
    kind: str, sentiment: float, state: RelationshipState, compatibility: float = 0.0
) -> RelationshipDelta:
    return relationship_delta(
        interaction_type=kind, sentiment=sentiment, compatibility=compatibility, current=state
    )


# --- bounds ---------------------------------------------------------------------------------------


@given(interaction_type, signed, signed, states)
def test_an_applied_delta_always_stays_in_bounds_and_counts_the_exchange(
    kind: str, sentiment: float, compatibility: float, state: RelationshipState
) -> None:
    after = apply_delta(state, delta_for(kind, sentiment, state, compatibility))
    assert -1.0 <= after.strength <= 1.0
    assert 0.0 <= after.trust <= 1.0
    assert after.interaction_count == state.interaction_count + 1


@given(interaction_type, st.floats(allow_nan=False), st.floats(allow_nan=False), states)
def test_out_of_range_sentiment_or_compatibility_cannot_break_the_bounds(
    kind: str, sentiment: float, compatibility: float, state: RelationshipState
) -> None:
    after = apply_delta(state, delta_for(kind, sentiment, state, compatibility))
    assert -1.0 <= after.strength <= 1.0
    assert 0.0 <= after.trust <= 1.0


@given(states, st.floats(allow_nan=False), st.floats(allow_nan=False))
def test_apply_delta_clamps_any_delta(
    state: RelationshipState, strength_delta: float, trust_delta: float
) -> None:
    after = apply_delta(state, RelationshipDelta(strength_delta, trust_delta))
    assert -1.0 <= after.strength <= 1.0
    assert 0.0 <= after.trust <= 1.0


@given(interaction_type, signed, signed, states)
def test_a_delta_alone_never_points_past_a_bound(
    kind: str, sentiment: float, compatibility: float, state: RelationshipState
) -> None:
    delta = delta_for(kind, sentiment, state, compatibility)
    assert -1.0 <= state.strength + delta.strength_delta <= 1.0
    assert 0.0 <= state.trust + delta.trust_delta <= 1.0


def test_an_unknown_interaction_type_is_refused() -> None:
    with pytest.raises(ValueError, match="interaction_type"):
        delta_for("duel", 0.0, RelationshipState(0.0, 0.5))


# --- directions -----------------------------------------------------------------------------------


@given(friendly_type, non_negative, signed, states)
def test_positive_sentiment_never_lowers_strength_in_friendly_exchanges(
    kind: str, sentiment: float, compatibility: float, state: RelationshipState
) -> None:
    assert delta_for(kind, sentiment, state, compatibility).strength_delta >= 0.0


@given(positive, signed, states)
def test_a_positive_chat_raises_strength(
    sentiment: float, compatibility: float, state: RelationshipState
) -> None:
    assume(state.strength < 0.99)
    assert delta_for("chat", sentiment, state, compatibility).strength_delta > 0.0


@given(st.floats(min_value=-1.0, max_value=0.0), signed, states)
def test_conflict_with_negative_sentiment_never_raises_strength_or_trust(
    sentiment: float, compatibility: float, state: RelationshipState
) -> None:
    delta = delta_for("conflict", sentiment, state, compatibility)
    assert delta.strength_delta <= 0.0
    assert delta.trust_delta <= 0.0


@given(negative, signed, states)
def test_a_hostile_conflict_lowers_strength_and_trust(
    sentiment: float, compatibility: float, state: RelationshipState
) -> None:
    assume(state.strength > -0.99 and state.trust > 0.01)
    delta = delta_for("conflict", sentiment, state, compatibility)
    assert delta.strength_delta < 0.0
    assert delta.trust_delta < 0.0


@given(
    non_negative,
    signed,
    st.floats(min_value=-0.4, max_value=1.0),
    unit,
)
def test_a_conflict_costs_more_strength_than_the_mirrored_chat_gains(
    sentiment: float, compatibility: float, strength: float, trust: float
) -> None:
    # Negativity weighs ~5:1 (Gottman). Holds from the same state wherever there is
    # something left to lose (strength above about -0.45).
    state = RelationshipState(strength, trust)
    conflict_loss = -delta_for("conflict", -sentiment, state, compatibility).strength_delta
    chat_gain = delta_for("chat", sentiment, state, compatibility).strength_delta
    assert conflict_loss > chat_gain


@given(st.sampled_from(("greeting", "chat")), positive, signed, st.floats(0.3, 1.0))
def test_trust_is_lost_faster_than_it_is_built(
    kind: str, sentiment: float, compatibility: float, trust: float
) -> None:
    # Same exchange, mirrored sentiment, same state: the loss outweighs the gain from any
    # trust at or above the starting value (Slovic 1993).
    state = RelationshipState(0.0, trust)
    trust_loss = -delta_for(kind, -sentiment, state, compatibility).trust_delta
    trust_gain = delta_for(kind, sentiment, state, compatibility).trust_delta
    assert trust_loss > trust_gain


def test_trust_loss_rates_are_several_times_the_gain_rates() -> None:
    for rates in INTERACTION_RATES.values():
        assert rates.trust_loss >= 4 * rates.trust_gain
        assert rates.strength_loss >= 2 * rates.strength_gain


@given(non_negative, signed, st.floats(0.0, 0.99), signed)
def test_collaboration_builds_more_trust_than_a_chat(
    sentiment: float, compatibility: float, trust: float, strength: float
) -> None:
    state = RelationshipState(strength, trust)
    assert (
        delta_for("collaboration", sentiment, state, compatibility).trust_delta
        > delta_for("chat", sentiment, state, compatibility).trust_delta
    )


@given(interaction_type, positive, signed)
def test_the_same_positive_input_gains_less_near_the_top(
    kind: str, sentiment: float, compatibility: float
) -> None:
    assume(kind != "conflict")
    at_zero = delta_for(kind, sentiment, RelationshipState(0.0, 0.5), compatibility)
    at_high = delta_for(kind, sentiment, RelationshipState(0.9, 0.5), compatibility)
    assert at_high.strength_delta < at_zero.strength_delta


@given(interaction_type, signed, signed, signed, signed, unit)
def test_steps_shrink_toward_the_bound_they_approach(
    kind: str,
    sentiment: float,
    compatibility: float,
    strength_a: float,
    strength_b: float,
    trust: float,
) -> None:
    lower, higher = min(strength_a, strength_b), max(strength_a, strength_b)
    at_lower = delta_for(kind, sentiment, RelationshipState(lower, trust), compatibility)
    at_higher = delta_for(kind, sentiment, RelationshipState(higher, trust), compatibility)
    if at_lower.strength_delta > 0:  # rising: less room left higher up
        assert at_higher.strength_delta <= at_lower.strength_delta
    else:  # falling: less room left lower down
        assert at_lower.strength_delta >= at_higher.strength_delta


@given(interaction_type, signed, signed, signed, states)
def test_a_more_compatible_pair_fares_at_least_as_well(
    kind: str, sentiment: float, compat_a: float, compat_b: float, state: RelationshipState
) -> None:
    lower, higher = min(compat_a, compat_b), max(compat_a, compat_b)
    assert (
        delta_for(kind, sentiment, state, higher).strength_delta
        >= delta_for(kind, sentiment, state, lower).strength_delta
    )


# --- worked examples ------------------------------------------------------------------------------


def test_worked_example_a_warm_chat_between_new_acquaintances() -> None:
    state = RelationshipState(INITIAL_STRENGTH, INITIAL_TRUST)
    delta = delta_for("chat", 0.6, state, compatibility=0.15)
    # strength: (0.01 + 0.05 * 0.6) * (1 + 0.3 * 0.15) * (1 - 0.0) = 0.04 * 1.045
    # trust:    (0.01 * 0.6) * 1.045 * (1 - 0.3)
    assert delta.strength_delta == pytest.approx(0.0418, abs=1e-12)
    assert delta.trust_delta == pytest.approx(0.004389, abs=1e-12)
    after = apply_delta(state, delta)
    assert after.strength == pytest.approx(0.0418, abs=1e-12)
    assert after.trust == pytest.approx(0.304389, abs=1e-12)
    assert after.interaction_count == 1


def test_worked_example_a_hostile_conflict_between_new_acquaintances() -> None:
    state = RelationshipState(INITIAL_STRENGTH, INITIAL_TRUST)
    delta = delta_for("conflict", -0.6, state, compatibility=0.15)
    # strength: (-0.05 + 0.25 * -0.6) * (1 - 0.3 * 0.15) * (1 + 0.0) = -0.2 * 0.955
    # trust:    (-0.01 + 0.12 * -0.6) * 0.955 * 0.3
    assert delta.strength_delta == pytest.approx(-0.191, abs=1e-12)
    assert delta.trust_delta == pytest.approx(-0.023493, abs=1e-12)


def test_worked_example_collaboration_between_friends_who_are_a_poor_match() -> None:
    delta = delta_for("collaboration", 0.5, RelationshipState(0.5, 0.6, 10), compatibility=-0.2)
    # strength: (0.02 + 0.06 * 0.5) * (1 - 0.06) * (1 - 0.5) = 0.05 * 0.94 * 0.5
    # trust:    (0.01 + 0.03 * 0.5) * 0.94 * (1 - 0.6)
    assert delta.strength_delta == pytest.approx(0.0235, abs=1e-12)
    assert delta.trust_delta == pytest.approx(0.0094, abs=1e-12)


def test_worked_example_eight_warm_chats_make_friends() -> None:
    state = RelationshipState(INITIAL_STRENGTH, INITIAL_TRUST)
    labels = []
    for _ in range(8):
        state = apply_delta(state, delta_for("chat", 0.8, state, compatibility=0.0))
        labels.append(relationship_label(state.strength, state.trust, state.interaction_count))
    # each step covers 5% of the room left: strength = 1 - 0.95 ** n
    assert state.strength == pytest.approx(1 - 0.95**8, abs=1e-12)
    assert labels[0] == "acquaintance"
    assert labels[-1] == "friend"


# --- labels ---------------------------------------------------------------------------------------


@given(signed, unit, counts)
def test_every_relationship_has_a_label_from_the_fixed_set(
    strength: float, trust: float, count: int
) -> None:
    assert relationship_label(strength, trust, count) in RELATIONSHIP_LABELS


@given(signed, unit)
def test_without_any_exchange_they_are_strangers(strength: float, trust: float) -> None:
    assert relationship_label(strength, trust, 0) == "stranger"


@pytest.mark.parametrize(
    ("strength", "trust", "count", "expected"),
    [
        (0.0, 0.3, 0, "stranger"),
        (0.9, 0.9, 0, "stranger"),
        (0.01, 0.3, 5, "stranger"),
        (0.1, 0.3, 3, "acquaintance"),
        (-0.1, 0.3, 3, "acquaintance"),
        (0.3, 0.3, 3, "friend"),
        (0.7, 0.5, 20, "friend"),
        (0.6, 0.6, 20, "close friend"),
        (-0.2, 0.3, 3, "rival"),
        (-0.59, 0.3, 3, "rival"),
        (-0.6, 0.3, 3, "enemy"),
        (-1.0, 0.0, 3, "enemy"),
    ],
)
def test_relationship_labels(strength: float, trust: float, count: int, expected: str) -> None:
    assert relationship_label(strength, trust, count) == expected


def test_the_label_set_and_interaction_types_are_the_documented_ones() -> None:
    assert RELATIONSHIP_LABELS == (
        "stranger",
        "acquaintance",
        "friend",
        "close friend",
        "rival",
        "enemy",
    )
    assert INTERACTION_TYPES == ("greeting", "chat", "conflict", "collaboration")
    assert set(INTERACTION_RATES) == set(INTERACTION_TYPES)
