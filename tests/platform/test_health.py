"""GET /api/v1/health against the real services, and with a service stopped."""

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db(transaction=True)


def test_health_reports_every_service_with_latency(anonymous, celery_cluster):
    with override_settings(CELERY_BROKER_URL=celery_cluster.broker_url):
        response = anonymous.get("/api/v1/health")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    for name in ("database", "redis", "neo4j", "celery"):
        assert body["services"][name]["status"] == "ok"
        assert body["services"][name]["latency_ms"] >= 0
    assert body["services"]["database"]["engine"] == "postgresql"
    assert body["services"]["celery"]["workers"] == 2
    assert "pending" in body["graph_sync"]


def test_no_celery_worker_answers_503_naming_celery(anonymous):
    # A broker database no worker listens on.
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:6379/15"):
        response = anonymous.get("/api/v1/health")
    assert response.status_code == 503
    assert response.json()["services"]["celery"]["status"] == "down"
    assert "celery" in response.json()["detail"]


def test_a_stopped_service_answers_503_naming_it(anonymous):
    # Nothing listens on port 1: the same as Redis being stopped, without stopping it for
    # the rest of the suite.
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = anonymous.get("/api/v1/health")
    assert response.status_code == 503
    body = response.json()
    assert body["services"]["redis"]["status"] == "down"
    assert "redis" in body["detail"]


def test_unconfigured_parts_are_reported_as_such_not_as_failures(anonymous):
    with override_settings(GRAPH_SYNC_ENABLED=False):
        response = anonymous.get("/api/v1/health")
    neo4j = response.json()["services"]["neo4j"]
    assert neo4j["status"] == "not_configured"
    assert "503" in neo4j["detail"]
