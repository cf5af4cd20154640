"""SillyTavern World Info in and out: POST/GET /api/v1/ecosystem/{id}/lorebook, the pure
conversion (worlds/lorebooks.py) and manage.py import_lorebook."""

import copy
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from characters.models import Character
from lore.models import Document
from tests.factories import CharacterFactory, EcosystemFactory
from worlds.lorebooks import (
    LorebookError,
    character_book,
    entries_from_character_book,
    lorebook_from_json,
    world_info,
)

pytestmark = pytest.mark.django_db

HELD = ("uid", "key", "keysecondary", "content", "constant", "order", "disable", "comment")


def world(**extra_entries) -> dict:
    """A World Info file as SillyTavern writes it (with fields we do not hold)."""
    entries = {
        "0": {
            "uid": 0,
            "key": ["lighthouse", "beacon"],
            "keysecondary": [],
            "comment": "The lighthouse",
            "content": "The lighthouse has been dark for ten years.",
            "constant": False,
            "selective": True,
            "selectiveLogic": 0,
            "order": 100,
            "position": 0,
            "disable": False,
            "probability": 100,
            "useProbability": True,
            "depth": 4,
            "displayIndex": 0,
        },
        "3": {
            "uid": 3,
            "key": ["harbor"],
            "keysecondary": ["storm"],
            "comment": "Harbor in storms",
            "content": "In a storm the harbor chain is raised.",
            "constant": False,
            "order": 50,
            "disable": True,
            "position": 1,
        },
        "7": {
            "uid": 7,
            "key": [],
            "keysecondary": [],
            "comment": "Always",
            "content": "Salt is traded for news.",
            "constant": True,
            "order": 900,
            "disable": False,
        },
        **extra_entries,
    }
    return {"entries": entries}


def url(ecosystem) -> str:
    return f"/api/v1/ecosystem/{ecosystem.pk}/lorebook"


def post_file(api, ecosystem, data: bytes, name="world.json", **fields):
    return api.post(
        url(ecosystem), {"file": SimpleUploadedFile(name, data), **fields}, format="multipart"
    )


def post_json(api, ecosystem, body, query=""):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return api.generic("POST", url(ecosystem) + query, raw, content_type="application/json")


def assert_refused(response, status: int, code: str, words: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert words.lower() in body["detail"].lower(), body


def held(entries: dict) -> dict:
    return {uid: {name: entry.get(name) for name in HELD} for uid, entry in entries.items()}


# --- import ----------------------------------------------------------------------------------


def test_world_info_file_becomes_the_ecosystems_keyed_lore(api, ecosystem):
    response = post_file(api, ecosystem, json.dumps(world()).encode())
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["shape"], body["character"], body["imported"], body["skipped"]) == (
        "world_info",
        None,
        3,
        [],
    )
    documents = list(Document.objects.filter(ecosystem=ecosystem).order_by("pk"))
    assert [d.pk for d in documents] == body["document_ids"]
    assert [
        (d.title, d.content, d.keys, d.secondary_keys, d.constant, d.order, d.enabled)
        for d in documents
    ] == [
        (
            "The lighthouse",
            "The lighthouse has been dark for ten years.",
            ["lighthouse", "beacon"],
            [],
            False,
            100,
            True,
        ),
        (
            "Harbor in storms",
            "In a storm the harbor chain is raised.",
            ["harbor"],
            ["storm"],
            False,
            50,
            False,
        ),
        ("Always", "Salt is traded for news.", [], [], True, 900, True),
    ]
    assert all(not d.characters.exists() for d in documents)


def test_world_info_round_trips_field_by_field(api, ecosystem):
    original = world()
    assert post_file(api, ecosystem, json.dumps(original).encode()).status_code == 201
    response = api.get(url(ecosystem))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    exported = response.json()
    assert held(exported["entries"]) == held(original["entries"])
    # And through a second ecosystem: the same again.
    elsewhere = EcosystemFactory(owner=ecosystem.owner)
    assert post_json(api, elsewhere, exported).status_code == 201
    assert held(api.get(url(elsewhere)).json()["entries"]) == held(original["entries"])


