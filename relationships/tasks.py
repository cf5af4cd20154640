"""Celery tasks of the Neo4j graph sync. They take ids, call ``relationships.graph`` and
retry on the named Neo4j errors; the logic lives in ``graph.py``."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from django.core.cache import cache

from .graph import (
    GRAPH_UNAVAILABLE_ERRORS,
    SyncReport,
    graph_is_configured,
    graph_remove_characters,
    graph_remove_ecosystem,
    graph_remove_orphans,
    graph_sync_pending,
    graph_sync_queued_key,
)
from .models import Relationship

logger = logging.getLogger(__name__)

# Backoff 1, 2, 4 ... 60 s (jittered), then every ~minute: about a quarter of an hour of
# attempts. A longer outage is the periodic reconcile's job (it resends everything pending),
# so tasks do not pile up in Redis forever while Neo4j is away.
GRAPH_TASK_MAX_RETRIES = 20
GRAPH_RETRY_OPTIONS: dict[str, Any] = {
    "bind": True,
    "autoretry_for": GRAPH_UNAVAILABLE_ERRORS,
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": GRAPH_TASK_MAX_RETRIES,
    "acks_late": True,
    "ignore_result": True,
}
NOT_CONFIGURED = {"status": "skipped", "reason": "Neo4j is not configured"}


def _report(report: SyncReport) -> dict[str, Any]:
    return {
        "status": "ok",
        "sent": report.sent,
        "written": report.written,
        "batches": report.batches,
        "seconds": round(report.seconds, 4),
    }


@shared_task(name="relationships.graph_sync", **GRAPH_RETRY_OPTIONS)
def graph_sync_relationships(self: Task, relationship_ids: list[int]) -> dict[str, Any]:
    """Bring the graph up to date for the ecosystems these relationships belong to.

    It sends everything pending in those ecosystems, not only the given ids: a burst of
    interactions enqueues one task per interaction, the first of them sends the whole backlog
    in one UNWIND batch and the rest find nothing (or little) pending and finish in one
    indexed query. Bursts therefore batch themselves, without a debounce timer, and a task
    that was lost or gave up is covered by the next one for the same ecosystem."""
    if not graph_is_configured():
        return NOT_CONFIGURED
    ecosystem_ids = list(
        Relationship.objects.filter(pk__in=relationship_ids)
        .order_by()
        .values_list("ecosystem_id", flat=True)
        .distinct()
    )
    # Cleared before reading what is pending: a change committed from now on queues the next
    # task (see graph_sync_enqueue).
    cache.delete_many([graph_sync_queued_key(ecosystem_id) for ecosystem_id in ecosystem_ids])
    report = SyncReport()
    for ecosystem_id in ecosystem_ids:
        report = report + graph_sync_pending(ecosystem_id=ecosystem_id)
    return _report(report)


@shared_task(name="relationships.graph_remove", **GRAPH_RETRY_OPTIONS)
def graph_remove(
    self: Task, character_ids: list[str] | None = None, ecosystem_id: str | None = None
) -> dict[str, Any]:
    """Remove deleted characters (or a deleted ecosystem) from the graph."""
    if not graph_is_configured():
        return NOT_CONFIGURED
    removed = 0
    if character_ids:
        removed += graph_remove_characters(character_ids=character_ids)
    if ecosystem_id:
        removed += graph_remove_ecosystem(ecosystem_id=ecosystem_id)
    return {"status": "ok", "removed": removed}


# Beat sends one every 30 s; one that waited longer than that is superseded by the next.
@shared_task(name="relationships.graph_reconcile", ignore_result=True, expires=60)
def graph_reconcile(
    ecosystem_id: str | None = None, orphan_grace_seconds: float | None = None
) -> dict[str, Any]:
    """Periodic safety net: send everything whose version Neo4j lacks, and remove nodes
    whose character no longer exists in PostgreSQL. When Neo4j is down it logs and returns;
    the next run (beat, every 30 s) tries again, so it never retries itself."""
    if not graph_is_configured():
        return NOT_CONFIGURED
    try:
        report = graph_sync_pending(ecosystem_id=ecosystem_id)
        removed = graph_remove_orphans(
            ecosystem_id=ecosystem_id, grace_seconds=orphan_grace_seconds
        )
    except GRAPH_UNAVAILABLE_ERRORS as error:
        logger.warning("graph reconcile: Neo4j is unavailable (%s); the next run retries", error)
        return {"status": "unavailable", "error": f"{type(error).__name__}: {error}"[:300]}
    if report.sent or removed:
        logger.info(
            "graph reconcile: sent %d relationships (%d newer in Neo4j), removed %d orphans",
            report.sent,
            report.written,
            removed,
        )
    return {**_report(report), "orphans_removed": removed}
