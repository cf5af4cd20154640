"""The "Import card" button in a real browser (issue 16, "Done when"): an author picks or drops
a Character Card on the observatory, sees the preview the import API returns (name,
greeting, Big Five with the words behind them, the avatar), adjusts a trait, imports it, and
sees the character join the network with its avatar, in the panel and on its page."""

import base64
import json

import pytest
from playwright.sync_api import expect

from characters.models import Character
from tests.characters.cardkit import b64, charx, png_with, tiny_png, v2, v3
from tests.e2e.test_observatory import make_cast, off_loop
from tests.factories import EcosystemFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

XSS_NAME = "<img src=x onerror=alert(1)>"
TRAITS = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")


def make_town(user):
    def build():
        ecosystem = EcosystemFactory(owner=user, name="Harbor Town")
        make_cast(ecosystem, names=("Mira", "Tobias"))
        return ecosystem

    return off_loop(build)


def open_observatory(session, ecosystem):
    session.page.goto(f"{session.url}/ecosystems/{ecosystem.pk}/")
    session.wait_live()
    expect(session.page.locator("#network")).to_have_attribute("data-ready", "true")


def loaded_width(locator) -> int:
    """The image's natural width once loaded (0: it failed or has not arrived)."""
    locator.page.wait_for_function(
        "image => image.complete", arg=locator.element_handle(), timeout=10_000
    )
    return int(locator.evaluate("image => image.naturalWidth"))


def test_a_png_card_is_previewed_adjusted_and_joins_the_network_with_its_avatar(open_browser):
    user = UserFactory()
    ecosystem = make_town(user)
    session = open_browser()
    session.login(user)
    page = session.page
    avatar_answers: list[int] = []
    page.on(
        "response",
        lambda response: (
            avatar_answers.append(response.status) if response.url.endswith("/avatar") else None
        ),
    )
    open_observatory(session, ecosystem)

    page.get_by_role("button", name="Import card").click()
    dialog = page.locator("#card-dialog")
    expect(dialog).to_be_visible()
    card = png_with({"chara": b64(v2())}, image=tiny_png((30, 90, 200), size=12))
    page.set_input_files(
        "#card-file", {"name": "seraphina.png", "mimeType": "image/png", "buffer": card}
    )

    expect(page.locator("#card-name")).to_have_text("Seraphina")
    expect(page.locator("#card-greeting")).to_have_text("*She smiles.* You're awake.")
    expect(page.locator("#card-greeting-more")).to_have_text("and 2 other greetings")
    expect(page.locator("#card-meta")).to_contain_text("by tester")
    expect(page.locator("#card-lore")).to_have_text("Lorebook: 2 entries.")
    # "kind, warm, talkative and curious; never anxious": the words behind each score.
    expect(page.locator("#card-trait-extraversion-evidence")).to_contain_text("talkative")
    expect(page.locator("#card-trait-neuroticism-evidence")).to_contain_text("anxious")
    preview_avatar = page.locator("#card-avatar")
    expect(preview_avatar).to_be_visible()
    assert preview_avatar.get_attribute("src").startswith("data:image/png;base64,")
    assert loaded_width(preview_avatar) == 12
    previewed = {
        trait: float(page.locator(f"#card-trait-{trait}").input_value()) for trait in TRAITS
    }
    assert previewed["extraversion"] > 0.5 and previewed["neuroticism"] < 0.5

    page.locator("#card-trait-openness").fill("0.93")
    expect(page.locator("#card-trait-openness-value")).to_have_text("0.93")
    session.screenshot("import-card-preview")
    page.click("#card-import")

    expect(dialog).to_be_hidden()
    expect(page.locator("#import-message")).to_contain_text("Seraphina joined the ecosystem.")
    seraphina = Character.objects.get(ecosystem=ecosystem, name="Seraphina")
    assert seraphina.openness == pytest.approx(0.93)
    for trait in ("conscientiousness", "extraversion", "agreeableness", "neuroticism"):
        # Not moved: the card's own score, exactly as the server computed it.
        assert getattr(seraphina, trait) == pytest.approx(previewed[trait], abs=0.006)

    # The character joined the network, the keyboard list and the director's picker, live.
    chip = page.locator(f'#character-index [data-character-id="{seraphina.pk}"]')
    expect(chip).to_have_text("Seraphina")
    assert page.evaluate("id => window.observatory.network.has(id)", str(seraphina.pk))
    expect(page.locator("[data-stat=characters]")).to_have_text("3")
    expect(page.locator(f'#scenario-form input[value="{seraphina.pk}"]')).to_have_count(1)
    # Its panel opened, with the avatar from the API.
    expect(page.locator("#panel-name")).to_have_text("Seraphina")
    panel_avatar = page.locator("#panel-avatar")
    expect(panel_avatar).to_be_visible()
    assert panel_avatar.get_attribute("src") == f"/api/v1/characters/{seraphina.pk}/avatar"
    assert loaded_width(panel_avatar) == 12
    session.screenshot("import-card")

    # Another character has no avatar: the panel shows none (and asks for none).
    page.locator("#character-index [data-character-id]", has_text="Mira").click()
    expect(page.locator("#panel-name")).to_have_text("Mira")
    expect(panel_avatar).to_be_hidden()

    page.locator("#panel-close").click()
    chip.click()
    page.locator("#panel-link").click()
    page.wait_for_url(f"{session.url}/characters/{seraphina.pk}/")
    profile_avatar = page.locator("#character-avatar")
    expect(profile_avatar).to_be_visible()
    assert loaded_width(profile_avatar) == 12
    # Only characters with an avatar asked for one: no 404 on the way.
    assert avatar_answers and set(avatar_answers) <= {200, 304}, avatar_answers
    assert session.dialogs == [] and session.errors == []


