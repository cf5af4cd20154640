"""Reads for scenarios, transcripts, the dashboard and the graph, scoped to the requesting user.

Another user's scenario or ecosystem reads as "not found" (Http404), never as forbidden.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from characters.models import Character, Ecosystem
from characters.selectors import get_or_404
from characters.services import character_bring_up_to_date
from observatory.events import envelopes_of
from observatory.models import Event
from relationships.dynamics import relationship_label
from relationships.models import Relationship
from relationships.selectors import graph_sync_lag

from .models import Interaction, Scenario, UserMessage

DASHBOARD_EVENT_WINDOW = timedelta(minutes=5)
DASHBOARD_RECENT_EVENTS = 20
DASHBOARD_TOP_RELATIONSHIPS = 5
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
    """The user's scenario (participants prefetched), or Http404."""
    return get_or_404(scenario_list(user=user), scenario_id)


def scenario_participants_now(
    *, scenario: Scenario, now: datetime | None = None
) -> list[Character]:
    """The participants with emotion and energy brought up to the moment (in memory only:
    decay and recovery since their last exchange), in a stable order (name, id)."""
    now = now or timezone.now()
    participants = sorted(scenario.participants.all(), key=lambda c: (c.name, str(c.pk)))
    for character in participants:
        character_bring_up_to_date(character=character, now=now)
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


# --- Dashboard and graph ------------------------------------------------------------------


def _relationship_row(relationship: Relationship) -> dict[str, Any]:
    return {
        "from": relationship.from_character_id,
        "from_name": relationship.from_character.name,
        "to": relationship.to_character_id,
        "to_name": relationship.to_character.name,
        "strength": round(relationship.strength, 4),
        "trust": round(relationship.trust, 4),
        "interaction_count": relationship.interaction_count,
        "label": relationship_label(
            relationship.strength, relationship.trust, relationship.interaction_count
        ),
    }


def ecosystem_dashboard(*, ecosystem: Ecosystem, now: datetime | None = None) -> dict[str, Any]:
    """Everything the observatory's overview shows, in a fixed number of queries."""
    now = now or timezone.now()
    characters = Character.objects.filter(ecosystem=ecosystem)
    status_counts = dict(
        characters.values_list("status").annotate(count=Count("pk")).order_by("status")
    )
    mood_distribution = dict(
        characters.exclude(status=Character.Status.ARCHIVED)
        .values_list("emotion")
        .annotate(count=Count("pk"))
        .order_by("emotion")
    )
    relationships = Relationship.objects.filter(ecosystem=ecosystem)
    known = relationships.filter(interaction_count__gt=0).select_related(
        "from_character", "to_character"
    )
    scenario_counts = dict(
        Scenario.objects.filter(ecosystem=ecosystem)
        .values_list("status")
        .annotate(count=Count("pk"))
        .order_by("status")
    )
    window_start = now - DASHBOARD_EVENT_WINDOW
    events_in_window = Event.objects.filter(ecosystem=ecosystem, created__gte=window_start).count()
    recent_events = list(
        Event.objects.filter(ecosystem=ecosystem).order_by("-seq")[:DASHBOARD_RECENT_EVENTS]
    )
    return {
        "ecosystem_id": ecosystem.pk,
        "name": ecosystem.name,
        "counts": {
            "characters": sum(status_counts.values()),
            "characters_by_status": {
                status: status_counts.get(status, 0) for status in Character.Status.values
            },
            "relationships": relationships.count(),
            "active_conversations": scenario_counts.get(Scenario.Status.ACTIVE, 0),
            "scenarios_by_status": {
                status: scenario_counts.get(status, 0) for status in Scenario.Status.values
            },
            "interactions": Interaction.objects.filter(ecosystem=ecosystem).count(),
        },
        "events_per_minute": round(
            events_in_window / (DASHBOARD_EVENT_WINDOW.total_seconds() / 60.0), 2
        ),
        "last_seq": ecosystem.last_seq,
        "recent_events": envelopes_of(recent_events),
        "strongest_relationships": [
            _relationship_row(rel)
            for rel in known.order_by("-strength", "-trust", "pk")[:DASHBOARD_TOP_RELATIONSHIPS]
        ],
        "most_strained_relationships": [
            _relationship_row(rel)
            for rel in known.order_by("strength", "trust", "pk")[:DASHBOARD_TOP_RELATIONSHIPS]
        ],
        "mood_distribution": mood_distribution,
        "graph_sync": graph_sync_lag(ecosystem_id=ecosystem.pk, now=now),
        "generated_at": now,
    }


def ecosystem_graph(*, ecosystem: Ecosystem, now: datetime | None = None) -> dict[str, Any]:
    """Nodes (characters, emotion and energy up to the moment) and edges (directed
    relationships) of one ecosystem, for the observatory's network view."""
    now = now or timezone.now()
    characters = list(Character.objects.filter(ecosystem=ecosystem).order_by("name", "pk"))
    for character in characters:
        character_bring_up_to_date(character=character, now=now)
    nodes = [
        {
            "id": character.pk,
            "name": character.name,
            "emotion": character.emotion,
            "pleasure": round(character.pleasure, 4),
            "arousal": round(character.arousal, 4),
            "dominance": round(character.dominance, 4),
            "energy": round(character.energy, 4),
            "status": character.status,
        }
        for character in characters
    ]
    edges = [
        {
            "from": rel.from_character_id,
            "to": rel.to_character_id,
            "strength": round(rel.strength, 4),
            "trust": round(rel.trust, 4),
            "interaction_count": rel.interaction_count,
            "label": relationship_label(rel.strength, rel.trust, rel.interaction_count),
        }
        for rel in Relationship.objects.filter(ecosystem=ecosystem).order_by(
            "from_character_id", "to_character_id"
        )
    ]
    return {"ecosystem_id": ecosystem.pk, "nodes": nodes, "edges": edges, "generated_at": now}
