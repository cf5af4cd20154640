"""Reads of relationships, scoped to the requesting user's characters."""

import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Min, Q, QuerySet
from django.utils import timezone

from characters.models import Character

from .models import Relationship


def relationship_list_for_character(*, character: Character) -> QuerySet[Relationship]:
    """Both directions: how the character regards others, and how others regard it."""
    return (
        Relationship.objects.filter(Q(from_character=character) | Q(to_character=character))
        .select_related("from_character", "to_character")
        .order_by("-strength", "pk")
    )


def graph_sync_lag(
    *, ecosystem_id: uuid.UUID | str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """How far the Neo4j graph is behind PostgreSQL: relationships whose newest version Neo4j
    lacks, and how long the oldest of them has waited. ``ecosystem_id`` narrows it to one
    ecosystem (the dashboard); the partial index ``relationship_graph_pending`` serves both."""
    pending = Relationship.objects.filter(version__gt=F("graph_version"))
    if ecosystem_id is not None:
        pending = pending.filter(ecosystem_id=ecosystem_id)
    summary = pending.aggregate(count=Count("pk"), oldest=Min("updated_at"))
    oldest = summary["oldest"]
    age = ((now or timezone.now()) - oldest).total_seconds() if oldest else 0.0
    return {
        "pending": summary["count"],
        "oldest_pending_age_seconds": round(age, 1),
        "enabled": settings.GRAPH_SYNC_ENABLED,
    }
