"""``GET /metrics``: the in-process instruments (``core.metrics``) and scrape-time readings.

Two kinds of series:

* In-process instruments, updated by the code that does the work through the small
  functions below (``ws_connection_opened()`` ... ``scenario_turn_played()``). Each process
  counts its own; with ``PROMETHEUS_MULTIPROC_DIR`` set (one host: Daphne + Celery, as
  ``make run-full`` and ``make load`` run them) every process writes there and the web
  process's ``/metrics`` shows the sum, and the open WebSocket connections per pid.
* Scrape-time readings of shared state, taken when ``/metrics`` is requested, so they are
  the same whichever process answers: Celery queue depth (Redis ``LLEN``), graph sync lag,
  active scenarios and how overdue their next tick is, events logged and turns played
  (from the database).

``/metrics`` answers a staff session, or ``Authorization: Bearer <METRICS_TOKEN>``; 401 to
anyone else (403 to a logged-in non-staff user or a wrong token).
"""

import hmac
import logging
import os
from collections.abc import Iterable

import redis
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Min, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

from characters.models import Ecosystem
from core.metrics import MULTIPROCESS_DIR_ENV
from relationships.selectors import graph_sync_lag
from scenarios.models import Scenario

logger = logging.getLogger(__name__)

# kombu's Redis transport keeps a queue's messages of priority p > 0 in "<queue>\x06\x16<p>".
KOMBU_PRIORITY_SEPARATOR = "\x06\x16"
KOMBU_PRIORITY_STEPS = (0, 3, 6, 9)
SCRAPE_TIMEOUT_SECONDS = 2.0

# --- Scrape-time readings ----------------------------------------------------------------


def celery_queue_length(*, redis_url: str, queue: str) -> int:
    """Messages waiting in a Celery queue on the Redis broker (every priority level)."""
    client = redis.Redis.from_url(
        redis_url,
        socket_timeout=SCRAPE_TIMEOUT_SECONDS,
        socket_connect_timeout=SCRAPE_TIMEOUT_SECONDS,
    )
    try:
        pipeline = client.pipeline(transaction=False)
        for priority in KOMBU_PRIORITY_STEPS:
            pipeline.llen(
                queue if priority == 0 else f"{queue}{KOMBU_PRIORITY_SEPARATOR}{priority}"
            )
        return sum(int(length) for length in pipeline.execute())
    finally:
        client.close()


class EcosystemStateCollector:
    """Reads the shared state at scrape time. A source that does not answer is reported
    by ``ecosystem_metrics_source_up{source=...} 0`` and its series are left out."""

    def collect(self) -> Iterable[Metric]:
        source_up = GaugeMetricFamily(
            "ecosystem_metrics_source_up",
            "1 when the scrape could read this source (redis, database), else 0.",
            labels=["source"],
        )
        yield from self._redis(source_up)
        yield from self._database(source_up)
        yield source_up

    def _redis(self, source_up: GaugeMetricFamily) -> Iterable[Metric]:
        broker = settings.CELERY_BROKER_URL
        if not broker.startswith(("redis://", "rediss://", "unix://")):
            return
        queue = settings.CELERY_TASK_DEFAULT_QUEUE
        try:
            length = celery_queue_length(redis_url=broker, queue=queue)
        except (redis.RedisError, OSError) as error:
            logger.warning("metrics: Celery queue depth unavailable: %s", error)
            source_up.add_metric(["redis"], 0)
            return
        source_up.add_metric(["redis"], 1)
        family = GaugeMetricFamily(
            "ecosystem_celery_queue_length",
            "Tasks waiting in the Celery queue (Redis LLEN at scrape time).",
            labels=["queue"],
        )
        family.add_metric([queue], length)
        yield family

    def _database(self, source_up: GaugeMetricFamily) -> Iterable[Metric]:
        try:
            lag = graph_sync_lag()
            scenarios = Scenario.objects.filter(status=Scenario.Status.ACTIVE).aggregate(
                due=Min("next_tick_at")
            )
            active = Scenario.objects.filter(status=Scenario.Status.ACTIVE).count()
            turns = Scenario.objects.aggregate(total=Sum("turn"))["total"] or 0
            logged = Ecosystem.objects.aggregate(total=Sum("last_seq"))["total"] or 0
        except DatabaseError as error:
            logger.warning("metrics: database readings unavailable: %s", error)
            source_up.add_metric(["database"], 0)
            return
        source_up.add_metric(["database"], 1)
        yield GaugeMetricFamily(
            "ecosystem_graph_sync_pending",
            "Relationships changed in PostgreSQL and not yet written to Neo4j.",
            value=lag["pending"],
        )
        yield GaugeMetricFamily(
            "ecosystem_graph_sync_lag_seconds",
            "Age of the oldest relationship change not yet in Neo4j (0 when none).",
            value=lag["oldest_pending_age_seconds"],
        )
        yield GaugeMetricFamily(
            "ecosystem_graph_sync_enabled",
            "1 when NEO4J_BOLT_URL is set and the graph sync sends.",
            value=1 if lag["enabled"] else 0,
        )
        yield GaugeMetricFamily(
            "ecosystem_scenarios_active", "Scenarios currently playing.", value=active
        )
        due = scenarios["due"]
        overdue = max(0.0, (timezone.now() - due).total_seconds()) if due else 0.0
        yield GaugeMetricFamily(
            "ecosystem_scenario_tick_overdue_seconds",
            "How far past its next_tick_at the most overdue active scenario is (clock health).",
            value=overdue,
        )
        yield CounterMetricFamily(
            "ecosystem_scenario_turns_played",
            "Turns played by every scenario (database; whichever process played them).",
            value=turns,
        )
        yield CounterMetricFamily(
            "ecosystem_events_logged",
            "Events ever appended to the event logs (sum of every ecosystem's last seq).",
            value=logged,
        )


STATE_COLLECTOR = EcosystemStateCollector()


def metrics_registry() -> CollectorRegistry:
    """The registry one scrape reads: this process (or, in multiprocess mode, every
    process writing to PROMETHEUS_MULTIPROC_DIR) plus the scrape-time readings."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROCESS_DIR_ENV):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)  # type: ignore[arg-type]
    registry.register(STATE_COLLECTOR)  # type: ignore[arg-type]
    return registry


def _bearer_token(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def metrics_access(request: HttpRequest) -> int | None:
    """None when the caller may read the metrics, else the status to answer."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_active and user.is_staff:
        return None
    token = _bearer_token(request)
    expected = settings.METRICS_TOKEN
    if token is not None:
        if expected and hmac.compare_digest(token.encode(), expected.encode()):
            return None
        return 403
    if user is not None and user.is_authenticated:
        return 403
    return 401


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """``GET /metrics``: the Prometheus text format (OpenMetrics when the scraper asks)."""
    refused = metrics_access(request)
    if refused is not None:
        response = HttpResponse(
            "Metrics need a staff session or the metrics bearer token.\n",
            status=refused,
            content_type="text/plain; charset=utf-8",
        )
        if refused == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(metrics_registry()), content_type=content_type)
