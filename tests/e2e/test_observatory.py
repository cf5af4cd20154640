"""The observatory in a real browser (issue 7): what a person sees and can do.

Each test seeds its rows through the real services, drives Chromium against the live Daphne
server of conftest.py, and asserts what is on the screen.
"""

import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from playwright.sync_api import expect

from characters.models import Character
from characters.services import character_create
from interactions.models import Interaction
from interactions.services import InteractionRefused, interaction_process
from scenarios.demo import DEMO_CAST
from scenarios.models import Scenario
from scenarios.services import scenario_create
from tests.e2e.conftest import PHONE
from tests.factories import EcosystemFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

XSS_NAME = "<img src=x onerror=alert(1)>"
SOCIABLE = dict(
    openness=0.6, conscientiousness=0.6, extraversion=0.8, agreeableness=0.7, neuroticism=0.3
)


# --- Seeding -------------------------------------------------------------------------------


def off_loop(function, /, *args, **kwargs):
    """Run a service in a thread of its own. Services broadcast their events on commit with
    async_to_sync, which cannot run in this thread while Playwright's loop does."""

    def call():
        try:
            return function(*args, **kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def start_scenario(**kwargs) -> Scenario:
    return off_loop(scenario_create, **kwargs)


def make_cast(ecosystem, names=("Mira", "Tobias", "Ines")) -> dict[str, Character]:
    return {name: character_create(ecosystem=ecosystem, name=name, **SOCIABLE) for name in names}


def make_harbor_town(user):
    return off_loop(_make_harbor_town, user)


def _make_harbor_town(user):
    """The demo cast with a history of exchanges and a scenario playing (for screenshots)."""
    ecosystem = EcosystemFactory(
        owner=user,
        name="Harbor Town",
        description="A small harbor town on the night of its storm festival.",
    )
    cast = []
    for name, bio, traits in DEMO_CAST:
        o, c, e, a, n = traits
        cast.append(
            character_create(
                ecosystem=ecosystem,
                name=name,
                bio=bio,
                openness=o,
                conscientiousness=c,
                extraversion=e,
                agreeableness=a,
                neuroticism=n,
            )
        )
    kinds = ("greeting", "conflict", "collaboration", "chat", "conflict", "chat", "conflict")
    for index in range(28):
        first = cast[index % len(cast)]
        second = cast[(index * 3 + 1) % len(cast)]
        if first.pk == second.pk:
            continue
        try:
            interaction_process(
                initiator_id=first.pk,
                target_id=second.pk,
                interaction_type=kinds[index % len(kinds)],
                seed=index,
            )
        except InteractionRefused:
            continue  # too tired: skipped, as the clock would
    scenario = scenario_create(
        ecosystem=ecosystem,
        participants=cast[:5],
        title="The storm festival",
        setting="the harbor square, hours before the storm festival opens",
        mood="excited but tense",
        objectives=["finish the lantern boats before dusk", "decide who leads the parade"],
        duration_minutes=60,
        tick_seconds=1.0,
        seed=7,
    )
    return ecosystem, cast, scenario


def post_interaction(server, user, initiator, target, interaction_type="greeting", content=None):
    with server.api(user) as api:
        answer = api.post(
            "/api/v1/interactions",
            json={
                "initiator_id": str(initiator.pk),
                "target_id": str(target.pk),
                "interaction_type": interaction_type,
                "content": content or f"Hello {target.name}, lovely evening.",
            },
        )
    assert answer.status_code == 201, answer.text
    return answer.json()


def transcript_count(page) -> int:
    return page.locator("#transcript > li").count()


# --- Tests ---------------------------------------------------------------------------------


def test_login_lists_ecosystems_with_counts_and_creates_one(open_browser):
    user = UserFactory()
    ecosystem = EcosystemFactory(owner=user, name="Quiet Valley")
    make_cast(ecosystem)
    browser = open_browser()
    page = browser.page

    page.goto(f"{browser.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))  # login_required
    browser.login(user)

    card = page.locator(".ecosystem-card", has_text="Quiet Valley")
    expect(card).to_be_visible()
    expect(card.locator(".counts dd").first).to_have_text("3")
    expect(card.locator(".badge")).to_have_text("idle")

    page.fill("#ecosystem-form input[name=name]", "Night Market")
    page.click("#ecosystem-form button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Night Market")
    expect(page).to_have_url(re.compile(r"/ecosystems/[0-9a-f-]{36}/$"))
    assert browser.errors == []


def test_api_interaction_reaches_feed_graph_and_stats_within_two_seconds(open_browser):
    user = UserFactory()
    ecosystem = EcosystemFactory(owner=user, name="Harbor")
    cast = make_cast(ecosystem)
    browser = open_browser()
    browser.login(user)
    page = browser.page
    page.goto(f"{browser.url}/ecosystems/{ecosystem.pk}/")
    page.wait_for_selector("#network[data-ready=true]")
    browser.wait_live()
    expect(page.locator('[data-stat="relationships"]')).to_have_text("0")

    started = time.monotonic()
    result = post_interaction(browser.server, user, cast["Mira"], cast["Tobias"], "greeting")

    feed_item = page.locator("#feed .feed-item").first
    expect(feed_item).to_contain_text("Mira greeted Tobias", timeout=2_000)
    edge_trust = f"""() => {{
        const edge = window.observatory.network.cy.getElementById(
            "{cast["Mira"].pk}>{cast["Tobias"].pk}");
        return edge.length ? edge.data("trust") : null;
    }}"""
    page.wait_for_function(
        f"() => ({edge_trust})() === {result['relationship_change']['new_trust']}", timeout=2_000
    )
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"the browser showed the interaction after {elapsed:.2f} s"
    expect(page.locator('[data-stat="relationships"]')).to_have_text("2")
    trust = result["relationship_change"]["reverse"]
    before = trust["new_trust"] - trust["trust_delta"]
    expect(feed_item).to_contain_text(f"trust {before:.2f} → {trust['new_trust']:.2f}")

    # A conflict reads as one, and the graph updates in place: positions do not move.
    positions_before = page.evaluate(
        "() => window.observatory.network.cy.nodes().map(n => [n.id(), n.position()])"
    )
    post_interaction(browser.server, user, cast["Tobias"], cast["Ines"], "conflict", "Move!")
    expect(page.locator("#feed .feed-item").first).to_contain_text(
        "Tobias snapped at Ines", timeout=2_000
    )
    positions_after = page.evaluate(
        "() => window.observatory.network.cy.nodes().map(n => [n.id(), n.position()])"
    )
    assert positions_after == positions_before
    assert browser.errors == []


def test_reconnect_resumes_from_last_seq_without_duplicates(open_browser):
    user = UserFactory()
    ecosystem = EcosystemFactory(owner=user)
    cast = make_cast(ecosystem)
    browser = open_browser()
    browser.login(user)
    page = browser.page
    page.goto(f"{browser.url}/ecosystems/{ecosystem.pk}/")
    page.wait_for_selector("#network[data-ready=true]")
    browser.wait_live()
    post_interaction(browser.server, user, cast["Mira"], cast["Tobias"])
    expect(page.locator("#feed .feed-item")).to_have_count(1)

    # Cut the network, miss three interactions, come back.
    browser.context.set_offline(True)
    page.evaluate("() => window.observatory.stream.dropConnection()")
    expect(page.locator("#conn-status")).not_to_have_attribute("data-state", "live")
    post_interaction(browser.server, user, cast["Tobias"], cast["Ines"], "chat")
    post_interaction(browser.server, user, cast["Ines"], cast["Mira"], "collaboration")
    post_interaction(browser.server, user, cast["Mira"], cast["Ines"], "chat")
    browser.context.set_offline(False)
    browser.wait_live()

    expect(page.locator("#feed .feed-item")).to_have_count(4, timeout=5_000)
    seqs = page.eval_on_selector_all("#feed .feed-item", "items => items.map(i => i.dataset.seq)")
    assert len(seqs) == len(set(seqs)) == 4
    assert [int(seq) for seq in seqs] == sorted((int(seq) for seq in seqs), reverse=True)
    stats = page.evaluate("() => window.observatory.stream.stats")
    assert stats["reconnects"] >= 1
    assert stats["gaps"] == 0
    # Every event of the log applied once (4 interactions, each with its memory event).
    ecosystem.refresh_from_db()
    assert ecosystem.last_seq == 16
    assert stats["applied"] == ecosystem.last_seq
    assert page.text_content("#last-seq") == str(ecosystem.last_seq)


def test_scenario_created_on_the_page_plays_its_first_turns_in_the_chat(open_browser):
    user = UserFactory()
    ecosystem = EcosystemFactory(owner=user)
    make_cast(ecosystem)
    browser = open_browser()
    browser.login(user)
    page = browser.page
    page.goto(f"{browser.url}/ecosystems/{ecosystem.pk}/")
    browser.wait_live()

    form = page.locator("#scenario-form")
    form.locator("[name=title]").fill("Lantern boats")
    form.locator("[name=setting]").fill("the boat shed at dusk")
    form.locator("[name=mood]").fill("busy and cheerful")
    form.locator("[name=objectives]").fill("finish the boats\nsing the old song")
    form.locator("button[type=submit]").click()
    expect(page.locator("#scenario-form .field-error")).to_contain_text("two participants")

    for name in ("Mira", "Tobias", "Ines"):
        form.get_by_label(name, exact=True).check()
    form.locator("[name=duration_minutes]").fill("5")
    form.locator("[name=tick_seconds]").fill("1")
    form.locator("button[type=submit]").click()

    message = page.locator("#director-message")
    expect(message).to_contain_text("Lantern boats")
    expect(page.locator("#scenario-list .scenario-item", has_text="Lantern boats")).to_be_visible()
    expect(page.locator("#feed .feed-item").first).to_contain_text(
        "Scenario “Lantern boats” started"
    )
    message.get_by_role("link", name="Open the chat").click()

    expect(page.locator("h1")).to_have_text("Lantern boats")
    expect(page.locator("#participants .participant")).to_have_count(3)
    expect(page.locator("#transcript > li[data-kind=character]")).not_to_have_count(
        0, timeout=8_000
    )
    first = page.locator("#transcript > li[data-kind=character]").first
    expect(first.locator(".emo-text")).not_to_be_empty()
    expect(page.locator("#relationship-summary .summary-item")).not_to_have_count(0)
    scenario = Scenario.objects.get(title="Lantern boats")
    assert scenario.objectives == ["finish the boats", "sing the old song"]
    assert scenario.participants.count() == 3
    assert browser.errors == []


def test_participant_sends_a_direct_message_and_the_named_character_answers(open_browser):
    user = UserFactory()
    ecosystem = EcosystemFactory(owner=user)
    cast = make_cast(ecosystem)
    scenario = start_scenario(
        ecosystem=ecosystem,
        participants=list(cast.values()),
        title="Supper",
        mood="warm",
        duration_minutes=10,
        tick_seconds=1.0,
        seed=3,
    )
    browser = open_browser()
    browser.login(user)
    page = browser.page
    page.goto(f"{browser.url}/scenarios/{scenario.pk}/")
    browser.wait_live()
    expect(page.locator("#intervention")).to_be_hidden()

    participant = page.get_by_role("button", name="Participant", exact=True)
    participant.click()
    expect(participant).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#intervention")).to_be_visible()
    page.select_option("#intervention select[name=target_character_id]", label="Tobias")
    page.fill("#intervention textarea", "Tobias, will you lead the parade?")
    page.click("#intervention button[type=submit]")

    mine = page.locator("#transcript > li[data-kind=user]")
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text("to Tobias")
    expect(mine).to_contain_text("Tobias, will you lead the parade?")
    answer = page.locator(f"#transcript > li.answers-user[data-speaker-id='{cast['Tobias'].pk}']")
    expect(answer).to_have_count(1, timeout=10_000)
    expect(answer).to_contain_text("answering you")
    # The message arrived once, though both the POST answer and its event announced it.
    expect(mine).to_have_count(1)
    scenario.refresh_from_db()
    assert scenario.mode == Scenario.Mode.PARTICIPANT
    assert browser.errors == []


def test_pause_stops_new_turns_and_resume_restarts_them(open_browser):
    user = UserFactory()
    ecosystem = EcosystemFactory(owner=user)
    cast = make_cast(ecosystem)
    scenario = start_scenario(
        ecosystem=ecosystem,
        participants=list(cast.values()),
        title="Harbor watch",
        duration_minutes=10,
        tick_seconds=1.0,
        seed=5,
    )
    browser = open_browser()
    browser.login(user)
    page = browser.page
    page.goto(f"{browser.url}/scenarios/{scenario.pk}/")
    browser.wait_live()
    expect(page.locator("#transcript > li")).not_to_have_count(0, timeout=8_000)

    page.get_by_role("button", name="Pause", exact=True).click()
    expect(page.locator("#scenario-status")).to_have_text("Paused")
    expect(page.get_by_role("button", name="Resume", exact=True)).to_be_visible()
    time.sleep(0.5)  # a turn already in flight when the pause landed may still arrive
    shown = transcript_count(page)
    turns = Interaction.objects.filter(scenario=scenario).count()
    time.sleep(3.5)  # more than three ticks
    assert transcript_count(page) == shown
    assert Interaction.objects.filter(scenario=scenario).count() == turns
    scenario.refresh_from_db()
    assert scenario.status == Scenario.Status.PAUSED

    page.get_by_role("button", name="Resume", exact=True).click()
    expect(page.locator("#scenario-status")).to_have_text("Active")
    page.wait_for_function(
        f"() => document.querySelectorAll('#transcript > li').length > {shown}", timeout=8_000
    )
    page.get_by_role("button", name="End", exact=True).click()  # the confirm dialog is accepted
    expect(page.locator("#scenario-status")).to_have_text("Ended")
    expect(page.locator("#intervention")).to_be_hidden()
    assert any(dialog.startswith("confirm") for dialog in browser.dialogs)


def test_a_name_full_of_html_is_shown_as_text_everywhere(open_browser):
    user = UserFactory()
    ecosystem = EcosystemFactory(owner=user, name=f"Eco {XSS_NAME}")
    villain = character_create(ecosystem=ecosystem, name=XSS_NAME, bio=XSS_NAME, **SOCIABLE)
    friend = character_create(ecosystem=ecosystem, name="Ines", **SOCIABLE)
    scenario = start_scenario(
        ecosystem=ecosystem,
        participants=[villain, friend],
        title=XSS_NAME,
        mood=XSS_NAME,
        objectives=[XSS_NAME],
        duration_minutes=10,
        tick_seconds=1.0,
        seed=1,
    )
    browser = open_browser()
    browser.login(user)
    page = browser.page

    def assert_inert() -> None:
        assert page.locator("img[src=x]").count() == 0
        assert page.locator("img").count() == 0
        assert browser.dialogs == []

    expect(page.locator(".ecosystem-card h3")).to_have_text(f"Eco {XSS_NAME}")
    assert_inert()

    page.goto(f"{browser.url}/ecosystems/{ecosystem.pk}/")
    browser.wait_live()
    expect(page.locator("#character-index")).to_contain_text(XSS_NAME)
    post_interaction(browser.server, user, villain, friend, "chat", content=XSS_NAME)
    expect(page.locator("#feed")).to_contain_text(f"{XSS_NAME} chatted with Ines")
    page.locator("#character-index button", has_text=XSS_NAME).click()
    expect(page.locator("#panel-name")).to_have_text(XSS_NAME)
    expect(page.locator("#scenario-list")).to_contain_text(XSS_NAME)
    assert_inert()

    page.goto(f"{browser.url}/scenarios/{scenario.pk}/")
    browser.wait_live()
    expect(page.locator("h1")).to_have_text(XSS_NAME)
    expect(page.locator("#transcript > li[data-kind=character]")).not_to_have_count(
        0, timeout=8_000
    )
    expect(page.locator("#participants")).to_contain_text(XSS_NAME)
    assert_inert()

    page.goto(f"{browser.url}/characters/{villain.pk}/")
    expect(page.locator("h1")).to_have_text(XSS_NAME)
    assert_inert()
    assert browser.errors == []


def test_another_users_pages_answer_404(open_browser):
    owner = UserFactory()
    ecosystem = EcosystemFactory(owner=owner)
    cast = make_cast(ecosystem, names=("Mira", "Tobias"))
    scenario = start_scenario(
        ecosystem=ecosystem, participants=list(cast.values()), title="Private", tick_seconds=60.0
    )
    intruder = UserFactory()
    browser = open_browser()
    browser.login(intruder)
    page = browser.page
    for path in (
        f"/ecosystems/{ecosystem.pk}/",
        f"/ecosystems/{ecosystem.pk}/scenarios/",
        f"/scenarios/{scenario.pk}/",
        f"/characters/{cast['Mira'].pk}/",
        f"/ecosystems/{uuid.uuid4()}/",
    ):
        response = page.goto(f"{browser.url}{path}")
        assert response is not None
        assert response.status == 404, path
        assert "Mira" not in page.content()
    assert "Private" not in page.content()


def test_pages_fit_a_phone_and_work_from_the_keyboard(open_browser):
    user = UserFactory()
    ecosystem, cast, scenario = make_harbor_town(user)
    browser = open_browser(viewport=PHONE)
    browser.login(user)
    page = browser.page
    page.goto(f"{browser.url}/ecosystems/{ecosystem.pk}/")
    page.wait_for_selector("#network[data-ready=true]")
    browser.wait_live()

    def assert_no_sideways_scroll() -> None:
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"page is {width}px wide on a {PHONE['width']}px phone"

    assert_no_sideways_scroll()
    # Keyboard: the character list is made of buttons; Enter opens the panel, Escape closes.
    chip = page.locator("#character-index button").first
    chip.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#character-panel")).to_be_visible()
    expect(page.locator("#panel-name")).to_be_focused()
    expect(page.locator("#panel-personality .meter-row")).to_have_count(5)
    page.keyboard.press("Escape")
    expect(page.locator("#character-panel")).to_be_hidden()
    browser.screenshot("observatory-phone")

    page.goto(f"{browser.url}/scenarios/{scenario.pk}/")
    browser.wait_live()
    expect(page.locator("#transcript > li")).not_to_have_count(0, timeout=8_000)
    assert_no_sideways_scroll()
    browser.screenshot("scenario-chat-phone")

    page.goto(f"{browser.url}/characters/{cast[0].pk}/")
    assert_no_sideways_scroll()
    page.goto(f"{browser.url}/")
    assert_no_sideways_scroll()
    assert browser.errors == []


def test_screenshots_of_the_main_pages(open_browser):
    """Not a behaviour of its own: renders the demo-like town for docs/screenshots/."""
    user = UserFactory()
    ecosystem, cast, scenario = make_harbor_town(user)
    quiet = EcosystemFactory(
        owner=user, name="Night Market", description="Stalls, lanterns and old rivalries."
    )
    make_cast(quiet, names=("Ada", "Bela", "Cyrus", "Dov"))
    browser = open_browser()
    browser.login(user)
    page = browser.page
    browser.screenshot("ecosystems")

    page.goto(f"{browser.url}/ecosystems/{ecosystem.pk}/")
    page.wait_for_selector("#network[data-ready=true]")
    browser.wait_live()
    expect(page.locator("#feed .feed-item")).not_to_have_count(0)
    page.wait_for_timeout(2_500)  # a couple of live turns
    page.locator("#character-index button", has_text="Mira").click()
    expect(page.locator("#character-panel")).to_be_visible()
    browser.screenshot("observatory")

    page.goto(f"{browser.url}/scenarios/{scenario.pk}/")
    browser.wait_live()
    page.wait_for_timeout(3_000)
    browser.screenshot("scenario-chat")

    page.goto(f"{browser.url}/characters/{cast[0].pk}/")
    expect(page.locator(".chart")).to_be_visible()
    browser.screenshot("character")
    assert browser.errors == []
