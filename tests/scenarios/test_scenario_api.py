"""The scenario REST API: create, list, read, pause / resume / end, mode, messages; bad input
answers 400 naming the field, another user's scenario 404, an ended scenario 409."""

import uuid

import pytest

from characters.models import Character
from eventlog.models import Event
from scenarios.models import Scenario, UserMessage
from scenarios.services import scenario_play_turn
from tests.factories import CharacterFactory, EcosystemFactory

pytestmark = pytest.mark.django_db

SOCIABLE = dict(
    openness=0.6, conscientiousness=0.6, extraversion=0.8, agreeableness=0.7, neuroticism=0.3
)


@pytest.fixture
def cast(ecosystem):
    return [
        CharacterFactory(ecosystem=ecosystem, name=name, **SOCIABLE)
        for name in ("Ines", "Mira", "Tobias")
    ]


def create_url(ecosystem_id) -> str:
    return f"/api/v1/ecosystem/{ecosystem_id}/scenario"


def body_for(cast, **overrides):
    body = {
        "title": "The storm festival",
        "setting": "the harbor square, hours before the festival",
        "mood": "excited but tense",
        "objectives": ["finish the lantern boats", "decide who leads the parade"],
        "character_ids": [str(c.pk) for c in cast],
        "duration_minutes": 30,
        "tick_seconds": 2,
        "seed": 11,
    }
    body.update(overrides)
    return body


def create(api, ecosystem, cast, **overrides):
    return api.post(create_url(ecosystem.pk), body_for(cast, **overrides), format="json")


@pytest.fixture
def scenario_id(api, ecosystem, cast):
    response = create(api, ecosystem, cast, mode="participant")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def play_turns(scenario_id, count):
    for _ in range(count):
        scenario = Scenario.objects.get(pk=scenario_id)
        assert scenario_play_turn(scenario_id=scenario.pk, turn=scenario.turn + 1)


# --- create ------------------------------------------------------------------------------


def test_create_answers_201_with_an_active_scenario(api, ecosystem, cast):
    response = create(api, ecosystem, cast)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "active"
    assert body["start_time"]
    assert body["mode"] == "observer"
    assert body["turn"] == 0
    assert body["time_left_seconds"] == pytest.approx(30 * 60, abs=5)
    assert [p["name"] for p in body["participants"]] == ["Ines", "Mira", "Tobias"]
    assert {"energy", "emotion", "pleasure", "status"} <= set(body["participants"][0])
    scenario = Scenario.objects.get(pk=body["id"])
    assert scenario.ecosystem == ecosystem
    assert Event.objects.filter(ecosystem=ecosystem, type="scenario_started").count() == 1


