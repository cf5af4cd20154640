"""Celery tasks of the lore vector-index sync; the logic lives in ``lore.graph``."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from django.core.cache import cache

from relationships.graph import GRAPH_UNAVAILABLE_ERRORS, graph_is_configured
from relationships.tasks import GRAPH_RETRY_OPTIONS, NOT_CONFIGURED

from .graph import (
    lore_indexes_reconcile,
    lore_remove_chunks,
    lore_remove_orphans,
    lore_sync_pending,
    lore_sync_queued_key,
)

logger = logging.getLogger(__name__)


@shared_task(name="lore.graph_sync", **GRAPH_RETRY_OPTIONS)
def lore_graph_sync(self: Task, ecosystem_id: str) -> dict[str, Any]:
    if not graph_is_configured():
        return NOT_CONFIGURED
    cache.delete(lore_sync_queued_key(ecosystem_id))
    return {"status": "ok", "sent": lore_sync_pending(ecosystem_id=ecosystem_id)}


@shared_task(name="lore.graph_remove", **GRAPH_RETRY_OPTIONS)
def lore_graph_remove(
    self: Task, chunk_ids: list[int], ecosystem_id: str | None = None
) -> dict[str, Any]:
    # ecosystem_id None: a task queued by an older release (nodes keyed by the bare id).
    if not graph_is_configured():
        return NOT_CONFIGURED
    return {
        "status": "ok",
        "removed": lore_remove_chunks(chunk_ids=chunk_ids, ecosystem_id=ecosystem_id),
    }


@shared_task(name="lore.graph_reconcile", ignore_result=True, expires=60)
def lore_graph_reconcile(ecosystem_id: str | None = None) -> dict[str, Any]:
    """Periodic safety net: send pending chunks, remove nodes of deleted chunks, and keep
    a vector index for each large ecosystem and none for an emptied one."""
    if not graph_is_configured():
        return NOT_CONFIGURED
    try:
        sent = lore_sync_pending(ecosystem_id=ecosystem_id)
        removed = lore_remove_orphans(ecosystem_id=ecosystem_id)
        ensured, dropped = lore_indexes_reconcile()
    except GRAPH_UNAVAILABLE_ERRORS as error:
        logger.warning("lore reconcile: Neo4j is unavailable (%s); the next run retries", error)
        return {"status": "unavailable", "error": f"{type(error).__name__}: {error}"[:300]}
    return {
        "status": "ok",
        "sent": sent,
        "orphans_removed": removed,
        "indexes_ensured": ensured,
        "indexes_dropped": dropped,
    }
