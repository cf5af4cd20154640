"""The admin's "Import a card" page on an ecosystem."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from characters.models import Character
from tests.factories import UserFactory

from . import cardkit

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_admin_imports_a_card_and_shows_the_character(staff_client, ecosystem):
    page = staff_client.get(f"/admin/characters/ecosystem/{ecosystem.pk}/change/")
    assert f"/admin/characters/ecosystem/{ecosystem.pk}/import-card/" in page.content.decode()
    url = f"/admin/characters/ecosystem/{ecosystem.pk}/import-card/"
    data = cardkit.png_with({"chara": cardkit.b64(cardkit.v2(name="Admin Import"))})
    response = staff_client.post(url, {"file": SimpleUploadedFile("c.png", data)}, follow=True)
    character = Character.objects.get(ecosystem=ecosystem)
    assert character.name == "Admin Import"
    body = response.content.decode()
    assert "Imported Admin Import." in body
    assert "lorebook entries: 2" in body  # the card's inline on the character page


def test_admin_shows_why_a_card_is_refused(staff_client, ecosystem):
    url = f"/admin/characters/ecosystem/{ecosystem.pk}/import-card/"
    bad = json.dumps({"spec": "chara_card_v9", "data": {}}).encode()
    response = staff_client.post(url, {"file": SimpleUploadedFile("c.json", bad)})
    assert response.status_code == 200
    assert "Unsupported card spec" in response.content.decode()
    assert not Character.objects.filter(ecosystem=ecosystem).exists()


def test_admin_import_page_needs_staff(client, user, ecosystem):
    client.force_login(user)
    response = client.get(f"/admin/characters/ecosystem/{ecosystem.pk}/import-card/")
    assert response.status_code == 302  # to the admin login
