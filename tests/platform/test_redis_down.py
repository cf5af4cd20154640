"""With Redis unreachable, requests do not hang: every Redis use on a request's path (the
throttle's counter, the graph sync's flag, the broadcast's PUBLISH, Celery's publish) gives
up within the REDIS_* timeouts, and the request answers as it would with Redis (the
interaction is stored: 201; its events are in the log, which observers read when the live
stream is back). docs/operations.md, "Redis down".

A real Daphne whose REDIS_URL points at a closed loopback port: connections are refused, as
when Redis was killed."""

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import redis
from celery import Celery
from kombu.exceptions import OperationalError as KombuOperationalError

from core.cache import SharedPoolRedisCache
from eventlog.services import events_broadcast
from interactions.models import Interaction
from tests.conftest import token_for
from tests.observatory.conftest import DaphneServer
from tests.subprocesses import free_port

BOUND_SECONDS = 2.0


@pytest.fixture
def web_without_redis(transactional_db, tmp_path):
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    server = DaphneServer(
        tmp_path / "daphne.log", {"REDIS_URL": dead_redis, "CACHE_URL": dead_redis}
    )
    server.start()
    yield server
    server.stop()


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_with_redis_unreachable_an_interaction_is_stored_within_two_seconds(
    web_without_redis, user, pair
):
    initiator, target = pair
    headers = {"Authorization": f"Bearer {token_for(user)}"}
    answers = []
    with httpx.Client(base_url=web_without_redis.url, headers=headers, timeout=60) as http:
        # The process's first interaction builds the dialogue backend (seconds): not timed.
        for kind in ("chat", "greeting", "chat", "collaboration"):
            answers.append(
                timed(
                    lambda kind=kind: http.post(
                        "/api/v1/interactions",
                        json={
                            "initiator_id": str(initiator.pk),
                            "target_id": str(target.pk),
                            "type": kind,
                            "content": "Hello there.",
                        },
                    )
                )
            )
        events, _ = timed(lambda: http.get(f"/api/v1/ecosystem/{initiator.ecosystem_id}/events"))

    answers = answers[1:]  # the untimed first
    for response, seconds in answers:
        assert response.status_code == 201, response.text[:500]
        assert seconds < BOUND_SECONDS, f"took {seconds:.2f} s"
    stored = {response.json()["interaction_id"] for response, _ in answers}
    assert stored <= {str(pk) for pk in Interaction.objects.values_list("pk", flat=True)}
    # Every acknowledged interaction's events are in the log, which an observer replays.
    seqs = [response.json()["event_seq"] for response, _ in answers]
    logged = {event["seq"]: event for event in events.json()["events"]}
    assert all(seq in logged for seq in seqs), (seqs, sorted(logged))
    log = web_without_redis.log_path.read_text()
    assert "Broadcast of events" in log  # the PUBLISH was tried and given up on
    assert "graph sync" in log  # the flag and the enqueue were tried and given up on


def test_with_redis_unreachable_a_login_answers_within_two_seconds(web_without_redis, user):
    with httpx.Client(base_url=web_without_redis.url, timeout=60) as http:
        http.get("/api/v1/health")  # the process's first request loads what it loads lazily
        response, seconds = timed(
            lambda: http.post(
                "/api/v1/auth/token", json={"username": user.username, "password": "pass-word-123"}
            )
        )
        health = http.get("/api/v1/health")

    assert response.status_code == 200, response.text[:500]
    assert "access" in response.json()
    assert seconds < BOUND_SECONDS, f"took {seconds:.2f} s"
    # The health check names what is down, for the load balancer and the operator.
    assert health.status_code == 503
    assert health.json()["services"]["redis"]["status"] == "down"


# --- A Redis that accepts connections and never answers (frozen, or a broken network) ----


@pytest.fixture
def silent_redis() -> Iterator[str]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                held.append(listener.accept()[0])

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    stop.set()
    acceptor.join(5)
    for connection in held:
        connection.close()
    listener.close()


def bound_for_silent(settings) -> float:
    """Each attempt waits at most the socket timeout; 0.5 s of slack for a loaded machine."""
    return (1 + settings.REDIS_RETRIES) * settings.REDIS_SOCKET_TIMEOUT_SECONDS + 0.5


def test_a_silent_redis_holds_a_cache_read_only_for_the_socket_timeouts(settings, silent_redis):
    options = settings.CACHES["default"]["OPTIONS"]
    silent_cache = SharedPoolRedisCache(silent_redis, {"OPTIONS": options, "KEY_PREFIX": "x"})

    started = time.monotonic()
    with pytest.raises(redis.RedisError):
        silent_cache.get("anything")

    assert time.monotonic() - started < bound_for_silent(settings)


def test_a_silent_redis_holds_a_broadcast_only_for_the_socket_timeouts(settings, silent_redis):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [silent_redis]},
        }
    }

    started = time.monotonic()
    events_broadcast(ecosystem_id=uuid.uuid4(), envelopes=[{"seq": 1, "type": "x"}])  # logged

    assert time.monotonic() - started < bound_for_silent(settings)


def test_a_silent_broker_holds_a_task_publish_only_for_its_timeouts(settings, silent_redis):
    app = Celery(broker=silent_redis, set_as_current=False)
    app.conf.update(
        broker_connection_timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT,
        broker_transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        task_publish_retry_policy=settings.CELERY_TASK_PUBLISH_RETRY_POLICY,
    )
    broker_timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS["socket_timeout"]

    started = time.monotonic()
    with pytest.raises((KombuOperationalError, OSError, redis.RedisError)):
        app.send_task("relationships.graph_sync_relationships", args=([1],))

    assert time.monotonic() - started < (1 + settings.REDIS_RETRIES) * broker_timeout + 1.0
