"""GET /api/v1/ecosystem/{id}/dashboard and /graph: what the observatory's overview shows."""

import pytest

from characters.models import Character
from interactions.services import interaction_process
from relationships.models import Relationship
from scenarios.services import scenario_create, scenario_end
from tests.factories import CharacterFactory, EcosystemFactory

pytestmark = pytest.mark.django_db

SOCIABLE = dict(
    openness=0.6, conscientiousness=0.6, extraversion=0.8, agreeableness=0.7, neuroticism=0.3
)


@pytest.fixture
def town(ecosystem):
    """Four characters, one archived; a friendship, a quarrel, one scenario playing and one
    ended."""
    mira, tobias, ines, otto = (
        CharacterFactory(ecosystem=ecosystem, name=name, **SOCIABLE)
        for name in ("Mira", "Tobias", "Ines", "Otto")
    )
    Character.objects.filter(pk=otto.pk).update(status=Character.Status.ARCHIVED)
    interaction_process(
        initiator_id=mira.pk,
        target_id=ines.pk,
        interaction_type="collaboration",
        content="I love working with you, this is wonderful!",
    )
    interaction_process(
        initiator_id=tobias.pk,
        target_id=mira.pk,
        interaction_type="conflict",
        content="You ruined everything, you useless fool. I hate this.",
    )
    scenario_create(ecosystem=ecosystem, participants=[mira, ines], title="Lanterns", seed=1)
    ended = scenario_create(ecosystem=ecosystem, participants=[mira, tobias], title="Old", seed=2)
    scenario_end(scenario_id=ended.pk)
    return {"mira": mira, "tobias": tobias, "ines": ines, "otto": otto}


def test_dashboard_counts_activity_and_relationships(api, ecosystem, town):
    response = api.get(f"/api/v1/ecosystem/{ecosystem.pk}/dashboard")
    assert response.status_code == 200, response.content
    body = response.json()
    counts = body["counts"]
    assert counts["characters"] == 4
    assert counts["characters_by_status"]["archived"] == 1
    assert counts["relationships"] == 4
    assert counts["active_conversations"] == 1
    assert counts["scenarios_by_status"] == {"active": 2 - 1, "paused": 0, "ended": 1}
    assert counts["interactions"] == 2

    # 2 interactions x 4 events (3 + memory_formed) + 2 scenario_started + 1 scenario_ended
    assert len(body["recent_events"]) == 11
    assert body["recent_events"][0]["type"] == "scenario_ended"
    assert [e["seq"] for e in body["recent_events"]] == list(range(11, 0, -1))
    assert body["events_per_minute"] == pytest.approx(11 / 5)
    assert set(body["recent_events"][0]) == {"seq", "type", "timestamp", "ecosystem_id", "data"}

    by_strength = list(
        Relationship.objects.filter(ecosystem=ecosystem)
        .order_by("-strength")
        .values_list("from_character__name", "to_character__name", "strength")
    )
    strongest = body["strongest_relationships"]
    strained = body["most_strained_relationships"]
    assert len(strongest) == len(strained) == 4
    assert (strongest[0]["from_name"], strongest[0]["to_name"]) == by_strength[0][:2]
    assert (strained[0]["from_name"], strained[0]["to_name"]) == by_strength[-1][:2]
    assert [r["strength"] for r in strongest] == sorted(
        (r["strength"] for r in strongest), reverse=True
    )
    assert strained[0]["strength"] == pytest.approx(by_strength[-1][2], abs=1e-4)
    assert {"from", "to", "trust", "interaction_count", "label"} <= set(strongest[0])

    assert sum(body["mood_distribution"].values()) == 3  # archived Otto is not counted
    assert body["graph_sync"]["pending"] >= 0
    assert "enabled" in body["graph_sync"]


def test_dashboard_of_an_empty_ecosystem(api, ecosystem):
    body = api.get(f"/api/v1/ecosystem/{ecosystem.pk}/dashboard").json()
    assert body["counts"]["characters"] == 0
    assert body["recent_events"] == []
    assert body["strongest_relationships"] == body["most_strained_relationships"] == []
    assert body["mood_distribution"] == {}
    assert body["events_per_minute"] == 0


def test_dashboard_query_count_does_not_grow_with_the_ecosystem(
    api, ecosystem, town, django_assert_max_num_queries
):
    with django_assert_max_num_queries(14):
        assert api.get(f"/api/v1/ecosystem/{ecosystem.pk}/dashboard").status_code == 200


def test_graph_has_nodes_with_emotion_and_energy_and_edges_with_strength_and_trust(
    api, ecosystem, town, django_assert_max_num_queries
):
    with django_assert_max_num_queries(6):
        response = api.get(f"/api/v1/ecosystem/{ecosystem.pk}/graph")
    assert response.status_code == 200
    body = response.json()
    nodes = {node["name"]: node for node in body["nodes"]}
    assert set(nodes) == {"Mira", "Tobias", "Ines", "Otto"}
    assert nodes["Otto"]["status"] == "archived"
    for node in nodes.values():
        assert {"id", "emotion", "pleasure", "arousal", "dominance", "energy"} <= set(node)
        assert 0.0 <= node["energy"] <= 1.0
    assert len(body["edges"]) == Relationship.objects.filter(ecosystem=ecosystem).count() == 4
    edge = next(
        e
        for e in body["edges"]
        if e["from"] == str(town["mira"].pk) and e["to"] == str(town["ines"].pk)
    )
    stored = Relationship.objects.get(from_character=town["mira"], to_character=town["ines"])
    assert edge["strength"] == pytest.approx(stored.strength, abs=1e-4)
    assert edge["trust"] == pytest.approx(stored.trust, abs=1e-4)
    assert edge["interaction_count"] == 1
    assert {"trust", "label"} <= set(edge)


def test_another_users_dashboard_and_graph_are_not_found(other_api, api, ecosystem, town):
    for path in ("dashboard", "graph"):
        assert other_api.get(f"/api/v1/ecosystem/{ecosystem.pk}/{path}").status_code == 404
        assert api.get(f"/api/v1/ecosystem/not-an-id/{path}").status_code == 404


def test_each_dashboard_shows_only_its_own_ecosystem(api, user, ecosystem, town):
    other = EcosystemFactory(owner=user)
    body = api.get(f"/api/v1/ecosystem/{other.pk}/dashboard").json()
    assert body["counts"]["characters"] == 0
    assert body["counts"]["active_conversations"] == 0
    assert body["recent_events"] == []
