"""Reads for the observatory's pages: one snapshot per page, a fixed number of queries.

Every function is scoped to the requesting user (another user's object is ``Http404``) and
reads rows as plain values where a page holds many of them (200 characters, 2,000
relationships), so the first view of a large ecosystem costs a handful of queries and no
model instantiation per row.

Snapshots and the live stream meet at ``last_seq``: a page reads the ecosystem's
``last_seq`` *first*, then the rest, and its browser opens the WebSocket with
``since=last_seq``. Whatever was committed after that read arrives again over the socket; the
events carry absolute values (new strength, energy ...), so applying one twice is harmless,
and the browser drops transcript entries it already shows (by interaction id).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db.models import (
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from characters.models import PAD_FIELDS, Character, CharacterCard, Ecosystem
from characters.personality import BIG_FIVE_FIELDS
from characters.selectors import (
    character_get,
    character_state,
    character_state_now,
    ecosystem_get,
)
from eventlog.models import Event
from eventlog.services import envelopes_of
from interactions.models import Interaction
from lore.models import Document
from memories.models import Memory
from relationships.dynamics import STRANGER, relationship_label, relationship_label_of
from relationships.models import Relationship
from relationships.selectors import graph_sync_lag
from scenarios.models import Scenario, UserMessage
from scenarios.selectors import scenario_get, scenario_time_left_seconds

# An ecosystem counts as live when a scenario plays or something happened this recently.
LIVE_WINDOW = timedelta(minutes=5)
DASHBOARD_EVENT_WINDOW = timedelta(minutes=5)
DASHBOARD_RECENT_EVENTS = 20
DASHBOARD_TOP_RELATIONSHIPS = 5
# The activity feed shows this many of the newest readable events.
FEED_SIZE = 50
# Events of these types read as sentences in the feed; the others (relationship_changed,
# character_state_changed) accompany an interaction and move the graph instead.
FEED_EVENT_TYPES = (
    Event.Type.CHARACTER_INTERACTION,
    Event.Type.SCENARIO_STARTED,
    Event.Type.SCENARIO_PAUSED,
    Event.Type.SCENARIO_RESUMED,
    Event.Type.SCENARIO_ENDED,
    Event.Type.USER_MESSAGE,
)
EVENTS_PER_MINUTE_WINDOW = timedelta(seconds=60)
# The director lists this many scenarios (playing and paused ones first).
SCENARIO_LIST_SIZE = 20
TRANSCRIPT_LIMIT = 500
CHARACTER_RECENT_INTERACTIONS = 20
CHARACTER_MEMORIES = 20
# The character page lists this many of the lore documents tied to the character.
CHARACTER_LORE = 50
CHARACTER_TIMELINE_POINTS = 60
CHARACTER_FIELDS = (
    "id",
    "name",
    "bio",
    *BIG_FIVE_FIELDS,
    *PAD_FIELDS,
    "emotion",
    "energy",
    "status",
)
BIO_PREVIEW_CHARS = 240


def _avatars(**lookups: Any) -> QuerySet[CharacterCard]:
    """Cards with an image the avatar endpoint serves (it answers 404 without one)."""
    return CharacterCard.objects.filter(avatar__isnull=False, **lookups).exclude(avatar_type="")


def _count_per_ecosystem(queryset: QuerySet[Any]) -> Coalesce:
    """A correlated COUNT(*) of ``queryset``'s rows in the outer ecosystem, 0 when none (no
    join fan-out when several counts sit side by side)."""
    rows = queryset.filter(ecosystem=OuterRef("pk")).order_by().values("ecosystem")
    return Coalesce(
        Subquery(rows.annotate(total=Count("pk")).values("total")[:1], output_field=IntegerField()),
        Value(0),
    )


# --- Ecosystems list ---------------------------------------------------------------------


@dataclass(frozen=True)
class EcosystemRow:
    ecosystem: Ecosystem
    character_count: int
    relationship_count: int
    scenario_count: int
    active_scenario_count: int
    last_event_at: datetime | None
    live: bool

    @property
    def active_recently(self) -> bool:
        """Something happened within the last minute ("just now")."""
        return self.last_event_at is not None and (
            timezone.now() - self.last_event_at < timedelta(minutes=1)
        )


def ecosystem_rows(*, user: User) -> list[EcosystemRow]:
    """The user's ecosystems, newest first, with their counts and live/idle state (1 query)."""
    ecosystems = (
        Ecosystem.objects.filter(owner=user)
        .annotate(
            n_characters=_count_per_ecosystem(Character.objects.all()),
            n_relationships=_count_per_ecosystem(Relationship.objects.all()),
            n_scenarios=_count_per_ecosystem(Scenario.objects.all()),
            n_active_scenarios=_count_per_ecosystem(
                Scenario.objects.filter(status=Scenario.Status.ACTIVE)
            ),
            last_event_at=Subquery(
                Event.objects.filter(ecosystem=OuterRef("pk"))
                .order_by("-seq")
                .values("created")[:1]
            ),
        )
        .order_by("-created")
    )
    horizon = timezone.now() - LIVE_WINDOW
    return [
        EcosystemRow(
            ecosystem=ecosystem,
            character_count=ecosystem.n_characters,  # type: ignore[attr-defined]
            relationship_count=ecosystem.n_relationships,  # type: ignore[attr-defined]
            scenario_count=ecosystem.n_scenarios,  # type: ignore[attr-defined]
            active_scenario_count=ecosystem.n_active_scenarios,  # type: ignore[attr-defined]
            last_event_at=ecosystem.last_event_at,  # type: ignore[attr-defined]
            live=ecosystem.n_active_scenarios > 0  # type: ignore[attr-defined]
            or (
                ecosystem.last_event_at is not None  # type: ignore[attr-defined]
                and ecosystem.last_event_at >= horizon  # type: ignore[attr-defined]
            ),
        )
        for ecosystem in ecosystems
    ]


