"""POST /api/v1/interactions: the hot path, its refusals and its bad input."""

import threading

import pytest
from django.db import connection

from characters.models import Character
from eventlog.models import Event
from interactions.apis import (
    InteractionOutputSerializer,
    TwoWayRelationshipChangeSerializer,
)
from interactions.models import Interaction
from relationships.models import Relationship
from tests.conftest import client_for, from_another_connection
from tests.factories import CharacterFactory, EcosystemFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/interactions"


def interact(api, initiator, target, interaction_type="chat", content="Lovely morning, isn't it?"):
    return api.post(
        URL,
        {
            "initiator_id": str(initiator.pk),
            "target_id": str(target.pk),
            "interaction_type": interaction_type,
            "content": content,
        },
        format="json",
    )


def test_an_interaction_answers_and_moves_both_characters(api, pair):
    mira, tobias = pair
    response = interact(api, mira, tobias, "chat", "What a wonderful idea, I love the lanterns!")
    assert response.status_code == 201, response.content
    body = response.json()
    # The documented shape (the OpenAPI schema's InteractionOutput), field for field.
    assert set(body) == set(InteractionOutputSerializer().fields)
    assert set(body["relationship_change"]) == set(TwoWayRelationshipChangeSerializer().fields)
    assert body["success"] is True
    assert body["response"]
    change = body["relationship_change"]
    assert change["strength_delta"] == pytest.approx(change["new_strength"] - 0.0, abs=1e-3)
    assert set(body["emotional_state"]) == {str(mira.pk), str(tobias.pk)}
    # character_interaction, relationship_changed, character_state_changed, memory_formed
    assert body["event_seq"] == 4

    forward = Relationship.objects.get(from_character=mira, to_character=tobias)
    backward = Relationship.objects.get(from_character=tobias, to_character=mira)
    assert forward.interaction_count == backward.interaction_count == 1
    assert forward.version == backward.version == 2
    assert forward.strength == pytest.approx(change["new_strength"], abs=1e-4)
    # Mira's warm words raised Tobias's regard of her.
    assert backward.strength > 0
    mira.refresh_from_db()
    assert mira.energy != 1.0 or mira.extraversion > 0.5

    events = list(Event.objects.filter(ecosystem=mira.ecosystem).order_by("seq"))
    assert [(e.seq, e.type) for e in events] == [
        (1, "character_interaction"),
        (2, "relationship_changed"),
        (3, "character_state_changed"),
        (4, "memory_formed"),
    ]
    assert events[0].payload["participants"] == [str(mira.pk), str(tobias.pk)]
    assert events[0].payload["content"] == "What a wonderful idea, I love the lanterns!"
    assert events[0].payload["scenario_id"] is None


