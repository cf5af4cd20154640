"""Importing Character Cards through POST /api/v1/ecosystem/{id}/characters/import."""

import io
import json
import zipfile
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from characters.models import Character, CharacterCard
from lore.models import Document
from tests.characters import cardkit

pytestmark = pytest.mark.django_db


def upload(api, ecosystem, data: bytes, name: str = "card.png", query: str = "", **fields):
    return api.post(
        f"/api/v1/ecosystem/{ecosystem.pk}/characters/import{query}",
        {"file": SimpleUploadedFile(name, data), **fields},
        format="multipart",
    )


def imported(response) -> Character:
    assert response.status_code == 201, response.json()
    return Character.objects.get(pk=response.json()["id"])


def test_v2_json_card_becomes_a_character_with_its_fields(api, ecosystem):
    response = upload(api, ecosystem, json.dumps(cardkit.v2()).encode(), "sera.json")
    character = imported(response)
    body = response.json()
    assert body["name"] == character.name == "Seraphina"
    assert character.ecosystem == ecosystem
    assert character.bio == (
        "A forest guardian.\n\nkind, warm, talkative and curious; never anxious\n\n"
        "You wake in her glade."
    )
    assert body["greetings"] == ["*She smiles.* You're awake.", "Hello, traveller.", "Rest now."]
    assert character.voice_examples.startswith("<START>")
    card = CharacterCard.objects.get(character=character)
    assert (card.spec, card.container) == ("chara_card_v2", "json")
    assert card.data["tags"] == ["fantasy", "guardian"]
    assert card.data["creator"] == "tester"
    assert card.data["character_version"] == "1.2"
    assert card.data["creator_notes"] == "For gentle stories."
    assert card.data["extensions"]["depth_prompt"] == {"depth": 4, "prompt": "x"}
    entries = card.data["character_book"]["entries"]
    assert [
        (e["keys"], e["secondary_keys"], e["constant"], e["insertion_order"], e["enabled"])
        for e in entries
    ] == [
        (["glade"], ["forest"], False, 10, True),
        (["amulet"], [], True, 20, False),
    ]
    assert card.avatar is None


def test_personality_text_is_scored_into_big_five(api, ecosystem):
    character = imported(upload(api, ecosystem, json.dumps(cardkit.v2()).encode(), "c.json"))
    # kind, warm -> agreeable; talkative -> extraverted; curious -> open;
    # "never anxious" -> emotionally stable (low neuroticism); nothing on conscientiousness.
    assert character.agreeableness > 0.75
    assert character.extraversion == 0.75
    assert character.openness == 0.75
    assert character.neuroticism == 0.25
    assert character.conscientiousness == 0.5


def test_v1_card_reads_its_root_fields(api, ecosystem):
    character = imported(upload(api, ecosystem, json.dumps(cardkit.V1).encode(), "tom.json"))
    assert character.name == "Old Tom"
    assert character.greetings == ["Need a crossing?"]
    assert character.extraversion < 0.5  # quiet, reserved
    assert character.conscientiousness > 0.5  # careful
    assert CharacterCard.objects.get(character=character).spec == "chara_card_v1"


def test_legacy_root_fields_fill_what_data_lacks_and_data_wins(api, ecosystem):
    card = cardkit.v2(name="From data")
    del card["data"]["scenario"]
    card.update({"name": "From root", "scenario": "Root scenario.", "unknown_root": 7})
    character = imported(upload(api, ecosystem, json.dumps(card).encode(), "c.json"))
    assert character.name == "From data"
    assert character.bio.endswith("Root scenario.")
    assert CharacterCard.objects.get(character=character).data["unknown_root"] == 7