# --- Scenarios -----------------------------------------------------------------------------


def scenario_list_for_ecosystem(*, ecosystem: Ecosystem) -> list[Scenario]:
    """The director's list: playing, then paused, then ended; newest first in each (2 queries)."""
    status_rank: dict[str, int] = {
        Scenario.Status.ACTIVE: 0,
        Scenario.Status.PAUSED: 1,
        Scenario.Status.ENDED: 2,
    }
    scenarios = list(
        Scenario.objects.filter(ecosystem=ecosystem)
        .exclude(status=Scenario.Status.ENDED)
        .prefetch_related("participants")
        .order_by("-started_at")[:SCENARIO_LIST_SIZE]
    )
    room = SCENARIO_LIST_SIZE - len(scenarios)
    if room > 0:
        scenarios += list(
            Scenario.objects.filter(ecosystem=ecosystem, status=Scenario.Status.ENDED)
            .prefetch_related("participants")
            .order_by("-started_at")[:room]
        )
    scenarios.sort(key=lambda scenario: status_rank.get(scenario.status, 3))
    return scenarios


# --- Observatory -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ObservatorySnapshot:
    ecosystem: Ecosystem
    last_seq: int
    characters: list[dict[str, Any]]
    relationships: list[dict[str, Any]]
    scenarios: list[Scenario]
    active_scenario_ids: list[str]
    recent_events: list[dict[str, Any]]
    event_times_last_minute: list[str]
    stats: dict[str, int | float] = field(default_factory=dict)


def _character_node(row: Mapping[str, Any]) -> dict[str, Any]:
    bio = row["bio"] or ""
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "bio": bio if len(bio) <= BIO_PREVIEW_CHARS else bio[: BIO_PREVIEW_CHARS - 1] + "…",
        "openness": round(row["openness"], 3),
        "conscientiousness": round(row["conscientiousness"], 3),
        "extraversion": round(row["extraversion"], 3),
        "agreeableness": round(row["agreeableness"], 3),
        "neuroticism": round(row["neuroticism"], 3),
        "pleasure": round(row["pleasure"], 3),
        "arousal": round(row["arousal"], 3),
        "dominance": round(row["dominance"], 3),
        "label": row["emotion"],
        "energy": round(row["energy"], 3),
        "status": row["status"],
        # Read only where the page asks for it (the observatory): the avatar's <img> is shown
        # only when there is one, so the browser never asks for a 404.
        **({"has_avatar": bool(row["has_avatar"])} if "has_avatar" in row else {}),
    }


