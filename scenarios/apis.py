"""REST for scenarios: create, list, read, pause / resume / end, mode, and the transcript.

Each view is an input serializer, one service call and an output serializer. Another user's
scenario or ecosystem answers 404 (the selectors scope every read to the requesting user).
"""

from datetime import datetime
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from characters.models import Character, Ecosystem
from characters.selectors import character_state, ecosystem_get
from characters.serializers import StrictSerializerMixin
from interactions.models import Interaction

from . import services
from .models import Scenario, UserMessage
from .selectors import (
    scenario_elapsed_seconds,
    scenario_get_with_participants,
    scenario_list,
    scenario_participants_now,
    scenario_time_left_seconds,
    scenario_transcript,
    user_message_answers,
)

ERROR_RESPONSE = inline_serializer(
    "ScenarioError",
    {
        "detail": serializers.CharField(),
        "code": serializers.CharField(),
        "errors": serializers.DictField(required=False),
    },
)
CONFLICT_RESPONSE = inline_serializer(
    "ScenarioConflict",
    {
        "detail": serializers.CharField(),
        "code": serializers.CharField(),
        "success": serializers.BooleanField(),
        "reason": serializers.CharField(),
    },
)


# --- Input ------------------------------------------------------------------------------


class ScenarioCreateInputSerializer(StrictSerializerMixin, serializers.Serializer):
    title = serializers.CharField(max_length=200)
    setting = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    mood = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    objectives = serializers.ListField(
        child=serializers.CharField(max_length=services.MAX_OBJECTIVE_LENGTH),
        max_length=services.MAX_OBJECTIVES,
        required=False,
        default=list,
    )
    character_ids = serializers.ListField(
        child=serializers.UUIDField(),
        min_length=services.MIN_PARTICIPANTS,
        max_length=services.MAX_PARTICIPANTS,
        help_text="Two or more different characters of this ecosystem.",
    )
    duration_minutes = serializers.IntegerField(
        min_value=services.MIN_DURATION_MINUTES, max_value=services.MAX_DURATION_MINUTES
    )
    tick_seconds = serializers.FloatField(
        min_value=services.MIN_TICK_SECONDS,
        max_value=services.MAX_TICK_SECONDS,
        required=False,
        default=5.0,
        help_text="Seconds between turns (1 .. 3600).",
    )
    mode = serializers.ChoiceField(
        choices=Scenario.Mode.choices, required=False, default=Scenario.Mode.OBSERVER
    )
    seed = serializers.IntegerField(
        min_value=0,
        max_value=services.SEED_MAX,
        required=False,
        help_text="Same seed and same cast state give the same transcript; random if absent.",
    )

    def validate_character_ids(self, value: list) -> list[Character]:
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Each character may be listed once.")
        ecosystem: Ecosystem = self.context["ecosystem"]
        found = {
            character.pk: character
            for character in Character.objects.filter(ecosystem=ecosystem, pk__in=value)
        }
        missing = [str(character_id) for character_id in value if character_id not in found]
        if missing:
            raise serializers.ValidationError(
                f"Not characters of this ecosystem: {', '.join(missing)}."
            )
        archived = [c.name for c in found.values() if c.status == Character.Status.ARCHIVED]
        if archived:
            raise serializers.ValidationError(f"Archived characters cannot take part: {archived}.")
        return [found[character_id] for character_id in value]


class ScenarioModeInputSerializer(StrictSerializerMixin, serializers.Serializer):
    mode = serializers.ChoiceField(choices=Scenario.Mode.choices)


class UserMessageInputSerializer(StrictSerializerMixin, serializers.Serializer):
    content = serializers.CharField(max_length=services.MAX_USER_MESSAGE_LENGTH)
    target_character_id = serializers.UUIDField(required=False, allow_null=True, default=None)


class TranscriptQuerySerializer(serializers.Serializer):
    since_turn = serializers.IntegerField(min_value=0, required=False, default=0)


class EmptyInputSerializer(StrictSerializerMixin, serializers.Serializer):
    """The actions take no body; an unknown field is still an error."""


# --- Output -----------------------------------------------------------------------------


class ParticipantOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    emotion = serializers.CharField()
    pleasure = serializers.FloatField()
    arousal = serializers.FloatField()
    dominance = serializers.FloatField()
    energy = serializers.FloatField()
    status = serializers.CharField()


class ScenarioOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    ecosystem_id = serializers.UUIDField()
    title = serializers.CharField()
    setting = serializers.CharField()
    mood = serializers.CharField()
    objectives = serializers.ListField(child=serializers.CharField())
    status = serializers.ChoiceField(choices=Scenario.Status.choices)
    mode = serializers.ChoiceField(choices=Scenario.Mode.choices)
    seed = serializers.IntegerField()
    turn = serializers.IntegerField(help_text="Turns played so far.")
    duration_minutes = serializers.IntegerField()
    tick_seconds = serializers.FloatField()
    start_time = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    next_tick_at = serializers.DateTimeField(allow_null=True)
    elapsed_seconds = serializers.FloatField(help_text="Active time so far, pauses excluded.")
    time_left_seconds = serializers.FloatField()
    pending_user_messages = serializers.IntegerField()
    participants = ParticipantOutputSerializer(many=True)
    summary = serializers.DictField(help_text="Filled when the scenario ends (docs/scenarios.md).")


class ScenarioListItemSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=Scenario.Status.choices)
    mode = serializers.ChoiceField(choices=Scenario.Mode.choices)
    turn = serializers.IntegerField()
    start_time = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    time_left_seconds = serializers.FloatField()
    participants = inline_serializer(
        "ScenarioListParticipant",
        {"id": serializers.UUIDField(), "name": serializers.CharField()},
        many=True,
    )


class PersonRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class TranscriptInteractionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    turn = serializers.IntegerField()
    created = serializers.DateTimeField()
    interaction_type = serializers.ChoiceField(choices=Interaction.Type.choices)
    initiator = PersonRefSerializer()
    target = PersonRefSerializer()
    content = serializers.CharField()
    response = serializers.CharField()
    content_sentiment = serializers.FloatField()
    response_sentiment = serializers.FloatField()
    emotional_states = serializers.DictField()
    relationship_change = serializers.DictField()
    user_message_id = serializers.UUIDField(allow_null=True)


class UserMessageOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    author = serializers.CharField()
    content = serializers.CharField()
    target_character = PersonRefSerializer(allow_null=True)
    created = serializers.DateTimeField()
    answered_at = serializers.DateTimeField(allow_null=True)
    answered_in_turn = serializers.IntegerField(allow_null=True)


class TranscriptOutputSerializer(serializers.Serializer):
    scenario_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Scenario.Status.choices)
    mode = serializers.ChoiceField(choices=Scenario.Mode.choices)
    turn = serializers.IntegerField()
    interactions = TranscriptInteractionSerializer(many=True)
    user_messages = UserMessageOutputSerializer(many=True)


# --- Shapes -------------------------------------------------------------------------------


def _person(character: Character | None) -> dict[str, Any] | None:
    return None if character is None else {"id": character.pk, "name": character.name}