def test_type_is_accepted_as_an_alias_as_the_seed_load_test_sends_it(api, pair):
    mira, tobias = pair
    response = api.post(
        URL,
        {
            "initiator_id": str(mira.pk),
            "target_id": str(tobias.pk),
            "type": "greeting",
            "content": "Hi!",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Interaction.objects.get().interaction_type == "greeting"


def test_a_null_context_is_no_context(api, pair):
    mira, tobias = pair
    response = api.post(
        URL,
        {
            "initiator_id": str(mira.pk),
            "target_id": str(tobias.pk),
            "interaction_type": "chat",
            "content": "Nice weather.",
            "context": None,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Interaction.objects.get().content == "Nice weather."


def test_greet_argue_and_make_up_moves_the_relationship_as_documented(api, pair):
    mira, tobias = pair
    interact(api, mira, tobias, "greeting", "Hello Tobias, so good to see you!")
    after_greeting = Relationship.objects.get(from_character=tobias, to_character=mira)
    interact(api, mira, tobias, "conflict", "You ruined everything, you selfish, awful liar!")
    after_conflict = Relationship.objects.get(from_character=tobias, to_character=mira)
    assert after_conflict.strength < after_greeting.strength
    assert after_conflict.trust < after_greeting.trust
    interact(
        api, mira, tobias, "collaboration", "I'm sorry. Let's build the boats together, gladly."
    )
    made_up = Relationship.objects.get(from_character=tobias, to_character=mira)
    assert made_up.strength > after_conflict.strength
    assert made_up.interaction_count == 3


@pytest.mark.parametrize(
    ("payload_change", "field"),
    [
        ({"content": ""}, "content"),
        ({"content": "x" * 5000}, "content"),
        ({"interaction_type": "duel"}, "interaction_type"),
        ({"initiator_id": "not-a-uuid"}, "initiator_id"),
    ],
)
def test_bad_input_answers_400_with_the_reason_and_writes_nothing(api, pair, payload_change, field):
    mira, tobias = pair
    payload = {
        "initiator_id": str(mira.pk),
        "target_id": str(tobias.pk),
        "interaction_type": "chat",
        "content": "Hi",
        **payload_change,
    }
    response = api.post(URL, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["detail"]
    assert not Interaction.objects.exists() and not Event.objects.exists()


def test_unknown_and_foreign_characters_answer_404(api, pair, other_user):
    mira, _ = pair
    stranger = CharacterFactory(ecosystem=EcosystemFactory(owner=other_user))
    assert interact(api, mira, stranger).status_code == 404
    response = api.post(
        URL,
        {
            "initiator_id": str(mira.pk),
            "target_id": "00000000-0000-0000-0000-000000000000",
            "interaction_type": "chat",
            "content": "Hi",
        },
        format="json",
    )
    assert response.status_code == 404
    assert not Relationship.objects.exists()


@pytest.mark.parametrize(
    "reason", ["same_character", "different_ecosystems", "archived", "too_tired"]
)
def test_infeasible_interactions_answer_409_with_a_reason_and_change_nothing(
    api, user, pair, reason
):
    mira, tobias = pair
    target = tobias
    if reason == "same_character":
        target = mira
    elif reason == "different_ecosystems":
        target = CharacterFactory(ecosystem=EcosystemFactory(owner=user), name="Far away")
    elif reason == "archived":
        Character.objects.filter(pk=tobias.pk).update(status="archived")
    else:
        Character.objects.filter(pk=tobias.pk).update(energy=0.01, status="resting")
    response = interact(api, mira, target)
    assert response.status_code == 409
    body = response.json()
    assert body["success"] is False and body["code"] == reason
    assert body["reason"]
    assert not Interaction.objects.exists() and not Event.objects.exists()
    assert not Relationship.objects.exists()


def test_anonymous_callers_get_401(anonymous, pair):
    mira, tobias = pair
    assert interact(anonymous, mira, tobias).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_concurrent_interactions_on_one_pair_lose_no_update(user, ecosystem):
    assert connection.vendor == "postgresql"
    traits = dict(
        openness=0.5, conscientiousness=0.5, extraversion=0.9, agreeableness=0.8, neuroticism=0.1
    )
    mira = CharacterFactory(ecosystem=ecosystem, name="Mira", **traits)
    tobias = CharacterFactory(ecosystem=ecosystem, name="Tobias", **traits)
    threads_count, per_thread = 6, 5
    statuses: list[int] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        client = client_for(user)
        for turn in range(per_thread):
            first, second = (mira, tobias) if (index + turn) % 2 else (tobias, mira)
            response = interact(client, first, second, "chat", "Nice to talk with you!")
            with lock:
                statuses.append(response.status_code)
        connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    succeeded = statuses.count(201)
    assert succeeded + statuses.count(409) == threads_count * per_thread
    assert succeeded >= threads_count * per_thread // 2
    for relationship in Relationship.objects.filter(ecosystem=ecosystem):
        assert relationship.interaction_count == succeeded
        assert relationship.version == succeeded + 1
    seqs = list(
        Event.objects.filter(ecosystem=ecosystem).order_by("seq").values_list("seq", flat=True)
    )
    # Four per interaction, and a reflection now and then: contiguous all the same.
    assert seqs == list(range(1, len(seqs) + 1))
    assert (
        Event.objects.filter(ecosystem=ecosystem, type="character_interaction").count() == succeeded
    )


@pytest.mark.django_db(transaction=True)
def test_with_the_template_backend_the_pair_is_read_once_and_stays_locked_while_it_speaks(
    api, pair, monkeypatch
):
    """The in-process backend's interaction is planned, generated and applied in one
    transaction (interactions.services.generates_in_process): the pair is read once, locked,
    and nobody else can change it while the lines are written."""
    from django.test.utils import CaptureQueriesContext

    from interactions import services

    assert connection.vendor == "postgresql", "row locks need PostgreSQL: run with make test"
    mira, tobias = pair
    seen = []
    generate = services.interaction_generate

    def look_from_outside(*, plan):
        def queries(cursor) -> list:
            cursor.execute(
                "SELECT id FROM characters_character WHERE id IN (%s, %s) "
                "FOR NO KEY UPDATE SKIP LOCKED",
                [mira.pk, tobias.pk],
            )
            return cursor.fetchall()

        seen.append(from_another_connection(queries))
        return generate(plan=plan)

    monkeypatch.setattr(services, "interaction_generate", look_from_outside)
    with CaptureQueriesContext(connection) as queries:
        response = interact(api, mira, tobias)

    assert response.status_code == 201, response.content
    assert seen == [[]]  # both speakers locked while their lines were written
    pair_reads = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].startswith("SELECT") and 'FROM "characters_character"' in query["sql"]
    ]
    assert len(pair_reads) == 1
    assert "FOR NO KEY UPDATE" in pair_reads[0]
