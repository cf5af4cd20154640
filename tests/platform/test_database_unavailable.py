"""The database failing under a request answers 503 with a reason and Retry-After, never 500
(core/outage.py; docs/api.md, "Errors"). Each failure is real: the request's PostgreSQL
backend is terminated with ``pg_terminate_backend`` from another connection, as a restart
or a failover would cut it."""

import threading
import time
import uuid

import httpx
import pytest
from django.db import connection, connections

from eventlog.models import Event
from interactions.models import Interaction
from tests.conftest import client_for, token_for
from tests.observatory.conftest import DaphneServer

RETRY_AFTER = "2"


def terminate_backend(pid: int) -> None:
    """``pg_terminate_backend`` from a connection of its own; returns once the backend is gone."""
    killer = connections.create_connection("default")
    try:
        with killer.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
                if cursor.fetchone()[0] == 0:
                    return
                time.sleep(0.05)
        raise AssertionError(f"backend {pid} still there")
    finally:
        killer.close()


def cut_this_threads_connection() -> None:
    connection.ensure_connection()
    terminate_backend(connection.connection.info.backend_pid)


def assert_database_unavailable(response) -> None:
    assert response.status_code == 503, response.content[:500]
    assert response["Retry-After"] == RETRY_AFTER
    body = response.json()
    assert body["code"] == "database_unavailable"
    assert "unreachable" in body["detail"] and "Retry-After" in body["detail"]


@pytest.fixture
def reconnect_after():
    """The test cuts its own connection: give the teardown a fresh one."""
    yield
    connection.close()


@pytest.mark.django_db(transaction=True)
def test_an_api_read_whose_connection_was_cut_answers_503_with_retry_after(
    api, ecosystem, reconnect_after
):
    cut_this_threads_connection()

    assert_database_unavailable(api.get("/api/v1/ecosystems"))


@pytest.mark.django_db(transaction=True)
def test_a_page_whose_connection_was_cut_answers_503_with_retry_after(user, reconnect_after):
    from django.test import Client

    browser = Client()
    browser.force_login(user)
    assert browser.get("/").status_code == 200
    cut_this_threads_connection()

    response = browser.get("/")

    assert response.status_code == 503, response.content[:500]
    assert response["Retry-After"] == RETRY_AFTER
    assert response["Content-Type"].startswith("text/plain")
    assert "Service unavailable" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_an_interaction_cut_mid_transaction_answers_503_and_writes_nothing(user, pair):
    """The request blocks inside its apply transaction (this test holds the ecosystem's event
    counter), its backend is terminated there: 503, and neither the interaction nor its
    events exist."""
    initiator, target = pair
    holder = connections.create_connection("default")
    holder.set_autocommit(False)
    outcome: dict = {}

    def post() -> None:
        try:
            outcome["response"] = client_for(user).post(
                "/api/v1/interactions",
                {
                    "initiator_id": str(initiator.pk),
                    "target_id": str(target.pk),
                    "type": "chat",
                    "content": "Hello there.",
                },
                format="json",
            )
        except BaseException as error:  # reported by the assertion below
            outcome["error"] = error
        finally:
            connections.close_all()

    request = threading.Thread(target=post)
    try:
        with holder.cursor() as cursor:
            cursor.execute(
                "SELECT last_seq FROM characters_ecosystem WHERE id = %s FOR UPDATE",
                [initiator.ecosystem_id],
            )
        request.start()
        blocked_pid = None
        # The process's first interaction builds the dialogue backend first (seconds).
        deadline = time.monotonic() + 120
        with connection.cursor() as cursor:
            while blocked_pid is None and request.is_alive() and time.monotonic() < deadline:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
                row = cursor.fetchone()
                blocked_pid = row[0] if row else None
                time.sleep(0.05)
        assert blocked_pid is not None, f"the request never waited on the row: {outcome}"
        terminate_backend(blocked_pid)
    finally:
        holder.rollback()
        holder.close()
        request.join(30)

    assert "error" not in outcome, outcome.get("error")
    assert_database_unavailable(outcome["response"])
    assert Interaction.objects.count() == 0
    assert Event.objects.filter(ecosystem_id=initiator.ecosystem_id).count() == 0


@pytest.mark.parametrize(
    ("pool_check", "first_status"),
    [("1", 200), ("0", 503)],
    ids=["checked-pool-replaces-cut-connections", "unchecked-pool-answers-503"],
)
def test_after_every_pooled_connection_is_cut_a_web_process_answers(
    transactional_db, tmp_path, user, ecosystem, pool_check, first_status
):
    """A real Daphne with the connection pool (as deployed): every connection it holds is
    cut, as a PostgreSQL restart cuts them. With DATABASE_POOL_CHECK (the default) each is
    replaced as a request takes it: no request notices. Without it, the requests that get a
    cut connection answer 503 with Retry-After (never 500), and the next ones succeed."""
    application = f"outage-{uuid.uuid4().hex[:8]}"
    server = DaphneServer(
        tmp_path / "daphne.log",
        {"DATABASE_POOL": "1", "DATABASE_POOL_CHECK": pool_check, "PGAPPNAME": application},
    )
    server.start()
    headers = {"Authorization": f"Bearer {token_for(user)}"}
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=20) as http:
            for _ in range(3):  # the pool opens its connections
                assert http.get("/api/v1/ecosystems").status_code == 200
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [application]
                )
                pids = [pid for (pid,) in cursor.fetchall()]
            assert pids, "the web process holds no connection"
            for pid in pids:
                terminate_backend(pid)

            first = http.get("/api/v1/ecosystems")
            statuses = [first.status_code] + [
                http.get("/api/v1/ecosystems").status_code for _ in range(len(pids) + 2)
            ]
    finally:
        server.stop()

    assert first.status_code == first_status, first.text[:500]
    if first_status == 503:
        assert first.headers["Retry-After"] == RETRY_AFTER
        assert first.json()["code"] == "database_unavailable"
    assert 500 not in statuses, statuses
    assert statuses[-1] == 200, statuses
