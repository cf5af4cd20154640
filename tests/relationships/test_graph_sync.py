"""The Neo4j sync: the graph equals PostgreSQL after bursts, outages, repeats, reorders and
concurrent writers; deletes reach the graph; the commands behave."""

from __future__ import annotations

import io
import itertools
import random
import subprocess
import threading
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import F
from django.test import override_settings
from neomodel import db
from rest_framework.test import APIClient

from characters.models import Character
from interactions.services import interaction_process
from relationships.graph import (
    _payload,
    _write_batch,
    graph_rebuild,
    graph_relationships_write,
    graph_remove_orphans,
    graph_sync_pending,
)
from relationships.models import Relationship
from relationships.tasks import graph_reconcile
from tests.factories import CharacterFactory, EcosystemFactory

from .conftest import (
    REPO_ROOT,
    cypher,
    graph_pairs,
    pending_count,
    postgres_pairs,
    relationship_make,
    wait_until,
)

SERVICES_SCRIPT = REPO_ROOT / "docker" / "local" / "services.sh"
INJECTION_NAME = "O'Brien \"}{) MATCH (n) DETACH DELETE n //"
SOCIABLE = dict(
    openness=0.6, conscientiousness=0.6, extraversion=0.9, agreeableness=0.7, neuroticism=0.2
)
INTERACTION_TYPES = ("greeting", "chat", "chat", "collaboration", "conflict")


def cast_of(ecosystem, count: int) -> list[Character]:
    return [
        CharacterFactory(ecosystem=ecosystem, name=f"Cast {index}", **SOCIABLE)
        for index in range(count)
    ]


def run_interactions(cast: list[Character], count: int, *, seed: int) -> int:
    """``count`` interactions between random pairs of the most rested characters (so nobody
    is refused for tiredness); returns how many succeeded."""
    rng = random.Random(seed)
    ids = [character.pk for character in cast]
    succeeded = 0
    for turn in range(count):
        rested = list(
            Character.objects.filter(pk__in=ids)
            .order_by("-energy", "pk")
            .values_list("pk", flat=True)[:4]
        )
        initiator_id, target_id = rng.sample(rested, 2)
        result = interaction_process(
            initiator_id=initiator_id,
            target_id=target_id,
            interaction_type=rng.choice(INTERACTION_TYPES),
            seed=seed * 1000 + turn,
        )
        assert result.interaction.pk
        succeeded += 1
    return succeeded


def graph_equals_postgres(ecosystem_id: object) -> bool:
    return pending_count(ecosystem_id) == 0 and graph_pairs(ecosystem_id) == postgres_pairs(
        ecosystem_id
    )


def assert_graph_equals_postgres(ecosystem_id: object) -> None:
    expected = postgres_pairs(ecosystem_id)
    assert expected, "the test made no relationships"
    assert graph_pairs(ecosystem_id) == expected
    assert pending_count(ecosystem_id) == 0


def services(command: str) -> None:
    subprocess.run([str(SERVICES_SCRIPT), command], check=True, capture_output=True, timeout=240)


