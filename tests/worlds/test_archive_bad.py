"""Bad world archives answer a clear 400 (413 for size) naming the problem, and leave
nothing behind: not gzip, truncated, a gzip bomb, an unknown format or version, wrong types,
broken references, a broken database rule."""

from __future__ import annotations

import copy
import gzip
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from characters.models import Character, Ecosystem
from eventlog.models import Event
from interactions.models import Interaction
from interactions.services import interaction_process
from lore.models import Chunk, Document
from lore.services import document_create
from memories.models import Memory
from relationships.models import Relationship
from scenarios.models import Scenario
from scenarios.services import scenario_create, scenario_play_turn
from tests.factories import CharacterFactory, EcosystemFactory
from worlds.archive import archive_dump, ecosystem_export

pytestmark = pytest.mark.django_db

IMPORT = "/api/v1/ecosystems/import"


@pytest.fixture
def archived(user) -> dict[str, Any]:
    """A small played world's archive document (events included)."""
    ecosystem = EcosystemFactory(owner=user, name="Small")
    first = CharacterFactory(ecosystem=ecosystem, name="Ada", energy=1.0, extraversion=0.8)
    second = CharacterFactory(ecosystem=ecosystem, name="Bo", energy=1.0, extraversion=0.8)
    document_create(ecosystem=ecosystem, title="Fog", content="Fog rolls in.", keys=["fog"])
    interaction_process(
        initiator_id=first.pk, target_id=second.pk, interaction_type="chat", content="Hi!"
    )
    scenario = scenario_create(ecosystem=ecosystem, participants=[first, second], title="Walk")
    scenario_play_turn(scenario_id=scenario.pk, turn=1)
    return ecosystem_export(ecosystem=ecosystem, events=True)


def world_rows() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (
            Ecosystem,
            Character,
            Relationship,
            Document,
            Chunk,
            Memory,
            Scenario,
            Interaction,
            Event,
        )
    }


def post(api, data: bytes, name: str = "world.json.gz"):
    upload = SimpleUploadedFile(name, data, "application/gzip")
    return api.post(IMPORT, {"file": upload}, format="multipart")


def refused(api, data: bytes, status: int, *phrases: str) -> dict:
    before = world_rows()
    response = post(api, data)
    assert response.status_code == status, response.content
    body = response.json()
    for phrase in phrases:
        assert phrase in body["detail"], body
    assert world_rows() == before, "a refused archive left rows behind"
    return body


def test_a_file_that_is_not_gzip_is_refused(api, archived):
    refused(api, json.dumps(archived).encode(), 400, "not gzip-compressed")
    refused(api, b"\x89PNG\r\n\x1a\n not an archive", 400, "not gzip-compressed")


