"""The observatory's server-rendered pages through Django's test client: access, the first
view's content and cost (queries, time), forms and htmx partials. The browser tests in
tests/e2e/ cover what the JavaScript does with it."""

import json
import random
import re
import time
import uuid

import pytest
from django.test import Client

from characters.models import Character
from characters.services import character_create
from interactions.services import ScenarioContext, interaction_process
from relationships.models import Relationship
from scenarios.models import Scenario
from scenarios.services import scenario_create
from tests.factories import EcosystemFactory, UserFactory

pytestmark = pytest.mark.django_db

XSS_NAME = "</script><img src=x onerror=alert(1)>"
TRAITS = dict(
    openness=0.6, conscientiousness=0.6, extraversion=0.8, agreeableness=0.7, neuroticism=0.3
)


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
    mira = character_create(ecosystem=ecosystem, name="Mira", **TRAITS)
    tobias = character_create(ecosystem=ecosystem, name="Tobias", **TRAITS)
    interaction_process(
        initiator_id=mira.pk, target_id=tobias.pk, interaction_type="conflict", content="Move!"
    )
    scenario = scenario_create(
        ecosystem=ecosystem, participants=[mira, tobias], title="Supper", tick_seconds=60.0
    )
    return ecosystem, mira, tobias, scenario


