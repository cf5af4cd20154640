"""Prometheus instruments (prometheus-client), updated by the code that does the work.

Each process counts its own; with ``PROMETHEUS_MULTIPROC_DIR`` set (one host: Daphne +
Celery, as ``make run-full`` and ``make load`` run them) every process writes there and the
web process's ``/metrics`` (``ecosystem_project.metrics``) shows the sum, and the open
WebSocket connections per pid.
"""

from django.http import HttpRequest, HttpResponse
from prometheus_client import Counter, Gauge, Histogram

from core.middleware import TimedResponseMiddleware

MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

# --- In-process instruments --------------------------------------------------------------

WEBSOCKET_CONNECTIONS = Gauge(
    "ecosystem_websocket_connections",
    "Open WebSocket connections of this process.",
    # Multiprocess mode: one series per live process (label pid).
    multiprocess_mode="liveall",
)
EVENTS_WRITTEN = Counter(
    "ecosystem_events_written",
    "Events appended to the event log by this process (committed).",
)
EVENTS_BROADCAST = Counter(
    "ecosystem_events_broadcast",
    "Events published to ecosystem groups on the channel layer by this process.",
)
INTERACTION_LATENCY = Histogram(
    "ecosystem_interaction_latency_seconds",
    "Time to run one interaction (service call: load, dialogue, dynamics, writes).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SCENARIO_TURNS = Counter(
    "ecosystem_scenario_turns",
    "Scenario turns played by this process.",
)
SCENARIO_TICK_LATENESS = Histogram(
    "ecosystem_scenario_tick_lateness_seconds",
    "How long after its scheduled time (next_tick_at) a scenario turn was played.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
)
HTTP_RESPONSES = Counter(
    "ecosystem_http_responses",
    "HTTP responses by method and status class (2xx, 4xx ...).",
    ["method", "status"],
)
HTTP_DURATION = Histogram(
    "ecosystem_http_request_duration_seconds",
    "Time Django spent on a request (middleware to response).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def ws_connection_opened() -> None:
    """A WebSocket was accepted (call once per accepted connection)."""
    WEBSOCKET_CONNECTIONS.inc()


def ws_connection_closed() -> None:
    """An accepted WebSocket closed (call once per accepted connection, on disconnect)."""
    WEBSOCKET_CONNECTIONS.dec()


def events_written(n: int) -> None:
    """``n`` events were committed to the log."""
    if n > 0:
        EVENTS_WRITTEN.inc(n)


def events_broadcast(n: int) -> None:
    """``n`` events were published to the channel layer."""
    if n > 0:
        EVENTS_BROADCAST.inc(n)


def interaction_latency_observe(seconds: float) -> None:
    """One interaction took ``seconds`` (the service's own measure)."""
    INTERACTION_LATENCY.observe(max(0.0, seconds))


def scenario_turn_played(lateness_seconds: float) -> None:
    """A scenario turn was played ``lateness_seconds`` after its ``next_tick_at``."""
    SCENARIO_TURNS.inc()
    SCENARIO_TICK_LATENESS.observe(max(0.0, lateness_seconds))


class RequestMetricsMiddleware(TimedResponseMiddleware):
    """Counts responses by method and status class and times them (low cardinality: no
    paths, so an alert on the 5xx rate needs no relabelling)."""

    def finish(self, request: HttpRequest, response: HttpResponse, seconds: float) -> None:
        method = request.method if request.method in KNOWN_METHODS else "OTHER"
        HTTP_RESPONSES.labels(method=method, status=f"{response.status_code // 100}xx").inc()
        HTTP_DURATION.observe(seconds)
