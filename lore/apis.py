"""The lore API (docs/api.md, docs/lore.md): documents and search. Thin edges: validate,
call one service or selector, serialize."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from characters.selectors import ecosystem_get
from core.parsers import BoundedJSONParser

from .extract import DocumentTooLarge
from .models import Document
from .selectors import document_get, document_list, lore_search
from .services import (
    document_create,
    document_create_from_upload,
    document_delete,
    document_update,
)

MAX_SEARCH_K = 50


class DocumentOutputSerializer(serializers.ModelSerializer):
    ecosystem_id = serializers.UUIDField(read_only=True)
    characters = serializers.SerializerMethodField()
    chunk_count = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = (
            "id",
            "ecosystem_id",
            "title",
            "kind",
            "content",
            "characters",
            "keys",
            "secondary_keys",
            "constant",
            "order",
            "enabled",
            "source_name",
            "chunk_count",
            "created",
            "updated",
        )

    def get_characters(self, document: Document) -> list[str]:
        return [str(character.pk) for character in document.characters.all()]

    def get_chunk_count(self, document: Document) -> int:
        return document.chunks.count()


class DocumentListItemSerializer(DocumentOutputSerializer):
    class Meta(DocumentOutputSerializer.Meta):
        fields = tuple(  # type: ignore[assignment]
            name for name in DocumentOutputSerializer.Meta.fields if name != "content"
        )


KeyList = serializers.ListField(child=serializers.CharField(max_length=100), max_length=50)


class DocumentInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    content = serializers.CharField(trim_whitespace=False)
    kind = serializers.ChoiceField(
        choices=[Document.Kind.TEXT, Document.Kind.MARKDOWN], default=Document.Kind.TEXT
    )
    characters = serializers.ListField(child=serializers.UUIDField(), max_length=100, default=list)
    keys = serializers.ListField(
        child=serializers.CharField(max_length=100), max_length=50, default=list
    )
    secondary_keys = serializers.ListField(
        child=serializers.CharField(max_length=100), max_length=50, default=list
    )
    constant = serializers.BooleanField(default=False)
    order = serializers.IntegerField(default=100, min_value=-10_000, max_value=10_000)
    enabled = serializers.BooleanField(default=True)


class UploadInputSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)
    title = serializers.CharField(max_length=200, required=False, default="")
    keys = serializers.CharField(max_length=2000, required=False, default="")
    constant = serializers.BooleanField(default=False)
    order = serializers.IntegerField(default=100, min_value=-10_000, max_value=10_000)


def _split_keys(text: str) -> list[str]:
    return [key.strip() for key in text.split(",") if key.strip()]


class EcosystemDocumentsApi(APIView):
    """List an ecosystem's documents; create one from JSON text or a multipart upload."""

    parser_classes = [BoundedJSONParser, MultiPartParser, FormParser]

    @extend_schema(responses=DocumentListItemSerializer(many=True))
    def get(self, request: Request, ecosystem_id: str) -> Response:
        ecosystem = ecosystem_get(user=request.user, ecosystem_id=ecosystem_id)  # type: ignore[arg-type]
        documents = document_list(ecosystem=ecosystem)
        return Response({"results": DocumentListItemSerializer(documents, many=True).data})

    @extend_schema(request=DocumentInputSerializer, responses={201: DocumentOutputSerializer})
    def post(self, request: Request, ecosystem_id: str) -> Response:
        ecosystem = ecosystem_get(user=request.user, ecosystem_id=ecosystem_id)  # type: ignore[arg-type]
        if request.content_type.startswith("multipart/"):
            upload = UploadInputSerializer(data=request.data)
            upload.is_valid(raise_exception=True)
            data: Any = upload.validated_data
            file = data["file"]
            if file.size is not None and file.size > settings.LORE_MAX_DOCUMENT_BYTES:
                raise DocumentTooLarge(
                    "The file is larger than the limit of "
                    f"{settings.LORE_MAX_DOCUMENT_BYTES} bytes."
                )
            document = document_create_from_upload(
                ecosystem=ecosystem,
                filename=file.name or "",
                data=file.read(settings.LORE_MAX_DOCUMENT_BYTES + 1),
                title=data["title"],
                keys=_split_keys(data["keys"]),
                constant=data["constant"],
                order=data["order"],
            )
        else:
            serializer = DocumentInputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            fields = dict(serializer.validated_data)
            document = document_create(
                ecosystem=ecosystem, character_ids=fields.pop("characters"), **fields
            )
        return Response(DocumentOutputSerializer(document).data, status=status.HTTP_201_CREATED)


class DocumentDetailApi(APIView):
    """One document: get, replace (PUT), change (PATCH: re-embeds), delete."""

    def _document(self, request: Request, document_id: str, ecosystem_id: str | None) -> Document:
        return document_get(user=request.user, document_id=document_id, ecosystem_id=ecosystem_id)

    @extend_schema(responses=DocumentOutputSerializer)
    def get(self, request: Request, document_id: str, ecosystem_id: str | None = None) -> Response:
        document = self._document(request, document_id, ecosystem_id)
        return Response(DocumentOutputSerializer(document).data)

    def _change(
        self, request: Request, document_id: str, ecosystem_id: str | None, *, partial: bool
    ) -> Response:
        document = self._document(request, document_id, ecosystem_id)
        serializer = DocumentInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        character_ids = fields.pop("characters", None)
        document = document_update(document=document, character_ids=character_ids, **fields)
        document.refresh_from_db()
        return Response(DocumentOutputSerializer(document).data)

    @extend_schema(request=DocumentInputSerializer, responses=DocumentOutputSerializer)
    def put(self, request: Request, document_id: str, ecosystem_id: str | None = None) -> Response:
        return self._change(request, document_id, ecosystem_id, partial=False)

    @extend_schema(request=DocumentInputSerializer, responses=DocumentOutputSerializer)
    def patch(
        self, request: Request, document_id: str, ecosystem_id: str | None = None
    ) -> Response:
        return self._change(request, document_id, ecosystem_id, partial=True)

    @extend_schema(responses={204: None})
    def delete(
        self, request: Request, document_id: str, ecosystem_id: str | None = None
    ) -> Response:
        document_delete(document=self._document(request, document_id, ecosystem_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=2000)
    k = serializers.IntegerField(default=10, min_value=1, max_value=MAX_SEARCH_K)
    character = serializers.UUIDField(required=False, allow_null=True, default=None)


class SearchHitSerializer(serializers.Serializer):
    text = serializers.CharField()
    score = serializers.FloatField()
    document_id = serializers.IntegerField()
    document_title = serializers.CharField()
    position = serializers.IntegerField()
    keys = serializers.ListField(child=serializers.CharField())


class LoreSearchApi(APIView):
    """Lore chunks closest in meaning to ``q`` (Neo4j's vector index in the full stack,
    exact in the embedded mode); 503 with a reason when Neo4j is away."""

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, required=True),
            OpenApiParameter("k", int, description="1..50, default 10"),
            OpenApiParameter("character", str, description="a character id"),
        ],
        responses=SearchHitSerializer(many=True),
    )
    def get(self, request: Request, ecosystem_id: str) -> Response:
        ecosystem = ecosystem_get(user=request.user, ecosystem_id=ecosystem_id)  # type: ignore[arg-type]
        query = SearchQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params: Any = query.validated_data
        hits = lore_search(
            ecosystem=ecosystem, query=params["q"], k=params["k"], character_id=params["character"]
        )
        return Response({"results": SearchHitSerializer(hits, many=True).data})
