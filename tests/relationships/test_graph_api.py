"""The graph query endpoints: answers, bad input (400/404), another user's objects (404),
and 503 when Neo4j is not configured or not answering."""

from __future__ import annotations

import pytest
from django.test import override_settings

from relationships.graph import graph_sync_pending
from tests.factories import CharacterFactory, EcosystemFactory

from .conftest import relationship_make
from .test_graph_sync import INJECTION_NAME

UNKNOWN_ID = "6d1e8c1c-0000-4000-8000-0000000000aa"


@pytest.fixture
def world(graph, ecosystem):
    """A small graph in the user's ecosystem: Ann trusts Bo, Bo trusts Cy, and (weakly) Ann
    trusts Cy directly; Dee is isolated; Ann is named to break Cypher if it were spliced."""
    ann = CharacterFactory(ecosystem=ecosystem, name=INJECTION_NAME)
    bo = CharacterFactory(ecosystem=ecosystem, name="Bo")
    cy = CharacterFactory(ecosystem=ecosystem, name="Cy")
    dee = CharacterFactory(ecosystem=ecosystem, name="Dee")
    relationship_make(ann, bo, strength=0.6, trust=0.9, interaction_count=4, version=5)
    relationship_make(bo, cy, strength=0.8, trust=0.8, interaction_count=2, version=3)
    relationship_make(ann, cy, strength=0.2, trust=0.5, interaction_count=1, version=2)
    relationship_make(cy, bo, strength=-0.4, trust=0.3, interaction_count=1, version=2)
    graph_sync_pending(ecosystem_id=ecosystem.pk)
    return {"ecosystem": ecosystem, "ann": ann, "bo": bo, "cy": cy, "dee": dee}


def network_url(character) -> str:
    return f"/api/v1/characters/{character.pk}/network"


def path_url(ecosystem) -> str:
    return f"/api/v1/ecosystem/{ecosystem.pk}/path"


def influence_url(ecosystem) -> str:
    return f"/api/v1/ecosystem/{ecosystem.pk}/influence"


# --------------------------------------------------------------------------- network


def test_network_returns_the_neighbourhood_with_edge_data(api, world):
    response = api.get(network_url(world["bo"]))

    assert response.status_code == 200
    body = response.json()
    assert body["in_graph"] is True
    assert body["depth"] == 1
    assert {node["name"] for node in body["nodes"]} == {INJECTION_NAME, "Bo", "Cy"}
    edge = next(
        e
        for e in body["edges"]
        if (e["from_id"], e["to_id"]) == (str(world["ann"].pk), str(world["bo"].pk))
    )
    assert edge["strength"] == 0.6
    assert edge["trust"] == 0.9
    assert edge["interaction_count"] == 4
    assert edge["version"] == 5
    assert edge["last_interaction_at"]


def test_network_returns_a_quoted_name_intact(api, world):
    body = api.get(network_url(world["ann"]), {"depth": 1}).json()

    center = next(node for node in body["nodes"] if node["distance"] == 0)
    assert center["name"] == INJECTION_NAME


def test_network_of_a_character_not_yet_in_the_graph_is_just_itself(api, world):
    body = api.get(network_url(world["dee"]), {"depth": 3}).json()

    assert body["in_graph"] is False
    assert body["nodes"] == [{"id": str(world["dee"].pk), "name": "Dee", "distance": 0}]
    assert body["edges"] == []


@pytest.mark.parametrize("depth", ["0", "4", "-1", "two", "1.5", ""])
def test_network_depth_outside_one_to_three_is_400(api, world, depth):
    response = api.get(network_url(world["ann"]), {"depth": depth})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "depth" in response.json()["detail"]


def test_network_of_another_users_or_an_unknown_character_is_404(other_api, api, world):
    assert other_api.get(network_url(world["ann"])).status_code == 404
    assert api.get(f"/api/v1/characters/{UNKNOWN_ID}/network").status_code == 404
    assert api.get("/api/v1/characters/not-a-uuid/network").status_code == 404


def test_network_needs_authentication(anonymous, world):
    assert anonymous.get(network_url(world["ann"])).status_code == 401


# --------------------------------------------------------------------------- path


def test_path_follows_the_strongest_trust(api, world):
    response = api.get(
        path_url(world["ecosystem"]), {"from": world["ann"].pk, "to": world["cy"].pk}
    )

    assert response.status_code == 200
    body = response.json()
    # Ann→Bo→Cy: 0.9 x 0.8 = 0.72 beats Ann→Cy: 0.5.
    assert [node["name"] for node in body["nodes"]] == [INJECTION_NAME, "Bo", "Cy"]
    assert body["hops"] == 2
    assert body["trust_product"] == pytest.approx(0.72)
    assert body["measure"] == "max_trust_product"
    assert [edge["trust"] for edge in body["edges"]] == [0.9, 0.8]