def page_data(response, script_id: str) -> dict:
    match = re.search(
        rf'<script id="{script_id}" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    assert match, f"#{script_id} is missing"
    return json.loads(match.group(1))


def urls(ecosystem, character, scenario) -> list[str]:
    return [
        f"/ecosystems/{ecosystem.pk}/",
        f"/ecosystems/{ecosystem.pk}/scenarios/",
        f"/scenarios/{scenario.pk}/",
        f"/characters/{character.pk}/",
    ]


def test_every_page_asks_an_anonymous_visitor_to_log_in(town):
    ecosystem, mira, _, scenario = town
    for url in ["/", *urls(ecosystem, mira, scenario)]:
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_the_owner_sees_every_page(browser, town):
    ecosystem, mira, _, scenario = town
    for url in ["/", *urls(ecosystem, mira, scenario)]:
        assert browser.get(url).status_code == 200, url


def test_another_users_objects_answer_404(town):
    ecosystem, mira, _, scenario = town
    intruder = Client()
    intruder.force_login(UserFactory())
    for url in urls(ecosystem, mira, scenario):
        response = intruder.get(url)
        assert response.status_code == 404, url
        assert b"Mira" not in response.content
    assert b"No ecosystems yet" in intruder.get("/").content


def test_unknown_ids_answer_404(browser):
    for url in (
        f"/ecosystems/{uuid.uuid4()}/",
        f"/scenarios/{uuid.uuid4()}/",
        f"/characters/{uuid.uuid4()}/",
        "/ecosystems/not-a-uuid/",
    ):
        assert browser.get(url).status_code == 404, url


def test_ecosystem_list_shows_counts_and_a_live_badge(browser, town):
    response = browser.get("/")
    text = response.content.decode()
    assert "Harbor Town" in text
    assert re.search(r"<dt>Characters</dt><dd>2</dd>", text)
    assert re.search(r"<dt>Relationships</dt><dd>2</dd>", text)
    assert "badge-live" in text  # a scenario is playing


def test_an_ecosystem_without_activity_is_idle(browser, owner):
    EcosystemFactory(owner=owner, name="Empty")
    assert "badge-idle" in browser.get("/").content.decode()


def test_creating_an_ecosystem_redirects_to_its_observatory(browser, owner):
    response = browser.post("/", {"name": "Night Market", "description": "Stalls and lanterns"})
    ecosystem = owner.ecosystems.get(name="Night Market")
    assert response.status_code == 302
    assert response["Location"] == f"/ecosystems/{ecosystem.pk}/"


def test_creating_an_ecosystem_with_htmx_answers_a_client_redirect(browser, owner):
    response = browser.post("/", {"name": "Night Market"}, HTTP_HX_REQUEST="true")
    ecosystem = owner.ecosystems.get(name="Night Market")
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/ecosystems/{ecosystem.pk}/"


def test_a_nameless_ecosystem_is_refused_with_the_form_again(browser, owner):
    response = browser.post("/", {"name": "   "}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'id="ecosystem-form"' in response.content.decode()
    assert "field-error" in response.content.decode()
    assert not owner.ecosystems.exists()


def test_the_list_refreshes_itself_as_an_htmx_partial(browser, town):
    response = browser.get("/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="ecosystem-rows")
    text = response.content.decode()
    assert text.startswith('<div id="ecosystem-rows"')
    assert "<html" not in text


def test_observatory_embeds_the_snapshot_and_the_seq_it_was_taken_at(browser, town):
    ecosystem, mira, tobias, scenario = town
    ecosystem.refresh_from_db()
    data = page_data(browser.get(f"/ecosystems/{ecosystem.pk}/"), "observatory-data")
    assert data["last_seq"] == ecosystem.last_seq
    assert data["ws_path"] == f"/ws/ecosystem/{ecosystem.pk}/"
    assert {c["name"] for c in data["characters"]} == {"Mira", "Tobias"}
    assert {(r["from"], r["to"]) for r in data["relationships"]} == {
        (str(mira.pk), str(tobias.pk)),
        (str(tobias.pk), str(mira.pk)),
    }
    assert data["active_scenario_ids"] == [str(scenario.pk)]
    # The feed: newest first, only the events that read as sentences, none past last_seq.
    types = [event["type"] for event in data["recent_events"]]
    assert types == ["scenario_started", "character_interaction"]
    assert all(event["seq"] <= data["last_seq"] for event in data["recent_events"])


def test_names_are_escaped_in_html_and_in_the_embedded_json(browser, owner):
    ecosystem = EcosystemFactory(owner=owner, name=XSS_NAME)
    villain = character_create(ecosystem=ecosystem, name=XSS_NAME, bio=XSS_NAME, **TRAITS)
    other = character_create(ecosystem=ecosystem, name="Ines", **TRAITS)
    scenario = scenario_create(
        ecosystem=ecosystem, participants=[villain, other], title=XSS_NAME, tick_seconds=60.0
    )
    for url in ["/", *urls(ecosystem, villain, scenario)]:
        text = browser.get(url).content.decode()
        assert "<img" not in text, url
        assert "&lt;img src=x onerror=alert(1)&gt;" in text or "\\u003Cimg" in text, url


def test_scenario_chat_embeds_transcript_and_participants(browser, town):
    _, mira, tobias, scenario = town
    interaction_process(
        initiator_id=mira.pk,
        target_id=tobias.pk,
        interaction_type="chat",
        content="Soup?",
        scenario=ScenarioContext(scenario_id=scenario.pk, turn=1),
    )
    data = page_data(browser.get(f"/scenarios/{scenario.pk}/"), "scenario-data")
    assert data["scenario"]["title"] == "Supper"
    assert data["scenario"]["status"] == Scenario.Status.ACTIVE
    assert [p["name"] for p in data["participants"]] == ["Mira", "Tobias"]
    entries = [entry for entry in data["transcript"] if entry["kind"] == "interaction"]
    assert [entry["content"] for entry in entries] == ["Soup?"]  # this scenario's only
    assert entries[0]["relationship_change"]["reverse"]["new_trust"] >= 0


def test_character_page_shows_relationships_with_labels_and_a_chart(browser, town):
    _, mira, _, _ = town
    text = browser.get(f"/characters/{mira.pk}/").content.decode()
    assert "Tobias" in text
    assert 'class="rel-label' in text
    assert "<polyline" in text  # the emotion / energy chart
    assert "Move!" in text  # recent interactions


def seed_large(owner, *, characters: int = 200, per_character: int = 10, energy=None):
    rng = random.Random(1)
    ecosystem = EcosystemFactory(owner=owner, name="Metropolis")
    cast = Character.objects.bulk_create(
        Character(
            ecosystem=ecosystem,
            name=f"Citizen {index:03d}",
            energy=energy if energy is not None else rng.random(),
            **TRAITS,
        )
        for index in range(characters)
    )
    Relationship.objects.bulk_create(
        Relationship(
            ecosystem=ecosystem,
            from_character=cast[index],
            to_character=cast[(index + 7 * step) % characters],
            strength=rng.uniform(-1, 1),
            trust=rng.random(),
            interaction_count=rng.randint(1, 9),
        )
        for index in range(characters)
        for step in range(1, per_character + 1)
    )
    return ecosystem


def test_a_large_observatory_renders_fast_with_few_queries(
    browser, owner, django_assert_max_num_queries
):
    ecosystem = seed_large(owner)
    browser.get(f"/ecosystems/{ecosystem.pk}/")  # warm up templates and connections
    with django_assert_max_num_queries(12):
        started = time.perf_counter()
        response = browser.get(f"/ecosystems/{ecosystem.pk}/")
        elapsed = time.perf_counter() - started
    data = page_data(response, "observatory-data")
    assert len(data["characters"]) == 200
    assert len(data["relationships"]) == 2000
    assert elapsed < 1.0, f"first view rendered in {elapsed:.2f} s"


def test_the_other_pages_do_not_grow_queries_with_the_cast(
    browser, owner, django_assert_max_num_queries
):
    ecosystem = seed_large(owner, characters=60, per_character=5, energy=1.0)
    cast = list(ecosystem.characters.all()[:12])
    scenario = scenario_create(ecosystem=ecosystem, participants=cast, title="Big", tick_seconds=60)
    for index in range(6):
        interaction_process(
            initiator_id=cast[index].pk,
            target_id=cast[index + 1].pk,
            interaction_type="chat",
            content="Hi",
            scenario=ScenarioContext(scenario_id=scenario.pk, turn=index + 1),
        )
    with django_assert_max_num_queries(12):
        assert browser.get("/").status_code == 200
    with django_assert_max_num_queries(12):
        assert browser.get(f"/scenarios/{scenario.pk}/").status_code == 200
    with django_assert_max_num_queries(12):
        assert browser.get(f"/characters/{cast[0].pk}/").status_code == 200
    with django_assert_max_num_queries(12):
        assert browser.get(f"/ecosystems/{ecosystem.pk}/scenarios/").status_code == 200
