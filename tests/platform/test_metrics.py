"""GET /metrics: who may read it, the live numbers it shows, and multiprocess mode."""

import os
import uuid

import pytest
import redis
from django.conf import settings as django_settings
from prometheus_client.parser import text_string_to_metric_families

from core import metrics
from tests.factories import UserFactory
from tests.subprocesses import python_output

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests-0123456789"


def samples(response) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of an exposition."""
    text = response.content.decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scrape: dict, name: str, **labels) -> float | None:
    return scrape.get((name, tuple(sorted(labels.items()))))


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True))
    return client


def scrape(client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return samples(response)


def test_anonymous_callers_get_401_with_a_bearer_challenge(client):
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"ecosystem_" not in response.content


def test_a_logged_in_non_staff_user_gets_403(client):
    client.force_login(UserFactory())
    assert client.get("/metrics").status_code == 403


def test_the_bearer_token_must_match_the_configured_one(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 403
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token").status_code == 403
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert b"ecosystem_websocket_connections" in response.content


def test_a_staff_session_reads_the_exposition(staff_client):
    scraped = scrape(staff_client)
    names = {name for name, _ in scraped}
    for expected in (
        "ecosystem_websocket_connections",
        "ecosystem_events_written_total",
        "ecosystem_events_broadcast_total",
        "ecosystem_interaction_latency_seconds_count",
        "ecosystem_scenario_turns_total",
        "ecosystem_scenario_tick_lateness_seconds_bucket",
        "ecosystem_celery_queue_length",
        "ecosystem_graph_sync_pending",
        "ecosystem_graph_sync_lag_seconds",
        "ecosystem_scenarios_active",
        "ecosystem_scenario_tick_overdue_seconds",
        "ecosystem_events_logged_total",
        "ecosystem_http_responses_total",
    ):
        assert expected in names, f"{expected} missing from /metrics"
    assert value(scraped, "ecosystem_metrics_source_up", source="redis") == 1
    assert value(scraped, "ecosystem_metrics_source_up", source="database") == 1


def test_the_instrument_functions_move_their_series(staff_client):
    before = scrape(staff_client)
    metrics.ws_connection_opened()
    metrics.ws_connection_opened()
    metrics.ws_connection_closed()
    metrics.events_written(3)
    metrics.events_broadcast(2)
    metrics.interaction_latency_observe(0.02)
    metrics.scenario_turn_played(lateness_seconds=1.5)
    after = scrape(staff_client)

    def moved(name, **labels):
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    assert moved("ecosystem_websocket_connections") == 1
    assert moved("ecosystem_events_written_total") == 3
    assert moved("ecosystem_events_broadcast_total") == 2
    assert moved("ecosystem_interaction_latency_seconds_count") == 1
    assert moved("ecosystem_interaction_latency_seconds_bucket", le="0.025") == 1
    assert moved("ecosystem_scenario_turns_total") == 1
    assert moved("ecosystem_scenario_tick_lateness_seconds_bucket", le="1.0") == 0
    assert moved("ecosystem_scenario_tick_lateness_seconds_bucket", le="2.0") == 1
    metrics.ws_connection_closed()


def test_celery_queue_depth_is_read_from_redis_at_scrape_time(staff_client, settings):
    queue = f"metrics-test-{uuid.uuid4().hex}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    try:
        client.rpush(queue, "a", "b", "c")
        client.rpush(f"{queue}\x06\x163", "d")  # a priority-3 message
        assert value(scrape(staff_client), "ecosystem_celery_queue_length", queue=queue) == 4
    finally:
        client.delete(queue, f"{queue}\x06\x163")
        client.close()


def test_a_redis_that_does_not_answer_is_reported_not_raised(staff_client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    scraped = scrape(staff_client)
    assert value(scraped, "ecosystem_metrics_source_up", source="redis") == 0
    assert "ecosystem_celery_queue_length" not in {name for name, _ in scraped}


def test_graph_sync_lag_and_overdue_scenarios_are_read_at_scrape_time(staff_client, pair):
    from relationships.models import Relationship

    mira, tobias = pair
    before = scrape(staff_client)
    Relationship.objects.create(
        ecosystem=mira.ecosystem, from_character=mira, to_character=tobias, version=3
    )
    after = scrape(staff_client)
    assert value(after, "ecosystem_graph_sync_pending") == (
        value(before, "ecosystem_graph_sync_pending") + 1
    )
    assert value(after, "ecosystem_graph_sync_lag_seconds") >= 0


def test_an_interaction_through_the_api_shows_in_the_metrics(
    staff_client, api, pair, django_capture_on_commit_callbacks
):
    """Needs the instrument calls in the interaction service and the event log (they count
    committed work, in ``transaction.on_commit``)."""
    mira, tobias = pair
    before = scrape(staff_client)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/interactions",
            {
                "initiator_id": str(mira.pk),
                "target_id": str(tobias.pk),
                "type": "chat",
                "content": "How is the harbour today?",
            },
            format="json",
        )
    assert response.status_code == 201, response.json()
    after = scrape(staff_client)

    def moved(name, **labels):
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    # The interaction's events: its three, and the memories it formed (docs/events.md).
    logged = response.json()["event_seq"]
    assert logged >= 4
    assert moved("ecosystem_events_logged_total") == logged  # database reading: always true
    assert moved("ecosystem_http_responses_total", method="POST", status="2xx") == 1
    assert moved("ecosystem_interaction_latency_seconds_count") == 1
    assert moved("ecosystem_events_written_total") == logged
    assert moved("ecosystem_events_broadcast_total") == logged


def test_a_scenario_turn_shows_in_the_metrics_with_its_lateness(
    staff_client, api, ecosystem, pair, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from scenarios.models import Scenario
    from scenarios.services import clock_tick

    created = api.post(
        f"/api/v1/ecosystem/{ecosystem.pk}/scenario",
        {
            "title": "Dock talk",
            "character_ids": [str(character.pk) for character in pair],
            "duration_minutes": 10,
            "tick_seconds": 5,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    Scenario.objects.filter(pk=created.json()["id"]).update(
        next_tick_at=timezone.now() - timedelta(seconds=3)
    )
    before = scrape(staff_client)
    assert value(before, "ecosystem_scenario_tick_overdue_seconds") >= 3
    with django_capture_on_commit_callbacks(execute=True):
        assert clock_tick() == 1
    after = scrape(staff_client)

    def moved(name, **labels):
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    assert moved("ecosystem_scenario_turns_played_total") == 1  # database reading
    assert moved("ecosystem_scenario_turns_total") == 1
    assert moved("ecosystem_scenario_tick_lateness_seconds_bucket", le="2.0") == 0
    assert moved("ecosystem_scenario_tick_lateness_seconds_bucket", le="5.0") == 1
    assert value(after, "ecosystem_scenario_tick_overdue_seconds") == 0


def test_multiprocess_mode_sums_every_process_and_keeps_ws_per_pid(tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR (Daphne + Celery on one host) the web process shows
    counters of every process and the open WebSocket connections of each."""
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "ecosystem_project.settings.test",
    }
    work = (
        "import django; django.setup()\n"
        "from core import metrics\n"
        "metrics.scenario_turn_played(0.2); metrics.events_written(5)\n"
        "metrics.ws_connection_opened()\n"
    )
    for _ in range(2):
        python_output(work, env=env)
    read = (
        "import django; django.setup()\n"
        "from prometheus_client import generate_latest\n"
        "from ecosystem_project.metrics import metrics_registry\n"
        "import sys; sys.stdout.write(generate_latest(metrics_registry()).decode())\n"
    )
    output = python_output(read, env=env)
    scraped = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(output)
        for sample in family.samples
    }
    assert value(scraped, "ecosystem_scenario_turns_total") == 2
    assert value(scraped, "ecosystem_events_written_total") == 10
    # The open WebSocket connections are one series per process (label pid).
    connections = {
        labels: count
        for (name, labels), count in scraped.items()
        if name == "ecosystem_websocket_connections"
    }
    assert all(dict(labels).get("pid") for labels in connections)
    assert sorted(connections.values())[-2:] == [1.0, 1.0], connections
    assert sum(connections.values()) == 2, connections