def _relationship_edge(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "from": str(row["from_character_id"]),
        "to": str(row["to_character_id"]),
        "strength": round(row["strength"], 4),
        "trust": round(row["trust"], 4),
        "interaction_count": row["interaction_count"],
        "label": relationship_label(row["strength"], row["trust"], row["interaction_count"]),
    }


def observatory_snapshot(*, user: User, ecosystem_id: object) -> ObservatorySnapshot:
    """Everything the observatory's first view shows, in a fixed number of queries."""
    ecosystem = ecosystem_get(user=user, ecosystem_id=ecosystem_id)
    # Read first: whatever commits after this reaches the page over the WebSocket.
    last_seq = ecosystem.last_seq
    characters = [
        _character_node(row)
        for row in Character.objects.filter(ecosystem=ecosystem)
        .exclude(status=Character.Status.ARCHIVED)
        .annotate(has_avatar=Exists(_avatars(character=OuterRef("pk"))))
        .order_by("name", "id")
        .values(*CHARACTER_FIELDS, "has_avatar")
    ]
    relationships = [
        _relationship_edge(row)
        for row in Relationship.objects.filter(ecosystem=ecosystem)
        .exclude(from_character__status=Character.Status.ARCHIVED)
        .exclude(to_character__status=Character.Status.ARCHIVED)
        .order_by()
        .values("from_character_id", "to_character_id", "strength", "trust", "interaction_count")
    ]
    scenarios = scenario_list_for_ecosystem(ecosystem=ecosystem)
    active_scenario_ids = [
        str(pk)
        for pk in Scenario.objects.filter(
            ecosystem=ecosystem, status=Scenario.Status.ACTIVE
        ).values_list("pk", flat=True)
    ]
    recent_events = [
        event.envelope()
        for event in Event.objects.filter(
            ecosystem=ecosystem, seq__lte=last_seq, type__in=FEED_EVENT_TYPES
        ).order_by("-seq")[:FEED_SIZE]
    ]
    since = timezone.now() - EVENTS_PER_MINUTE_WINDOW
    event_times = [
        created.isoformat()
        for created in Event.objects.filter(
            ecosystem=ecosystem, seq__lte=last_seq, created__gte=since
        ).values_list("created", flat=True)[:10_000]
    ]
    return ObservatorySnapshot(
        ecosystem=ecosystem,
        last_seq=last_seq,
        characters=characters,
        relationships=relationships,
        scenarios=scenarios,
        active_scenario_ids=active_scenario_ids,
        recent_events=recent_events,
        event_times_last_minute=event_times,
        stats={
            "characters": len(characters),
            "relationships": len(relationships),
            "active_conversations": len(active_scenario_ids),
            "events_per_minute": len(event_times),
        },
    )


# --- Scenario chat ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ScenarioChatSnapshot:
    scenario: Scenario
    last_seq: int
    seconds_left: float
    participants: list[dict[str, Any]]
    transcript: list[dict[str, Any]]
    pair_relationships: list[dict[str, Any]]


def _interaction_entry(interaction: Interaction) -> dict[str, Any]:
    return {
        "kind": "interaction",
        "id": str(interaction.pk),
        "created": interaction.created.isoformat(),
        "turn": interaction.turn,
        "interaction_type": interaction.interaction_type,
        "participants": [str(interaction.initiator_id), str(interaction.target_id)],
        "names": {
            str(interaction.initiator_id): interaction.initiator.name,
            str(interaction.target_id): interaction.target.name,
        },
        "content": interaction.content,
        "response": interaction.response,
        "relationship_change": interaction.relationship_change,
        "emotional_states": interaction.emotional_states,
        "user_message_id": str(interaction.user_message_id)
        if interaction.user_message_id
        else None,
    }


def _user_message_entry(message: UserMessage) -> dict[str, Any]:
    return {
        "kind": "user_message",
        "id": str(message.pk),
        "created": message.created.isoformat(),
        "content": message.content,
        "target_character_id": (
            str(message.target_character_id) if message.target_character_id else None
        ),
        "answered": message.answered_at is not None,
    }


