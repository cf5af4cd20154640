"""Character Cards and lorebooks over REST (docs/cards.md, docs/api.md): import a card with
its book, export a card with the character's keyed lore, import and export World Info.
Thin edges: validate, call one service, serialize."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from characters.cards.errors import CardTooLarge
from characters.cards.export import card_png
from characters.cards.parse import ParsedCard
from characters.models import Character, Ecosystem
from characters.selectors import character_get, ecosystem_get
from characters.serializers import CharacterSerializer
from characters.services import card_character_fields
from core.errors import ApplicationError

from .card_services import card_export, card_import, card_preview, lorebook_export, lorebook_import
from .lorebooks import LorebookTooLarge

# The multipart envelope around a file adds a few hundred bytes.
MULTIPART_ALLOWANCE = 64 * 1024

# --------------------------------------------------------------------------- cards


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
    """Import a Character Card (V1/V2/V3 as JSON, PNG/APNG or CHARX) into the ecosystem,
    its ``character_book`` as the character's keyed lore entries.

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
        # Refused before the body is read.
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit + MULTIPART_ALLOWANCE:
            raise CardTooLarge(f"The card is over the limit of {limit} bytes.")
        form = CardImportSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data.pop("file")
        if upload.size > limit:
            raise CardTooLarge(f"The card is {upload.size} bytes; the limit is {limit}.")
        data = upload.read()
        if request.query_params.get("preview") in ("1", "true", "yes"):
            card = card_preview(data=data, filename=upload.name or "")
            return Response(_preview_body(card))
        character = card_import(
            ecosystem=ecosystem,
            data=data,
            filename=upload.name or "",
            overrides=form.validated_data,
        )
        return Response(CharacterSerializer(character).data, status=status.HTTP_201_CREATED)


def _owned_character(request: Request, character_id: str) -> Character:
    return character_get(user=request.user, character_id=character_id)  # type: ignore[arg-type]


def _download_name(character: Character, extension: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in character.name)[:60]
    return f"{safe or 'character'}.{extension}"


class CharacterCardJsonApi(APIView):
    """The character as a Character Card V3 (JSON), its keyed lore as ``character_book``."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, character_id: str) -> Response:
        character = _owned_character(request, character_id)
        card, _avatar = card_export(character=character)
        response = Response(card)
        response["Content-Disposition"] = f'inline; filename="{_download_name(character, "json")}"'
        return response


class CharacterCardPngApi(APIView):
    """The character as a PNG with the V3 card in ``ccv3`` and the V2 card in ``chara``."""

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request: Request, character_id: str) -> HttpResponse:
        character = _owned_character(request, character_id)
        card, avatar = card_export(character=character)
        response = HttpResponse(card_png(card, avatar), content_type="image/png")
        response["Content-Disposition"] = (
            f'attachment; filename="{_download_name(character, "png")}"'
        )
        return response


# --------------------------------------------------------------------------- lorebooks


def _lorebook_limit() -> int:
    # A lorebook is lore: the lore documents' limit (LORE_MAX_DOCUMENT_BYTES, 5 MiB).
    return int(settings.LORE_MAX_DOCUMENT_BYTES)


class RawJSONParser(BaseParser):
    """A JSON body handed over as its bytes (at most the lorebook limit): the lorebook
    reader parses it and names what is wrong, as it does for an uploaded file."""

    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = _lorebook_limit()
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise LorebookTooLarge(f"The lorebook is over the limit of {limit} bytes.")
        return body


class LorebookUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        allow_empty_file=True, help_text="SillyTavern World Info JSON (or a character_book)."
    )
    character = serializers.UUIDField(required=False, allow_null=True, default=None)


class CharacterQuerySerializer(serializers.Serializer):
    character = serializers.UUIDField(required=False, allow_null=True, default=None)


class LorebookImportedSerializer(serializers.Serializer):
    shape = serializers.ChoiceField(choices=("world_info", "character_book"))
    character = serializers.UUIDField(allow_null=True)
    imported = serializers.IntegerField()
    document_ids = serializers.ListField(child=serializers.IntegerField())
    skipped = serializers.ListField(child=serializers.DictField())


def _character_in(request: Request, character_id: Any) -> Character | None:
    if character_id is None:
        return None
    return character_get(user=request.user, character_id=character_id)  # type: ignore[arg-type]


class EcosystemLorebookApi(APIView):
    """The ecosystem's keyed lore as SillyTavern World Info: import (a multipart ``file``
    or the JSON itself as the body) and export. ``character`` ties the entries to one of
    the ecosystem's characters (import), or picks that character's entries (export)."""

    parser_classes = [MultiPartParser, RawJSONParser]

    def _ecosystem(self, request: Request, ecosystem_id: str) -> Ecosystem:
        return ecosystem_get(user=request.user, ecosystem_id=ecosystem_id)  # type: ignore[arg-type]

    @extend_schema(
        request={
            "multipart/form-data": LorebookUploadSerializer,
            "application/json": OpenApiTypes.OBJECT,
        },
        parameters=[
            OpenApiParameter(
                "character", OpenApiTypes.UUID, description="Tie the entries to this character."
            )
        ],
        responses={201: LorebookImportedSerializer},
    )
    def post(self, request: Request, ecosystem_id: str) -> Response:
        ecosystem = self._ecosystem(request, ecosystem_id)
        limit = _lorebook_limit()
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit + MULTIPART_ALLOWANCE:
            raise LorebookTooLarge(f"The lorebook is over the limit of {limit} bytes.")
        if request.content_type.startswith("multipart/"):
            form = LorebookUploadSerializer(data=request.data)
            form.is_valid(raise_exception=True)
            upload = form.validated_data["file"]
            if upload.size is not None and upload.size > limit:
                raise LorebookTooLarge(
                    f"The lorebook is {upload.size} bytes; the limit is {limit}."
                )
            data, filename = upload.read(limit + 1), upload.name or ""
            character_id = form.validated_data["character"]
        elif request.content_type.startswith("application/json"):
            data, filename = request.data, ""
        else:
            raise ApplicationError(
                "Send the lorebook as JSON (application/json) or as a multipart 'file'.",
                code="unsupported_media_type",
            )
        if not request.content_type.startswith("multipart/"):
            query = CharacterQuerySerializer(data=request.query_params)
            query.is_valid(raise_exception=True)
            character_id = query.validated_data["character"]
        result = lorebook_import(
            ecosystem=ecosystem,
            data=bytes(data),
            max_bytes=limit,
            filename=filename,
            character=_character_in(request, character_id),
        )
        body = {
            "shape": result.shape,
            "character": result.character_id,
            "imported": len(result.document_ids),
            "document_ids": result.document_ids,
            "skipped": result.skipped,
        }
        return Response(LorebookImportedSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "character", OpenApiTypes.UUID, description="Only this character's entries."
            )
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, ecosystem_id: str) -> Response:
        ecosystem = self._ecosystem(request, ecosystem_id)
        query = CharacterQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        character = _character_in(request, query.validated_data["character"])
        book = lorebook_export(ecosystem=ecosystem, character=character)
        response = Response(book)
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in ecosystem.name)[:60]
        response["Content-Disposition"] = f'attachment; filename="{safe or "lorebook"}.json"'
        return response