def test_path_with_no_way_through_is_404_with_a_reason(api, world):
    response = api.get(
        path_url(world["ecosystem"]), {"from": world["cy"].pk, "to": world["ann"].pk}
    )

    assert response.status_code == 404
    assert response.json()["code"] == "no_path"
    assert "No path of trusted relationships" in response.json()["reason"]


def test_path_from_a_character_to_itself_is_400(api, world):
    response = api.get(
        path_url(world["ecosystem"]), {"from": world["ann"].pk, "to": world["ann"].pk}
    )

    assert response.status_code == 400
    assert response.json()["code"] == "same_character"


@pytest.mark.parametrize(
    "params", [{}, {"from": "x"}, {"to": UNKNOWN_ID}, {"from": "1", "to": "2"}]
)
def test_path_with_missing_or_malformed_ids_is_400(api, world, params):
    assert api.get(path_url(world["ecosystem"]), params).status_code == 400


def test_path_with_a_character_outside_the_ecosystem_is_404(api, user, world):
    elsewhere = CharacterFactory(ecosystem=EcosystemFactory(owner=user))

    for params in (
        {"from": world["ann"].pk, "to": elsewhere.pk},
        {"from": UNKNOWN_ID, "to": world["bo"].pk},
    ):
        response = api.get(path_url(world["ecosystem"]), params)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_path_in_another_users_ecosystem_is_404(other_api, world):
    response = other_api.get(
        path_url(world["ecosystem"]), {"from": world["ann"].pk, "to": world["bo"].pk}
    )

    assert response.status_code == 404


# --------------------------------------------------------------------------- influence


def test_influence_ranks_by_strength_weighted_pagerank(api, world):
    response = api.get(influence_url(world["ecosystem"]))

    assert response.status_code == 200
    body = response.json()
    assert body["measure"] == "strength_weighted_pagerank"
    ranking = [row["name"] for row in body["characters"]]
    # Cy is regarded by Ann and (strongly) by Bo; Bo by Ann only (Cy's regard is hostile);
    # Ann by nobody.
    assert ranking == ["Cy", "Bo", INJECTION_NAME]
    assert [row["rank"] for row in body["characters"]] == [1, 2, 3]
    assert sum(row["score"] for row in body["characters"]) == pytest.approx(1.0)
    cy = body["characters"][0]
    assert cy["weighted_in_degree"] == pytest.approx(1.0)
    assert cy["in_degree"] == 2


def test_influence_of_another_users_ecosystem_is_404(other_api, world):
    assert other_api.get(influence_url(world["ecosystem"])).status_code == 404


# --------------------------------------------------------------------------- unavailable


@override_settings(GRAPH_SYNC_ENABLED=False)
def test_graph_queries_answer_503_when_neo4j_is_not_configured(api, pair, ecosystem):
    a, b = pair
    responses = [
        api.get(network_url(a)),
        api.get(path_url(ecosystem), {"from": a.pk, "to": b.pk}),
        api.get(influence_url(ecosystem)),
    ]

    for response in responses:
        assert response.status_code == 503
        assert response.json()["code"] == "graph_not_configured"
        assert "NEO4J_BOLT_URL" in response.json()["detail"]


def test_graph_queries_answer_503_when_neo4j_is_not_answering(api, world):
    from neomodel import config, db

    db.close_connection()
    db.set_connection(url="bolt://neo4j:neo4j@127.0.0.1:9")  # nothing listens there
    try:
        responses = [
            api.get(network_url(world["ann"])),
            api.get(influence_url(world["ecosystem"])),
        ]
    finally:
        db.close_connection()
        db.set_connection(url=config.DATABASE_URL)

    for response in responses:
        assert response.status_code == 503
        assert response.json()["code"] == "graph_unavailable"
        assert "Neo4j is not answering" in response.json()["detail"]


def test_the_graph_endpoints_are_in_the_openapi_schema(api):
    schema = api.get("/api/schema", {"format": "json"}).json()

    for path in (
        "/api/v1/characters/{character_id}/network",
        "/api/v1/ecosystem/{ecosystem_id}/path",
        "/api/v1/ecosystem/{ecosystem_id}/influence",
    ):
        assert any(p.rstrip("/").startswith(path) for p in schema["paths"]), path
