"""REST for the observatory's overview: the dashboard and the relationship graph."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from characters.selectors import ecosystem_get
from scenarios.apis import ParticipantOutputSerializer

from ..selectors import ecosystem_dashboard, ecosystem_graph

NOT_FOUND = inline_serializer(
    "DashboardNotFound", {"detail": serializers.CharField(), "code": serializers.CharField()}
)


class EcosystemGraphEdgeSerializer(serializers.Serializer):
    # "from" is a Python keyword: declared through the fields dict below.
    to = serializers.UUIDField()
    strength = serializers.FloatField()
    trust = serializers.FloatField()
    interaction_count = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label

    def get_fields(self):  # type: ignore[no-untyped-def]
        fields = super().get_fields()
        return {"from": serializers.UUIDField(), **fields}


class RelationshipRowSerializer(EcosystemGraphEdgeSerializer):
    from_name = serializers.CharField()
    to_name = serializers.CharField()


class DashboardCountsSerializer(serializers.Serializer):
    characters = serializers.IntegerField()
    characters_by_status = serializers.DictField(child=serializers.IntegerField())
    relationships = serializers.IntegerField()
    active_conversations = serializers.IntegerField(help_text="Active scenarios.")
    scenarios_by_status = serializers.DictField(child=serializers.IntegerField())
    interactions = serializers.IntegerField()


class GraphSyncLagSerializer(serializers.Serializer):
    pending = serializers.IntegerField()
    oldest_pending_age_seconds = serializers.FloatField()
    enabled = serializers.BooleanField()


class EventEnvelopeSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    type = serializers.CharField()
    timestamp = serializers.CharField()
    ecosystem_id = serializers.UUIDField()
    data = serializers.DictField()  # type: ignore[assignment]  # a field, not .data


class DashboardOutputSerializer(serializers.Serializer):
    ecosystem_id = serializers.UUIDField()
    name = serializers.CharField()
    counts = DashboardCountsSerializer()
    events_per_minute = serializers.FloatField(help_text="Average over the last 5 minutes.")
    last_seq = serializers.IntegerField()
    recent_events = EventEnvelopeSerializer(many=True, help_text="The last 20, newest first.")
    strongest_relationships = RelationshipRowSerializer(many=True)
    most_strained_relationships = RelationshipRowSerializer(many=True)
    mood_distribution = serializers.DictField(
        child=serializers.IntegerField(), help_text="Characters (not archived) per emotion label."
    )
    graph_sync = GraphSyncLagSerializer()
    generated_at = serializers.DateTimeField()


class EcosystemGraphNodeSerializer(ParticipantOutputSerializer):
    """A character as a node: the same state a scenario shows for its participants."""


class EcosystemGraphOutputSerializer(serializers.Serializer):
    ecosystem_id = serializers.UUIDField()
    nodes = EcosystemGraphNodeSerializer(many=True)
    edges = EcosystemGraphEdgeSerializer(many=True, help_text="Directed: how `from` regards `to`.")
    generated_at = serializers.DateTimeField()


class EcosystemDashboardApi(APIView):
    """Counts, active conversations, event rate, recent events, the strongest and most
    strained relationships, the mood distribution and the graph sync lag."""

    @extend_schema(responses={200: DashboardOutputSerializer, 404: NOT_FOUND})
    def get(self, request: Request, ecosystem_id: str) -> Response:
        ecosystem = ecosystem_get(user=request.user, ecosystem_id=ecosystem_id)  # type: ignore[arg-type]
        return Response(DashboardOutputSerializer(ecosystem_dashboard(ecosystem=ecosystem)).data)


class EcosystemGraphApi(APIView):
    """Nodes (characters with emotion and energy) and edges (relationships with strength
    and trust) of one ecosystem."""

    @extend_schema(responses={200: EcosystemGraphOutputSerializer, 404: NOT_FOUND})
    def get(self, request: Request, ecosystem_id: str) -> Response:
        ecosystem = ecosystem_get(user=request.user, ecosystem_id=ecosystem_id)  # type: ignore[arg-type]
        return Response(EcosystemGraphOutputSerializer(ecosystem_graph(ecosystem=ecosystem)).data)