def scenario_chat_snapshot(*, user: User, scenario_id: object) -> ScenarioChatSnapshot:
    """The scenario chat's first view: state, participants, transcript (oldest first) and the
    relationships among the participants."""
    scenario = scenario_get(user=user, scenario_id=scenario_id)
    last_seq = Ecosystem.objects.filter(pk=scenario.ecosystem_id).values_list(
        "last_seq", flat=True
    )[0]
    scenario.refresh_from_db()  # after last_seq: the state is at least as new as the stream
    participant_rows = list(scenario.participants.order_by("name", "id").values(*CHARACTER_FIELDS))
    participants = [_character_node(row) for row in participant_rows]
    participant_ids = [row["id"] for row in participant_rows]
    interactions = list(
        Interaction.objects.filter(scenario=scenario)
        .select_related("initiator", "target")
        .only(
            "id",
            "created",
            "turn",
            "interaction_type",
            "content",
            "response",
            "relationship_change",
            "emotional_states",
            "user_message_id",
            "initiator__id",
            "initiator__name",
            "target__id",
            "target__name",
        )
        .order_by("-created")[:TRANSCRIPT_LIMIT]
    )
    messages = list(
        UserMessage.objects.filter(scenario=scenario).order_by("-created")[:TRANSCRIPT_LIMIT]
    )
    transcript = sorted(
        [_interaction_entry(i) for i in interactions] + [_user_message_entry(m) for m in messages],
        key=lambda entry: entry["created"],
    )
    pair_relationships = [
        _relationship_edge(row)
        for row in Relationship.objects.filter(
            from_character_id__in=participant_ids, to_character_id__in=participant_ids
        )
        .order_by()
        .values("from_character_id", "to_character_id", "strength", "trust", "interaction_count")
    ]
    return ScenarioChatSnapshot(
        scenario=scenario,
        last_seq=last_seq,
        seconds_left=scenario_time_left_seconds(scenario=scenario),
        participants=participants,
        transcript=transcript,
        pair_relationships=pair_relationships,
    )


# --- Character page --------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelinePoint:
    at: datetime
    pleasure: float
    arousal: float
    dominance: float
    energy: float
    label: str


@dataclass(frozen=True)
class RelationshipRow:
    other: Character
    label: str
    strength: float
    trust: float
    interaction_count: int
    last_interaction_at: datetime | None
    # How the other regards this character (None: they have never met from that side).
    reverse_label: str | None
    reverse_strength: float | None
    reverse_trust: float | None


@dataclass(frozen=True)
class CharacterSnapshot:
    character: Character
    timeline: list[TimelinePoint]
    relationships: list[RelationshipRow]
    recent_interactions: list[Interaction]
    interaction_count: int
    # Newest first: memories and reflections, each with its exchange (select_related).
    memories: list[Memory] = field(default_factory=list)
    memory_count: int = 0
    # The character has an avatar (GET /api/v1/characters/{id}/avatar answers 200).
    has_avatar: bool = False
    # Lore tied to this character (e.g. its card's lorebook): {id, title, keys, constant,
    # enabled}, in the order keyed entries are used.
    lore: list[dict[str, Any]] = field(default_factory=list)


def _timeline_point(interaction: Interaction, character_key: str) -> TimelinePoint | None:
    state = (interaction.emotional_states or {}).get(character_key)
    if not isinstance(state, dict):
        return None
    try:
        return TimelinePoint(
            at=interaction.created,
            pleasure=float(state["pleasure"]),
            arousal=float(state["arousal"]),
            dominance=float(state["dominance"]),
            energy=float(state["energy"]),
            label=str(state.get("label", "")),
        )
    except (KeyError, TypeError, ValueError):
        return None