def test_a_card_dropped_on_the_network_is_imported_and_its_name_stays_text(open_browser):
    user = UserFactory()
    ecosystem = make_town(user)
    session = open_browser()
    session.login(user)
    page = session.page
    open_observatory(session, ecosystem)

    card = json.dumps(v2(name=XSS_NAME, personality="calm and organised")).encode()
    drop = page.evaluate_handle(
        """(encoded) => {
          const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
          const transfer = new DataTransfer();
          transfer.items.add(new File([bytes], "card.json", {type: "application/json"}));
          return transfer;
        }""",
        base64.b64encode(card).decode(),
    )
    page.dispatch_event("#network", "dragover", {"dataTransfer": drop})
    page.dispatch_event("#network", "drop", {"dataTransfer": drop})

    expect(page.locator("#card-dialog")).to_be_visible()
    expect(page.locator("#card-name")).to_have_text(XSS_NAME)
    expect(page.locator("#card-avatar-note")).to_have_text(
        "No image: the character will have no avatar."
    )
    expect(page.locator("#card-avatar")).to_be_hidden()
    page.click("#card-import")

    expect(page.locator("#card-dialog")).to_be_hidden()
    imported = Character.objects.get(ecosystem=ecosystem, name=XSS_NAME)
    expect(page.locator(f'#character-index [data-character-id="{imported.pk}"]')).to_have_text(
        XSS_NAME
    )
    expect(page.locator("#panel-name")).to_have_text(XSS_NAME)
    expect(page.locator("#panel-avatar")).to_be_hidden()
    assert page.locator("img[src=x]").count() == 0
    assert session.dialogs == [] and session.errors == []


def test_a_charx_cards_main_icon_is_previewed_and_becomes_the_avatar(open_browser):
    """The preview reads the CHARX in the browser and shows the icon the server will keep:
    the asset named "main" (here listed after another icon, and 10 px wide, not 5)."""
    user = UserFactory()
    ecosystem = make_town(user)
    session = open_browser()
    session.login(user)
    page = session.page
    open_observatory(session, ecosystem)

    assets = [
        {
            "type": "icon",
            "uri": "embeded://assets/icon/images/alt.png",
            "name": "alt",
            "ext": "png",
        },
        {
            "type": "icon",
            "uri": "embeded://assets/icon/images/main.png",
            "name": "main",
            "ext": "png",
        },
    ]
    card = charx(
        v3(name="Corvin", assets=assets),
        {
            "assets/icon/images/alt.png": tiny_png((200, 200, 0), size=5),
            "assets/icon/images/main.png": tiny_png((0, 160, 90), size=10),
        },
    )
    page.get_by_role("button", name="Import card").click()
    page.set_input_files(
        "#card-file", {"name": "corvin.charx", "mimeType": "application/zip", "buffer": card}
    )
    expect(page.locator("#card-name")).to_have_text("Corvin")
    expect(page.locator("#card-meta")).to_contain_text("V3 · CHARX")
    preview_avatar = page.locator("#card-avatar")
    expect(preview_avatar).to_be_visible()
    assert loaded_width(preview_avatar) == 10
    page.click("#card-import")

    expect(page.locator("#card-dialog")).to_be_hidden()
    corvin = Character.objects.get(ecosystem=ecosystem, name="Corvin")
    panel_avatar = page.locator("#panel-avatar")
    expect(panel_avatar).to_have_attribute("src", f"/api/v1/characters/{corvin.pk}/avatar")
    assert loaded_width(panel_avatar) == 10
    assert session.errors == []


def test_a_refused_card_shows_the_apis_message_and_imports_nothing(open_browser):
    user = UserFactory()
    ecosystem = make_town(user)
    session = open_browser()
    session.login(user)
    page = session.page
    open_observatory(session, ecosystem)

    page.get_by_role("button", name="Import card").click()
    page.set_input_files(
        "#card-file", {"name": "plain.png", "mimeType": "image/png", "buffer": tiny_png()}
    )
    expect(page.locator("#card-error")).to_have_text(
        "The PNG holds no character card (no 'ccv3' or 'chara' text chunk)."
    )
    expect(page.locator("#card-preview")).to_be_hidden()
    expect(page.locator("#card-import")).to_be_disabled()

    page.click("#card-cancel")
    expect(page.locator("#card-dialog")).to_be_hidden()
    assert Character.objects.filter(ecosystem=ecosystem).count() == 2
    assert session.errors == []
