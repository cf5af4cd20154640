"""manage.py move_to_postgres: a world `make run` played (SQLite, embedded settings, in a
process of its own) is moved into PostgreSQL row by row; an observer resumes with its old
``since`` and the next event continues the log; the relationship graph and the lore vector
index are rebuilt from the moved rows."""

from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from characters.models import CharacterCard, Ecosystem
from core.embeddings import configured_model_name
from eventlog.models import Event
from interactions.services import interaction_process
from lore.models import Chunk
from relationships.graph import graph_cypher
from relationships.models import Relationship
from tests.characters import cardkit
from tests.conftest import client_for
from tests.embedded_world import play_embedded_world
from worlds.management.commands.move_to_postgres import (
    SOURCE,
    close_source,
    copied_models,
    open_source,
)

PREPARE = """
from characters.services import character_import_card
character_import_card(ecosystem=ecosystem, data=bytes.fromhex(sys.argv[1]), filename="c.png")
first, second = Character.objects.order_by("name")[:2]
document_create(ecosystem=ecosystem, title="The harbour", content=" ".join(
    f"The harbour of Lanport has {n} piers and a lighthouse painted red." for n in range(60)))
document_create(ecosystem=ecosystem, title="Fog", content="Fog rolls in at dusk.",
                keys=["fog"], character_ids=[first.pk])
"""


def play_a_world(path: Path, card: bytes) -> str:
    return play_embedded_world(
        path,
        prepare=PREPARE,
        lines=("Hello there!", "How are you?", "Lovely day."),
        then='print(json.dumps({"ecosystem": str(ecosystem.pk)}))',
        args=[card.hex()],
    )["ecosystem"]


RETIRED_MODEL = "retired-model-v0"


def without_pk(table: list[tuple], pk) -> list[tuple]:
    return [row for row in table if row[0] != pk]


def _plain(value):
    return bytes(value) if isinstance(value, memoryview) else value


def rows(model, using: str) -> list[tuple]:
    # graph_version says what Neo4j holds: the move's graph rebuild changes it on purpose.
    fields = [
        field.attname for field in model._meta.concrete_fields if field.name != "graph_version"
    ]
    return [
        tuple(_plain(v) for v in row)
        for row in model._base_manager.using(using).order_by("pk").values_list(*fields)
    ]


@pytest.fixture(scope="module")
def world(tmp_path_factory, django_db_setup, django_db_blocker):
    """A played SQLite world, open as the database alias SOURCE after the test database is
    made and before each test's set-up (so the test may read it: ``databases=[..., SOURCE]``)."""
    path = tmp_path_factory.mktemp("world") / "db.sqlite3"
    avatar = cardkit.tiny_png((40, 80, 120))
    card = cardkit.png_with({"chara": cardkit.b64(cardkit.v2(name="Carded"))}, avatar)
    ecosystem_id = play_a_world(path, card)
    open_source(path)
    yield path, ecosystem_id, avatar
    close_source()


@pytest.mark.django_db(transaction=True, databases=["default", SOURCE])
def test_a_played_world_moves_row_by_row_and_observers_resume(world, capsys):
    path, ecosystem_id, avatar = world
    # One chunk was embedded by a model this installation no longer runs: the move
    # re-embeds it with the configured one before it goes to the index.
    stale = Chunk.objects.using(SOURCE).order_by("pk").first()
    Chunk.objects.using(SOURCE).filter(pk=stale.pk).update(embedding_model=RETIRED_MODEL)
    call_command("move_to_postgres", from_sqlite=str(path))
    out = capsys.readouterr().out
    assert "moved" in out and "rebuild (ecosystem" in out
    assert "1 chunk(s) moved to" in out and "lore index: sent" in out

    compared = 0
    for model in copied_models():
        source_rows = rows(model, SOURCE)
        moved_rows = rows(model, "default")
        if model is Chunk:
            source_rows, moved_rows = (
                without_pk(source_rows, stale.pk),
                without_pk(moved_rows, stale.pk),
            )
        assert moved_rows == source_rows, model._meta.label
        compared += len(source_rows)
    reembedded = Chunk.objects.get(pk=stale.pk)
    assert reembedded.embedding_model == configured_model_name()
    assert reembedded.version == stale.version + 1
    assert (reembedded.text, reembedded.document_id) == (stale.text, stale.document_id)
    seqs_before = list(
        Event.objects.using(SOURCE).filter(ecosystem_id=ecosystem_id).values_list("seq", "type")
    )
    assert compared > 100  # a played world, not an empty one
    # The graph was rebuilt from the moved rows: every relationship is marked as sent.
    moved = Relationship.objects.filter(from_character__ecosystem_id=ecosystem_id)
    assert moved.exists()
    assert all(r.graph_version == r.version for r in moved)
    # ... and the lore vector index: every moved chunk is in Neo4j, with its vector.
    chunks = {
        str(pk): (version, dimension)
        for pk, version, dimension in Chunk.objects.filter(ecosystem_id=ecosystem_id).values_list(
            "pk", "version", "dimension"
        )
    }
    assert len(chunks) >= 2
    assert not Chunk.objects.filter(ecosystem_id=ecosystem_id, graph_version=0).exists()
    # A node's uid ends with its chunk's id (whatever prefix lore.graph gives it).
    in_neo4j = {
        str(uid).rsplit(":", 1)[-1]: (version, dimension)
        for uid, version, dimension in graph_cypher(
            "MATCH (c:LoreChunk {ecosystem_id: $ecosystem}) "
            "RETURN c.uid, c.version, size(c.embedding)",
            {"ecosystem": ecosystem_id},
        )
    }
    assert in_neo4j == chunks
    assert len(seqs_before) > 10
    card = CharacterCard.objects.get(character__name="Carded")
    assert bytes(card.avatar) == avatar

    # An observer that had seen up to `since` asks for the rest, as the owner it was.
    ecosystem = Ecosystem.objects.get(pk=ecosystem_id)
    owner = User.objects.get(pk=ecosystem.owner_id)
    since = seqs_before[4][0]
    response = client_for(owner).get(f"/api/v1/ecosystem/{ecosystem_id}/events?since={since}")
    assert response.status_code == 200
    body = response.json()
    listed = body["events"]
    assert [(e["seq"], e["type"]) for e in listed] == seqs_before[5 : 5 + len(listed)]
    assert listed

    # The log continues where the SQLite world stopped.
    first, second = ecosystem.characters.order_by("name")[:2]
    result = interaction_process(
        initiator_id=first.pk, target_id=second.pk, interaction_type="chat", content="Moved!"
    )
    assert (
        min(
            Event.objects.filter(ecosystem=ecosystem, seq__gt=seqs_before[-1][0]).values_list(
                "seq", flat=True
            )
        )
        == seqs_before[-1][0] + 1
    )
    assert result.event_seq > seqs_before[-1][0]
    # Ids continue too: a new user gets an id after the moved ones.
    assert User.objects.create(username="after-move").pk > owner.pk
    assert apps.get_model("contenttypes.contenttype").objects.get_for_model(User)


@pytest.mark.django_db(transaction=True, databases=["default", SOURCE])
def test_moving_into_a_database_that_holds_a_world_is_refused(world, user):
    path, _, _ = world
    with pytest.raises(CommandError, match="already holds data"):
        call_command("move_to_postgres", from_sqlite=str(path), no_graph=True)
    assert not Ecosystem.objects.exists()


def test_a_missing_sqlite_file_is_refused(tmp_path):
    with pytest.raises(CommandError, match="No SQLite file"):
        call_command("move_to_postgres", from_sqlite=str(tmp_path / "none.sqlite3"))
