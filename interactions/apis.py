from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.serializers import StrictSerializerMixin

from .models import Interaction
from .services import interaction_process

MAX_CONTENT_LENGTH = 2000


class InteractionInputSerializer(StrictSerializerMixin, serializers.Serializer):
    initiator_id = serializers.UUIDField()
    target_id = serializers.UUIDField()
    interaction_type = serializers.ChoiceField(choices=Interaction.Type.choices, required=False)
    # The seed's load test sends ``type``; accepted as an alias of ``interaction_type``.
    type = serializers.ChoiceField(
        choices=Interaction.Type.choices, required=False, write_only=True
    )
    content = serializers.CharField(max_length=MAX_CONTENT_LENGTH, trim_whitespace=True)
    context = serializers.JSONField(required=False, allow_null=True)  # type: ignore[assignment]
    # One of the two is required (the schema says so: core/schema.py).
    required_any_of = ("interaction_type", "type")

    def validate(self, attrs: dict) -> dict:
        interaction_type = attrs.pop("type", None)
        attrs.setdefault("interaction_type", interaction_type)
        if not attrs["interaction_type"]:
            raise serializers.ValidationError(
                {
                    "interaction_type": [
                        "This field is required (greeting, chat, conflict or collaboration)."
                    ]
                }
            )
        return attrs


class RelationshipChangeSerializer(serializers.Serializer):
    strength_delta = serializers.FloatField()
    trust_delta = serializers.FloatField()
    new_strength = serializers.FloatField()
    new_trust = serializers.FloatField()


class TwoWayRelationshipChangeSerializer(RelationshipChangeSerializer):
    """The initiator's regard of the target; ``reverse`` is the target's of the initiator."""

    reverse = RelationshipChangeSerializer()


class InteractionOutputSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    interaction_id = serializers.UUIDField()
    content = serializers.CharField()
    response = serializers.CharField()
    relationship_change = TwoWayRelationshipChangeSerializer()
    emotional_state = serializers.DictField()
    event_seq = serializers.IntegerField()
    latency_ms = serializers.FloatField()


class InteractionCreateApi(APIView):
    """Run one interaction now: the initiator says ``content``; the target answers."""

    # Per-user rate, REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["interactions"] (429 past it).
    throttle_scope = "interactions"

    @extend_schema(
        request=InteractionInputSerializer,
        responses={
            201: InteractionOutputSerializer,
            404: inline_serializer(
                "InteractionNotFound",
                {"detail": serializers.CharField(), "code": serializers.CharField()},
            ),
            409: inline_serializer(
                "InteractionRefused",
                {
                    "success": serializers.BooleanField(),
                    "reason": serializers.CharField(),
                    "code": serializers.CharField(),
                },
            ),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = InteractionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = interaction_process(
            owner=request.user,  # type: ignore[arg-type]
            initiator_id=data["initiator_id"],
            target_id=data["target_id"],
            interaction_type=data["interaction_type"],
            content=data["content"],
        )
        interaction = result.interaction
        body = {
            "success": True,
            "interaction_id": interaction.pk,
            "content": interaction.content,
            "response": interaction.response,
            "relationship_change": result.relationship_change,
            "emotional_state": result.emotional_state,
            "event_seq": result.event_seq,
            "latency_ms": round(interaction.latency_ms, 3),
        }
        # Already in InteractionOutputSerializer's shape (the schema says so): passing it through
        # the serializer again would only copy it (~0.2 ms a request).
        return Response(body, status=status.HTTP_201_CREATED)
