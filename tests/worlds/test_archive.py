"""World archives (docs/archives.md): a played world -> archive -> world is equal field by
field in every model, with new ids and every reference remapped; with and without the event
log; through the API and the commands."""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import models
from django.utils import timezone

from characters.models import Character, CharacterCard, Ecosystem
from characters.services import character_import_card
from core.embeddings import configured_model_name
from eventlog.models import Event
from interactions.models import Interaction
from interactions.services import interaction_process
from lore.models import Chunk, Document
from lore.services import document_create
from memories import services as memory_services
from memories.models import Memory, MemoryStream
from relationships.models import Relationship
from scenarios.models import Scenario, UserMessage
from scenarios.services import (
    scenario_create,
    scenario_end,
    scenario_pause,
    scenario_play_turn,
    scenario_post_message,
)
from tests.characters import cardkit
from tests.conftest import client_for
from tests.factories import CharacterFactory, EcosystemFactory, UserFactory
from worlds.archive import (
    ARCHIVE_FORMAT,
    ARCHIVE_VERSION,
    TABLES,
    archive_dump,
    ecosystem_export,
    ecosystem_import,
)

pytestmark = pytest.mark.django_db

AVATAR = cardkit.tiny_png((10, 120, 200))
ARCHIVED_APPS = ("characters", "relationships", "lore", "memories", "interactions", "scenarios")


@pytest.fixture(autouse=True, scope="module")
def embedding_model_loaded() -> None:
    """Loaded up front, as a server's first interaction outside a transaction does: the
    tests run inside one, where the model is never loaded (memories.services)."""
    assert memory_services._load(configured_model_name()) is not None


@pytest.fixture(autouse=True)
def reflections_come_soon(settings):
    settings.MEMORY_REFLECTION_THRESHOLD = 0.5


def play_world(owner) -> Ecosystem:
    """A world with something in every table: a carded character with an avatar, lore
    (a keyed entry tied to a character and a free text), interactions that formed memories
    and reflections, a participant scenario with a person's message, an ended one."""
    ecosystem = EcosystemFactory(owner=owner, name="Lanport", description="A <b>harbour</b>.")
    traits = dict(
        openness=0.6, conscientiousness=0.6, extraversion=0.8, agreeableness=0.8, neuroticism=0.2
    )
    mira = CharacterFactory(ecosystem=ecosystem, name="Mira", **traits)
    tobias = CharacterFactory(ecosystem=ecosystem, name="Tobias", **traits)
    card = cardkit.png_with(
        {"chara": cardkit.b64(cardkit.v2(name="Carded", description="A keeper of lights."))},
        AVATAR,
    )
    carded = character_import_card(ecosystem=ecosystem, data=card, filename="carded.png")
    Character.objects.filter(pk=carded.pk).update(
        openness=0.7,
        conscientiousness=0.7,
        extraversion=0.8,
        agreeableness=0.8,
        neuroticism=0.2,
        energy=1.0,
    )
    document_create(
        ecosystem=ecosystem,
        title="The lighthouse",
        content="The lighthouse of Lanport is painted red and its lamp never sleeps.",
        keys=["lighthouse"],
        secondary_keys=["lamp"],
        order=5,
        character_ids=[mira.pk],
    )
    document_create(
        ecosystem=ecosystem,
        title="Harbour notes",
        content=" ".join(
            f"Pier {n} of the harbour holds {n * 3} fishing boats." for n in range(80)
        ),
    )
    for content in (
        "Have you seen the lighthouse tonight?",
        "The lighthouse lamp is bright.",
        "I love this harbour.",
    ):
        interaction_process(
            initiator_id=mira.pk, target_id=tobias.pk, interaction_type="chat", content=content
        )
    interaction_process(
        initiator_id=tobias.pk,
        target_id=carded.pk,
        interaction_type="collaboration",
        content="Shall we mend the nets?",
    )
    played = scenario_create(
        ecosystem=ecosystem,
        participants=[mira, tobias, carded],
        title="Storm night",
        setting="The harbour at night.",
        mood="tense",
        objectives=["keep the lamp lit"],
        mode=Scenario.Mode.PARTICIPANT,
        seed=7,
    )
    scenario_post_message(
        scenario_id=played.pk,
        author=owner,
        content="Is the lamp lit?",
        target_character_id=mira.pk,
    )
    for turn in (1, 2, 3):
        assert scenario_play_turn(scenario_id=played.pk, turn=turn)
    scenario_pause(scenario_id=played.pk)
    ended = scenario_create(
        ecosystem=ecosystem, participants=[mira, tobias], title="Morning", seed=3
    )
    assert scenario_play_turn(scenario_id=ended.pk, turn=1)
    scenario_end(scenario_id=ended.pk)
    ecosystem.refresh_from_db()
    return ecosystem