def test_png_with_chara_chunk_keeps_the_image_as_avatar(api, ecosystem):
    image = cardkit.tiny_png((10, 200, 10))
    data = cardkit.png_with({"chara": cardkit.b64(cardkit.v2())}, image)
    character = imported(upload(api, ecosystem, data))
    card = CharacterCard.objects.get(character=character)
    assert (card.spec, card.container, card.avatar_type) == ("chara_card_v2", "png", "image/png")
    assert bytes(card.avatar) == image  # the card chunk is not kept in the avatar
    avatar = api.get(f"/api/v1/characters/{character.pk}/avatar")
    assert avatar.status_code == 200
    assert avatar["Content-Type"] == "image/png"
    assert avatar.content == image


def test_png_with_ccv3_chunk_reads_v3(api, ecosystem):
    data = cardkit.png_with({"ccv3": cardkit.b64(cardkit.v3(name="Vee"))})
    character = imported(upload(api, ecosystem, data))
    assert character.name == "Vee"
    assert CharacterCard.objects.get(character=character).data["nickname"] == "Sera"


def test_png_with_both_chunks_prefers_ccv3(api, ecosystem):
    data = cardkit.png_with(
        {
            "chara": cardkit.b64(cardkit.v2(name="Two")),
            "ccv3": cardkit.b64(cardkit.v3(name="Three")),
        }
    )
    character = imported(upload(api, ecosystem, data))
    assert character.name == "Three"
    assert CharacterCard.objects.get(character=character).spec == "chara_card_v3"


def test_apng_card_is_read(api, ecosystem):
    image = cardkit.tiny_png()
    actl = cardkit.png_chunk(b"acTL", b"\x00\x00\x00\x01\x00\x00\x00\x00")
    apng = image[:33] + actl + image[33:]  # after the signature and IHDR
    character = imported(
        upload(api, ecosystem, cardkit.png_with({"chara": cardkit.b64(cardkit.v2())}, apng))
    )
    assert b"acTL" in bytes(CharacterCard.objects.get(character=character).avatar)


def test_charx_card_with_its_icon(api, ecosystem):
    icon = cardkit.tiny_png((1, 2, 3))
    card = cardkit.v3(
        name="Zip",
        assets=[
            {
                "type": "icon",
                "uri": "embeded://assets/icon/images/main.png",
                "name": "main",
                "ext": "png",
            }
        ],
    )
    data = cardkit.charx(card, {"assets/icon/images/main.png": icon})
    character = imported(upload(api, ecosystem, data, "zip.charx"))
    stored = CharacterCard.objects.get(character=character)
    assert (stored.container, bytes(stored.avatar)) == ("charx", icon)


def test_our_extension_figures_are_used_as_they_are(api, ecosystem):
    ours = {
        "big_five": {
            "openness": 0.11,
            "conscientiousness": 0.22,
            "extraversion": 0.33,
            "agreeableness": 0.44,
            "neuroticism": 0.55,
        },
        "pad_baseline": {"pleasure": -0.2, "arousal": 0.3, "dominance": 0.1},
        "energy": 0.66,
    }
    card = cardkit.v3(extensions={"character_ecosystem": ours})
    character = imported(upload(api, ecosystem, json.dumps(card).encode(), "c.json"))
    assert [
        character.openness,
        character.conscientiousness,
        character.extraversion,
        character.agreeableness,
        character.neuroticism,
    ] == [0.11, 0.22, 0.33, 0.44, 0.55]
    assert (character.pleasure, character.arousal, character.dominance) == (-0.2, 0.3, 0.1)
    assert character.energy == 0.66


def test_preview_shows_scores_and_saves_nothing(api, ecosystem):
    response = upload(api, ecosystem, json.dumps(cardkit.v2()).encode(), "c.json", "?preview=1")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Seraphina"
    assert body["big_five_source"] == "lexicon"
    assert body["big_five"]["extraversion"] == 0.75
    assert "+talkative" in body["big_five_evidence"]["extraversion"]
    assert "-not anxious" in body["big_five_evidence"]["neuroticism"]
    assert len(body["lore_entries"]) == 2
    assert not Character.objects.filter(ecosystem=ecosystem).exists()