def test_json_body_with_a_character_ties_the_entries_to_it(api, ecosystem):
    character = CharacterFactory(ecosystem=ecosystem)
    response = post_json(api, ecosystem, world(), f"?character={character.pk}")
    assert response.status_code == 201, response.content
    assert response.json()["character"] == str(character.pk)
    tied = Document.objects.filter(characters=character)
    assert tied.count() == 3
    # The ecosystem's own book is empty; the character's has the three.
    assert api.get(url(ecosystem)).json() == {"entries": {}}
    mine = api.get(url(ecosystem) + f"?character={character.pk}").json()
    assert held(mine["entries"]) == held(world()["entries"])


def test_multipart_character_field_ties_the_entries(api, ecosystem):
    character = CharacterFactory(ecosystem=ecosystem)
    response = post_file(api, ecosystem, json.dumps(world()).encode(), character=str(character.pk))
    assert response.status_code == 201, response.content
    assert Document.objects.filter(characters=character).count() == 3


def test_a_bare_character_book_is_read_too(api, ecosystem):
    book = {
        "name": "Book",
        "entries": [
            {"keys": ["moon"], "content": "Two moons.", "insertion_order": 4, "enabled": True},
            {"keys": ["sun"], "content": "", "insertion_order": 5, "enabled": True},
        ],
    }
    response = post_json(api, ecosystem, book)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["shape"], body["imported"]) == ("character_book", 1)
    assert body["skipped"] == [{"entry": 1, "reason": "blank content"}]
    assert list(Document.objects.filter(ecosystem=ecosystem).values_list("keys", "order")) == [
        (["moon"], 4)
    ]


def test_entries_with_blank_content_are_skipped_and_named(api, ecosystem):
    file = world(**{"9": {"uid": 9, "key": ["x"], "content": "  ", "order": 1}})
    body = post_json(api, ecosystem, file).json()
    assert body["imported"] == 3
    assert body["skipped"] == [{"entry": 9, "reason": "blank content"}]


# --- bad input --------------------------------------------------------------------------------


def broken(path: str, value) -> dict:
    file = world()
    entry = file["entries"]["0"]
    entry[path] = value
    return file


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        (b"{not json", "invalid_json", "not valid json"),
        (b"", "empty_file", "empty"),
        (b"[1, 2]", "not_a_lorebook", "json object"),
        (json.dumps({"name": "x"}).encode(), "not_a_lorebook", "character card"),
        (json.dumps({"something": 1}).encode(), "not_a_lorebook", "no 'entries'"),
        (json.dumps({"entries": 5}).encode(), "invalid_field", "'entries' must be"),
        (json.dumps({"spec": "chara_card_v2", "data": {}}).encode(), "not_a_lorebook", "card"),
        (json.dumps(broken("key", "lighthouse")).encode(), "invalid_field", "entries[0].key"),
        (json.dumps(broken("content", 5)).encode(), "invalid_field", "entries[0].content"),
        (json.dumps(broken("constant", "yes")).encode(), "invalid_field", "entries[0].constant"),
        (json.dumps(broken("order", "high")).encode(), "invalid_field", "entries[0].order"),
        (json.dumps(broken("disable", 1)).encode(), "invalid_field", "entries[0].disable"),
        (json.dumps(broken("uid", 3)).encode(), "invalid_field", "two entries have the uid 3"),
        (b"[" * 200 + b"]" * 200, "json_too_deep", "nested too deeply"),
    ],
    ids=[
        "not-json",
        "empty",
        "array",
        "a-card-v1",
        "no-entries",
        "entries-type",
        "a-card-v2",
        "key-type",
        "content-type",
        "constant-type",
        "order-type",
        "disable-type",
        "duplicate-uid",
        "too-deep",
    ],
)
def test_bad_lorebooks_get_a_400_naming_the_problem(api, ecosystem, body, code, words):
    assert_refused(post_json(api, ecosystem, body), 400, code, words)
    assert_refused(post_file(api, ecosystem, body), 400, code, words)
    assert not Document.objects.filter(ecosystem=ecosystem).exists()


