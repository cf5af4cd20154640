"""World archive endpoints (docs/archives.md, docs/api.md "World archives").

``GET /api/v1/ecosystems/{id}/archive[?events=1]`` downloads the owner's ecosystem as a world
archive; ``POST /api/v1/ecosystems/import`` (multipart ``file``) imports one into the
caller's account as a new ecosystem. Another user's ecosystem is not found (404); a file
over ``ARCHIVE_MAX_BYTES`` answers 413, a bad archive 400, and nothing is half-imported.
"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from characters.selectors import ecosystem_get, ecosystem_list
from characters.serializers import EcosystemSerializer

from .archive import (
    ARCHIVE_MEDIA_TYPE,
    ArchiveTooLarge,
    archive_filename,
    archive_max_bytes,
    ecosystem_export_archive,
    ecosystem_import_archive,
)

# What a multipart envelope adds around the file (boundaries, headers).
MULTIPART_OVERHEAD_BYTES = 64 * 1024
TRUE_VALUES = ("1", "true", "yes", "on")


class ArchiveImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A world archive (gzip JSON, *.world.json.gz).")


class EcosystemArchiveApi(APIView):
    """The ecosystem as a world archive; ``?events=1`` adds the event log."""

    @extend_schema(
        parameters=[
            OpenApiParameter("events", OpenApiTypes.BOOL, description="Include the event log."),
            OpenApiParameter(
                "vectors",
                OpenApiTypes.BOOL,
                description="Include lore and memory vectors (default 1).",
            ),
        ],
        responses={(200, ARCHIVE_MEDIA_TYPE): OpenApiTypes.BINARY},
    )
    def get(self, request: Request, ecosystem_id: str) -> HttpResponse:
        ecosystem = ecosystem_get(user=request.user, ecosystem_id=ecosystem_id)  # type: ignore[arg-type]
        data = ecosystem_export_archive(
            ecosystem=ecosystem,
            events=request.query_params.get("events", "").lower() in TRUE_VALUES,
            vectors=request.query_params.get("vectors", "1").lower() in TRUE_VALUES,
        )
        response = HttpResponse(data, content_type=ARCHIVE_MEDIA_TYPE)
        response["Content-Disposition"] = f'attachment; filename="{archive_filename(ecosystem)}"'
        return response


class EcosystemImportApi(APIView):
    """Import a world archive as a new ecosystem of the caller (new ids everywhere)."""

    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": ArchiveImportSerializer},
        responses={201: EcosystemSerializer},
    )
    def post(self, request: Request) -> Response:
        limit = archive_max_bytes()
        # Refused before the body is read.
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit + MULTIPART_OVERHEAD_BYTES:
            raise ArchiveTooLarge(f"The archive is over the limit of {limit} bytes.")
        form = ArchiveImportSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data["file"]
        if upload.size > limit:
            raise ArchiveTooLarge(f"The archive is {upload.size} bytes; the limit is {limit}.")
        ecosystem = ecosystem_import_archive(owner=request.user, data=upload.read())
        created = ecosystem_list(user=request.user).get(pk=ecosystem.pk)  # type: ignore[arg-type]
        return Response(EcosystemSerializer(created).data, status=status.HTTP_201_CREATED)
