"""The Lore page, the Import card button and avatars, through Django's test client: who may
open the Lore page, what the first views embed for the browser (the REST paths, the cast,
which characters have an avatar), and that names stay text. tests/e2e/test_lore_page.py and
tests/e2e/test_import_card.py drive the JavaScript in a browser."""

import json
import re
import uuid

import pytest
from django.test import Client

from characters.services import character_create, character_import_card
from lore.services import document_create
from tests.characters.cardkit import b64, png_with, tiny_png, v2
from tests.factories import EcosystemFactory, UserFactory

pytestmark = pytest.mark.django_db

XSS_NAME = "</script><img src=x onerror=alert(1)>"


@pytest.fixture
def owner():
    return UserFactory()


@pytest.fixture
def browser(owner) -> Client:
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def town(owner):
    ecosystem = EcosystemFactory(owner=owner, name="Harbor Town")
    mira = character_create(ecosystem=ecosystem, name="Mira")
    return ecosystem, mira


def page_data(response, script_id: str) -> dict:
    match = re.search(
        rf'<script id="{script_id}" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    assert match, f"#{script_id} is missing"
    return json.loads(match.group(1))


def import_png_card(ecosystem, name: str = "Seraphina"):
    card = png_with({"chara": b64(v2(name=name))}, image=tiny_png((20, 120, 200), size=8))
    return character_import_card(ecosystem=ecosystem, data=card, filename="card.png")


# --- The Lore page -----------------------------------------------------------------------------


def test_the_owner_opens_the_lore_page(browser, town):
    ecosystem, mira = town
    response = browser.get(f"/ecosystems/{ecosystem.pk}/lore/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "<h1>Harbor Town" in text
    assert 'id="lore-form"' in text and 'id="lore-search"' in text
    # The cast is offered for tying a document to a character and for limiting a search.
    assert f'<option value="{mira.pk}">Mira</option>' in text
    data = page_data(response, "lore-data")
    assert data["ecosystem_id"] == str(ecosystem.pk)
    placeholder = data["urls"]["placeholder"]
    assert data["urls"]["documents"] == f"/api/v1/ecosystem/{placeholder}/documents"
    assert data["urls"]["search"] == f"/api/v1/ecosystem/{placeholder}/search"
    assert data["characters"] == [{"id": str(mira.pk), "name": "Mira"}]
    assert data["max_document_bytes"] > 0


def test_an_anonymous_visitor_is_sent_to_log_in(town):
    ecosystem, _ = town
    response = Client().get(f"/ecosystems/{ecosystem.pk}/lore/")
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/ecosystems/{ecosystem.pk}/lore/"


def test_another_users_lore_page_answers_404(town):
    ecosystem, _ = town
    intruder = Client()
    intruder.force_login(UserFactory())
    response = intruder.get(f"/ecosystems/{ecosystem.pk}/lore/")
    assert response.status_code == 404
    assert b"Harbor Town" not in response.content
    assert b"Mira" not in response.content


def test_an_unknown_ecosystems_lore_page_answers_404(browser):
    assert browser.get(f"/ecosystems/{uuid.uuid4()}/lore/").status_code == 404


def test_the_lore_page_is_read_only(browser, town):
    ecosystem, _ = town
    assert browser.post(f"/ecosystems/{ecosystem.pk}/lore/").status_code == 405


def test_the_observatory_and_the_lore_page_link_to_each_other(browser, town):
    ecosystem, _ = town
    lore_url = f"/ecosystems/{ecosystem.pk}/lore/"
    observatory = browser.get(f"/ecosystems/{ecosystem.pk}/").content.decode()
    assert f'href="{lore_url}"' in observatory
    lore = browser.get(lore_url).content.decode()
    assert f'href="/ecosystems/{ecosystem.pk}/" aria-current' not in lore
    assert f'<a href="{lore_url}" aria-current="page">Lore</a>' in lore


def test_names_on_the_lore_page_stay_text(browser, owner):
    ecosystem = EcosystemFactory(owner=owner, name=XSS_NAME)
    character_create(ecosystem=ecosystem, name=XSS_NAME)
    response = browser.get(f"/ecosystems/{ecosystem.pk}/lore/")
    text = response.content.decode()
    assert "<img src=x" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert page_data(response, "lore-data")["characters"][0]["name"] == XSS_NAME


def test_the_lore_page_reads_a_fixed_number_of_queries(
    browser, owner, django_assert_max_num_queries
):
    ecosystem = EcosystemFactory(owner=owner)
    for index in range(30):
        character_create(ecosystem=ecosystem, name=f"Person {index}")
    with django_assert_max_num_queries(6):
        assert browser.get(f"/ecosystems/{ecosystem.pk}/lore/").status_code == 200


# --- Import card and avatars ---------------------------------------------------------------


def test_the_observatory_offers_the_import_card_dialog(browser, town):
    ecosystem, _ = town
    response = browser.get(f"/ecosystems/{ecosystem.pk}/")
    text = response.content.decode()
    assert 'id="card-import-open"' in text and ">Import card</button>" in text
    for trait in ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism"):
        assert f'id="card-trait-{trait}"' in text
    data = page_data(response, "observatory-data")
    placeholder = data["urls"]["placeholder"]
    assert data["urls"]["card_import"] == f"/api/v1/ecosystem/{placeholder}/characters/import"
    assert data["card_max_bytes"] > 0


def test_the_observatory_says_which_characters_have_an_avatar(browser, town):
    ecosystem, mira = town
    seraphina = import_png_card(ecosystem)
    json_card = json.dumps(v2(name="Plain")).encode()
    plain = character_import_card(ecosystem=ecosystem, data=json_card, filename="plain.json")
    data = page_data(browser.get(f"/ecosystems/{ecosystem.pk}/"), "observatory-data")
    has_avatar = {node["name"]: node["has_avatar"] for node in data["characters"]}
    assert has_avatar == {"Mira": False, "Plain": False, "Seraphina": True}
    placeholder = data["urls"]["placeholder"]
    assert data["urls"]["avatar"] == f"/api/v1/characters/{placeholder}/avatar"
    # What the page would ask for answers as the flags say.
    for character, status in ((seraphina, 200), (plain, 404), (mira, 404)):
        url = data["urls"]["avatar"].replace(placeholder, str(character.pk))
        assert browser.get(url).status_code == status


def test_the_character_page_shows_the_avatar_only_when_there_is_one(browser, town):
    ecosystem, mira = town
    seraphina = import_png_card(ecosystem)
    page = browser.get(f"/characters/{seraphina.pk}/").content.decode()
    src = f"/api/v1/characters/{seraphina.pk}/avatar"
    assert f'<img class="avatar avatar-profile" id="character-avatar" src="{src}"' in page
    image = browser.get(src)
    assert image.status_code == 200
    assert image["Content-Type"] == "image/png"
    assert 'id="character-avatar"' not in browser.get(f"/characters/{mira.pk}/").content.decode()


def test_the_avatar_flag_adds_no_query_per_character(browser, owner, django_assert_max_num_queries):
    ecosystem = EcosystemFactory(owner=owner)
    for index in range(10):
        import_png_card(ecosystem, name=f"Card {index}")
        character_create(ecosystem=ecosystem, name=f"Plain {index}")
    browser.get(f"/ecosystems/{ecosystem.pk}/")
    with django_assert_max_num_queries(12):
        response = browser.get(f"/ecosystems/{ecosystem.pk}/")
    flags = [node["has_avatar"] for node in page_data(response, "observatory-data")["characters"]]
    assert flags.count(True) == 10 and flags.count(False) == 10


def test_the_character_page_shows_its_greetings_and_the_lore_tied_to_it(browser, town):
    ecosystem, mira = town
    seraphina = import_png_card(ecosystem)
    document_create(
        ecosystem=ecosystem,
        title="Glade <b>lore</b>",
        content="The glade is hidden.",
        keys=["glade"],
        constant=True,
        character_ids=[seraphina.pk],
    )
    document_create(ecosystem=ecosystem, title="Market square", content="Stalls at dawn.")
    page = browser.get(f"/characters/{seraphina.pk}/").content.decode()
    assert '<li class="card-greeting">*She smiles.* You&#x27;re awake.</li>' in page
    assert '<li class="card-greeting">Hello, traveller.</li>' in page
    assert '<span class="doc-title">Glade &lt;b&gt;lore&lt;/b&gt;</span>' in page
    assert '<span class="key-chip">glade</span>' in page
    assert "Market square" not in page  # the whole ecosystem's, not tied to her
    assert f'href="/ecosystems/{ecosystem.pk}/lore/"' in page
    other = browser.get(f"/characters/{mira.pk}/").content.decode()
    assert "No lore tied to Mira" in other
    assert "Greetings" not in other
