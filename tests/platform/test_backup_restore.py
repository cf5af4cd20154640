"""Backups that restore: scripts/backup.sh, then scripts/restore.sh into a fresh database.

The world is made through the real services (an ecosystem, characters, interactions, a
scenario: rows in every app and a numbered event log), dumped by ``scripts/backup.sh``
while it is committed, and restored by ``scripts/restore.sh`` into a database created for
the test. Every table of the original is then compared with the restored one row by row,
and an observer that had read the log up to ``since`` reads the same events after it from
the restored database through the API. The graph is rebuilt for this test's ecosystem
only (the shared Neo4j holds other runs' data) and must hold the restored relationships.
"""

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from psycopg import sql

from interactions.services import interaction_process
from relationships.graph import graph_is_configured
from scenarios.services import scenario_create
from tests.conftest import client_for
from tests.factories import CharacterFactory, EcosystemFactory, UserFactory

ROOT = Path(settings.BASE_DIR)

pytestmark = pytest.mark.django_db(transaction=True)


def database_url(name: str) -> str:
    db = connection.settings_dict
    credentials = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgresql://{credentials}@{db['HOST']}:{db['PORT']}/{name}"


def run_script(script: str, *args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(ROOT / "scripts" / script), *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


# What Neo4j holds, kept in PostgreSQL: the graph rebuild of the restore moves it (to the
# version it sent), so it is compared on its own below.
GRAPH_BOOKKEEPING = {("relationships_relationship", "graph_version")}


def table_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the public schema (graph bookkeeping aside), in a total
    order."""
    with psycopg.connect(url) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1"
            )
        ]
        rows = {}
        for table in tables:
            columns = [
                sql.Identifier(name)
                for (name,) in conn.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
                    [table],
                )
                if (table, name) not in GRAPH_BOOKKEEPING
            ]
            order = sql.SQL(", ").join(sql.Literal(n) for n in range(1, len(columns) + 1))
            query = sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
                sql.SQL(", ").join(columns), sql.Identifier(table), order
            )
            rows[table] = conn.execute(query).fetchall()
        return rows


@pytest.fixture
def fresh_database() -> Iterator[str]:
    name = f"restore_{uuid.uuid4().hex[:12]}"
    admin_url = database_url("postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def test_a_backup_restores_every_row_and_an_observer_resumes(tmp_path, fresh_database) -> None:
    user = UserFactory()
    ecosystem = EcosystemFactory(owner=user, name="Harbor")
    traits = dict(
        openness=0.6, conscientiousness=0.6, extraversion=0.7, agreeableness=0.7, neuroticism=0.3
    )
    cast = [CharacterFactory(ecosystem=ecosystem, name=n, **traits) for n in ("Mira", "Tobias")]
    interaction_process(
        owner=user,
        initiator_id=cast[0].pk,
        target_id=cast[1].pk,
        interaction_type="greeting",
        content="Good morning at the quay.",
    )
    scenario_create(ecosystem=ecosystem, participants=cast, title="Market day")
    api = client_for(user)
    events_url = f"/api/v1/ecosystem/{ecosystem.pk}/events?since=2"
    before = api.get(events_url)
    assert before.status_code == 200
    assert before.json()["events"][0]["seq"] == 3

    source_url = database_url(connection.settings_dict["NAME"])
    dump = run_script("backup.sh", env={"DATABASE_URL": source_url, "BACKUP_DIR": str(tmp_path)})
    dump_path = Path(dump.strip().splitlines()[-1])
    assert dump_path.parent == tmp_path and dump_path.suffix == ".dump"
    assert dump_path.stat().st_size > 0 and not list(tmp_path.glob("*.partial"))

    restored_url = database_url(fresh_database)
    graph_env = {"RESTORE_GRAPH_ARGS": f"--ecosystem {ecosystem.pk}"}
    if not graph_is_configured():
        graph_env = {"RESTORE_SKIP_GRAPH": "1"}
    run_script("restore.sh", str(dump_path), env={"DATABASE_URL": restored_url, **graph_env})

    original, restored = table_rows(source_url), table_rows(restored_url)
    assert set(restored) == set(original)
    for table, rows in original.items():
        assert restored[table] == rows, f"table {table} differs after the restore"
    assert len(original["observatory_event"]) >= 4
    with psycopg.connect(restored_url) as conn:
        versions = conn.execute(
            "SELECT version, graph_version FROM relationships_relationship WHERE ecosystem_id = %s",
            [ecosystem.pk],
        ).fetchall()
    assert len(versions) == 2
    if graph_is_configured():  # the rebuild sent every relationship to Neo4j again
        assert all(graph_version == version for version, graph_version in versions)

    # The observer reads on from its old `since` against the restored database.
    connection.close()
    source_name = connection.settings_dict["NAME"]
    connection.settings_dict["NAME"] = fresh_database
    try:
        after = api.get(events_url)
    finally:
        connection.close()
        connection.settings_dict["NAME"] = source_name
    assert after.status_code == 200
    assert after.json() == before.json()
