"""Social energy: what an exchange costs (or gives), recovery when idle, and status.

Pure domain code: no Django, no I/O, plain float math (it runs on every interaction).
Formulas, reasons and citations: docs/models.md, section "Energy".
"""

from __future__ import annotations

import math

from .personality import TRAIT_MIDPOINT, BigFive

ENERGY_MIN = 0.0
ENERGY_MAX = 1.0

# Status thresholds. An active character below RESTING_THRESHOLD rests; a resting one wakes
# at WAKE_THRESHOLD. The gap between them is the hysteresis that keeps a tired character
# from flickering between states on every tick.
RESTING_THRESHOLD = 0.15
WAKE_THRESHOLD = 0.4
MIN_ENERGY_TO_TALK = 0.1

STATUS_ACTIVE = "active"
STATUS_RESTING = "resting"
STATUS_ARCHIVED = "archived"
STATUSES: tuple[str, ...] = (STATUS_ACTIVE, STATUS_RESTING, STATUS_ARCHIVED)

# What each kind of exchange costs anyone (effort), conflict the most.
INTERACTION_BASE_COST: dict[str, float] = {
    "greeting": 0.01,
    "chat": 0.03,
    "collaboration": 0.05,
    "conflict": 0.10,
}
# How much the sociable part of the exchange gives an extravert / takes from an introvert,
# scaled by 2 * (E - 0.5) in -1..1. Conflict is not sociable: it recharges nobody.
INTERACTION_SOCIAL_CHARGE: dict[str, float] = {
    "greeting": 0.015,
    "chat": 0.04,
    "collaboration": 0.03,
    "conflict": 0.0,
}
# Starting an exchange is more effort than answering one.
INITIATOR_COST_MULTIPLIER = 1.25

# Recovery while idle: the energy deficit halves every RECOVERY_HALF_LIFE_SECONDS for an
# average person; introverts (who recover alone) faster, extraverts slower.
# Rate factor = 1 + gain * (0.5 - E): 1.5 for E = 0, 0.5 for E = 1.
# Simulation time is compressed: a scenario ticks every few seconds, so five minutes of rest
# stands for a night's sleep and a demo cast never talks itself to a standstill.
RECOVERY_HALF_LIFE_SECONDS = 300.0
SOLITUDE_RECOVERY_GAIN = 1.0
_RECOVERY_RATE_PER_SECOND = math.log(2.0) / RECOVERY_HALF_LIFE_SECONDS


def _clamp(value: float) -> float:
    return ENERGY_MIN if value < ENERGY_MIN else ENERGY_MAX if value > ENERGY_MAX else value


def interaction_energy_delta(p: BigFive, *, interaction_type: str, initiated: bool) -> float:
    """Energy change from taking part in one exchange (usually negative).

    delta = -cost[type] * (1.25 if initiated else 1) + charge[type] * 2 * (E - 0.5)

    An extravert can come out ahead of a greeting, chat or collaboration; an introvert pays
    more for them; conflict costs everyone the most. Raises ValueError for an unknown type.
    """
    base_cost = INTERACTION_BASE_COST.get(interaction_type)
    if base_cost is None:
        raise ValueError(f"unknown interaction_type {interaction_type!r}")
    cost = base_cost * INITIATOR_COST_MULTIPLIER if initiated else base_cost
    social_charge = INTERACTION_SOCIAL_CHARGE[interaction_type] * (
        2.0 * (p.extraversion - TRAIT_MIDPOINT)
    )
    return social_charge - cost


def apply_interaction(
    energy: float, p: BigFive, *, interaction_type: str, initiated: bool
) -> float:
    """energy + interaction_energy_delta(...), clamped to 0..1."""
    return _clamp(
        energy + interaction_energy_delta(p, interaction_type=interaction_type, initiated=initiated)
    )


def recover(energy: float, p: BigFive, *, idle_seconds: float) -> float:
    """Energy after idle_seconds alone; idle_seconds <= 0 -> unchanged (but clamped).

    energy' = 1 - (1 - energy) * exp(-ln2 / 300 s * (1 + 1.0 * (0.5 - E)) * idle_seconds)

    Exponential approach to full: never decreases energy, never passes 1, and
    recover(recover(e, t1), t2) == recover(e, t1 + t2), so tick length does not matter.
    """
    energy = _clamp(energy)
    if not idle_seconds > 0.0:  # also refuses NaN
        return energy
    rate = _RECOVERY_RATE_PER_SECOND * (
        1.0 + SOLITUDE_RECOVERY_GAIN * (TRAIT_MIDPOINT - p.extraversion)
    )
    if rate <= 0.0:  # only for an out-of-range extraversion; never drain while resting
        return energy
    # energy + deficit * (1 - exp(-k t)), written with expm1 so that a tiny rest on a tiny
    # energy still adds a non-negative amount instead of rounding 1 - (1 - e) down to 0.
    recovered_fraction = -math.expm1(-rate * idle_seconds)
    return _clamp(energy + (ENERGY_MAX - energy) * recovered_fraction)


def next_status(energy: float, current_status: str) -> str:
    """The status after an energy change, with hysteresis.

    archived -> archived; active -> resting when energy < RESTING_THRESHOLD;
    resting -> active when energy >= WAKE_THRESHOLD; otherwise unchanged.
    Raises ValueError for an unknown status.
    """
    if current_status == STATUS_ACTIVE:
        return STATUS_RESTING if energy < RESTING_THRESHOLD else STATUS_ACTIVE
    if current_status == STATUS_RESTING:
        return STATUS_ACTIVE if energy >= WAKE_THRESHOLD else STATUS_RESTING
    if current_status == STATUS_ARCHIVED:
        return STATUS_ARCHIVED
    raise ValueError(f"unknown status {current_status!r}")


def can_interact(energy: float) -> bool:
    """Enough energy to take part in an exchange: energy >= MIN_ENERGY_TO_TALK."""
    return energy >= MIN_ENERGY_TO_TALK