def test_over_the_size_limit_is_413(api, ecosystem, settings):
    settings.LORE_MAX_DOCUMENT_BYTES = 200
    data = json.dumps(world()).encode()
    assert len(data) > 200
    assert_refused(post_file(api, ecosystem, data), 413, "lorebook_too_large", "200")
    assert_refused(post_json(api, ecosystem, data), 413, "lorebook_too_large", "200")
    assert not Document.objects.filter(ecosystem=ecosystem).exists()


def test_an_entry_the_lore_refuses_leaves_nothing_imported(api, ecosystem):
    file = world(**{"8": {"uid": 8, "key": ["bad"], "content": "\x01\x02\x03\x04\x05\x06"}})
    response = post_json(api, ecosystem, file)
    assert_refused(response, 400, "invalid_unicode", "entry (uid 8)")
    assert not Document.objects.filter(ecosystem=ecosystem).exists()


def test_missing_file_is_a_400(api, ecosystem):
    response = api.post(url(ecosystem), {}, format="multipart")
    assert_refused(response, 400, "invalid", "file")


def test_another_users_ecosystem_is_404_both_ways(other_api, ecosystem):
    assert post_json(other_api, ecosystem, world()).status_code == 404
    assert post_file(other_api, ecosystem, json.dumps(world()).encode()).status_code == 404
    assert other_api.get(url(ecosystem)).status_code == 404
    assert not Document.objects.filter(ecosystem=ecosystem).exists()


def test_another_users_character_is_404(api, ecosystem, other_user):
    theirs = CharacterFactory(ecosystem=EcosystemFactory(owner=other_user))
    assert post_json(api, ecosystem, world(), f"?character={theirs.pk}").status_code == 404
    assert api.get(url(ecosystem) + f"?character={theirs.pk}").status_code == 404
    # One of my own characters, but of another ecosystem: not in this one.
    mine_elsewhere = CharacterFactory(ecosystem=EcosystemFactory(owner=ecosystem.owner))
    assert post_json(api, ecosystem, world(), f"?character={mine_elsewhere.pk}").status_code == 404
    assert not Document.objects.filter(ecosystem=ecosystem).exists()


def test_a_malformed_character_id_is_400(api, ecosystem):
    response = api.get(url(ecosystem) + "?character=nope")
    assert response.status_code == 400
    assert "character" in response.json()["errors"]


def test_anonymous_is_401(anonymous, ecosystem):
    assert anonymous.get(url(ecosystem)).status_code == 401


# --- the pure conversion -----------------------------------------------------------------------


def test_world_info_keeps_unknown_fields_on_read_and_writes_them_back():
    book = lorebook_from_json(world())
    lighthouse = book.entries[0]
    assert lighthouse.extra["depth"] == 4 and lighthouse.extra["position"] == 0
    out = world_info(book.entries)
    assert held(out["entries"]) == held(world()["entries"])
    assert out["entries"]["3"]["position"] == 1  # an unknown field, kept in memory


def test_entries_given_as_a_list_and_uids_as_strings_are_read():
    file = {
        "entries": [{"uid": "4", "key": ["a"], "content": "A."}, {"key": ["b"], "content": "B."}]
    }
    book = lorebook_from_json(file)
    assert [(e.number, e.keys) for e in book.entries] == [(4, ["a"]), (1, ["b"])]


def test_an_entry_without_a_comment_is_titled_by_its_first_key():
    book = lorebook_from_json({"entries": {"1": {"key": ["tide"], "content": "Tides."}}})
    assert book.entries[0].title == "tide"


