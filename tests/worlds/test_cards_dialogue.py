"""An imported card's book is lore the engine uses: asked about an entry's key, the character
states the entry's content (POST /api/v1/interactions, the template backend); a disabled
entry is kept but never used."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.characters import cardkit
from tests.factories import CharacterFactory


def book_card() -> dict:
    return cardkit.v3(
        name="Wren",
        character_book={
            "name": "Wren's book",
            "entries": [
                {
                    "keys": ["waterfall"],
                    "content": "Behind the waterfall lies a cave full of blue moss.",
                    "insertion_order": 10,
                    "enabled": True,
                    "extensions": {},
                },
                {
                    "keys": ["lantern"],
                    "content": "The lantern was smashed by the miller's son.",
                    "insertion_order": 20,
                    "enabled": False,
                    "extensions": {},
                },
            ],
        },
    )


def ask(api, asker, asked, question: str) -> str:
    response = api.post(
        "/api/v1/interactions",
        {
            "initiator_id": str(asker.pk),
            "target_id": str(asked),
            "interaction_type": "chat",
            "content": question,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()["response"]


@pytest.mark.django_db(transaction=True)
def test_an_imported_cards_book_entry_is_stated_when_its_key_comes_up(api, ecosystem):
    response = api.post(
        f"/api/v1/ecosystem/{ecosystem.pk}/characters/import",
        {"file": SimpleUploadedFile("wren.json", json.dumps(book_card()).encode())},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    wren = response.json()["id"]
    asker = CharacterFactory(ecosystem=ecosystem, name="Pip")

    answer = ask(api, asker, wren, "Pip here: what is behind the waterfall?")
    assert "Behind the waterfall lies a cave full of blue moss." in answer

    # The disabled entry is in the lore, but the character does not know it.
    answer = ask(api, asker, wren, "Who broke the old lantern?")
    assert "smashed by the miller's son" not in answer