# --------------------------------------------------------------------------- with a worker


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_after_a_burst_of_interactions_the_graph_equals_postgresql(graph, sync_worker):
    ecosystem = EcosystemFactory()
    cast = cast_of(ecosystem, 8)

    assert run_interactions(cast, 60, seed=1) == 60

    assert wait_until(lambda: graph_equals_postgres(ecosystem.pk), timeout=60)
    assert_graph_equals_postgres(ecosystem.pk)
    assert len(postgres_pairs(ecosystem.pk)) > 20


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_with_neo4j_down_interactions_succeed_and_the_graph_catches_up(graph, sync_worker):
    ecosystem = EcosystemFactory()
    cast = cast_of(ecosystem, 12)
    health = APIClient()

    services("stop-neo4j")
    try:
        started = time.monotonic()
        assert run_interactions(cast, 100, seed=2) == 100
        # Nothing in the interaction path waits on Neo4j.
        assert time.monotonic() - started < 60
        down = health.get("/api/v1/health")
        assert down.status_code == 503
        assert down.json()["services"]["neo4j"]["status"] == "down"
        assert down.json()["graph_sync"]["pending"] > 0
    finally:
        services("start-neo4j")

    def caught_up() -> bool:
        # What beat does every 30 s, scoped to this test's ecosystem (other sessions may
        # share this Neo4j); the retrying sync tasks race it, either may win.
        graph_reconcile.delay(ecosystem_id=str(ecosystem.pk))
        return wait_until(lambda: graph_equals_postgres(ecosystem.pk), timeout=10, interval=1)

    assert wait_until(caught_up, timeout=120, interval=0)
    assert_graph_equals_postgres(ecosystem.pk)
    assert health.get("/api/v1/health").json()["services"]["neo4j"]["status"] == "ok"


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_deleting_a_character_removes_it_and_its_relationships_from_the_graph(graph, sync_worker):
    ecosystem = EcosystemFactory()
    mira, tobias, ada = cast_of(ecosystem, 3)
    run_interactions([mira, tobias, ada], 6, seed=3)
    assert wait_until(lambda: graph_equals_postgres(ecosystem.pk), timeout=30)

    tobias_id = str(tobias.pk)
    assert any(tobias_id in pair for pair in graph_pairs(ecosystem.pk))

    tobias.delete()

    def tobias_gone() -> bool:
        return not cypher("MATCH (c:Character {uid: $uid}) RETURN c", {"uid": tobias_id})

    assert wait_until(tobias_gone, timeout=30)
    assert graph_pairs(ecosystem.pk) == postgres_pairs(ecosystem.pk)
    assert all(tobias_id not in pair for pair in graph_pairs(ecosystem.pk))


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_deleting_an_ecosystem_removes_all_its_nodes(graph, sync_worker):
    ecosystem = EcosystemFactory()
    run_interactions(cast_of(ecosystem, 4), 8, seed=4)
    assert wait_until(lambda: graph_equals_postgres(ecosystem.pk), timeout=30)
    ecosystem_id = str(ecosystem.pk)

    ecosystem.delete()

    def ecosystem_gone() -> bool:
        rows = cypher(
            "MATCH (c:Character {ecosystem_id: $id}) RETURN count(c)", {"id": ecosystem_id}
        )
        return rows[0][0] == 0

    assert wait_until(ecosystem_gone, timeout=30)


# --------------------------------------------------------------------------- in process


def test_running_the_sync_twice_changes_nothing(graph):
    ecosystem = EcosystemFactory()
    a, b, c = cast_of(ecosystem, 3)
    relationships = [
        relationship_make(a, b, strength=0.4, trust=0.7, version=3),
        relationship_make(b, a, strength=-0.2, trust=0.4, version=2),
        relationship_make(b, c, strength=0.9, trust=0.9, version=7),
    ]

    first = graph_sync_pending(ecosystem_id=ecosystem.pk)
    after_first = graph_pairs(ecosystem.pk)
    second = graph_sync_pending(ecosystem_id=ecosystem.pk)
    forced = graph_relationships_write(relationship_ids=[rel.pk for rel in relationships])

    assert (first.sent, first.written) == (3, 3)
    assert (second.sent, second.written) == (0, 0)
    assert (forced.sent, forced.written) == (3, 0)
    assert graph_pairs(ecosystem.pk) == after_first == postgres_pairs(ecosystem.pk)
    assert list(
        Relationship.objects.filter(ecosystem=ecosystem).values_list("graph_version", flat=True)
    ) == [rel.version for rel in Relationship.objects.filter(ecosystem=ecosystem)]


def test_a_process_installs_the_unique_constraint_before_its_first_send(graph, monkeypatch):
    """A worker started without ``install_graph_constraints`` (make bench did) must not
    MERGE without the constraint: concurrent MERGEs would duplicate characters."""
    from relationships import graph as graph_module

    def constraint_exists() -> bool:
        return bool(
            cypher(
                "SHOW CONSTRAINTS YIELD name WHERE name = $name RETURN name",
                {"name": "constraint_unique_Character_uid"},
            )
        )

    ecosystem = EcosystemFactory()
    a, b = cast_of(ecosystem, 2)
    relationship_make(a, b, strength=0.4, trust=0.7, version=1)
    cypher("DROP CONSTRAINT constraint_unique_Character_uid IF EXISTS")
    monkeypatch.setattr(graph_module, "_schema_installed", False)  # a fresh process
    try:
        assert not constraint_exists()
        assert graph_sync_pending(ecosystem_id=ecosystem.pk).sent == 1
        assert constraint_exists()
    finally:
        call_command("install_graph_constraints", stdout=io.StringIO())