def test_world_info_gives_new_entries_free_uids():
    book = lorebook_from_json(world())
    for entry in book.entries[1:]:
        entry.number = None
    uids = sorted(int(uid) for uid in world_info(book.entries)["entries"])
    assert uids == [0, 1, 2]


def test_character_book_round_trips_through_entries():
    stored = {
        "name": "B",
        "scan_depth": 3,
        "extensions": {"x": 1},
        "entries": [
            {
                "keys": ["a"],
                "content": "A.",
                "insertion_order": 1,
                "enabled": True,
                "extensions": {"k": 2},
                "id": 11,
                "position": "after_char",
                "name": "Alpha",
            },
            {"keys": ["b"], "content": "", "insertion_order": 2, "enabled": True, "extensions": {}},
            {
                "keys": ["c"],
                "secondary_keys": ["d"],
                "content": "C.",
                "insertion_order": 3,
                "enabled": False,
                "constant": True,
                "extensions": {},
                "comment": "Gamma",
            },
        ],
    }
    parsed = entries_from_character_book(copy.deepcopy(stored))
    assert [e.title for e in parsed.entries] == ["Alpha", "Gamma"]
    assert parsed.skipped == [{"entry": 1, "reason": "blank content"}]
    rebuilt = character_book(parsed.entries, stored)
    expected = copy.deepcopy(stored)
    expected["entries"][2]["constant"] = True
    for entry in expected["entries"]:
        entry.setdefault("secondary_keys", [])
        entry.setdefault("constant", False)
    expected["entries"][1].pop("secondary_keys")
    expected["entries"][1].pop("constant")
    assert rebuilt == expected


def test_wrong_types_in_a_character_book_name_the_entry():
    with pytest.raises(LorebookError, match=r"entries\[0\]\.keys"):
        entries_from_character_book({"entries": [{"keys": "a", "content": "A."}]})


# --- manage.py import_lorebook -----------------------------------------------------------------


def test_import_lorebook_command_imports_each_file_with_a_progress_bar(ecosystem, tmp_path, capsys):
    character = CharacterFactory(ecosystem=ecosystem)
    (tmp_path / "good.json").write_text(json.dumps(world()))
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(CommandError, match="2 file"):
        call_command(
            "import_lorebook",
            str(ecosystem.pk),
            str(tmp_path / "good.json"),
            str(tmp_path / "bad.json"),
            str(tmp_path / "missing.json"),
            character=str(character.pk),
        )
    out, err = capsys.readouterr()
    assert "ok   " in out and "good.json: 3 entries" in out
    assert "FAIL" in out and "bad.json" in out and "invalid_json" in out
    assert "missing.json: no such file" in out
    assert "1 file(s) imported (3 entries" in out and "2 refused" in out
    assert "import good.json [" in err and "3/3" in err  # the progress bar
    assert Document.objects.filter(characters=character).count() == 3
    assert Document.objects.get(title="Always").source_name == "lorebook:good#7"


def test_import_lorebook_needs_an_existing_ecosystem_and_its_character(ecosystem, tmp_path):
    with pytest.raises(CommandError, match="No ecosystem"):
        call_command("import_lorebook", "nope", str(tmp_path / "x.json"))
    stranger = CharacterFactory(ecosystem=EcosystemFactory())
    with pytest.raises(CommandError, match="No character"):
        call_command(
            "import_lorebook",
            str(ecosystem.pk),
            str(tmp_path / "x.json"),
            character=str(stranger.pk),
        )
    assert not Character.objects.filter(pk=stranger.pk, ecosystem=ecosystem).exists()


@pytest.mark.parametrize("uid", ["²", "x", 10**12, 1.5, True])
def test_a_uid_that_is_not_a_whole_number_is_refused(uid):
    with pytest.raises(LorebookError, match=r"entries\[a\]\.uid"):
        lorebook_from_json({"entries": {"a": {"uid": uid, "key": ["k"], "content": "C."}}})