def scenario_body(scenario: Scenario, *, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    participants = [
        {"id": character.pk, **character_state(character)}
        for character in scenario_participants_now(scenario=scenario, now=now)
    ]
    return {
        "id": scenario.pk,
        "ecosystem_id": scenario.ecosystem_id,
        "title": scenario.title,
        "setting": scenario.setting,
        "mood": scenario.mood,
        "objectives": scenario.objectives,
        "status": scenario.status,
        "mode": scenario.mode,
        "seed": scenario.seed,
        "turn": scenario.turn,
        "duration_minutes": scenario.duration_minutes,
        "tick_seconds": scenario.tick_seconds,
        "start_time": scenario.started_at,
        "ended_at": scenario.ended_at,
        "next_tick_at": scenario.next_tick_at,
        "elapsed_seconds": round(scenario_elapsed_seconds(scenario=scenario, now=now), 3),
        "time_left_seconds": round(scenario_time_left_seconds(scenario=scenario, now=now), 3),
        "pending_user_messages": getattr(scenario, "pending_user_messages", 0),
        "participants": participants,
        "summary": scenario.summary,
    }


def _scenario_response(request: Request, scenario_id: Any, *, code: int = 200) -> Response:
    """Re-read through the user's selector (fresh state, participants prefetched)."""
    scenario = scenario_get_with_participants(user=request.user, scenario_id=scenario_id)  # type: ignore[arg-type]
    return Response(ScenarioOutputSerializer(scenario_body(scenario)).data, status=code)


def _user_message_body(message: UserMessage, answered_in_turn: int | None) -> dict[str, Any]:
    return {
        "id": message.pk,
        "author": message.author.get_username(),
        "content": message.content,
        "target_character": _person(message.target_character),
        "created": message.created,
        "answered_at": message.answered_at,
        "answered_in_turn": answered_in_turn,
    }


# --- Views ---------------------------------------------------------------------------------


class ScenarioCreateApi(APIView):
    """Create a scenario in one of your ecosystems and start it: the first turn plays one
    tick from now, then one turn per tick until ``duration_minutes`` of active time."""

    throttle_scope = "scenario_writes"

    @extend_schema(
        request=ScenarioCreateInputSerializer,
        responses={201: ScenarioOutputSerializer, 400: ERROR_RESPONSE, 404: ERROR_RESPONSE},
    )
    def post(self, request: Request, ecosystem_id: str) -> Response:
        ecosystem = ecosystem_get(user=request.user, ecosystem_id=ecosystem_id)  # type: ignore[arg-type]
        serializer = ScenarioCreateInputSerializer(
            data=request.data, context={"ecosystem": ecosystem}
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        scenario = services.scenario_create(
            ecosystem=ecosystem, participants=data.pop("character_ids"), **data
        )
        return _scenario_response(request, scenario.pk, code=status.HTTP_201_CREATED)


class ScenarioListApi(APIView):
    """The ecosystem's scenarios, newest first (``?status=active|paused|ended`` filters)."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "status", OpenApiTypes.STR, enum=Scenario.Status.values, required=False
            )
        ],
        responses={200: ScenarioListItemSerializer(many=True), 404: ERROR_RESPONSE},
    )
    def get(self, request: Request, ecosystem_id: str) -> Response:
        ecosystem = ecosystem_get(user=request.user, ecosystem_id=ecosystem_id)  # type: ignore[arg-type]
        scenarios = scenario_list(user=request.user, ecosystem=ecosystem).order_by(  # type: ignore[arg-type]
            "-started_at", "pk"
        )
        wanted = request.query_params.get("status")
        if wanted is not None:
            if wanted not in Scenario.Status.values:
                raise serializers.ValidationError(
                    {"status": [f"Must be one of {', '.join(Scenario.Status.values)}."]}
                )
            scenarios = scenarios.filter(status=wanted)
        now = timezone.now()
        rows = [
            {
                "id": scenario.pk,
                "title": scenario.title,
                "status": scenario.status,
                "mode": scenario.mode,
                "turn": scenario.turn,
                "start_time": scenario.started_at,
                "ended_at": scenario.ended_at,
                "time_left_seconds": round(
                    scenario_time_left_seconds(scenario=scenario, now=now), 3
                ),
                "participants": [_person(c) for c in scenario.participants.all()],
            }
            for scenario in scenarios
        ]
        return Response(ScenarioListItemSerializer(rows, many=True).data)


class ScenarioDetailApi(APIView):
    """A scenario's state: status, turn, time left, participants with energy and emotion."""

    @extend_schema(responses={200: ScenarioOutputSerializer, 404: ERROR_RESPONSE})
    def get(self, request: Request, scenario_id: str) -> Response:
        return _scenario_response(request, scenario_id)


ACTION_SCHEMA = extend_schema(
    request=None,
    responses={200: ScenarioOutputSerializer, 404: ERROR_RESPONSE, 409: CONFLICT_RESPONSE},
)


class _ScenarioActionApi(APIView):
    throttle_scope = "scenario_writes"

    action_service: Any = None

    @ACTION_SCHEMA
    def post(self, request: Request, scenario_id: str) -> Response:
        scenario = scenario_get_with_participants(user=request.user, scenario_id=scenario_id)  # type: ignore[arg-type]
        EmptyInputSerializer(data=request.data or {}).is_valid(raise_exception=True)
        type(self).action_service(scenario_id=scenario.pk)
        return _scenario_response(request, scenario.pk)


class ScenarioPauseApi(_ScenarioActionApi):
    """Pause: no turns until resumed; active time stops counting. Pausing twice is harmless;
    an ended scenario answers 409."""

    action_service = staticmethod(services.scenario_pause)


class ScenarioResumeApi(_ScenarioActionApi):
    """Resume: the next turn plays one tick from now. An ended scenario answers 409."""

    action_service = staticmethod(services.scenario_resume)


class ScenarioEndApi(_ScenarioActionApi):
    """End now and write the summary (in ``summary`` and the ``scenario_ended`` event).
    Ending an ended scenario answers 409."""

    action_service = staticmethod(services.scenario_end)


MODE_SCHEMA = extend_schema(
    request=ScenarioModeInputSerializer,
    responses={
        200: ScenarioOutputSerializer,
        400: ERROR_RESPONSE,
        404: ERROR_RESPONSE,
        409: CONFLICT_RESPONSE,
    },
)


class ScenarioModeApi(APIView):
    """Switch between watching (``observer``) and stepping in (``participant``)."""

    throttle_scope = "scenario_writes"

    @MODE_SCHEMA
    def patch(self, request: Request, scenario_id: str) -> Response:
        scenario = scenario_get_with_participants(user=request.user, scenario_id=scenario_id)  # type: ignore[arg-type]
        serializer = ScenarioModeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.scenario_mode_set(scenario_id=scenario.pk, mode=serializer.validated_data["mode"])
        return _scenario_response(request, scenario.pk)

    @MODE_SCHEMA
    def post(self, request: Request, scenario_id: str) -> Response:
        return self.patch(request, scenario_id)


class ScenarioMessagesApi(APIView):
    """GET: the transcript (every interaction in turn order, plus the messages people sent).
    POST: a person's message, answered on the next turn by the named character (or the
    director's choice); participant mode only, 409 in observer mode."""

    throttle_scope = "scenario_writes"

    @extend_schema(
        parameters=[TranscriptQuerySerializer],
        responses={200: TranscriptOutputSerializer, 404: ERROR_RESPONSE},
    )
    def get(self, request: Request, scenario_id: str) -> Response:
        scenario = scenario_get_with_participants(user=request.user, scenario_id=scenario_id)  # type: ignore[arg-type]
        query = TranscriptQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        transcript = scenario_transcript(
            scenario=scenario, since_turn=query.validated_data["since_turn"]
        )
        answered_in = {
            message_id: turn
            for message_id, (turn, _interaction_id) in user_message_answers(
                scenario=scenario
            ).items()
        }
        body = {
            "scenario_id": scenario.pk,
            "status": scenario.status,
            "mode": scenario.mode,
            "turn": scenario.turn,
            "interactions": [
                {
                    "id": interaction.pk,
                    "turn": interaction.turn,
                    "created": interaction.created,
                    "interaction_type": interaction.interaction_type,
                    "initiator": _person(interaction.initiator),
                    "target": _person(interaction.target),
                    "content": interaction.content,
                    "response": interaction.response,
                    "content_sentiment": interaction.content_sentiment,
                    "response_sentiment": interaction.response_sentiment,
                    "emotional_states": interaction.emotional_states,
                    "relationship_change": interaction.relationship_change,
                    "user_message_id": interaction.user_message_id,
                }
                for interaction in transcript.interactions
            ],
            "user_messages": [
                _user_message_body(message, answered_in.get(message.pk))
                for message in transcript.user_messages
            ],
        }
        return Response(TranscriptOutputSerializer(body).data)

    @extend_schema(
        request=UserMessageInputSerializer,
        responses={
            201: UserMessageOutputSerializer,
            400: ERROR_RESPONSE,
            404: ERROR_RESPONSE,
            409: CONFLICT_RESPONSE,
        },
    )
    def post(self, request: Request, scenario_id: str) -> Response:
        scenario = scenario_get_with_participants(user=request.user, scenario_id=scenario_id)  # type: ignore[arg-type]
        serializer = UserMessageInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = services.scenario_post_message(
            scenario_id=scenario.pk,
            author=request.user,  # type: ignore[arg-type]
            content=serializer.validated_data["content"],
            target_character_id=serializer.validated_data["target_character_id"],
        )
        return Response(
            UserMessageOutputSerializer(_user_message_body(message, None)).data,
            status=status.HTTP_201_CREATED,
        )
