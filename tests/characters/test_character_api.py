"""REST CRUD of ecosystems and characters, scoped to the requesting user."""

import pytest

from characters.models import Character, Ecosystem
from tests.factories import CharacterFactory, EcosystemFactory

pytestmark = pytest.mark.django_db

VALID_CHARACTER = {
    "name": "Mira",
    "bio": "A painter.",
    "openness": 0.9,
    "conscientiousness": 0.4,
    "extraversion": 0.7,
    "agreeableness": 0.6,
    "neuroticism": 0.5,
}


def test_ecosystem_create_list_update_delete(api):
    created = api.post("/api/v1/ecosystems", {"name": "Harbor", "description": "d"}, format="json")
    assert created.status_code == 201, created.content
    ecosystem_id = created.json()["id"]
    assert [row["name"] for row in api.get("/api/v1/ecosystems").json()["results"]] == ["Harbor"]
    renamed = api.patch(f"/api/v1/ecosystems/{ecosystem_id}/", {"name": "Port"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Port"
    assert api.delete(f"/api/v1/ecosystems/{ecosystem_id}").status_code == 204
    assert not Ecosystem.objects.filter(pk=ecosystem_id).exists()


def test_character_create_starts_at_personality_baseline_mood(api, ecosystem):
    response = api.post(
        "/api/v1/characters", {**VALID_CHARACTER, "ecosystem": str(ecosystem.pk)}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Mira" and body["energy"] == 1.0 and body["status"] == "active"
    assert body["emotion"]  # a readable label derived from the PAD baseline
    assert -1 <= body["pleasure"] <= 1


def test_character_list_filters_by_ecosystem_and_hides_other_users(api, ecosystem, other_user):
    mine = CharacterFactory(ecosystem=ecosystem, name="Mine")
    CharacterFactory(ecosystem=EcosystemFactory(owner=ecosystem.owner), name="Elsewhere")
    CharacterFactory(ecosystem=EcosystemFactory(owner=other_user), name="Theirs")
    everything = [row["name"] for row in api.get("/api/v1/characters").json()["results"]]
    assert sorted(everything) == ["Elsewhere", "Mine"]
    filtered = api.get(f"/api/v1/characters?ecosystem={ecosystem.pk}").json()["results"]
    assert [row["id"] for row in filtered] == [str(mine.pk)]


def test_another_users_objects_answer_404(api, other_user):
    foreign_ecosystem = EcosystemFactory(owner=other_user)
    foreign_character = CharacterFactory(ecosystem=foreign_ecosystem)
    assert api.get(f"/api/v1/ecosystems/{foreign_ecosystem.pk}").status_code == 404
    assert api.get(f"/api/v1/characters/{foreign_character.pk}").status_code == 404
    assert api.delete(f"/api/v1/characters/{foreign_character.pk}").status_code == 404
    assert Character.objects.filter(pk=foreign_character.pk).exists()


def test_creating_a_character_in_another_users_ecosystem_is_refused(api, other_user):
    foreign = EcosystemFactory(owner=other_user)
    response = api.post(
        "/api/v1/characters", {**VALID_CHARACTER, "ecosystem": str(foreign.pk)}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("ecosystem:")
    assert not Character.objects.filter(ecosystem=foreign).exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"openness": 1.5}, "openness"),
        ({"neuroticism": -0.1}, "neuroticism"),
        ({"pleasure": 2}, "pleasure"),
        ({"energy": "lots"}, "energy"),
        ({"name": "x" * 81}, "name"),
        ({"name": ""}, "name"),
        ({"favourite_colour": "blue"}, "favourite_colour"),
        ({"status": "flying"}, "status"),
    ],
)
def test_bad_character_input_answers_400_naming_the_field(api, ecosystem, change, field):
    payload = {**VALID_CHARACTER, "ecosystem": str(ecosystem.pk), **change}
    response = api.post("/api/v1/characters", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert field in body["errors"] and body["code"] == "invalid"
    assert body["detail"].startswith(f"{field}:")
    assert not Character.objects.exists()


def test_malformed_ids_answer_404_and_malformed_filter_400(api):
    assert api.get("/api/v1/characters/not-a-uuid").status_code == 404
    assert api.get("/api/v1/ecosystems/1234").status_code == 404
    response = api.get("/api/v1/characters?ecosystem=nope")
    assert response.status_code == 400 and "ecosystem" in response.json()["detail"]


def test_a_one_megabyte_body_answers_413_and_writes_nothing(api, ecosystem):
    payload = {**VALID_CHARACTER, "ecosystem": str(ecosystem.pk), "bio": "x" * 1_000_000}
    response = api.post("/api/v1/characters", payload, format="json")
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
    assert not Character.objects.exists()


def test_malformed_json_answers_400(api):
    response = api.post("/api/v1/ecosystems", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_database_constraints_hold_without_validation(ecosystem):
    from django.db import IntegrityError, transaction

    for field, value in (("openness", 1.2), ("energy", -0.5), ("arousal", 1.5)):
        with pytest.raises(IntegrityError), transaction.atomic():
            Character.objects.create(ecosystem=ecosystem, name="Bad", **{field: value})
