"""The worlds Ecosystem admin: the "Export archive" actions, the "Import a world archive"
form, and the "Import a card" form bringing the card's book in as lore."""

import gzip
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from characters.models import Character, Ecosystem
from lore.models import Document
from tests.characters import cardkit
from tests.factories import CharacterFactory, EcosystemFactory, UserFactory
from worlds.archive import ARCHIVE_FORMAT

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/characters/ecosystem/"
IMPORT_PAGE = "/admin/characters/ecosystem/import-archive/"


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def export(staff_client, ecosystem, action="export_archive"):
    return staff_client.post(
        CHANGELIST, {"action": action, "_selected_action": [str(ecosystem.pk)]}
    )


def test_the_export_action_downloads_the_ecosystem_as_an_archive(staff_client, user):
    ecosystem = EcosystemFactory(owner=user, name="Admin world")
    CharacterFactory(ecosystem=ecosystem, name="Ada")
    response = export(staff_client, ecosystem)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/gzip"
    assert 'filename="Admin_world.world.json.gz"' in response["Content-Disposition"]
    document = json.loads(gzip.decompress(response.content))
    assert document["format"] == ARCHIVE_FORMAT
    assert [c["name"] for c in document["characters"]] == ["Ada"]
    assert document["events"] is None
    with_events = json.loads(
        gzip.decompress(export(staff_client, ecosystem, "export_archive_with_events").content)
    )
    assert with_events["events"] == []


def test_the_import_form_brings_an_archive_in_for_the_chosen_owner(staff_client, user):
    ecosystem = EcosystemFactory(owner=user, name="Admin world")
    CharacterFactory(ecosystem=ecosystem, name="Ada")
    data = export(staff_client, ecosystem).content
    owner = UserFactory(username="receiver")
    assert IMPORT_PAGE in staff_client.get(CHANGELIST).content.decode()
    response = staff_client.post(
        IMPORT_PAGE,
        {"file": SimpleUploadedFile("w.world.json.gz", data), "owner": owner.pk},
        follow=True,
    )
    assert response.status_code == 200
    imported = Ecosystem.objects.get(owner=owner)
    assert imported.pk != ecosystem.pk
    assert list(imported.characters.values_list("name", flat=True)) == ["Ada"]
    assert "Imported Admin world (1 characters)." in response.content.decode()


def test_the_import_form_shows_why_an_archive_is_refused(staff_client, user):
    before = (Ecosystem.objects.count(), Character.objects.count())
    response = staff_client.post(
        IMPORT_PAGE, {"file": SimpleUploadedFile("w.json", b"{}"), "owner": user.pk}
    )
    assert response.status_code == 200
    assert "not gzip-compressed" in response.content.decode()
    assert (Ecosystem.objects.count(), Character.objects.count()) == before


def test_the_admins_card_import_brings_the_cards_book_in_as_lore(staff_client, user):
    ecosystem = EcosystemFactory(owner=user)
    card = cardkit.png_with({"chara": cardkit.b64(cardkit.v2(name="Booked"))})
    book = cardkit.v2(name="Booked")["data"]["character_book"]["entries"]
    response = staff_client.post(
        f"/admin/characters/ecosystem/{ecosystem.pk}/import-card/",
        {"file": SimpleUploadedFile("c.png", card)},
        follow=True,
    )
    assert "Imported Booked." in response.content.decode()
    character = Character.objects.get(ecosystem=ecosystem, name="Booked")
    entries = Document.objects.filter(ecosystem=ecosystem, characters=character)
    assert sorted(entries.values_list("content", flat=True)) == sorted(e["content"] for e in book)