def test_trailing_slash_is_optional(api, ecosystem, cast):
    response = api.post(create_url(ecosystem.pk) + "/", body_for(cast), format="json")
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"duration_minutes": -5}, "duration_minutes"),
        ({"duration_minutes": 7 * 24 * 60 + 1}, "duration_minutes"),
        ({"tick_seconds": 0.5}, "tick_seconds"),
        ({"tick_seconds": 3601}, "tick_seconds"),
        ({"mode": "spectator"}, "mode"),
        ({"title": ""}, "title"),
        ({"objectives": "not a list"}, "objectives"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_bad_settings_answer_400_naming_the_field(api, ecosystem, cast, overrides, field):
    response = create(api, ecosystem, cast, **overrides)
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body["errors"]
    assert body["detail"].startswith(field)
    assert not Scenario.objects.exists()


def test_fewer_than_two_different_characters_is_bad_input(api, ecosystem, cast):
    for ids in ([cast[0].pk], [cast[0].pk, cast[0].pk], []):
        response = create(api, ecosystem, cast, character_ids=[str(i) for i in ids])
        assert response.status_code == 400, response.content
        assert "character_ids" in response.json()["errors"]


def test_characters_of_another_ecosystem_or_user_are_bad_input(
    api, ecosystem, cast, user, other_user
):
    mine_elsewhere = CharacterFactory(ecosystem=EcosystemFactory(owner=user))
    theirs = CharacterFactory(ecosystem=EcosystemFactory(owner=other_user))
    for outsider in (mine_elsewhere, theirs, None):
        outsider_id = str(outsider.pk) if outsider else str(uuid.uuid4())
        response = create(api, ecosystem, cast, character_ids=[str(cast[0].pk), outsider_id])
        assert response.status_code == 400
        assert "character_ids" in response.json()["errors"]


def test_archived_characters_cannot_take_part(api, ecosystem, cast):
    Character.objects.filter(pk=cast[1].pk).update(status=Character.Status.ARCHIVED)
    response = create(api, ecosystem, cast[:2])
    assert response.status_code == 400
    assert "character_ids" in response.json()["errors"]


def test_another_users_ecosystem_is_not_found(other_api, ecosystem, cast):
    response = create(other_api, ecosystem, cast)
    assert response.status_code == 404
    assert other_api.get(f"/api/v1/ecosystem/{ecosystem.pk}/scenarios").status_code == 404


def test_anonymous_requests_are_refused(anonymous, ecosystem, cast):
    assert create(anonymous, ecosystem, cast).status_code == 401


# --- read -------------------------------------------------------------------------------------


def test_list_shows_the_ecosystems_scenarios_without_n_plus_one(
    api, ecosystem, cast, django_assert_max_num_queries
):
    for index in range(5):
        assert create(api, ecosystem, cast, title=f"Scene {index}").status_code == 201
    with django_assert_max_num_queries(6):
        response = api.get(f"/api/v1/ecosystem/{ecosystem.pk}/scenarios")
    assert response.status_code == 200
    rows = response.json()
    assert len(rows) == 5
    assert {row["title"] for row in rows} == {f"Scene {i}" for i in range(5)}
    assert [p["name"] for p in rows[0]["participants"]] == ["Ines", "Mira", "Tobias"]
    paused = api.get(f"/api/v1/ecosystem/{ecosystem.pk}/scenarios?status=paused")
    assert paused.json() == []
    assert api.get(f"/api/v1/ecosystem/{ecosystem.pk}/scenarios?status=x").status_code == 400


def test_detail_shows_state_participants_turn_and_time_left(api, scenario_id):
    play_turns(scenario_id, 2)
    response = api.get(f"/api/v1/scenarios/{scenario_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["turn"] == 2
    assert body["status"] == "active"
    assert 0 < body["time_left_seconds"] <= 30 * 60
    assert body["next_tick_at"]
    for participant in body["participants"]:
        assert 0.0 <= participant["energy"] <= 1.0
        assert participant["emotion"]


def test_another_users_scenario_is_not_found(other_api, scenario_id):
    for path in ("", "/messages"):
        assert other_api.get(f"/api/v1/scenarios/{scenario_id}{path}").status_code == 404
    for action in ("pause", "resume", "end"):
        assert other_api.post(f"/api/v1/scenarios/{scenario_id}/{action}").status_code == 404
    response = other_api.post(
        f"/api/v1/scenarios/{scenario_id}/messages", {"content": "hi"}, format="json"
    )
    assert response.status_code == 404
    assert Scenario.objects.get(pk=scenario_id).status == "active"


def test_a_malformed_id_is_not_found(api):
    assert api.get("/api/v1/scenarios/not-a-uuid").status_code == 404


# --- pause / resume / end ------------------------------------------------------------------------


def test_pause_resume_end_through_the_api(api, scenario_id, ecosystem):
    paused = api.post(f"/api/v1/scenarios/{scenario_id}/pause")
    assert paused.status_code == 200
    assert paused.json()["status"] == "paused"
    again = api.post(f"/api/v1/scenarios/{scenario_id}/pause")
    assert again.status_code == 200, "pausing twice is harmless"
    resumed = api.post(f"/api/v1/scenarios/{scenario_id}/resume")
    assert resumed.json()["status"] == "active"
    play_turns(scenario_id, 3)
    ended = api.post(f"/api/v1/scenarios/{scenario_id}/end")
    assert ended.status_code == 200
    body = ended.json()
    assert body["status"] == "ended"
    assert body["time_left_seconds"] == 0
    assert body["summary"]["turns"] == 3
    assert body["summary"]["relationship_changes"]
    types = list(
        Event.objects.filter(ecosystem=ecosystem, type__startswith="scenario_")
        .order_by("seq")
        .values_list("type", flat=True)
    )
    assert types == ["scenario_started", "scenario_paused", "scenario_resumed", "scenario_ended"]


def test_actions_on_an_ended_scenario_answer_409(api, scenario_id):
    assert api.post(f"/api/v1/scenarios/{scenario_id}/end").status_code == 200
    for action in ("pause", "resume", "end"):
        response = api.post(f"/api/v1/scenarios/{scenario_id}/{action}")
        assert response.status_code == 409
        assert response.json()["code"] == "scenario_ended"
    response = api.post(
        f"/api/v1/scenarios/{scenario_id}/messages", {"content": "Anyone?"}, format="json"
    )
    assert response.status_code == 409
    response = api.patch(
        f"/api/v1/scenarios/{scenario_id}/mode", {"mode": "observer"}, format="json"
    )
    assert response.status_code == 409


def test_an_action_with_a_body_field_it_does_not_know_is_bad_input(api, scenario_id):
    response = api.post(f"/api/v1/scenarios/{scenario_id}/pause", {"force": True}, format="json")
    assert response.status_code == 400
    assert "force" in response.json()["errors"]


# --- mode and messages -------------------------------------------------------------------------


def test_messages_are_refused_in_observer_mode_until_the_mode_changes(api, ecosystem, cast):
    scenario_id = create(api, ecosystem, cast).json()["id"]
    url = f"/api/v1/scenarios/{scenario_id}/messages"
    refused = api.post(url, {"content": "May I join?"}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "observer_mode"

    switched = api.patch(
        f"/api/v1/scenarios/{scenario_id}/mode", {"mode": "participant"}, format="json"
    )
    assert switched.status_code == 200
    assert switched.json()["mode"] == "participant"
    bad_mode = api.post(f"/api/v1/scenarios/{scenario_id}/mode", {"mode": "god"}, format="json")
    assert bad_mode.status_code == 400
    assert "mode" in bad_mode.json()["errors"]
    assert api.post(url, {"content": "May I join?"}, format="json").status_code == 201


def test_a_persons_message_is_answered_by_the_named_character(api, scenario_id, cast, ecosystem):
    mira = cast[1]
    url = f"/api/v1/scenarios/{scenario_id}/messages"
    response = api.post(
        url,
        {"content": "Mira, will the boats be ready?", "target_character_id": str(mira.pk)},
        format="json",
    )
    assert response.status_code == 201, response.content
    posted = response.json()
    assert posted["target_character"]["name"] == "Mira"
    assert posted["answered_at"] is None
    assert Event.objects.filter(ecosystem=ecosystem, type="user_message").count() == 1

    play_turns(scenario_id, 1)
    transcript = api.get(url).json()
    (interaction,) = transcript["interactions"]
    assert interaction["turn"] == 1
    assert interaction["initiator"]["name"] == "Mira"
    assert interaction["user_message_id"] == posted["id"]
    assert interaction["content"] and interaction["response"]
    (message,) = transcript["user_messages"]
    assert message["answered_in_turn"] == 1
    assert message["answered_at"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": ""}, "content"),
        ({"content": "x" * 2001}, "content"),
        ({}, "content"),
        ({"content": "hi", "target_character_id": "nobody"}, "target_character_id"),
        ({"content": "hi", "target_character_id": str(uuid.uuid4())}, "target_character_id"),
        ({"content": "hi", "shout": True}, "shout"),
    ],
)
def test_bad_messages_answer_400_naming_the_field(api, scenario_id, body, field):
    response = api.post(f"/api/v1/scenarios/{scenario_id}/messages", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not UserMessage.objects.exists()


def test_transcript_lists_turns_in_order_with_names_emotions_and_relationship_change(
    api, scenario_id, django_assert_max_num_queries
):
    play_turns(scenario_id, 5)
    with django_assert_max_num_queries(8):
        response = api.get(f"/api/v1/scenarios/{scenario_id}/messages")
    assert response.status_code == 200
    body = response.json()
    assert body["turn"] == 5
    assert [i["turn"] for i in body["interactions"]] == [1, 2, 3, 4, 5]
    first = body["interactions"][0]
    assert first["initiator"]["name"] != first["target"]["name"]
    assert set(first["emotional_states"]) == {first["initiator"]["id"], first["target"]["id"]}
    assert {"strength_delta", "trust_delta", "reverse"} <= set(first["relationship_change"])
    later = api.get(f"/api/v1/scenarios/{scenario_id}/messages?since_turn=3").json()
    assert [i["turn"] for i in later["interactions"]] == [4, 5]
    bad = api.get(f"/api/v1/scenarios/{scenario_id}/messages?since_turn=-1")
    assert bad.status_code == 400


# --- admin ---------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, user):
    user.is_staff = user.is_superuser = True
    user.save()
    client.force_login(user)
    return client


def test_admin_lists_scenarios_and_interactions(admin_client, scenario_id):
    play_turns(scenario_id, 2)
    assert admin_client.get("/admin/scenarios/scenario/").status_code == 200
    assert admin_client.get(f"/admin/scenarios/scenario/{scenario_id}/change/").status_code == 200
    listing = admin_client.get("/admin/interactions/interaction/?interaction_type=chat&q=the")
    assert listing.status_code == 200


def test_admin_actions_go_through_the_services(admin_client, scenario_id, ecosystem):
    changelist = "/admin/scenarios/scenario/"
    for action, status in (
        ("pause_scenarios", "paused"),
        ("resume_scenarios", "active"),
        ("end_scenarios", "ended"),
    ):
        response = admin_client.post(
            changelist, {"action": action, "_selected_action": [scenario_id]}
        )
        assert response.status_code == 302
        assert Scenario.objects.get(pk=scenario_id).status == status
    # On an ended scenario the action is refused with a message, not an error page.
    response = admin_client.post(
        changelist, {"action": "pause_scenarios", "_selected_action": [scenario_id]}, follow=True
    )
    assert response.status_code == 200
    assert "has ended" in response.content.decode()
    assert Event.objects.filter(ecosystem=ecosystem, type="scenario_ended").count() == 1


def test_admin_creates_a_scenario_through_the_service(admin_client, ecosystem, cast):
    response = admin_client.post(
        "/admin/scenarios/scenario/add/",
        {
            "ecosystem": str(ecosystem.pk),
            "title": "Made in the admin",
            "setting": "",
            "mood": "calm",
            "objectives": "[]",
            "participants": [str(c.pk) for c in cast[:2]],
            "duration_minutes": 5,
            "tick_seconds": 3,
            "seed": 4,
            "mode": "observer",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    scenario = Scenario.objects.get(title="Made in the admin")
    assert scenario.status == "active"
    assert scenario.next_tick_at is not None
    assert scenario.participants.count() == 2
    assert Event.objects.filter(ecosystem=ecosystem, type="scenario_started").count() == 1
