"""Reads for scenarios, transcripts, the dashboard and the graph, scoped to the requesting user.

Another user's scenario or ecosystem reads as "not found" (Http404), never as forbidden.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from characters.models import Character, Ecosystem
from characters.selectors import character_state_now, get_or_404
from interactions.models import Interaction

from .models import Scenario, UserMessage

TRANSCRIPT_MAX_INTERACTIONS = 500


# --- Active time ------------------------------------------------------------------------


def scenario_elapsed_seconds(*, scenario: Scenario, now: datetime | None = None) -> float:
    """Seconds the scenario has been active (pauses excluded): completed active spans in
    ``active_seconds`` plus the running span since ``resumed_at`` when active."""
    elapsed = scenario.active_seconds
    if scenario.status == Scenario.Status.ACTIVE and scenario.resumed_at is not None:
        now = now or timezone.now()
        elapsed += max(0.0, (now - scenario.resumed_at).total_seconds())
    return max(0.0, elapsed)


def scenario_duration_seconds(*, scenario: Scenario) -> float:
    return float(scenario.duration_minutes) * 60.0


def scenario_time_left_seconds(*, scenario: Scenario, now: datetime | None = None) -> float:
    if scenario.status == Scenario.Status.ENDED:
        return 0.0
    left = scenario_duration_seconds(scenario=scenario) - scenario_elapsed_seconds(
        scenario=scenario, now=now
    )
    return max(0.0, left)


# --- Scenarios --------------------------------------------------------------------------


def scenario_list(*, user: User, ecosystem: Ecosystem | None = None) -> QuerySet[Scenario]:
    queryset = Scenario.objects.filter(ecosystem__owner=user)  # type: ignore[misc]
    if ecosystem is not None:
        queryset = queryset.filter(ecosystem=ecosystem)
    return queryset.prefetch_related(
        Prefetch("participants", queryset=Character.objects.order_by("name", "pk"))
    ).annotate(
        pending_user_messages=Count(
            "user_messages", filter=Q(user_messages__answered_at__isnull=True), distinct=True
        )
    )


def scenario_get(*, user: User, scenario_id: object) -> Scenario:
    """The user's scenario row (its ecosystem joined), or Http404."""
    return get_or_404(
        Scenario.objects.filter(ecosystem__owner=user).select_related("ecosystem"), scenario_id
    )


def scenario_get_with_participants(*, user: User, scenario_id: object) -> Scenario:
    """The user's scenario with what the API's scenario body shows: participants
    prefetched (by name) and ``pending_user_messages`` counted; or Http404."""
    return get_or_404(scenario_list(user=user), scenario_id)


def scenario_participants_now(
    *, scenario: Scenario, now: datetime | None = None
) -> list[Character]:
    """The participants with emotion and energy brought up to the moment (in memory only:
    decay and recovery since their last exchange), in a stable order (name, id)."""
    now = now or timezone.now()
    participants = sorted(scenario.participants.all(), key=lambda c: (c.name, str(c.pk)))
    for character in participants:
        character_state_now(character=character, now=now)
    return participants


@dataclass(frozen=True)
class Transcript:
    interactions: list[Interaction]
    user_messages: list[UserMessage]


def scenario_transcript(
    *, scenario: Scenario, since_turn: int = 0, limit: int = TRANSCRIPT_MAX_INTERACTIONS
) -> Transcript:
    """The scenario's interactions in turn order (after ``since_turn``, at most ``limit``)
    and every message a person sent into it, oldest first."""
    interactions = list(
        Interaction.objects.filter(scenario=scenario, turn__gt=since_turn)
        .select_related("initiator", "target")
        .order_by("turn")[:limit]
    )
    user_messages = list(
        UserMessage.objects.filter(scenario=scenario)
        .select_related("author", "target_character")
        .order_by("created", "pk")
    )
    return Transcript(interactions=interactions, user_messages=user_messages)


def user_message_answers(*, scenario: Scenario) -> dict[Any, tuple[int | None, Any]]:
    """user_message_id -> (turn, interaction_id) of the interaction that answered it."""
    rows = Interaction.objects.filter(scenario=scenario, user_message__isnull=False).values_list(
        "user_message_id", "turn", "pk"
    )
    return {message_id: (turn, interaction_id) for message_id, turn, interaction_id in rows}
