"""Celery tasks of the observatory (the beat schedule in settings names them)."""

from celery import shared_task

from .events import events_prune


@shared_task(name="observatory.events_prune")
def events_prune_task() -> int:
    """Delete events older than ``EVENT_RETENTION_DAYS``; answers how many went."""
    return events_prune()
