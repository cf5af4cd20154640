"""Celery tasks of the event log (the beat schedule in settings names them)."""

from celery import shared_task

from .services import events_prune


@shared_task(name="eventlog.events_prune")
def events_prune_task() -> int:
    """Delete events older than ``EVENT_RETENTION_DAYS``; answers how many went."""
    return events_prune()