# --------------------------------------------------------------------------- comparing


def _records(model: type[models.Model], **filters: Any) -> list[dict[str, Any]]:
    fields = [f.attname for f in model._meta.concrete_fields]
    return [
        {k: bytes(v) if isinstance(v, memoryview) else v for k, v in row.items()}
        for row in model._base_manager.filter(**filters).values(*fields)
    ]


class IdMap:
    """Old ids -> new ids, found by what a person sees (names, titles, texts, times)."""

    def __init__(self) -> None:
        self.uuids: dict[str, str] = {}
        self.documents: dict[int, int] = {}

    def add(self, old: Any, new: Any) -> None:
        assert str(old) != str(new), "an imported row kept its id"
        self.uuids[str(old)] = str(new)

    def value(self, value: Any) -> Any:
        if isinstance(value, uuid.UUID):
            return uuid.UUID(self.uuids.get(str(value), str(value)))
        if isinstance(value, str):
            if value.count(":") == 1 and value.split(":")[0].isdigit():
                document, position = value.split(":")
                return f"{self.documents.get(int(document), document)}:{position}"
            return self.uuids.get(value, value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        return value


def match(old_rows, new_rows, key) -> list[tuple[dict, dict]]:
    old_by = {key(row): row for row in old_rows}
    new_by = {key(row): row for row in new_rows}
    assert len(old_by) == len(old_rows) and len(new_by) == len(new_rows), "keys not unique"
    assert set(old_by) == set(new_by)
    return [(old_by[k], new_by[k]) for k in old_by]


def assert_same_world(old: Ecosystem, new: Ecosystem, *, owner, events: bool) -> dict[str, int]:
    """Every row of ``old`` has its twin in ``new``: equal in every field but the ids (new),
    the references (remapped) and what the import sets on purpose (docs/archives.md)."""
    ids = IdMap()
    ids.add(old.pk, new.pk)
    compared: dict[str, int] = {}

    def same(pairs, model, *, skip=(), extra: dict[str, Any] | None = None) -> None:
        for old_row, new_row in pairs:
            for name, old_value in old_row.items():
                if name in skip:
                    continue
                expected = (extra or {}).get(name, ids.value(old_value))
                if name == "document_id" and model is not Document:
                    expected = ids.documents[old_value]
                assert new_row[name] == expected, (model.__name__, name, old_value, new_row[name])
        compared[model.__name__] = compared.get(model.__name__, 0) + len(pairs)

    # Rows with UUIDs first: their ids are matched by what a person sees, then compared.
    characters = match(
        _records(Character, ecosystem=old), _records(Character, ecosystem=new), lambda r: r["name"]
    )
    scenarios = match(
        _records(Scenario, ecosystem=old), _records(Scenario, ecosystem=new), lambda r: r["title"]
    )
    messages = match(
        _records(UserMessage, scenario__ecosystem=old),
        _records(UserMessage, scenario__ecosystem=new),
        lambda r: r["content"],
    )
    interactions = match(
        _records(Interaction, ecosystem=old),
        _records(Interaction, ecosystem=new),
        lambda r: (r["created"], r["content"]),
    )
    memories = match(
        _records(Memory, ecosystem=old),
        _records(Memory, ecosystem=new),
        lambda r: (r["created"], r["kind"], r["text"]),
    )
    documents = match(
        _records(Document, ecosystem=old), _records(Document, ecosystem=new), lambda r: r["title"]
    )
    for pairs in (characters, scenarios, messages, interactions, memories):
        for old_row, new_row in pairs:
            ids.add(old_row["id"], new_row["id"])
    for old_row, new_row in documents:
        assert old_row["id"] != new_row["id"]
        ids.documents[old_row["id"]] = new_row["id"]

    same(
        [
            (
                Ecosystem.objects.filter(pk=old.pk).values()[0],
                Ecosystem.objects.filter(pk=new.pk).values()[0],
            )
        ],
        Ecosystem,
        extra={"owner_id": owner.pk, "last_seq": old.last_seq if events else 0},
    )
    same(characters, Character)
    same(scenarios, Scenario)
    same(messages, UserMessage, extra={"author_id": owner.pk})
    same(interactions, Interaction)
    same(memories, Memory)
    same(documents, Document, skip=("id",))
    character_ids = [row["id"] for row, _ in characters]
    same(
        match(
            _records(CharacterCard, character__ecosystem=old),
            _records(CharacterCard, character__ecosystem=new),
            lambda r: (
                ids.value(r["character_id"])
                if r["character_id"] in character_ids
                else r["character_id"]
            ),
        ),
        CharacterCard,
    )
    same(
        match(
            _records(MemoryStream, character__ecosystem=old),
            _records(MemoryStream, character__ecosystem=new),
            lambda r: (
                ids.value(r["character_id"])
                if r["character_id"] in character_ids
                else r["character_id"]
            ),
        ),
        MemoryStream,
    )
    # Relationships and chunks: integer ids the database gives; Neo4j holds nothing yet.
    same(
        match(
            _records(Relationship, ecosystem=old),
            _records(Relationship, ecosystem=new),
            lambda r: (
                (str(ids.value(r["from_character_id"])), str(ids.value(r["to_character_id"])))
                if str(r["from_character_id"]) in ids.uuids
                else (str(r["from_character_id"]), str(r["to_character_id"]))
            ),
        ),
        Relationship,
        skip=("id",),
        extra={"graph_version": 0},
    )
    same(
        match(
            _records(Chunk, ecosystem=old),
            _records(Chunk, ecosystem=new),
            lambda r: (ids.documents.get(r["document_id"], r["document_id"]), r["position"]),
        ),
        Chunk,
        skip=("id",),
        extra={"graph_version": 0},
    )
    # The many-to-many tables.
    tied = Document.characters.through.objects
    assert sorted(
        (ids.documents[d], str(ids.value(c)))
        for d, c in tied.filter(document__ecosystem=old).values_list("document_id", "character_id")
    ) == sorted(
        (d, str(c))
        for d, c in tied.filter(document__ecosystem=new).values_list("document_id", "character_id")
    )
    cast = Scenario.participants.through.objects
    assert sorted(
        (str(ids.value(s)), str(ids.value(c)))
        for s, c in cast.filter(scenario__ecosystem=old).values_list("scenario_id", "character_id")
    ) == sorted(
        (str(s), str(c))
        for s, c in cast.filter(scenario__ecosystem=new).values_list("scenario_id", "character_id")
    )
    if events:
        same(
            match(
                _records(Event, ecosystem=old), _records(Event, ecosystem=new), lambda r: r["seq"]
            ),
            Event,
            skip=("id",),
        )
    else:
        assert not Event.objects.filter(ecosystem=new).exists()
    return compared


# --------------------------------------------------------------------------- tests


def test_every_model_of_a_world_is_in_the_archive_schema():
    carried = {table.model for table in TABLES}
    for label in ARCHIVED_APPS:
        for model in apps.get_app_config(label).get_models():
            assert model in carried, f"{model._meta.label} is not carried by world archives"


@pytest.mark.parametrize("events", [False, True], ids=["without-events", "with-events"])
def test_a_world_comes_back_equal_field_by_field_with_new_ids(user, events):
    old = play_world(user)
    owner = UserFactory()
    document = json.loads(
        gzip.decompress(archive_dump(ecosystem_export(ecosystem=old, events=events)))
    )
    assert (document["format"], document["version"]) == (ARCHIVE_FORMAT, ARCHIVE_VERSION)
    assert (document["events"] is not None) is events

    new = ecosystem_import(owner=owner, document=document)

    compared = assert_same_world(old, new, owner=owner, events=events)
    # Something in every table was compared: a played world, not an empty one.
    for name in (
        "Character",
        "CharacterCard",
        "MemoryStream",
        "Relationship",
        "Document",
        "Chunk",
        "Memory",
        "Scenario",
        "UserMessage",
        "Interaction",
    ):
        assert compared.get(name, 0) > 0, name
    assert Memory.objects.filter(ecosystem=new, kind=Memory.Kind.REFLECTION).exists()
    reflection = Memory.objects.filter(ecosystem=new, kind=Memory.Kind.REFLECTION).first()
    assert reflection.cited_ids
    assert set(reflection.cited_ids) <= {
        str(pk) for pk in Memory.objects.filter(ecosystem=new).values_list("pk", flat=True)
    }
    assert bytes(CharacterCard.objects.get(character__ecosystem=new).avatar) == AVATAR
    if events:
        assert compared["Event"] > 10
        assert new.last_seq == old.last_seq
    # The old world is untouched and still its owner's.
    assert Ecosystem.objects.get(pk=old.pk).owner == user


def test_the_imported_world_plays_on_and_its_log_continues(user):
    old = play_world(user)
    with_log = ecosystem_import(owner=user, document=ecosystem_export(ecosystem=old, events=True))
    without_log = ecosystem_import(owner=user, document=ecosystem_export(ecosystem=old))
    for new, first_seq in ((with_log, old.last_seq + 1), (without_log, 1)):
        mira = new.characters.get(name="Mira")
        tobias = new.characters.get(name="Tobias")
        result = interaction_process(
            initiator_id=mira.pk,
            target_id=tobias.pk,
            interaction_type="chat",
            content="We moved!",
        )
        assert result.event_seq >= first_seq
        assert (
            min(
                Event.objects.filter(ecosystem=new, seq__gte=first_seq).values_list(
                    "seq", flat=True
                )
            )
            == first_seq
        )
        # The relationship the exchange moved is the imported one, version and all.
        relationship = Relationship.objects.get(from_character=mira, to_character=tobias)
        old_relationship = Relationship.objects.get(
            from_character__ecosystem=old, from_character__name="Mira", to_character__name="Tobias"
        )
        assert relationship.interaction_count == old_relationship.interaction_count + 1


def test_an_active_scenario_arrives_paused_with_the_time_it_had_played(user):
    old = play_world(user)
    scenario = Scenario.objects.get(ecosystem=old, title="Storm night")
    from scenarios.services import scenario_resume

    scenario_resume(scenario_id=scenario.pk)
    resumed_at = Scenario.objects.get(pk=scenario.pk).resumed_at
    document = ecosystem_export(ecosystem=old)
    exported_at = datetime.fromisoformat(document["exported_at"])
    new = ecosystem_import(owner=user, document=document)
    arrived = Scenario.objects.get(ecosystem=new, title="Storm night")
    assert arrived.status == Scenario.Status.PAUSED
    assert arrived.next_tick_at is None and arrived.resumed_at is None
    played = (
        Scenario.objects.get(pk=scenario.pk).active_seconds
        + (exported_at - resumed_at).total_seconds()
    )
    assert arrived.active_seconds == pytest.approx(played)
    assert arrived.turn == scenario.turn


def test_vectors_left_out_or_of_another_model_are_embedded_again_on_import(user):
    old = play_world(user)
    document = ecosystem_export(ecosystem=old, vectors=False)
    assert all(c["embedding"] is None for d in document["lore"] for c in d["chunks"])
    # One chunk's vector came from a model this installation does not run.
    other = ecosystem_export(ecosystem=old)
    other["lore"][0]["chunks"][0]["embedding_model"] = "retired-model-v0"
    other["lore"][0]["chunks"][0]["embedding"] = "AAAAAA=="  # one float32 of another model
    other["lore"][0]["chunks"][0]["dimension"] = 1
    for imported in (
        ecosystem_import(owner=user, document=document),
        ecosystem_import(owner=user, document=other),
    ):
        for chunk in Chunk.objects.filter(ecosystem=imported):
            original = Chunk.objects.get(
                ecosystem=old, document__title=chunk.document.title, position=chunk.position
            )
            assert chunk.embedding_model == configured_model_name()
            assert chunk.dimension == original.dimension
            assert bytes(chunk.embedding) == bytes(original.embedding)
        memories = Memory.objects.filter(ecosystem=imported).exclude(embedding_model="")
        assert memories.exists()
        assert all(len(bytes(m.embedding)) == 4 * m.embedding_dimension for m in memories)


def test_the_archive_endpoints_round_trip_a_world_and_hide_other_users_worlds(
    user, other_user, anonymous
):
    old = play_world(user)
    api = client_for(user)
    response = api.get(f"/api/v1/ecosystems/{old.pk}/archive?events=1")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/gzip"
    assert 'filename="Lanport.world.json.gz"' in response["Content-Disposition"]
    data = b"".join(response.streaming_content) if response.streaming else response.content
    document = json.loads(gzip.decompress(data))
    assert len(document["events"]) == old.last_seq

    upload = SimpleUploadedFile("Lanport.world.json.gz", data, "application/gzip")
    response = client_for(other_user).post(
        "/api/v1/ecosystems/import", {"file": upload}, format="multipart"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Lanport" and body["character_count"] == 3
    assert body["last_seq"] == old.last_seq and body["id"] != str(old.pk)
    new = Ecosystem.objects.get(pk=body["id"])
    assert new.owner == other_user
    assert_same_world(old, new, owner=other_user, events=True)

    # Another user's world is not found, whoever asks; an unknown id neither.
    assert client_for(other_user).get(f"/api/v1/ecosystems/{old.pk}/archive").status_code == 404
    assert api.get(f"/api/v1/ecosystems/{new.pk}/archive").status_code == 404
    assert api.get(f"/api/v1/ecosystems/{uuid.uuid4()}/archive").status_code == 404
    assert api.get("/api/v1/ecosystems/not-a-uuid/archive").status_code == 404
    assert anonymous.get(f"/api/v1/ecosystems/{old.pk}/archive").status_code == 401
    assert anonymous.post("/api/v1/ecosystems/import", {}).status_code == 401


def test_the_commands_round_trip_a_world_with_progress_bars(user, tmp_path):
    old = play_world(user)
    owner = UserFactory(username="newcomer")
    path = tmp_path / "lanport.world.json.gz"
    out, err = StringIO(), StringIO()
    call_command(
        "export_ecosystem", str(old.pk), "-o", str(path), "--events", stdout=out, stderr=err
    )
    assert "Exported 'Lanport'" in out.getvalue() and "export [" in err.getvalue()
    assert path.stat().st_size > 0

    out, err = StringIO(), StringIO()
    call_command("import_ecosystem", str(path), "--owner", "newcomer", stdout=out, stderr=err)
    assert "import [" in err.getvalue() and "100.0%" in err.getvalue()
    new = Ecosystem.objects.get(owner=owner)
    assert str(new.pk) in out.getvalue()
    assert_same_world(old, new, owner=owner, events=True)


def test_import_archive_times_keep_their_values_not_the_import_time(user):
    old = play_world(user)
    earlier = timezone.now() - timedelta(days=30)
    Ecosystem.objects.filter(pk=old.pk).update(created=earlier)
    Character.objects.filter(ecosystem=old).update(created=earlier, state_updated_at=earlier)
    new = ecosystem_import(owner=user, document=ecosystem_export(ecosystem=old))
    assert new.created == earlier
    assert set(new.characters.values_list("created", flat=True)) == {earlier}