def test_a_reordered_older_version_never_replaces_a_newer_one(graph):
    ecosystem = EcosystemFactory()
    a, b = cast_of(ecosystem, 2)
    relationship = relationship_make(a, b, strength=0.5, trust=0.6, version=5)
    graph_sync_pending(ecosystem_id=ecosystem.pk)
    stale_row = (
        relationship.pk,
        ecosystem.pk,
        a.pk,
        a.name,
        b.pk,
        b.name,
        -0.9,
        0.1,
        1,
        None,
        4,
    )

    nodes, relationships, _sent = _payload([stale_row])
    written = _write_batch(nodes, relationships)

    assert written == 0
    assert graph_pairs(ecosystem.pk) == postgres_pairs(ecosystem.pk)


@pytest.mark.django_db(transaction=True)
def test_ten_workers_merging_the_same_pair_leave_one_relationship(graph):
    ecosystem = EcosystemFactory()
    a, b = cast_of(ecosystem, 2)
    forward = relationship_make(a, b, strength=0.3, trust=0.8, version=9)
    backward = relationship_make(b, a, strength=0.1, trust=0.6, version=4)
    barrier = threading.Barrier(10)
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            # Half send a→b then b→a in one batch, half only one direction: shared nodes,
            # opposite orders, fresh graph (every MERGE races to create).
            ids = [forward.pk, backward.pk] if index % 2 else [backward.pk]
            graph_relationships_write(relationship_ids=ids)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()
            db.close_connection()  # neomodel's connection is per thread

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    counts = cypher(
        "MATCH (a:Character {ecosystem_id: $id})-[r:RELATES_TO]->(b) RETURN a.uid, b.uid, count(r)",
        {"id": str(ecosystem.pk)},
    )
    assert sorted(row[2] for row in counts) == [1, 1]
    nodes = cypher(
        "MATCH (c:Character {ecosystem_id: $id}) RETURN count(c)", {"id": str(ecosystem.pk)}
    )
    assert nodes[0][0] == 2
    assert graph_pairs(ecosystem.pk) == postgres_pairs(ecosystem.pk)


def test_reconcile_sends_what_is_pending_and_removes_orphans(graph):
    ecosystem = EcosystemFactory()
    a, b = cast_of(ecosystem, 2)
    relationship_make(a, b, strength=0.2, trust=0.5, version=2)
    graph_sync_pending(ecosystem_id=ecosystem.pk)
    # Changed behind the sync's back (no task), and a node of a character long gone.
    Relationship.objects.filter(ecosystem=ecosystem).update(
        strength=0.8, trust=0.9, version=F("version") + 1
    )
    cypher(
        "CREATE (:Character {uid: $uid, name: 'ghost', ecosystem_id: $ecosystem_id})",
        {"uid": "6d1e8c1c-0000-4000-8000-000000000000", "ecosystem_id": str(ecosystem.pk)},
    )

    result = graph_reconcile(ecosystem_id=str(ecosystem.pk), orphan_grace_seconds=0)

    assert result["status"] == "ok"
    assert (result["sent"], result["orphans_removed"]) == (1, 1)
    assert_graph_equals_postgres(ecosystem.pk)
    assert not cypher("MATCH (c:Character {name: 'ghost'}) RETURN c")


def test_the_orphan_sweep_leaves_freshly_written_nodes_alone(graph):
    ecosystem = EcosystemFactory()
    cypher(
        "CREATE (:Character {uid: $uid, name: 'young', ecosystem_id: $ecosystem_id, "
        "synced_at: datetime()})",
        {"uid": "6d1e8c1c-0000-4000-8000-000000000001", "ecosystem_id": str(ecosystem.pk)},
    )

    assert graph_remove_orphans(ecosystem_id=ecosystem.pk, grace_seconds=600) == 0
    assert graph_remove_orphans(ecosystem_id=ecosystem.pk, grace_seconds=0) == 1


