import uuid

from django.conf import settings
from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from .cards.errors import CardTooLarge
from .cards.export import card_png, card_v3
from .cards.parse import ParsedCard
from .models import Character, CharacterCard, Ecosystem
from .selectors import character_get, character_list, ecosystem_get, ecosystem_list
from .serializers import CharacterSerializer, EcosystemSerializer
from .services import (
    card_character_fields,
    character_card_preview,
    character_create,
    character_import_card,
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


# --- Character Cards (docs/cards.md) ------------------------------------------------------


class CardImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The card: JSON, PNG/APNG or CHARX.")
    # Big Five the author adjusted after the preview (0..1); absent ones come from the card.
    openness = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)
    conscientiousness = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)
    extraversion = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)
    agreeableness = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)
    neuroticism = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)


class CardPreviewSerializer(serializers.Serializer):
    spec = serializers.CharField()
    container = serializers.CharField()
    name = serializers.CharField()
    bio = serializers.CharField()
    greetings = serializers.ListField(child=serializers.CharField())
    voice_examples = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    creator = serializers.CharField()
    character_version = serializers.CharField()
    creator_notes = serializers.CharField()
    big_five = serializers.DictField(child=serializers.FloatField())
    big_five_source = serializers.ChoiceField(choices=("lexicon", "extensions"))
    big_five_evidence = serializers.DictField(child=serializers.ListField())
    has_avatar = serializers.BooleanField()
    lore_entries = serializers.ListField(child=serializers.DictField())


def _card_limit() -> int:
    return int(settings.CARD_IMPORT_MAX_BYTES)


def _preview_body(card: ParsedCard) -> dict:
    fields = card_character_fields(card=card)
    return {
        "spec": card.spec,
        "container": card.container,
        "name": fields["name"],
        "bio": fields["bio"],
        "greetings": fields["greetings"],
        "voice_examples": fields["voice_examples"],
        "tags": card.data.get("tags", []),
        "creator": card.text("creator"),
        "character_version": card.text("character_version"),
        "creator_notes": card.text("creator_notes"),
        "big_five": card.big_five,
        "big_five_source": card.big_five_source,
        "big_five_evidence": card.big_five_evidence,
        "has_avatar": card.avatar is not None,
        "lore_entries": card.lore_entries,
    }


class CharacterCardImportApi(APIView):
    """Import a Character Card (V1/V2/V3 as JSON, PNG/APNG or CHARX) into the ecosystem.

    ``?preview=1`` answers the parsed character with its Big Five and saves nothing."""

    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": CardImportSerializer},
        parameters=[
            OpenApiParameter("preview", OpenApiTypes.BOOL, description="Parse only; save nothing.")
        ],
        responses={201: CharacterSerializer, 200: CardPreviewSerializer},
    )
    def post(self, request: Request, ecosystem_id: str) -> Response:
        ecosystem = ecosystem_get(user=request.user, ecosystem_id=ecosystem_id)  # type: ignore[arg-type]
        limit = _card_limit()
        # Refused before the body is read: the multipart envelope adds a few hundred bytes.
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit + 64 * 1024:
            raise CardTooLarge(f"The card is over the limit of {limit} bytes.")
        form = CardImportSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data.pop("file")
        if upload.size > limit:
            raise CardTooLarge(f"The card is {upload.size} bytes; the limit is {limit}.")
        data = upload.read()
        if request.query_params.get("preview") in ("1", "true", "yes"):
            card = character_card_preview(data=data, filename=upload.name or "")
            return Response(_preview_body(card))
        character = character_import_card(
            ecosystem=ecosystem,
            data=data,
            filename=upload.name or "",
            overrides=form.validated_data,
        )
        return Response(CharacterSerializer(character).data, status=status.HTTP_201_CREATED)


def _owned_character(request: Request, character_id: str) -> Character:
    return character_get(user=request.user, character_id=character_id)  # type: ignore[arg-type]


def _card_of(character: Character) -> CharacterCard | None:
    return CharacterCard.objects.filter(character=character).first()


def _download_name(character: Character, extension: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in character.name)[:60]
    return f"{safe or 'character'}.{extension}"


class CharacterCardJsonApi(APIView):
    """The character as a Character Card V3 (JSON)."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, character_id: str) -> Response:
        character = _owned_character(request, character_id)
        card = _card_of(character)
        response = Response(card_v3(character, card.data if card else None))
        response["Content-Disposition"] = f'inline; filename="{_download_name(character, "json")}"'
        return response


class CharacterCardPngApi(APIView):
    """The character as a PNG with the V3 card in ``ccv3`` and the V2 card in ``chara``."""

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request: Request, character_id: str) -> HttpResponse:
        character = _owned_character(request, character_id)
        card = _card_of(character)
        body = card_png(
            card_v3(character, card.data if card else None),
            bytes(card.avatar) if card and card.avatar else None,
        )
        response = HttpResponse(body, content_type="image/png")
        response["Content-Disposition"] = (
            f'attachment; filename="{_download_name(character, "png")}"'
        )
        return response


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
