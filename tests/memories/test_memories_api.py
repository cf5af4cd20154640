"""GET /api/v1/characters/{id}/memories?q=&limit=: newest first or ranked by q; bad input
400; another user's character 404."""

import pytest

from interactions.services import interaction_process
from memories.models import Memory
from tests.factories import CharacterFactory

pytestmark = pytest.mark.django_db


def url(character) -> str:
    return f"/api/v1/characters/{character.pk}/memories"


@pytest.fixture
def mira_remembers(ecosystem):
    otto = CharacterFactory(ecosystem=ecosystem, name="Otto")
    mira = CharacterFactory(ecosystem=ecosystem, name="Mira")
    for content in (
        "The fishing boats came back full of mackerel this morning.",
        "Your paper lanterns are ugly and crooked.",
        "The bakery sells fresh bread at dawn.",
    ):
        interaction_process(
            initiator_id=otto.pk, target_id=mira.pk, interaction_type="chat", content=content
        )
    return mira


def test_memories_are_listed_newest_first(api, mira_remembers):
    response = api.get(url(mira_remembers))
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 3
    assert [r["created"] for r in results] == sorted((r["created"] for r in results), reverse=True)
    assert results[0]["counterpart_name"] == "Otto"
    assert {r["kind"] for r in results} == {"memory"}
    assert all(r["score"] is None for r in results)


def test_q_ranks_the_relevant_memory_first(api, mira_remembers):
    response = api.get(url(mira_remembers), {"q": "lanterns"})
    assert response.status_code == 200
    results = response.json()["results"]
    assert "lanterns" in results[0]["text"]
    assert results[0]["score"] >= results[-1]["score"]


def test_limit_caps_the_list(api, mira_remembers):
    assert len(api.get(url(mira_remembers), {"limit": 2}).json()["results"]) == 2


@pytest.mark.parametrize(
    "params", [{"q": ""}, {"q": "   "}, {"limit": 0}, {"limit": 101}, {"limit": "many"}]
)
def test_bad_input_answers_400(api, mira_remembers, params):
    response = api.get(url(mira_remembers), params)
    assert response.status_code == 400
    assert response.json()["code"]


def test_another_users_character_and_an_unknown_id_answer_404(other_api, api, mira_remembers):
    assert other_api.get(url(mira_remembers)).status_code == 404
    assert api.get("/api/v1/characters/not-a-uuid/memories").status_code == 404
    assert Memory.objects.filter(character=mira_remembers).count() == 3


def test_anonymous_is_refused(anonymous, mira_remembers):
    assert anonymous.get(url(mira_remembers)).status_code == 401
