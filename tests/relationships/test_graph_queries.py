"""Graph queries: the path and influence algorithms on hand-built graphs with known answers,
then the same answers from Neo4j after a real sync."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from observatory.graph_queries import (
    GraphEdge,
    graph_influence,
    graph_network,
    graph_strongest_trust_path,
    hop_distances,
    strength_weighted_pagerank,
    strongest_trust_path,
)
from relationships.graph import graph_sync_pending
from tests.factories import CharacterFactory, EcosystemFactory

from .conftest import relationship_make


def edge(a: str, b: str, *, trust: float = 0.5, strength: float = 0.5) -> GraphEdge:
    return GraphEdge(from_id=a, to_id=b, strength=strength, trust=trust)


# A→B→D multiplies to 0.81, the direct A→D is only 0.6, A→C→D 0.475, and the long way
# A→E→F→D 0.99³ ≈ 0.970 is the strongest.
TRUST_GRAPH = [
    edge("A", "B", trust=0.9),
    edge("B", "D", trust=0.9),
    edge("A", "C", trust=0.95),
    edge("C", "D", trust=0.5),
    edge("A", "D", trust=0.6),
    edge("A", "E", trust=0.99),
    edge("E", "F", trust=0.99),
    edge("F", "D", trust=0.99),
]


# --------------------------------------------------------------------------- pure: path


def test_the_strongest_trust_path_maximises_the_product_of_trust():
    path = strongest_trust_path(TRUST_GRAPH, "A", "D")

    assert path is not None
    assert path.node_ids == ["A", "E", "F", "D"]
    assert path.trust_product == pytest.approx(0.99**3)
    assert path.cost == pytest.approx(-3 * math.log(0.99))
    assert path.hops == 3


def test_without_the_long_way_the_two_hop_path_beats_the_direct_edge():
    edges = [e for e in TRUST_GRAPH if "E" not in (e.from_id, e.to_id)]

    path = strongest_trust_path(edges, "A", "D")

    assert path is not None
    assert path.node_ids == ["A", "B", "D"]
    assert path.trust_product == pytest.approx(0.81)


def test_the_path_follows_direction_and_says_none_when_there_is_no_way():
    assert strongest_trust_path(TRUST_GRAPH, "D", "A") is None
    assert strongest_trust_path([edge("A", "B", trust=0.0)], "A", "B") is None


def test_the_path_is_bounded_in_hops():
    chain = [edge(str(i), str(i + 1), trust=0.9) for i in range(7)]

    assert strongest_trust_path(chain, "0", "6", max_hops=6) is not None
    assert strongest_trust_path(chain, "0", "7", max_hops=6) is None
    assert strongest_trust_path(chain, "0", "7", max_hops=7).hops == 7


def test_equal_trust_prefers_fewer_hops():
    edges = [edge("A", "B", trust=1.0), edge("B", "C", trust=1.0), edge("A", "C", trust=1.0)]

    assert strongest_trust_path(edges, "A", "C").node_ids == ["A", "C"]


def test_the_path_refuses_the_same_start_and_end():
    with pytest.raises(ValueError):
        strongest_trust_path(TRUST_GRAPH, "A", "A")


@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 5), st.floats(0.01, 1.0, allow_nan=False)),
        max_size=25,
    )
)
def test_the_path_is_never_beaten_by_any_single_edge_or_two_hop_route(raw_edges):
    edges = [edge(str(a), str(b), trust=t) for a, b, t in raw_edges if a != b]
    path = strongest_trust_path(edges, "0", "5")
    direct = [e.trust for e in edges if (e.from_id, e.to_id) == ("0", "5")]
    two_hop = [
        first.trust * second.trust
        for first in edges
        for second in edges
        if first.from_id == "0" and first.to_id == second.from_id and second.to_id == "5"
    ]
    candidates = direct + two_hop
    if candidates:
        assert path is not None
        assert path.trust_product >= max(candidates) - 1e-12
    if path is not None:
        assert len(set(path.node_ids)) == len(path.node_ids)  # simple path
        assert path.trust_product == pytest.approx(math.prod(e.trust for e in path.edges))


# --------------------------------------------------------------------------- pure: influence


def test_pagerank_of_one_edge_matches_the_closed_form():
    # a = 0.075 + 0.425 b, a + b = 1  =>  a = 0.5 / 1.425
    scores = strength_weighted_pagerank({"A": "A", "B": "B"}, [edge("A", "B", strength=0.7)])

    assert [s.id for s in scores] == ["B", "A"]
    assert scores[0].score == pytest.approx(1 - 0.5 / 1.425, abs=1e-9)
    assert scores[1].score == pytest.approx(0.5 / 1.425, abs=1e-9)


def test_pagerank_shares_follow_strength():
    # A gives 20 % to B and 80 % to C; B→C; C→A. Solved by hand (docs/graph.md).
    edges = [
        edge("A", "B", strength=0.2),
        edge("A", "C", strength=0.8),
        edge("B", "C", strength=0.5),
        edge("C", "A", strength=0.3),
    ]

    scores = {s.id: s.score for s in strength_weighted_pagerank({}, edges)}

    assert scores["A"] == pytest.approx(0.4299323138631237, abs=1e-9)
    assert scores["B"] == pytest.approx(0.12308849335673104, abs=1e-9)
    assert scores["C"] == pytest.approx(0.4469791927801455, abs=1e-9)


def test_hostile_regard_confers_no_influence():
    edges = [edge("A", "B", strength=-0.9), edge("C", "D", strength=0.9)]

    scores = {s.id: s for s in strength_weighted_pagerank({}, edges)}

    assert scores["B"].score == pytest.approx(scores["A"].score)
    assert scores["D"].score > scores["B"].score
    assert scores["B"].weighted_in_degree == 0.0
    assert scores["B"].in_degree == 1


@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 6), st.floats(-1.0, 1.0, allow_nan=False)),
        max_size=30,
    )
)
@example(raw_edges=[(0, 1, 5e-324)])  # a denormal strength once lost the score
def test_pagerank_scores_are_positive_and_sum_to_one(raw_edges):
    edges = [edge(str(a), str(b), strength=s) for a, b, s in raw_edges if a != b]
    scores = strength_weighted_pagerank({"x": "x"}, edges)

    assert sum(s.score for s in scores) == pytest.approx(1.0)
    assert all(s.score > 0 for s in scores)
    assert [s.score for s in scores] == sorted((s.score for s in scores), reverse=True)


def test_hop_distances_ignore_direction():
    distances = hop_distances("A", [edge("A", "B"), edge("C", "B"), edge("D", "C")])

    assert distances == {"A": 0, "B": 1, "C": 2, "D": 3}


# --------------------------------------------------------------------------- from Neo4j


@pytest.fixture
def small_world(graph):
    """The path graph above, as characters and synced relationships."""
    ecosystem = EcosystemFactory()
    cast = {name: CharacterFactory(ecosystem=ecosystem, name=name) for name in "ABCDEF"}
    for e in TRUST_GRAPH:
        relationship_make(cast[e.from_id], cast[e.to_id], trust=e.trust, strength=0.5)
    graph_sync_pending(ecosystem_id=ecosystem.pk)
    return ecosystem, cast


def test_neo4j_answers_the_strongest_trust_path(small_world):
    ecosystem, cast = small_world

    path, graph = graph_strongest_trust_path(
        ecosystem_id=ecosystem.pk, from_id=cast["A"].pk, to_id=cast["D"].pk
    )

    assert [graph.names[uid] for uid in path.node_ids] == ["A", "E", "F", "D"]
    assert path.trust_product == pytest.approx(0.99**3)


def test_neo4j_network_grows_with_depth(small_world):
    _ecosystem, cast = small_world
    names = {str(c.pk): name for name, c in cast.items()}

    def members(depth: int) -> dict[str, int]:
        network = graph_network(character_id=cast["B"].pk, depth=depth)
        return {names[node["id"]]: node["distance"] for node in network["nodes"]}

    assert members(1) == {"B": 0, "A": 1, "D": 1}
    assert members(2) == {"B": 0, "A": 1, "D": 1, "C": 2, "E": 2, "F": 2}
    network = graph_network(character_id=cast["B"].pk, depth=1)
    assert {(names[e.from_id], names[e.to_id]) for e in network["edges"]} == {
        ("A", "B"),
        ("B", "D"),
        ("A", "D"),
    }


def test_neo4j_influence_ranks_the_most_regarded_first(small_world):
    ecosystem, _cast = small_world

    scores, graph = graph_influence(ecosystem_id=ecosystem.pk)

    # D is regarded by B, C, A and F; A by nobody.
    assert graph.names[scores[0].id] == "D"
    assert graph.names[scores[-1].id] == "A"
    assert sum(s.score for s in scores) == pytest.approx(1.0)
