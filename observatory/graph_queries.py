"""Reads answered by the Neo4j graph: a character's network, the strongest-trust path between
two characters, and the influence ranking of an ecosystem.

Callers (the APIs) check ownership in PostgreSQL first; everything here is scoped by the
ecosystem id. Cypher comes from module constants only and every value is a parameter (the
network depth picks one of three prepared statements, it is never formatted in).

Two algorithms run in Python over edges Neo4j returns in one indexed query, because the
Community edition has no Graph Data Science library and plain Cypher cannot do them well:

- **Strongest-trust path**: maximise the product of ``trust`` along directed
  ``RELATES_TO`` edges = minimise the sum of ``-log(trust)``, over paths of at most
  ``PATH_MAX_HOPS`` hops. Enumerating variable-length paths in Cypher
  (``[:RELATES_TO*1..6]`` + ``reduce``) grows as degree^hops, about 7e8 paths in a
  well-connected ecosystem of 30 characters; a hop-bounded Bellman-Ford finds the same
  optimum in O(hops x edges).
- **Influence**: strength-weighted PageRank (damping 0.85): a character is influential when
  characters who are influential themselves regard it strongly. Each character passes its
  score along its outgoing edges with positive strength, in proportion to that strength;
  negative (hostile) regard confers no influence. Characters with no positive outgoing edge
  spread their score evenly (the standard treatment of dangling nodes).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from neo4j import Query
from neo4j.exceptions import ClientError

from core.errors import ServiceUnavailableError
from relationships.graph import (
    GRAPH_UNAVAILABLE_ERRORS,
    EntityId,
    graph_cypher,
    graph_require_configured,
)

NETWORK_MIN_DEPTH = 1
NETWORK_MAX_DEPTH = 3
PATH_MAX_HOPS = 6
PAGERANK_DAMPING = 0.85
PAGERANK_TOLERANCE = 1e-12
PAGERANK_MAX_ITERATIONS = 500
# A graph read that takes longer answers 503 instead of holding a worker.
GRAPH_QUERY_TIMEOUT_SECONDS = 10.0

_NETWORK_TEMPLATE = """
MATCH (center:Character {uid: $uid})
OPTIONAL MATCH (center)-[:RELATES_TO*1..MAX_DEPTH]-(other:Character)
WHERE other.ecosystem_id = center.ecosystem_id AND other <> center
WITH center, collect(DISTINCT other) AS others
WITH [center] + others AS members
WITH members, [member IN members | member.uid] AS member_uids
UNWIND members AS a
OPTIONAL MATCH (a)-[r:RELATES_TO]->(b:Character)
WHERE b.uid IN member_uids
WITH members, collect(
    CASE WHEN r IS NULL THEN NULL ELSE {
        from_id: a.uid, to_id: b.uid, strength: r.strength, trust: r.trust,
        interaction_count: r.interaction_count, last_interaction_at: r.last_interaction_at,
        version: r.version
    } END
) AS edges
RETURN [member IN members | {id: member.uid, name: member.name}] AS nodes, edges
"""
# One prepared statement per allowed depth (a variable-length bound cannot be a parameter).
NETWORK_CYPHER: dict[int, str] = {
    depth: _NETWORK_TEMPLATE.replace("MAX_DEPTH", str(depth))
    for depth in range(NETWORK_MIN_DEPTH, NETWORK_MAX_DEPTH + 1)
}

ECOSYSTEM_GRAPH_CYPHER = """
MATCH (c:Character {ecosystem_id: $ecosystem_id})
OPTIONAL MATCH (c)-[r:RELATES_TO]->(b:Character {ecosystem_id: $ecosystem_id})
RETURN c.uid AS id, c.name AS name, collect(
    CASE WHEN r IS NULL THEN NULL ELSE {
        to_id: b.uid, strength: r.strength, trust: r.trust,
        interaction_count: r.interaction_count, last_interaction_at: r.last_interaction_at,
        version: r.version
    } END
) AS edges
"""


class GraphUnavailableError(ServiceUnavailableError):
    default_code = "graph_unavailable"


@dataclass(frozen=True)
class GraphEdge:
    from_id: str
    to_id: str
    strength: float
    trust: float
    interaction_count: int = 0
    last_interaction_at: datetime | None = None
    version: int = 0


@dataclass(frozen=True)
class EcosystemGraph:
    names: dict[str, str]  # uid -> name, every node of the ecosystem
    edges: list[GraphEdge]


@dataclass(frozen=True)
class TrustPath:
    node_ids: list[str]
    edges: list[GraphEdge]
    trust_product: float
    cost: float  # sum of -log(trust)

    @property
    def hops(self) -> int:
        return len(self.edges)


@dataclass(frozen=True)
class InfluenceScore:
    id: str
    score: float
    weighted_in_degree: float
    in_degree: int
    out_degree: int


# --------------------------------------------------------------------------- Neo4j access


def _native(value: Any) -> Any:
    """neo4j.time values -> Python's (the driver's DateTime has ``to_native``)."""
    to_native = getattr(value, "to_native", None)
    return to_native() if callable(to_native) else value


def _edge(from_id: str, data: dict[str, Any]) -> GraphEdge:
    return GraphEdge(
        from_id=from_id,
        to_id=data["to_id"],
        strength=float(data["strength"] or 0.0),
        trust=float(data["trust"] or 0.0),
        interaction_count=int(data["interaction_count"] or 0),
        last_interaction_at=_native(data["last_interaction_at"]),
        version=int(data["version"] or 0),
    )


def graph_read(query: str, params: dict[str, Any]) -> list[list[Any]]:
    """A read on neomodel's connection with a time limit. Neo4j not configured, away or too
    slow becomes a 503 with a clear message, never a 500."""
    graph_require_configured()
    try:
        rows = graph_cypher(Query(query, timeout=GRAPH_QUERY_TIMEOUT_SECONDS), params)
    except GRAPH_UNAVAILABLE_ERRORS as error:
        raise GraphUnavailableError(
            "Neo4j is not answering; the relationship graph is temporarily unavailable "
            f"({type(error).__name__}). PostgreSQL keeps every change and the graph catches "
            "up when Neo4j is back."
        ) from error
    except ClientError as error:
        if "TransactionTimedOut" not in (error.code or ""):
            raise
        raise GraphUnavailableError(
            f"The graph query took longer than {GRAPH_QUERY_TIMEOUT_SECONDS:g} s.",
            code="graph_timeout",
        ) from error
    return rows


def graph_network(*, character_id: EntityId, depth: int) -> dict[str, Any] | None:
    """The character's neighbourhood within ``depth`` hops (either direction), with every
    edge between its members; each node carries its hop ``distance``. None when the
    character has no node in the graph yet (no relationship synced)."""
    if depth not in NETWORK_CYPHER:
        raise ValueError(f"depth must be {NETWORK_MIN_DEPTH}..{NETWORK_MAX_DEPTH}")
    rows = graph_read(NETWORK_CYPHER[depth], {"uid": str(character_id)})
    if not rows:
        return None
    nodes, edge_maps = rows[0]
    edges = [_edge(data["from_id"], data) for data in edge_maps]
    distances = hop_distances(str(character_id), edges)
    return {
        "nodes": [
            {"id": node["id"], "name": node["name"], "distance": distances.get(node["id"])}
            for node in sorted(nodes, key=lambda node: (distances.get(node["id"], 99), node["id"]))
        ],
        "edges": sorted(edges, key=lambda edge: (edge.from_id, edge.to_id)),
    }


def graph_ecosystem(*, ecosystem_id: EntityId) -> EcosystemGraph:
    """Every node and directed edge of one ecosystem, in one indexed query."""
    rows = graph_read(ECOSYSTEM_GRAPH_CYPHER, {"ecosystem_id": str(ecosystem_id)})
    names: dict[str, str] = {}
    edges: list[GraphEdge] = []
    for uid, name, edge_maps in rows:
        names[uid] = name
        edges.extend(_edge(uid, data) for data in edge_maps)
    edges.sort(key=lambda edge: (edge.from_id, edge.to_id))
    return EcosystemGraph(names=names, edges=edges)


def graph_strongest_trust_path(
    *, ecosystem_id: EntityId, from_id: EntityId, to_id: EntityId, max_hops: int = PATH_MAX_HOPS
) -> tuple[TrustPath | None, EcosystemGraph]:
    graph = graph_ecosystem(ecosystem_id=ecosystem_id)
    path = strongest_trust_path(graph.edges, str(from_id), str(to_id), max_hops=max_hops)
    return path, graph


def graph_influence(*, ecosystem_id: EntityId) -> tuple[list[InfluenceScore], EcosystemGraph]:
    graph = graph_ecosystem(ecosystem_id=ecosystem_id)
    return strength_weighted_pagerank(graph.names, graph.edges), graph


# --------------------------------------------------------------------------- pure algorithms


def hop_distances(center: str, edges: Iterable[GraphEdge]) -> dict[str, int]:
    """Breadth-first hop counts from ``center``, ignoring edge direction."""
    neighbours: dict[str, set[str]] = {}
    for edge in edges:
        neighbours.setdefault(edge.from_id, set()).add(edge.to_id)
        neighbours.setdefault(edge.to_id, set()).add(edge.from_id)
    distances = {center: 0}
    queue = deque([center])
    while queue:
        current = queue.popleft()
        for neighbour in sorted(neighbours.get(current, ())):
            if neighbour not in distances:
                distances[neighbour] = distances[current] + 1
                queue.append(neighbour)
    return distances


def trust_cost(trust: float) -> float:
    """-log(trust): adding costs multiplies trusts; a trust of 0 is no way through."""
    return -math.log(trust) if trust > 0 else math.inf


def strongest_trust_path(
    edges: Iterable[GraphEdge], from_id: str, to_id: str, *, max_hops: int = PATH_MAX_HOPS
) -> TrustPath | None:
    """The directed path of at most ``max_hops`` edges with the greatest product of trust
    (ties: fewer hops). Hop-bounded Bellman-Ford: ``best[k][v]`` is the cheapest way to reach
    v with at most k edges. Costs are never negative, so the optimum never needs a cycle."""
    if from_id == to_id:
        raise ValueError("from and to must differ")
    usable = sorted(
        (edge for edge in edges if edge.trust > 0 and edge.from_id != edge.to_id),
        key=lambda edge: (edge.from_id, edge.to_id),
    )
    best: list[dict[str, float]] = [{from_id: 0.0}]
    via: list[dict[str, GraphEdge]] = [{}]
    for _hop in range(max_hops):
        previous = best[-1]
        current = dict(previous)
        current_via: dict[str, GraphEdge] = {}
        for edge in usable:
            if edge.from_id not in previous:
                continue
            cost = previous[edge.from_id] + trust_cost(edge.trust)
            # Strictly better only: an equal cost keeps the path with fewer hops.
            if cost < current.get(edge.to_id, math.inf) - 1e-15:
                current[edge.to_id] = cost
                current_via[edge.to_id] = edge
        best.append(current)
        via.append(current_via)
        if current == previous:
            break
    if to_id not in best[-1]:
        return None
    # Walk back through the layers: a node reached in layer k either improved there (an
    # edge) or carried its cost over from layer k-1.
    path_edges: list[GraphEdge] = []
    node, layer = to_id, len(best) - 1
    while node != from_id:
        while node not in via[layer]:
            layer -= 1
        edge = via[layer][node]
        path_edges.append(edge)
        node, layer = edge.from_id, layer - 1
    path_edges.reverse()
    cost = sum(trust_cost(edge.trust) for edge in path_edges)
    return TrustPath(
        node_ids=[from_id, *(edge.to_id for edge in path_edges)],
        edges=path_edges,
        trust_product=math.prod(edge.trust for edge in path_edges),
        cost=cost,
    )


def strength_weighted_pagerank(
    names: dict[str, str],
    edges: Iterable[GraphEdge],
    *,
    damping: float = PAGERANK_DAMPING,
) -> list[InfluenceScore]:
    """PageRank where a node passes its score along outgoing edges in proportion to their
    positive ``strength``. Scores sum to 1. Sorted by score, then id."""
    edge_list = list(edges)
    nodes = sorted(set(names) | {e.from_id for e in edge_list} | {e.to_id for e in edge_list})
    if not nodes:
        return []
    count = len(nodes)
    weighted_in: dict[str, float] = dict.fromkeys(nodes, 0.0)
    in_degree: dict[str, int] = dict.fromkeys(nodes, 0)
    out_degree: dict[str, int] = dict.fromkeys(nodes, 0)
    out_weight: dict[str, float] = dict.fromkeys(nodes, 0.0)
    links: list[tuple[str, str, float]] = []
    for edge in edge_list:
        out_degree[edge.from_id] += 1
        in_degree[edge.to_id] += 1
        if edge.strength > 0 and edge.from_id != edge.to_id:
            links.append((edge.from_id, edge.to_id, edge.strength))
            out_weight[edge.from_id] += edge.strength
            weighted_in[edge.to_id] += edge.strength
    # Each link's share of its source's score, divided once: multiplying by a tiny strength
    # before dividing by the (as tiny) total would underflow and lose the score.
    shares = [(source, target, weight / out_weight[source]) for source, target, weight in links]
    score = dict.fromkeys(nodes, 1.0 / count)
    for _iteration in range(PAGERANK_MAX_ITERATIONS):
        dangling = sum(score[node] for node in nodes if out_weight[node] == 0)
        base = (1.0 - damping) / count + damping * dangling / count
        following = dict.fromkeys(nodes, base)
        for source, target, share in shares:
            following[target] += damping * score[source] * share
        change = sum(abs(following[node] - score[node]) for node in nodes)
        score = following
        if change < PAGERANK_TOLERANCE:
            break
    ranked = sorted(nodes, key=lambda node: (-score[node], node))
    return [
        InfluenceScore(
            id=node,
            score=score[node],
            weighted_in_degree=weighted_in[node],
            in_degree=in_degree[node],
            out_degree=out_degree[node],
        )
        for node in ranked
    ]