def test_a_truncated_archive_is_refused(api, archived):
    data = archive_dump(archived)
    refused(api, data[: len(data) // 2], 400, "truncated")
    refused(api, data[:12], 400)


def test_a_corrupt_gzip_stream_is_refused(api, archived):
    data = bytearray(archive_dump(archived))
    data[20:40] = b"\xff" * 20
    refused(api, bytes(data), 400, "gzip")


def test_a_gzip_bomb_is_refused_before_it_is_expanded(api, settings):
    settings.ARCHIVE_MAX_DECOMPRESSED_BYTES = 1_000_000
    bomb = gzip.compress(b"[" + b" " * 50_000_000 + b"]", compresslevel=9)
    assert len(bomb) < 100_000
    body = refused(api, bomb, 400, "decompresses to more than 1000000 bytes", "gzip bomb")
    assert body["code"] == "archive_too_large_decompressed"


def test_an_archive_over_the_size_limit_answers_413(api, archived, settings):
    data = archive_dump(archived)
    settings.ARCHIVE_MAX_BYTES = len(data) - 1
    body = refused(api, data, 413, f"the limit is {len(data) - 1}")
    assert body["code"] == "archive_too_large"


def test_gzip_that_is_not_json_is_refused(api):
    refused(api, gzip.compress(b"not json {"), 400, "valid JSON")
    refused(api, gzip.compress(b"\xff\xfe\x00"), 400, "valid JSON")
    refused(api, gzip.compress(b"[" * 10_000 + b"]" * 10_000), 400, "valid JSON")


@pytest.mark.parametrize(
    ("change", "phrase", "code"),
    [
        (lambda d: d.update(format="another-tool"), "Not a world archive", "unknown_format"),
        (lambda d: d.pop("format"), "Not a world archive", "unknown_format"),
        (lambda d: d.update(version=2), "version 2, newer than", "unsupported_version"),
        (
            lambda d: d.update(version="1"),
            "Unknown world archive version '1'",
            "unsupported_version",
        ),
        (lambda d: d.update(version=0), "Unknown world archive version 0", "unsupported_version"),
    ],
    ids=["other-format", "no-format", "newer-version", "version-as-text", "version-zero"],
)
def test_an_unknown_format_or_version_is_refused(api, archived, change, phrase, code):
    change(archived)
    body = refused(api, archive_dump(archived), 400, phrase)
    assert body["code"] == code


def _set(path: list[Any], value: Any):
    def change(document: dict) -> None:
        target = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "phrase"),
    [
        (_set(["characters"], {"not": "a list"}), "characters: must be a list, not an object"),
        (_set(["characters", 0, "openness"], "high"), "characters[0].openness: must be a number"),
        (_set(["characters", 0, "openness"], 1.5), "characters[0].openness:"),
        (_set(["characters", 0, "name"], 5), "characters[0].name: must be text"),
        (_set(["characters", 0, "name"], "x" * 81), "characters[0].name: is longer than 80"),
        (_set(["characters", 0, "status"], "flying"), "characters[0].status: 'flying' is not"),
        (_set(["characters", 0, "id"], "not-a-uuid"), "characters[0].id: 'not-a-uuid'"),
        (_set(["characters", 0, "created"], "yesterday"), "characters[0].created: 'yesterday'"),
        (_set(["characters", 0, "created"], "0001-01-01T00:00:00+14:00"), "is out of range"),
        (_set(["characters", 0, "bio"], "nul\x00byte"), "must not contain NUL characters"),
        (_set(["characters", 0, "greetings"], ["nul\u0000"]), "breaks a rule of the database"),
        (
            lambda d: d["relationships"].append(dict(d["relationships"][0])),
            "relationship_unique_pair",
        ),
        (_set(["relationships", 0, "interaction_count"], -1), "relationships[0].interaction_co"),
        (_set(["events", 0, "seq"], 10**30), "events[0].seq:"),
        (_set(["characters", 0, "greetings"], "hello"), "characters[0].greetings: must be a list"),
        (_set(["characters", 0, "energy"], True), "characters[0].energy: must be a number"),
        (_set(["ecosystem", "last_seq"], "9"), "ecosystem.last_seq: must be an integer"),
        (
            _set(["relationships", 0, "to_character"], "4c0d5a3e-0000-4000-8000-000000000000"),
            "relationships[0].to_character: names no character of this archive",
        ),
        (_set(["relationships", 0, "strength"], 3.0), "relationships[0].strength:"),
        (_set(["lore", 0, "chunks", 0, "embedding"], "%%%"), "embedding: is not valid base64"),
        (_set(["lore", 0, "chunks", 0, "embedding"], "AAAA"), "not 256 float32 values"),
        (_set(["lore", 0, "keys"], "fog"), "lore[0].keys: must be a list"),
        (_set(["memories", 0, "cited_ids"], [1, 2]), "memories[0].cited_ids: must be a list of"),
        (
            _set(["interactions", 0, "scenario"], "4c0d5a3e-0000-4000-8000-000000000000"),
            "names no scenario of this archive",
        ),
        (_set(["scenarios", 0, "tick_seconds"], 0.1), "breaks a rule of the database"),
        (_set(["events", 0, "seq"], -1), "events[0].seq"),
        (_set(["events", 1, "seq"], 1), "events[1].seq: must be a positive number, once per seq"),
        (_set(["events", 0, "payload"], "text"), "events[0].payload"),
    ],
)
def test_wrong_types_and_broken_references_are_refused_by_name(api, archived, change, phrase):
    change(archived)
    body = refused(api, archive_dump(archived), 400, phrase)
    assert body["code"] == "invalid_archive"


def test_a_character_twice_in_the_archive_is_refused(api, archived):
    archived["characters"].append(copy.deepcopy(archived["characters"][0]))
    refused(api, archive_dump(archived), 400, "appears twice")


def test_the_import_command_refuses_a_bad_archive_and_imports_nothing(user, archived, tmp_path):
    archived["version"] = 99
    path = tmp_path / "bad.world.json.gz"
    path.write_bytes(archive_dump(archived))
    before = world_rows()
    with pytest.raises(CommandError, match="newer than this installation reads"):
        call_command("import_ecosystem", str(path), "--owner", user.username)
    with pytest.raises(CommandError, match="No user 'nobody'"):
        call_command("import_ecosystem", str(path), "--owner", "nobody")
    with pytest.raises(CommandError, match="No file at"):
        call_command("import_ecosystem", str(tmp_path / "none.gz"), "--owner", user.username)
    with pytest.raises(CommandError, match="No ecosystem 'nope'"):
        call_command("export_ecosystem", "nope")
    assert world_rows() == before


def test_a_multipart_request_without_a_file_is_refused(api):
    response = api.post(IMPORT, {}, format="multipart")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("file:")