def test_author_adjusted_big_five_is_saved(api, ecosystem):
    response = upload(
        api,
        ecosystem,
        json.dumps(cardkit.v2()).encode(),
        "c.json",
        openness="0.05",
        neuroticism="0.9",
    )
    character = imported(response)
    assert (character.openness, character.neuroticism) == (0.05, 0.9)
    assert character.extraversion == 0.75  # not adjusted: the lexicon's


def test_html_is_stored_as_text_and_shown_escaped(api, ecosystem, client, user):
    card = cardkit.v2(name="<script>alert(1)</script>", description="<img src=x onerror=alert(2)>")
    character = imported(upload(api, ecosystem, json.dumps(card).encode(), "c.json"))
    assert character.name == "<script>alert(1)</script>"
    assert character.bio.startswith("<img src=x onerror=alert(2)>")
    client.force_login(user)
    page = client.get(f"/characters/{character.pk}/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page


# --- bad input ---------------------------------------------------------------------------


def assert_refused(response, status: int, code: str, words: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert words.lower() in body["detail"].lower(), body


@pytest.mark.parametrize(
    ("data", "name", "code", "words"),
    [
        (cardkit.tiny_png(), "p.png", "png_without_card", "no character card"),
        (
            cardkit.png_with({"chara": cardkit.b64(cardkit.v2())})[:60],
            "p.png",
            "truncated_png",
            "truncated",
        ),
        (cardkit.png_with({"chara": b"%%%not base64%%%"}), "p.png", "invalid_base64", "base64"),
        (
            json.dumps({"spec": "chara_card_v9", "data": {}}).encode(),
            "c.json",
            "unsupported_spec",
            "chara_card_v9",
        ),
        (
            json.dumps({"entries": {"0": {"key": ["a"]}}}).encode(),
            "w.json",
            "not_a_card",
            "lorebook",
        ),
        (
            json.dumps(cardkit.v2(name=42)).encode(),
            "c.json",
            "invalid_field",
            "data.name must be a string",
        ),
        (
            json.dumps(cardkit.v2(alternate_greetings="hi")).encode(),
            "c.json",
            "invalid_field",
            "alternate_greetings",
        ),
        (json.dumps(cardkit.v2(tags=[1, 2])).encode(), "c.json", "invalid_field", "tags"),
        (b"{not json", "c.json", "invalid_json", "not valid json"),
        (b"GIF89a....", "c.gif", "unsupported_format", "expected json, png or charx"),
        (cardkit.charx(cardkit.v3(), {"../evil.txt": b"x"}), "c.charx", "unsafe_path", ".."),
        (cardkit.charx(cardkit.v3())[:0] + b"PK\x03\x04garbage", "c.charx", "invalid_zip", "zip"),
    ],
    ids=[
        "png-no-card",
        "truncated-png",
        "bad-base64",
        "other-spec",
        "lorebook",
        "name-type",
        "greetings-type",
        "tags-type",
        "bad-json",
        "gif",
        "charx-dotdot",
        "bad-zip",
    ],
)
def test_bad_cards_get_a_400_naming_the_problem(api, ecosystem, data, name, code, words):
    assert_refused(upload(api, ecosystem, data, name), 400, code, words)
    assert not Character.objects.filter(ecosystem=ecosystem).exists()


def test_zip_bomb_is_stopped_at_the_uncompressed_limit(api, ecosystem):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("card.json", json.dumps(cardkit.v3()))
        archive.writestr("assets/other/bomb.bin", b"\x00" * (40 * 1024 * 1024))
    data = buffer.getvalue()
    assert len(data) < 100 * 1024
    assert_refused(upload(api, ecosystem, data, "bomb.charx"), 413, "zip_too_large", "inflate")
    assert not Character.objects.filter(ecosystem=ecosystem).exists()


def test_file_over_the_documented_limit_is_413(api, ecosystem, settings):
    settings.CARD_IMPORT_MAX_BYTES = 1000
    data = json.dumps(cardkit.v2(description="x" * 5000)).encode()
    assert_refused(upload(api, ecosystem, data, "big.json"), 413, "card_too_large", "1000")


def test_missing_file_is_a_400(api, ecosystem):
    response = api.post(
        f"/api/v1/ecosystem/{ecosystem.pk}/characters/import", {}, format="multipart"
    )
    assert_refused(response, 400, "invalid", "file")


def test_nothing_is_half_imported(api, ecosystem):
    # The character row is written before the card row: a failing card write (forced here)
    # must take the character with it.
    card = cardkit.v2()
    with (
        mock.patch(
            "characters.services.CharacterCard.objects.create",
            side_effect=RuntimeError("disk full"),
        ),
        pytest.raises(RuntimeError),
    ):
        upload(api, ecosystem, json.dumps(card).encode(), "c.json")
    assert not Character.objects.filter(ecosystem=ecosystem).exists()


def test_another_users_ecosystem_is_404(other_api, ecosystem):
    response = upload(other_api, ecosystem, json.dumps(cardkit.v2()).encode(), "c.json")
    assert response.status_code == 404
    assert not Character.objects.filter(ecosystem=ecosystem).exists()


# --- the card's book becomes the character's keyed lore ------------------------------------


def lore_of(character) -> list[Document]:
    return list(Document.objects.filter(characters=character).order_by("pk"))


def test_the_cards_book_becomes_the_characters_keyed_lore(api, ecosystem):
    character = imported(upload(api, ecosystem, json.dumps(cardkit.v2()).encode(), "c.json"))
    documents = lore_of(character)
    assert [
        (d.title, d.content, d.keys, d.secondary_keys, d.constant, d.order, d.enabled)
        for d in documents
    ] == [
        ("glade", "The glade is hidden.", ["glade"], ["forest"], False, 10, True),
        ("amulet", "Her amulet glows.", ["amulet"], [], True, 20, False),
    ]
    for document in documents:
        assert document.ecosystem == ecosystem
        assert [c.pk for c in document.characters.all()] == [character.pk]
    # Through the lore API, as the author sees it.
    listed = api.get(f"/api/v1/ecosystem/{ecosystem.pk}/documents").json()["results"]
    assert {d["title"] for d in listed} == {"glade", "amulet"}
    assert all(d["characters"] == [str(character.pk)] for d in listed)


def test_a_named_entry_keeps_its_name_and_a_blank_one_is_not_lore(api, ecosystem):
    card = cardkit.v3()
    card["data"]["character_book"]["entries"] = [
        {
            "keys": ["tower"],
            "content": "The tower leans.",
            "name": "The old tower",
            "enabled": True,
            "insertion_order": 5,
            "extensions": {},
            "id": 7,
        },
        {
            "keys": ["empty"],
            "content": "   ",
            "enabled": True,
            "insertion_order": 6,
            "extensions": {},
        },
    ]
    character = imported(upload(api, ecosystem, json.dumps(card).encode(), "c.json"))
    assert [(d.title, d.keys, d.order) for d in lore_of(character)] == [
        ("The old tower", ["tower"], 5)
    ]


def test_a_book_entry_the_lore_refuses_takes_the_whole_card_with_it(api, ecosystem):
    card = cardkit.v2()
    card["data"]["character_book"]["entries"][1]["content"] = "\x01\x02\x03\x04\x05\x06"
    response = upload(api, ecosystem, json.dumps(card).encode(), "c.json")
    assert_refused(response, 400, "invalid_unicode", "character_book entry (index 1)")
    assert not Character.objects.filter(ecosystem=ecosystem).exists()
    assert not Document.objects.filter(ecosystem=ecosystem).exists()


def test_a_book_entry_over_the_lore_limit_is_413_and_nothing_is_kept(api, ecosystem, settings):
    settings.LORE_MAX_DOCUMENT_BYTES = 12
    response = upload(api, ecosystem, json.dumps(cardkit.v2()).encode(), "c.json")
    assert_refused(response, 413, "document_too_large", "character_book entry (index 0)")
    assert not Character.objects.filter(ecosystem=ecosystem).exists()
    assert not Document.objects.filter(ecosystem=ecosystem).exists()
