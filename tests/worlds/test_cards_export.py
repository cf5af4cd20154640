"""Exporting characters as Character Cards (V3 JSON; PNG with ccv3 + chara) and round trips:
card -> character -> card -> character gives back the same character, field by field."""

import json
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from characters.models import Character, CharacterCard
from characters.services import character_create
from lore.models import Document
from lore.services import document_create, document_delete, document_update
from tests.characters import cardkit
from tests.factories import EcosystemFactory

pytestmark = pytest.mark.django_db

CHARACTER_FIELDS = (
    "name",
    "bio",
    "greetings",
    "voice_examples",
    "openness",
    "conscientiousness",
    "extraversion",
    "agreeableness",
    "neuroticism",
    "pleasure",
    "arousal",
    "dominance",
    "emotion",
    "energy",
)
KEPT_CARD_FIELDS = (
    "description",
    "personality",
    "scenario",
    "tags",
    "creator",
    "character_version",
    "creator_notes",
    "character_book",
    "system_prompt",
    "post_history_instructions",
)


def import_file(api, ecosystem, data: bytes, name: str) -> Character:
    response = api.post(
        f"/api/v1/ecosystem/{ecosystem.pk}/characters/import",
        {"file": SimpleUploadedFile(name, data)},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    return Character.objects.get(pk=response.json()["id"])


LORE_FIELDS = ("title", "content", "keys", "secondary_keys", "constant", "order", "enabled")


def lore_fields(character: Character) -> list[tuple]:
    return [
        tuple(getattr(document, field) for field in LORE_FIELDS)
        for document in Document.objects.filter(characters=character).order_by("pk")
    ]


def assert_same_character(first: Character, second: Character) -> None:
    for field in CHARACTER_FIELDS:
        assert getattr(second, field) == getattr(first, field), field


def test_card_json_is_a_v3_card_with_our_figures(api, ecosystem):
    character = character_create(
        ecosystem=ecosystem,
        name="Mira",
        bio="A painter <b>bold</b>.",
        openness=0.9,
        conscientiousness=0.4,
        extraversion=0.7,
        agreeableness=0.6,
        neuroticism=0.3,
        energy=0.8,
        greetings=["Hello!"],
    )
    response = api.get(f"/api/v1/characters/{character.pk}/card.json")
    assert response.status_code == 200
    card = response.json()
    assert (card["spec"], card["spec_version"]) == ("chara_card_v3", "3.0")
    data = card["data"]
    assert data["name"] == "Mira"
    assert data["description"] == "A painter <b>bold</b>."
    assert data["first_mes"] == "Hello!"
    assert data["alternate_greetings"] == []
    ours = data["extensions"]["character_ecosystem"]
    assert ours["big_five"] == {
        "openness": 0.9,
        "conscientiousness": 0.4,
        "extraversion": 0.7,
        "agreeableness": 0.6,
        "neuroticism": 0.3,
    }
    assert ours["energy"] == 0.8
    assert ours["pad_baseline"] == {
        "pleasure": character.pleasure,
        "arousal": character.arousal,
        "dominance": character.dominance,
    }


def test_card_png_carries_both_chunks_and_the_avatar(api, ecosystem):
    image = cardkit.tiny_png((5, 6, 7))
    original = import_file(
        api, ecosystem, cardkit.png_with({"chara": cardkit.b64(cardkit.v2())}, image), "s.png"
    )
    response = api.get(f"/api/v1/characters/{original.pk}/card.png")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    chunks = cardkit.text_chunks(response.content)
    v3 = cardkit.decode_chunk(chunks["ccv3"])
    v2 = cardkit.decode_chunk(chunks["chara"])
    assert (v3["spec"], v2["spec"]) == ("chara_card_v3", "chara_card_v2")
    assert v3["data"]["name"] == v2["data"]["name"] == "Seraphina"
    assert "group_only_greetings" in v3["data"] and "group_only_greetings" not in v2["data"]
    # The image is the avatar: its header and pixel chunks, unchanged.
    assert response.content.startswith(image[:-12])


def test_card_png_without_avatar_is_a_generated_portrait(api, ecosystem):
    character = character_create(ecosystem=ecosystem, name="Plain")
    response = api.get(f"/api/v1/characters/{character.pk}/card.png")
    assert response.status_code == 200
    body = response.content
    assert body.startswith(cardkit.PNG_SIGNATURE)
    width, height = struct.unpack(">II", body[16:24])
    assert (width, height) == (64, 64)
    assert cardkit.decode_chunk(cardkit.text_chunks(body)["ccv3"])["data"]["name"] == "Plain"
    # The pixels decode: 64 rows of a filter byte and 64 RGB triples.
    offset, idat = 8, b""
    while offset < len(body):
        (length,) = struct.unpack(">I", body[offset : offset + 4])
        if body[offset + 4 : offset + 8] == b"IDAT":
            idat += body[offset + 8 : offset + 8 + length]
        offset += 12 + length
    pixels = zlib.decompress(idat)
    assert len(pixels) == 64 * (1 + 64 * 3)
    assert len({pixels[i : i + 3] for i in range(1, 64 * 3, 3)}) == 1  # top row: background
    assert len(set(pixels)) > 2  # a figure on it


@pytest.mark.parametrize("container", ["png", "json"])
def test_imported_card_round_trips_field_by_field(api, ecosystem, container):
    image = cardkit.tiny_png((9, 99, 199))
    first = import_file(
        api, ecosystem, cardkit.png_with({"ccv3": cardkit.b64(cardkit.v3())}, image), "a.png"
    )
    exported = api.get(f"/api/v1/characters/{first.pk}/card.{container}")
    assert exported.status_code == 200
    elsewhere = EcosystemFactory(owner=ecosystem.owner)
    second = import_file(api, elsewhere, exported.content, f"b.{container}")

    assert_same_character(first, second)
    first_card = CharacterCard.objects.get(character=first)
    second_card = CharacterCard.objects.get(character=second)
    for field in KEPT_CARD_FIELDS:
        assert second_card.data[field] == first_card.data[field], field
    assert second_card.data["extensions"]["depth_prompt"] == {"depth": 4, "prompt": "x"}
    if container == "png":
        assert bytes(second_card.avatar) == bytes(first_card.avatar) == image
    # The book came in as lore and went out again: the same entries, field by field.
    assert lore_fields(second) == lore_fields(first) and len(lore_fields(first)) == 2
    # And once more: the second export equals the first.
    again = api.get(f"/api/v1/characters/{second.pk}/card.json").json()
    assert again == api.get(f"/api/v1/characters/{first.pk}/card.json").json()


def test_character_made_here_round_trips_with_its_numbers(api, ecosystem):
    first = character_create(
        ecosystem=ecosystem,
        name="Odd",
        bio="Quiet but kind.",
        openness=0.123,
        conscientiousness=0.9,
        extraversion=0.05,
        agreeableness=0.77,
        neuroticism=0.61,
        pleasure=-0.4,
        arousal=0.2,
        dominance=-0.1,
        energy=0.42,
        greetings=["Oh. Hi.", "Again?"],
        voice_examples="{{char}}: ...fine.",
    )
    exported = api.get(f"/api/v1/characters/{first.pk}/card.png")
    second = import_file(api, EcosystemFactory(owner=ecosystem.owner), exported.content, "o.png")
    assert_same_character(first, second)


def test_another_users_character_cannot_be_exported(other_api, ecosystem):
    character = character_create(ecosystem=ecosystem, name="Mine")
    for path in ("card.json", "card.png", "avatar"):
        assert other_api.get(f"/api/v1/characters/{character.pk}/{path}").status_code == 404


def test_exported_json_is_valid_for_v2_readers_too(api, ecosystem):
    character = character_create(ecosystem=ecosystem, name="Both")
    png = api.get(f"/api/v1/characters/{character.pk}/card.png").content
    v2 = cardkit.decode_chunk(cardkit.text_chunks(png)["chara"])
    for field in ("name", "description", "personality", "scenario", "first_mes", "mes_example"):
        assert isinstance(v2["data"][field], str)
    for field in ("alternate_greetings", "tags"):
        assert isinstance(v2["data"][field], list)
    assert json.loads(json.dumps(v2)) == v2


def test_export_writes_the_characters_current_lore_as_its_book(api, ecosystem):
    character = import_file(api, ecosystem, json.dumps(cardkit.v3()).encode(), "s.json")
    glade, amulet = Document.objects.filter(characters=character).order_by("pk")
    document_update(document=glade, content="The glade moved north.", keys=["glade", "clearing"])
    document_delete(document=amulet)
    document_create(
        ecosystem=ecosystem,
        title="Wolves",
        content="Wolves guard the glade at night.",
        keys=["wolf"],
        order=30,
        character_ids=[character.pk],
    )
    # Plain lore and another character's entries are not this character's book.
    document_create(ecosystem=ecosystem, title="Weather", content="It rains often.")
    other = character_create(ecosystem=ecosystem, name="Other")
    document_create(
        ecosystem=ecosystem,
        title="Theirs",
        content="Not hers.",
        keys=["x"],
        character_ids=[other.pk],
    )

    book = api.get(f"/api/v1/characters/{character.pk}/card.json").json()["data"]["character_book"]
    assert book["name"] == "Glade lore"  # the book's own fields are kept
    first, wolves = book["entries"]
    # The stored entry's other fields survive; ours are the lore's current ones.
    assert first == {
        "keys": ["glade", "clearing"],
        "secondary_keys": ["forest"],
        "content": "The glade moved north.",
        "constant": False,
        "insertion_order": 10,
        "enabled": True,
        "extensions": {},
    }
    assert wolves["keys"] == ["wolf"] and wolves["content"] == "Wolves guard the glade at night."
    assert (wolves["comment"], wolves["insertion_order"], wolves["enabled"]) == ("Wolves", 30, True)


def test_a_character_made_here_exports_its_keyed_lore_and_it_comes_back(api, ecosystem):
    character = character_create(ecosystem=ecosystem, name="Nell")
    document_create(
        ecosystem=ecosystem,
        title="The mill",
        content="The mill burned in the great fire.",
        keys=["mill"],
        secondary_keys=["fire"],
        constant=False,
        order=3,
        enabled=False,
        character_ids=[character.pk],
    )
    exported = api.get(f"/api/v1/characters/{character.pk}/card.png")
    entries = cardkit.decode_chunk(cardkit.text_chunks(exported.content)["chara"])["data"][
        "character_book"
    ]["entries"]
    assert [(e["keys"], e["secondary_keys"], e["enabled"]) for e in entries] == [
        (["mill"], ["fire"], False)
    ]
    second = import_file(api, EcosystemFactory(owner=ecosystem.owner), exported.content, "n.png")
    assert lore_fields(second) == lore_fields(character)


def test_a_character_without_lore_exports_no_book(api, ecosystem):
    character = character_create(ecosystem=ecosystem, name="Bare")
    data = api.get(f"/api/v1/characters/{character.pk}/card.json").json()["data"]
    assert "character_book" not in data
