"""Graph queries served by Neo4j (owner only): a character's network, the strongest-trust
path between two characters, and the influence ranking of an ecosystem.

Ownership and ids are checked in PostgreSQL first (another user's objects answer 404), then
Neo4j answers. Neo4j not configured or not answering: 503 ``{"detail", "code"}``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from characters.models import Character
from characters.selectors import character_get, ecosystem_get
from core.errors import ApplicationError, NotFoundError
from core.serializers import QueryIntegerField
from observatory.graph_queries import (
    NETWORK_MAX_DEPTH,
    NETWORK_MIN_DEPTH,
    PAGERANK_DAMPING,
    PATH_MAX_HOPS,
    GraphEdge,
    graph_influence,
    graph_network,
    graph_strongest_trust_path,
)

INFLUENCE_MEASURE = "strength_weighted_pagerank"
PATH_MEASURE = "max_trust_product"


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()


# --------------------------------------------------------------------------- input


class NetworkInputSerializer(serializers.Serializer):
    depth = QueryIntegerField(min_value=NETWORK_MIN_DEPTH, max_value=NETWORK_MAX_DEPTH, default=1)


# "from" is a Python keyword, so the class is built from a dict of fields.
PathInputSerializer = type(
    "PathInputSerializer",
    (serializers.Serializer,),
    {"from": serializers.UUIDField(), "to": serializers.UUIDField()},
)


# --------------------------------------------------------------------------- output


class GraphEdgeSerializer(serializers.Serializer):
    from_id = serializers.CharField()
    to_id = serializers.CharField()
    strength = serializers.FloatField()
    trust = serializers.FloatField()
    interaction_count = serializers.IntegerField()
    last_interaction_at = serializers.DateTimeField(allow_null=True)
    version = serializers.IntegerField()


class NetworkNodeSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    distance = serializers.IntegerField(allow_null=True, help_text="Hops from the character.")


class NetworkSerializer(serializers.Serializer):
    character_id = serializers.CharField()
    depth = serializers.IntegerField()
    in_graph = serializers.BooleanField(
        help_text="False while the character has no relationship in the graph yet."
    )
    nodes = NetworkNodeSerializer(many=True)
    edges = GraphEdgeSerializer(many=True)


class PathNodeSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class PathSerializer(serializers.Serializer):
    measure = serializers.CharField()
    from_id = serializers.CharField()
    to_id = serializers.CharField()
    hops = serializers.IntegerField()
    max_hops = serializers.IntegerField()
    trust_product = serializers.FloatField(help_text="Product of trust along the path.")
    cost = serializers.FloatField(help_text="Sum of -log(trust) along the path (minimised).")
    nodes = PathNodeSerializer(many=True)
    edges = GraphEdgeSerializer(many=True)


class InfluenceRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    id = serializers.CharField()
    name = serializers.CharField()
    score = serializers.FloatField(help_text="PageRank score; all scores sum to 1.")
    weighted_in_degree = serializers.FloatField(
        help_text="Sum of positive strength on incoming edges."
    )
    in_degree = serializers.IntegerField()
    out_degree = serializers.IntegerField()


class InfluenceSerializer(serializers.Serializer):
    ecosystem_id = serializers.CharField()
    measure = serializers.CharField()
    damping = serializers.FloatField()
    characters = InfluenceRowSerializer(many=True)


def edge_row(edge: GraphEdge) -> dict[str, Any]:
    return {
        "from_id": edge.from_id,
        "to_id": edge.to_id,
        "strength": edge.strength,
        "trust": edge.trust,
        "interaction_count": edge.interaction_count,
        "last_interaction_at": edge.last_interaction_at,
        "version": edge.version,
    }


UNAVAILABLE = OpenApiResponse(
    ErrorSerializer,
    description="Neo4j is not configured (code graph_not_configured) or not answering "
    "(graph_unavailable, graph_timeout).",
)


# --------------------------------------------------------------------------- views


class CharacterNetworkApi(APIView):
    """The character's neighbourhood in the relationship graph."""

    @extend_schema(
        summary="A character's network (neighbourhood with edge data), from Neo4j",
        parameters=[
            OpenApiParameter("character_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
            OpenApiParameter(
                "depth",
                {"type": "integer", "minimum": NETWORK_MIN_DEPTH, "maximum": NETWORK_MAX_DEPTH},
                description=f"Hops to follow, either direction: "
                f"{NETWORK_MIN_DEPTH}..{NETWORK_MAX_DEPTH} (default 1).",
            ),
        ],
        responses={
            200: NetworkSerializer,
            400: OpenApiResponse(ErrorSerializer, description="depth outside 1..3."),
            404: OpenApiResponse(ErrorSerializer, description="Unknown or another user's."),
            503: UNAVAILABLE,
        },
    )
    def get(self, request: Request, character_id: str) -> Response:
        params = NetworkInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        depth = params.validated_data["depth"]
        character = character_get(user=request.user, character_id=character_id)  # type: ignore[arg-type]
        network = graph_network(character_id=character.pk, depth=depth)
        if network is None:
            body: dict[str, Any] = {
                "nodes": [{"id": str(character.pk), "name": character.name, "distance": 0}],
                "edges": [],
                "in_graph": False,
            }
        else:
            body = {
                "nodes": network["nodes"],
                "edges": [edge_row(edge) for edge in network["edges"]],
                "in_graph": True,
            }
        body.update(character_id=str(character.pk), depth=depth)
        return Response(NetworkSerializer(body).data)


class EcosystemPathApi(APIView):
    """The strongest-trust social path between two characters of the ecosystem."""

    @extend_schema(
        summary="Strongest-trust path between two characters, from Neo4j",
        description=(
            "Follows directed relationships (how each character regards the next) and "
            "maximises the product of trust, i.e. minimises the sum of -log(trust), over "
            f"paths of at most {PATH_MAX_HOPS} hops. Ties go to the path with fewer hops."
        ),
        parameters=[
            OpenApiParameter("ecosystem_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
            OpenApiParameter("from", OpenApiTypes.UUID, required=True),
            OpenApiParameter("to", OpenApiTypes.UUID, required=True),
        ],
        responses={
            200: PathSerializer,
            400: OpenApiResponse(ErrorSerializer, description="from/to missing or equal."),
            404: OpenApiResponse(
                ErrorSerializer,
                description="Unknown ecosystem or character, or no path (code no_path).",
            ),
            503: UNAVAILABLE,
        },
    )
    def get(self, request: Request, ecosystem_id: str) -> Response:
        params = PathInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        from_id, to_id = params.validated_data["from"], params.validated_data["to"]
        if from_id == to_id:
            raise ApplicationError(
                "from and to are the same character; a path needs two.", code="same_character"
            )
        ecosystem = ecosystem_get(user=request.user, ecosystem_id=ecosystem_id)  # type: ignore[arg-type]
        known = set(
            Character.objects.filter(ecosystem=ecosystem, pk__in=(from_id, to_id)).values_list(
                "pk", flat=True
            )
        )
        for character_id in (from_id, to_id):
            if character_id not in known:
                raise NotFoundError(f"Character {character_id} is not in this ecosystem.")
        path, graph = graph_strongest_trust_path(
            ecosystem_id=ecosystem.pk, from_id=from_id, to_id=to_id
        )
        if path is None:
            reason = (
                f"No path of trusted relationships (at most {PATH_MAX_HOPS} hops, trust > 0) "
                f"leads from {from_id} to {to_id} in the graph."
            )
            raise NotFoundError(reason, code="no_path", extra={"reason": reason})
        body = {
            "measure": PATH_MEASURE,
            "from_id": str(from_id),
            "to_id": str(to_id),
            "hops": path.hops,
            "max_hops": PATH_MAX_HOPS,
            "trust_product": path.trust_product,
            "cost": path.cost,
            "nodes": [{"id": uid, "name": graph.names.get(uid, "")} for uid in path.node_ids],
            "edges": [edge_row(edge) for edge in path.edges],
        }
        return Response(PathSerializer(body).data)


class EcosystemInfluenceApi(APIView):
    """Characters ranked by strength-weighted PageRank."""

    @extend_schema(
        summary="Influence ranking (strength-weighted PageRank), from Neo4j",
        description=(
            "PageRank (damping 0.85) over the directed relationship graph where each "
            "character passes its score along its relationships with positive strength, in "
            "proportion to that strength. Negative regard confers no influence. Only "
            "characters with a relationship in the graph are ranked."
        ),
        parameters=[OpenApiParameter("ecosystem_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        responses={
            200: InfluenceSerializer,
            404: OpenApiResponse(ErrorSerializer, description="Unknown or another user's."),
            503: UNAVAILABLE,
        },
    )
    def get(self, request: Request, ecosystem_id: str) -> Response:
        ecosystem = ecosystem_get(user=request.user, ecosystem_id=ecosystem_id)  # type: ignore[arg-type]
        scores, graph = graph_influence(ecosystem_id=ecosystem.pk)
        body = {
            "ecosystem_id": str(ecosystem.pk),
            "measure": INFLUENCE_MEASURE,
            "damping": PAGERANK_DAMPING,
            "characters": [
                {
                    "rank": rank,
                    "id": score.id,
                    "name": graph.names.get(score.id, ""),
                    "score": score.score,
                    "weighted_in_degree": score.weighted_in_degree,
                    "in_degree": score.in_degree,
                    "out_degree": score.out_degree,
                }
                for rank, score in enumerate(scores, start=1)
            ],
        }
        return Response(InfluenceSerializer(body).data)
