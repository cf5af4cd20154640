import uuid

from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from .models import Character, CharacterCard, Ecosystem
from .selectors import character_get, character_list, ecosystem_list
from .serializers import CharacterSerializer, EcosystemSerializer
from .services import (
    character_create,
    character_update,
    ecosystem_create,
    ecosystem_update,
)


class EcosystemViewSet(viewsets.ModelViewSet):
    """The requesting user's ecosystems. Another user's ecosystem answers 404."""

    serializer_class = EcosystemSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation: no user
            return Ecosystem.objects.none()
        return ecosystem_list(user=self.request.user).order_by("-created")  # type: ignore[arg-type]

    def perform_create(self, serializer: BaseSerializer[Ecosystem]) -> None:
        serializer.instance = ecosystem_create(owner=self.request.user, **serializer.validated_data)  # type: ignore[arg-type]

    def perform_update(self, serializer: BaseSerializer[Ecosystem]) -> None:
        assert serializer.instance is not None
        serializer.instance = ecosystem_update(
            ecosystem=serializer.instance, **serializer.validated_data
        )


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("ecosystem", OpenApiTypes.UUID, description="Only this ecosystem's.")
        ]
    )
)
class CharacterViewSet(viewsets.ModelViewSet):
    """Characters of the requesting user's ecosystems (filter with ``?ecosystem=<id>``)."""

    serializer_class = CharacterSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation: no user
            return Character.objects.none()
        queryset = character_list(user=self.request.user)  # type: ignore[arg-type]
        ecosystem_id = self.request.query_params.get("ecosystem")
        if ecosystem_id is not None and self.action == "list":
            try:
                queryset = queryset.filter(ecosystem_id=uuid.UUID(ecosystem_id))
            except ValueError:
                raise serializers.ValidationError(
                    {"ecosystem": ["Must be a valid UUID."]}
                ) from None
        return queryset.order_by("name", "id")

    def perform_create(self, serializer: BaseSerializer[Character]) -> None:
        serializer.instance = character_create(**serializer.validated_data)

    def perform_update(self, serializer: BaseSerializer[Character]) -> None:
        assert serializer.instance is not None
        serializer.instance = character_update(
            character=serializer.instance, **serializer.validated_data
        )


# --- The avatar of an imported card (docs/cards.md; the card endpoints are in worlds) ---


def _owned_character(request: Request, character_id: str) -> Character:
    return character_get(user=request.user, character_id=character_id)  # type: ignore[arg-type]


def _card_of(character: Character) -> CharacterCard | None:
    return CharacterCard.objects.filter(character=character).first()


class CharacterAvatarApi(APIView):
    """The character's avatar image (404 when it has none); its owner only."""

    @extend_schema(responses={(200, "image/*"): OpenApiTypes.BINARY})
    def get(self, request: Request, character_id: str) -> HttpResponse:
        character = _owned_character(request, character_id)
        card = _card_of(character)
        if card is None or not card.avatar:
            raise Http404("This character has no avatar.")
        response = HttpResponse(bytes(card.avatar), content_type=card.avatar_type)
        response["Cache-Control"] = "private, max-age=300"
        return response
