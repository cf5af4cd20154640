"""Fixtures of the graph tests: the real Neo4j of `make services`, cleaned per test (only the
nodes of this test's ecosystems: other sessions may share the server), its constraints
installed once, and a real Celery worker process for the sync tests.

Tasks from this session go to a queue of its own, so a worker of another session (or of
`make run-full`, on another database) never takes them, and ours never takes theirs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone

from characters.models import Character, Ecosystem
from relationships.graph import graph_cypher
from relationships.models import Relationship
from tests.subprocesses import subprocess_database_url

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_LOG = REPO_ROOT / "var" / "log" / "test-celery-graph.log"
WORKER_START_TIMEOUT_SECONDS = 60


def graph_configured_or_fail() -> None:
    if not settings.GRAPH_SYNC_ENABLED:
        pytest.fail(
            "NEO4J_BOLT_URL is not set: the graph tests need the real Neo4j "
            "(make services; set -a; . var/services.env; set +a)."
        )


def cypher(query: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
    """A parameterized statement on neomodel's connection (reconnecting after a restart)."""
    return graph_cypher(query, params)


def native(value: Any) -> Any:
    to_native = getattr(value, "to_native", None)
    return to_native() if callable(to_native) else value


Pair = tuple[str, str]
PairState = tuple[str, str, float, float, int, datetime | None, int]


def graph_pairs(ecosystem_id: object) -> dict[Pair, PairState]:
    """Every RELATES_TO of the ecosystem in Neo4j, keyed by (from, to). Fails on a
    duplicated pair (two relationships for one ordered pair)."""
    rows = cypher(
        "MATCH (a:Character {ecosystem_id: $ecosystem_id})-[r:RELATES_TO]->(b:Character) "
        "RETURN a.uid, b.uid, a.name, b.name, r.strength, r.trust, r.interaction_count, "
        "r.last_interaction_at, r.version",
        {"ecosystem_id": str(ecosystem_id)},
    )
    pairs: dict[Pair, PairState] = {}
    for from_uid, to_uid, from_name, to_name, strength, trust, count, last, version in rows:
        assert (from_uid, to_uid) not in pairs, f"duplicate relationship {from_uid}->{to_uid}"
        pairs[(from_uid, to_uid)] = (
            from_name,
            to_name,
            strength,
            trust,
            count,
            native(last),
            version,
        )
    return pairs


def postgres_pairs(ecosystem_id: object) -> dict[Pair, PairState]:
    rows = Relationship.objects.filter(ecosystem_id=ecosystem_id).values_list(
        "from_character_id",
        "to_character_id",
        "from_character__name",
        "to_character__name",
        "strength",
        "trust",
        "interaction_count",
        "last_interaction_at",
        "version",
    )
    return {
        (str(from_id), str(to_id)): (from_name, to_name, strength, trust, count, last, version)
        for from_id, to_id, from_name, to_name, strength, trust, count, last, version in rows
    }


def pending_count(ecosystem_id: object) -> int:
    return Relationship.objects.filter(
        ecosystem_id=ecosystem_id, version__gt=F("graph_version")
    ).count()


def relationship_make(
    a: Character,
    b: Character,
    *,
    strength: float = 0.0,
    trust: float = 0.5,
    interaction_count: int = 1,
    version: int = 1,
) -> Relationship:
    """A relationship row as the interaction engine leaves it (pending for the graph)."""
    return Relationship.objects.create(
        ecosystem_id=a.ecosystem_id,
        from_character=a,
        to_character=b,
        strength=strength,
        trust=trust,
        interaction_count=interaction_count,
        last_interaction_at=timezone.now(),
        version=version,
    )


@pytest.fixture(scope="session")
def graph_constraints(django_db_blocker: Any) -> None:
    """What `make run-full` does before anything else: the unique constraint on uid."""
    from django.core.management import call_command

    graph_configured_or_fail()
    with django_db_blocker.unblock():
        call_command("install_graph_constraints", stdout=open(os.devnull, "w"))  # noqa: SIM115


@pytest.fixture
def graph(graph_constraints: None, db: Any) -> Iterator[None]:
    """Neo4j, with this test's ecosystems removed from it afterwards."""
    yield
    ecosystem_ids = [str(pk) for pk in Ecosystem.objects.values_list("pk", flat=True)]
    if ecosystem_ids:
        cypher(
            "MATCH (c:Character) WHERE c.ecosystem_id IN $ids DETACH DELETE c",
            {"ids": ecosystem_ids},
        )


@pytest.fixture(scope="session")
def graph_task_queue(run_task_queue: str) -> str:
    return run_task_queue


@pytest.fixture(scope="session")
def sync_worker(
    django_db_setup: Any, django_db_blocker: Any, graph_task_queue: str, graph_constraints: None
) -> Iterator[str]:
    """A real `celery worker` process on this session's queue and test database."""
    from ecosystem_project.celery import app

    graph_configured_or_fail()
    if settings.CELERY_TASK_ALWAYS_EAGER or connection.vendor != "postgresql":
        pytest.fail("The worker tests need REDIS_URL and DATABASE_URL (var/services.env).")
    node_name = f"{graph_task_queue}@%h"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ecosystem_project.settings.test",
        "DATABASE_URL": subprocess_database_url(),
        "CELERY_TASK_DEFAULT_QUEUE": graph_task_queue,
        "PYTHONUNBUFFERED": "1",
    }
    WORKER_LOG.parent.mkdir(parents=True, exist_ok=True)
    log = WORKER_LOG.open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "ecosystem_project",
            "worker",
            "-Q",
            graph_task_queue,
            "-n",
            node_name,
            "--concurrency",
            "4",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + WORKER_START_TIMEOUT_SECONDS
        while not app.control.ping(timeout=1.0, destination=[node_name.replace("%h", _host())]):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"The Celery worker did not start; see {WORKER_LOG}")
        yield graph_task_queue
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def _host() -> str:
    import socket

    return socket.gethostname()


def wait_until(predicate: Any, *, timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
