"""GET /api/v1/health: each backing service with its status and latency."""

import time
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from drf_spectacular.utils import extend_schema, inline_serializer
from kombu.exceptions import OperationalError as BrokerError
from neo4j.exceptions import Neo4jError, ServiceUnavailable
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lore.selectors import lore_sync_lag
from relationships.selectors import graph_sync_lag

CHECK_TIMEOUT_SECONDS = 2.0


def _timed(check: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        extra = check() or {}
        result: dict[str, Any] = {"status": "ok", **extra}
    except (
        DatabaseError,
        redis.RedisError,
        Neo4jError,
        ServiceUnavailable,
        OSError,
        TimeoutError,
        BrokerError,
    ) as error:
        result = {"status": "down", "error": f"{type(error).__name__}: {error}"[:300]}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


def check_database() -> dict[str, Any]:
    def probe() -> dict[str, Any]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"engine": connection.vendor}

    return _timed(probe)


def check_redis() -> dict[str, Any]:
    if not settings.REDIS_URL:
        return {
            "status": "not_configured",
            "detail": "REDIS_URL is not set: in-memory channel layer.",
        }

    def probe() -> None:
        client = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=CHECK_TIMEOUT_SECONDS,
            socket_connect_timeout=CHECK_TIMEOUT_SECONDS,
        )
        try:
            client.ping()
        finally:
            client.close()

    return _timed(probe)


def check_neo4j() -> dict[str, Any]:
    if not settings.GRAPH_SYNC_ENABLED:
        return {
            "status": "not_configured",
            "detail": (
                "NEO4J_BOLT_URL is not set: graph sync is queued and graph queries answer 503."
            ),
        }

    def probe() -> None:
        from relationships.graph import graph_cypher

        graph_cypher("RETURN 1")

    return _timed(probe)


def check_celery() -> dict[str, Any]:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"status": "not_configured", "detail": "No broker: tasks run in-process (eager)."}

    def probe() -> dict[str, Any]:
        # A throwaway client on the configured broker: the app's own producer pool may hold
        # a connection made before the settings changed.
        from celery import Celery

        client = Celery("health", broker=settings.CELERY_BROKER_URL, set_as_current=False)
        try:
            replies = client.control.ping(timeout=0.5)
        finally:
            client.close()
        if not replies:
            raise TimeoutError("no Celery worker answered a ping")
        return {"workers": len(replies)}

    return _timed(probe)


class HealthApi(APIView):
    """Each service with status and latency: 200 when every configured part answers, 503
    (naming the failing ones in ``detail``) otherwise."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            200: inline_serializer(
                "Health", {"status": serializers.CharField(), "services": serializers.DictField()}
            ),
            503: inline_serializer(
                "HealthDown",
                {
                    "status": serializers.CharField(),
                    "detail": serializers.CharField(),
                    "services": serializers.DictField(),
                },
            ),
        }
    )
    def get(self, request: Request) -> Response:
        services = {
            "database": check_database(),
            "redis": check_redis(),
            "neo4j": check_neo4j(),
            "celery": check_celery(),
        }
        down = [name for name, result in services.items() if result["status"] == "down"]
        body: dict[str, Any] = {"status": "ok" if not down else "degraded", "services": services}
        if services["database"]["status"] == "ok":
            body["graph_sync"] = graph_sync_lag()
            body["lore_sync"] = lore_sync_lag()
        if down:
            body["detail"] = "Not answering: " + ", ".join(down) + "."
            body["code"] = "service_unavailable"
        return Response(body, status=503 if down else 200)
