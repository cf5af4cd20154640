"""``GET /api/v1/characters/{id}/memories?q=&limit=``: a character's memory stream."""

from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from characters.selectors import character_get

from .models import Memory
from .services import memories_ranked

ERROR = inline_serializer(
    "MemoriesError", {"detail": serializers.CharField(), "code": serializers.CharField()}
)


class MemoryListInputSerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False,
        allow_blank=False,
        max_length=1000,
        help_text="Rank by relevance to this text (with recency and importance); "
        "omitted: newest first. Empty: 400.",
    )
    limit = serializers.IntegerField(
        min_value=1, max_value=100, default=20, help_text="At most this many (1..100)."
    )


class MemoryOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=Memory.Kind.choices)
    text = serializers.CharField()
    importance = serializers.FloatField()
    created = serializers.DateTimeField()
    interaction_id = serializers.UUIDField(allow_null=True)
    counterpart_id = serializers.UUIDField(allow_null=True)
    counterpart_name = serializers.CharField(allow_null=True)
    sentiment = serializers.FloatField()
    strength_delta = serializers.FloatField()
    trust_delta = serializers.FloatField()
    cited_ids = serializers.ListField(child=serializers.CharField())
    score = serializers.FloatField(
        allow_null=True, help_text="The retrieval score when q is given (docs/models.md)."
    )


class MemoryPageSerializer(serializers.Serializer):
    results = MemoryOutputSerializer(many=True)


def memory_json(memory: Memory, score: float | None) -> dict[str, Any]:
    return {
        "id": str(memory.pk),
        "kind": memory.kind,
        "text": memory.text,
        "importance": memory.importance,
        "created": memory.created.isoformat(),
        "interaction_id": str(memory.interaction_id) if memory.interaction_id else None,
        "counterpart_id": str(memory.counterpart_id) if memory.counterpart_id else None,
        "counterpart_name": memory.counterpart.name if memory.counterpart else None,
        "sentiment": memory.sentiment,
        "strength_delta": memory.strength_delta,
        "trust_delta": memory.trust_delta,
        "cited_ids": list(memory.cited_ids),
        "score": score,
    }


class CharacterMemoriesApi(APIView):
    """A character's memories and reflections, newest first, or ranked by ``q``. Owner
    only (another user's character: 404)."""

    @extend_schema(
        operation_id="character_memories_list",
        parameters=[
            OpenApiParameter("character_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
            MemoryListInputSerializer,
        ],
        responses={
            200: MemoryPageSerializer,
            400: OpenApiResponse(ERROR, description="q empty, or limit outside 1..100."),
            401: OpenApiResponse(ERROR, description="Not authenticated."),
            404: OpenApiResponse(ERROR, description="No such character of yours."),
        },
    )
    def get(self, request: Request, character_id: str) -> Response:
        character = character_get(user=request.user, character_id=character_id)  # type: ignore[arg-type]
        if "q" in request.query_params and not request.query_params["q"].strip():
            # DRF skips a blank optional field of a query string rather than refusing it.
            raise serializers.ValidationError({"q": ["This field may not be blank."]})
        params = MemoryListInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        ranked = memories_ranked(
            character=character,
            query_text=params.validated_data.get("q"),
            limit=params.validated_data["limit"],
            now=timezone.now(),
        )
        return Response({"results": [memory_json(memory, score) for memory, score in ranked]})