def character_snapshot(*, user: User, character_id: object) -> CharacterSnapshot:
    """Profile, emotion/energy timeline, relationships both ways, recent interactions."""
    character = character_get(user=user, character_id=character_id)
    involving = Q(initiator=character) | Q(target=character)
    interactions = list(
        Interaction.objects.filter(involving)
        .select_related("initiator", "target", "scenario")
        .order_by("-created")[:CHARACTER_TIMELINE_POINTS]
    )
    interaction_count = Interaction.objects.filter(involving).count()
    key = str(character.pk)
    timeline = [
        point
        for point in (_timeline_point(interaction, key) for interaction in reversed(interactions))
        if point is not None
    ]
    # The present state closes the line, so it ends where the profile says the character is.
    timeline.append(
        TimelinePoint(
            at=character.state_updated_at,
            pleasure=character.pleasure,
            arousal=character.arousal,
            dominance=character.dominance,
            energy=character.energy,
            label=character.emotion,
        )
    )
    rows = list(
        Relationship.objects.filter(Q(from_character=character) | Q(to_character=character))
        .select_related("from_character", "to_character")
        .order_by("-strength", "pk")
    )
    incoming = {rel.from_character_id: rel for rel in rows if rel.to_character_id == character.pk}
    relationships = []
    seen_other_ids = set()
    for rel in rows:
        if rel.from_character_id != character.pk:
            continue
        reverse = incoming.get(rel.to_character_id)
        seen_other_ids.add(rel.to_character_id)
        relationships.append(
            RelationshipRow(
                other=rel.to_character,
                label=relationship_label_of(rel),
                strength=rel.strength,
                trust=rel.trust,
                interaction_count=rel.interaction_count,
                last_interaction_at=rel.last_interaction_at,
                reverse_label=relationship_label_of(reverse) if reverse else None,
                reverse_strength=reverse.strength if reverse else None,
                reverse_trust=reverse.trust if reverse else None,
            )
        )
    for other_id, reverse in incoming.items():
        if other_id in seen_other_ids:
            continue
        relationships.append(
            RelationshipRow(
                other=reverse.from_character,
                label=STRANGER,
                strength=0.0,
                trust=0.0,
                interaction_count=0,
                last_interaction_at=None,
                reverse_label=relationship_label_of(reverse),
                reverse_strength=reverse.strength,
                reverse_trust=reverse.trust,
            )
        )
    return CharacterSnapshot(
        character=character,
        timeline=timeline,
        relationships=relationships,
        recent_interactions=interactions[:CHARACTER_RECENT_INTERACTIONS],
        interaction_count=interaction_count,
        memories=list(
            Memory.objects.filter(character=character)
            .select_related("counterpart", "interaction")
            .order_by("-created")[:CHARACTER_MEMORIES]
        ),
        memory_count=Memory.objects.filter(character=character).count(),
        has_avatar=_avatars(character=character).exists(),
        lore=[
            dict(row)
            for row in Document.objects.filter(characters=character)
            .order_by("order", "title", "id")
            .values("id", "title", "keys", "constant", "enabled")[:CHARACTER_LORE]
        ],
    )


# --- Lore page -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LorePage:
    ecosystem: Ecosystem
    # Who a document can be tied to, and who a search can be limited to: {id, name}.
    characters: list[dict[str, str]]


def lore_page(*, user: User, ecosystem_id: object) -> LorePage:
    """The Lore page's first view: the ecosystem and its cast (2 queries). The documents
    themselves come from the lore API, which the page also writes through."""
    ecosystem = ecosystem_get(user=user, ecosystem_id=ecosystem_id)
    characters = [
        {"id": str(pk), "name": name}
        for pk, name in Character.objects.filter(ecosystem=ecosystem)
        .exclude(status=Character.Status.ARCHIVED)
        .order_by("name", "id")
        .values_list("pk", "name")
    ]
    return LorePage(ecosystem=ecosystem, characters=characters)


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
        "label": relationship_label_of(relationship),
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
    nodes = [
        {"id": character.pk, **character_state(character_state_now(character=character, now=now))}
        for character in characters
    ]
    edges = [
        {
            "from": rel.from_character_id,
            "to": rel.to_character_id,
            "strength": round(rel.strength, 4),
            "trust": round(rel.trust, 4),
            "interaction_count": rel.interaction_count,
            "label": relationship_label_of(rel),
        }
        for rel in Relationship.objects.filter(ecosystem=ecosystem).order_by(
            "from_character_id", "to_character_id"
        )
    ]
    return {"ecosystem_id": ecosystem.pk, "nodes": nodes, "edges": edges, "generated_at": now}
