"""REST of the observatory: the event log, page by page (the WebSocket's resume, over HTTP)."""

from typing import Any

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

from characters.selectors import ecosystem_get
from eventlog.models import Event
from eventlog.services import envelopes_of, events_since

MAX_SEQ = 2**63 - 1  # PostgreSQL bigint

ERROR = inline_serializer(
    "EventsError", {"detail": serializers.CharField(), "code": serializers.CharField()}
)


class EventListInputSerializer(serializers.Serializer):
    since = serializers.IntegerField(
        min_value=0,
        max_value=MAX_SEQ,
        default=0,
        help_text="Answer events with seq greater than this (the last seq you have).",
    )
    limit = serializers.IntegerField(
        min_value=1, max_value=1000, default=100, help_text="At most this many events."
    )


class EventEnvelopeOutputSerializer(serializers.Serializer):
    seq = serializers.IntegerField(help_text="Contiguous per ecosystem: 1, 2, 3 ...")
    type = serializers.CharField(help_text=f"One of: {', '.join(Event.Type.values)}.")
    timestamp = serializers.DateTimeField()
    ecosystem_id = serializers.UUIDField()
    data = serializers.DictField(  # type: ignore[assignment]  # the envelope's field name
        help_text="The payload of this event type (docs/events.md)."
    )


class EventPageOutputSerializer(serializers.Serializer):
    events = EventEnvelopeOutputSerializer(many=True)
    next_since = serializers.IntegerField(
        help_text="The last seq in this page (``since`` if the page is empty): the next since."
    )
    last_seq = serializers.IntegerField(help_text="The ecosystem's newest seq right now.")
    has_more = serializers.BooleanField(help_text="More events follow next_since.")


class EventListApi(APIView):
    """One page of an ecosystem's event log, oldest first. Owner only (others: 404).

    A first event whose seq is above ``since + 1`` means the ones between were pruned
    (``EVENT_RETENTION_DAYS``).
    """

    @extend_schema(
        operation_id="ecosystem_events_list",
        parameters=[
            OpenApiParameter("ecosystem_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
            EventListInputSerializer,
        ],
        responses={
            200: EventPageOutputSerializer,
            401: OpenApiResponse(ERROR, description="Not authenticated."),
            400: OpenApiResponse(ERROR, description="since or limit malformed / out of range."),
            404: OpenApiResponse(ERROR, description="No such ecosystem of yours."),
        },
    )
    def get(self, request: Request, ecosystem_id: str) -> Response:
        ecosystem = ecosystem_get(user=request.user, ecosystem_id=ecosystem_id)  # type: ignore[arg-type]
        params = EventListInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        since: int = params.validated_data["since"]
        limit: int = params.validated_data["limit"]
        rows = events_since(ecosystem_id=ecosystem.pk, since=since, limit=limit + 1)
        page = envelopes_of(rows[:limit])
        next_since = page[-1]["seq"] if page else since
        body: dict[str, Any] = {
            "events": page,
            "next_since": next_since,
            # Events may commit between the two reads; never answer a last_seq behind the page.
            "last_seq": max(ecosystem.last_seq, rows[-1].seq if rows else 0),
            "has_more": len(rows) > limit,
        }
        return Response(body)