def test_a_name_full_of_quotes_and_braces_is_stored_intact(graph):
    ecosystem = EcosystemFactory()
    a = CharacterFactory(ecosystem=ecosystem, name=INJECTION_NAME)
    b = CharacterFactory(ecosystem=ecosystem, name="Plain")
    relationship_make(a, b, strength=0.5, trust=0.5)
    other = EcosystemFactory()
    bystanders = cast_of(other, 2)
    relationship_make(*bystanders)

    graph_sync_pending()

    rows = cypher("MATCH (c:Character {uid: $uid}) RETURN c.name", {"uid": str(a.pk)})
    assert rows == [[INJECTION_NAME]]
    assert graph_pairs(other.pk) == postgres_pairs(other.pk)


def test_rebuild_deletes_and_resends_the_ecosystem(graph):
    ecosystem = EcosystemFactory()
    cast = cast_of(ecosystem, 4)
    for a, b in itertools.pairwise(cast):
        relationship_make(a, b, strength=0.3, trust=0.6, version=2)
    graph_sync_pending(ecosystem_id=ecosystem.pk)
    cypher(
        "MATCH (a:Character {uid: $uid})-[r:RELATES_TO]->() SET r.trust = 0.0",
        {"uid": str(cast[0].pk)},
    )
    progress: list[tuple[int, int]] = []

    report = graph_rebuild(
        ecosystem_id=ecosystem.pk,
        batch_size=2,
        progress=lambda done, total: progress.append((done, total)),
    )

    assert (report.sent, report.written, report.batches) == (3, 3, 2)
    assert progress == [(2, 3), (3, 3)]
    assert_graph_equals_postgres(ecosystem.pk)


def test_sync_graph_command_prints_counts_and_rate(graph):
    ecosystem = EcosystemFactory()
    a, b, c = cast_of(ecosystem, 3)
    relationship_make(a, b)
    relationship_make(b, c)
    out, err = io.StringIO(), io.StringIO()

    call_command("sync_graph", "--ecosystem", str(ecosystem.pk), stdout=out, stderr=err)
    call_command(
        "sync_graph", "--ecosystem", str(ecosystem.pk), "--rebuild", stdout=out, stderr=err
    )

    assert "sync (ecosystem" in out.getvalue()
    assert "sent 2 relationships" in out.getvalue()
    assert "relationships/s" in out.getvalue()
    assert "[" in err.getvalue() and "2/2" in err.getvalue()
    assert_graph_equals_postgres(ecosystem.pk)


def test_sync_graph_command_rejects_an_unknown_ecosystem(graph):
    with pytest.raises(CommandError, match="No ecosystem"):
        call_command("sync_graph", "--ecosystem", "6d1e8c1c-0000-4000-8000-00000000000f")
    with pytest.raises(CommandError, match="UUID"):
        call_command("sync_graph", "--ecosystem", "not-an-id")


@override_settings(GRAPH_SYNC_ENABLED=False)
def test_sync_graph_command_without_neo4j_says_it_is_not_configured(db):
    with pytest.raises(CommandError, match="Neo4j is not configured"):
        call_command("sync_graph")


def test_install_graph_constraints_twice_is_harmless(graph):
    out = io.StringIO()

    call_command("install_graph_constraints", stdout=out)
    call_command("install_graph_constraints", stdout=out)

    constraints = cypher("SHOW CONSTRAINTS YIELD labelsOrTypes, properties, type")
    assert [["Character"], ["uid"], "UNIQUENESS"] in constraints
    assert "in place" in out.getvalue()


@override_settings(GRAPH_SYNC_ENABLED=False)
def test_install_graph_constraints_without_neo4j_exits_cleanly(db):
    out = io.StringIO()

    call_command("install_graph_constraints", stdout=out)

    assert "NEO4J_BOLT_URL is not set" in out.getvalue()


def test_health_reports_the_sync_lag(graph, api):
    ecosystem = EcosystemFactory()
    a, b = cast_of(ecosystem, 2)
    relationship_make(a, b)

    before = api.get("/api/v1/health").json()["graph_sync"]
    graph_sync_pending(ecosystem_id=ecosystem.pk)
    after = api.get("/api/v1/health").json()["graph_sync"]

    assert before["pending"] >= 1
    assert after["pending"] == before["pending"] - 1
    assert before["enabled"] is True
