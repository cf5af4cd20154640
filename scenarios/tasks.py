"""The Celery task of the scenario clock. Thin: one service call.

It is safe to run twice or concurrently (docs/scenarios.md, "Idempotency"), which is what
makes ``acks_late`` (redeliver when a worker dies mid-task) correct here.
"""

import logging

from celery import shared_task
from django.conf import settings

from .services import clock_run

logger = logging.getLogger(__name__)

DEFAULT_WINDOW_SECONDS = 3.0


@shared_task(
    name="scenarios.clock_tick",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    # A tick older than a few seconds is superseded by newer ones; drop it instead of
    # replaying a backlog after an outage (each newer tick plays everything that is due).
    expires=10,
)
def scenarios_clock_tick() -> int:
    """Keep the clock for a window of ``SCENARIO_CLOCK_WINDOW_SECONDS`` (default 3 s, three
    beat periods): consecutive ticks overlap, so a worker pool of four has three claimers
    playing scenarios at their due time and one process free for the graph sync."""
    window = float(getattr(settings, "SCENARIO_CLOCK_WINDOW_SECONDS", DEFAULT_WINDOW_SECONDS))
    played = clock_run(seconds=window)
    if played:
        logger.debug("Scenario clock played %s turns.", played)
    return played
