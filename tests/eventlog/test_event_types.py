"""Every event type has one builder and one payload schema; docs/events.md shows exactly
those schemas; and the events the services really write conform to them."""

import inspect
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from characters.emotion import EMOTION_LABELS
from characters.models import Character
from eventlog import schemas, types
from eventlog.models import Event
from interactions.models import Interaction
from interactions.services import interaction_process
from relationships.dynamics import RELATIONSHIP_LABELS
from scenarios.models import Scenario
from scenarios.services import (
    scenario_create,
    scenario_end,
    scenario_pause,
    scenario_play_turn,
    scenario_post_message,
    scenario_resume,
)
from tests.factories import CharacterFactory

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"

A, B, C = (str(uuid.uuid4()) for _ in range(3))
STATE = {
    "name": "Mira",
    "pleasure": 0.31,
    "arousal": -0.2,
    "dominance": 0.05,
    "label": "calm",
    "energy": 0.74,
    "status": "active",
}
REGARD = {"strength_delta": 0.02, "trust_delta": 0.01, "new_strength": 0.12, "new_trust": 0.31}
CHANGE = {
    "from": A,
    "to": B,
    "from_name": "Mira",
    "to_name": "Tobias",
    "strength_before": 0.1,
    "strength_after": 0.12,
    "trust_before": 0.3,
    "trust_after": 0.31,
    "strength_delta": 0.02,
    "trust_delta": 0.01,
    "interaction_count": 3,
    "label": "acquaintance",
    "version": 4,
}
REF = {"scenario_id": C, "title": "The storm festival", "turn": 3}

# Arguments for each builder, as its writer passes them.
SAMPLES: dict[Event.Type, dict[str, Any]] = {
    Event.Type.CHARACTER_INTERACTION: {
        "interaction_id": str(uuid.uuid4()),
        "participants": [A, B],
        "names": {A: "Mira", B: "Tobias"},
        "interaction_type": "chat",
        "content": "Fine weather for boats.",
        "response": "If the wind holds.",
        "sentiment": {"content": 0.2023, "response": 0.0},
        "relationship_change": {**REGARD, "reverse": REGARD},
        "emotional_states": {A: STATE, B: {**STATE, "name": "Tobias", "status": "resting"}},
        "scenario_id": C,
        "turn": 4,
        "user_message_id": None,
        "drew_on": [
            {"line": "response", "kind": "memory", "id": str(uuid.uuid4()), "text": "Ugly!"}
        ],
    },
    Event.Type.RELATIONSHIP_CHANGED: {
        "changes": [CHANGE, {**CHANGE, "from": B, "to": A, "from_name": "Tobias"}]
    },
    Event.Type.CHARACTER_STATE_CHANGED: {"characters": {A: STATE}},
    Event.Type.SCENARIO_STARTED: {
        **REF,
        "turn": 0,
        "setting": "the harbor square",
        "mood": "excited",
        "objectives": ["finish the lantern boats"],
        "participants": [
            {"id": A, "name": "Mira", "emotion": "joy", "energy": 1.0, "status": "active"},
            {"id": B, "name": "Tobias", "emotion": "neutral", "energy": 0.5, "status": "active"},
        ],
        "duration_minutes": 10,
        "tick_seconds": 5.0,
        "mode": "observer",
        "seed": 7,
        "start_time": "2025-05-01T12:00:00.123456+00:00",
    },
    Event.Type.SCENARIO_PAUSED: {**REF, "elapsed_seconds": 12.5},
    Event.Type.SCENARIO_RESUMED: {
        **REF,
        "elapsed_seconds": 12.5,
        "next_tick_at": "2025-05-01T12:00:05+00:00",
    },
    Event.Type.SCENARIO_ENDED: {
        **REF,
        "reason": "duration_elapsed",
        "summary": {
            "reason": "duration_elapsed",
            "turns": 3,
            "elapsed_seconds": 600.4,
            "interaction_types": {"chat": 2, "conflict": 1},
            "user_messages_answered": 0,
            "speakers": {"Mira": 2, "Tobias": 1},
            "relationship_changes": [
                {
                    "from": A,
                    "from_name": "Mira",
                    "to": B,
                    "to_name": "Tobias",
                    "interactions": 3,
                    "strength_before": 0.0,
                    "strength_after": -0.31,
                    "strength_delta": -0.31,
                    "trust_before": 0.3,
                    "trust_after": 0.21,
                    "trust_delta": -0.09,
                }
            ],
            "mood_arc": [{"turns": [1, 3], "labels": {"joy": 4, "calm": 2}, "dominant": "joy"}],
        },
    },
    Event.Type.USER_MESSAGE: {
        **REF,
        "message_id": str(uuid.uuid4()),
        "author": "demo",
        "content": "Tobias, who should lead the parade?",
        "target_character_id": B,
        "target_name": "Tobias",
    },
    Event.Type.MEMORY_FORMED: {
        "interaction_id": str(uuid.uuid4()),
        "memories": [
            {
                "memory_id": str(uuid.uuid4()),
                "character_id": A,
                "name": "Mira",
                "counterpart_id": B,
                "importance": 0.42,
                "text": 'I said to Tobias: "Fine weather." Tobias answered: "If it holds."',
            }
        ],
    },
    Event.Type.REFLECTION_FORMED: {
        "memory_id": str(uuid.uuid4()),
        "character_id": A,
        "name": "Mira",
        "counterpart_id": B,
        "counterpart_name": "Tobias",
        "text": "Tobias has snapped at me three times lately; I don't trust Tobias.",
        "importance": 0.8,
        "cited_ids": [str(uuid.uuid4()), str(uuid.uuid4())],
    },
}


def validator(event_type: str) -> Draft202012Validator:
    return Draft202012Validator(
        schemas.payload_schema(event_type), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def errors(event_type: str, payload: Any) -> list[str]:
    """The schema's complaints about a payload as a client receives it (through JSON)."""
    received = json.loads(json.dumps(payload))
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator(event_type).iter_errors(received)
    ]


# --- one builder and one schema per type -----------------------------------------------


def test_every_event_type_has_a_builder_named_after_it_and_a_schema():
    assert set(types.BUILDERS) == set(Event.Type)
    assert set(schemas.PAYLOAD_SCHEMAS) == set(Event.Type)
    assert set(SAMPLES) == set(Event.Type)
    for event_type in Event.Type:
        assert getattr(types, event_type.value) is types.BUILDERS[event_type]


@pytest.mark.parametrize("event_type", list(Event.Type), ids=str)
def test_builder_arguments_are_keyword_only_and_exactly_the_schemas_keys(event_type):
    parameters = inspect.signature(types.BUILDERS[event_type]).parameters.values()
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters)
    assert all(p.annotation is not inspect.Parameter.empty for p in parameters)
    schema = schemas.PAYLOAD_SCHEMAS[event_type]
    assert [p.name for p in parameters] == list(schema["properties"]) == schema["required"]


@pytest.mark.parametrize("event_type", list(Event.Type), ids=str)
def test_each_builder_builds_its_type_with_a_payload_its_schema_accepts(event_type):
    built_type, payload = types.BUILDERS[event_type](**SAMPLES[event_type])
    assert built_type is event_type
    assert payload == SAMPLES[event_type]
    assert errors(event_type, payload) == []


@pytest.mark.parametrize("event_type", list(Event.Type), ids=str)
def test_the_schema_refuses_a_missing_a_stray_or_a_mistyped_key(event_type):
    payload = dict(SAMPLES[event_type])
    first_key = next(iter(payload))
    assert errors(event_type, {**payload, "unexpected": 1})
    assert errors(event_type, {key: v for key, v in payload.items() if key != first_key})
    assert errors(event_type, {**payload, first_key: {"not": "this"}})


def test_the_schemas_are_valid_draft_2020_12_schemas():
    for event_type in Event.Type:
        Draft202012Validator.check_schema(schemas.payload_schema(event_type))


def test_the_value_lists_match_the_layers_that_own_them():
    assert list(Interaction.Type.values) == schemas.INTERACTION_TYPES
    assert list(RELATIONSHIP_LABELS) == schemas.RELATIONSHIP_LABELS
    assert list(Scenario.Mode.values) == schemas.SCENARIO_MODES
    assert schemas.DEFINITIONS["emotion_label"]["enum"] == list(EMOTION_LABELS)
    assert schemas.DEFINITIONS["character_status"]["enum"] == list(Character.Status.values)


# --- the docs are the contract -------------------------------------------------------------


def documented_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """The shared definitions and the per-type blocks of "Payload schemas" in docs/events.md."""
    text = DOCS.read_text()
    section = text.split("\n## Payload schemas\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"\n### (.+?)\n\n```json\n(.*?)\n```\n", section, re.DOTALL)
    definitions = [json.loads(body) for title, body in blocks if title.startswith("Shared")]
    by_type = {
        title.strip("`"): json.loads(body)
        for title, body in blocks
        if re.fullmatch(r"`\w+`", title)
    }
    assert len(definitions) == 1
    assert len(blocks) == len(by_type) + 1
    return definitions[0], by_type


def test_docs_show_exactly_the_schemas_of_every_type():
    definitions, by_type = documented_schemas()
    assert definitions == schemas.DEFINITIONS
    assert set(by_type) == set(Event.Type.values)
    for event_type, schema in by_type.items():
        assert schema == schemas.PAYLOAD_SCHEMAS[Event.Type(event_type)], event_type


# --- what the system writes -------------------------------------------------------------------


@pytest.mark.django_db
def test_events_written_by_the_services_conform_to_their_schemas(ecosystem, user, settings):
    settings.MEMORY_REFLECTION_THRESHOLD = 0.5  # a reflection forms within these turns
    traits = dict(
        openness=0.6, conscientiousness=0.6, extraversion=0.8, agreeableness=0.7, neuroticism=0.3
    )
    cast = [
        CharacterFactory(ecosystem=ecosystem, name=name, **traits)
        for name in ("Ines", "Mira", "Tobias")
    ]
    scenario = scenario_create(
        ecosystem=ecosystem,
        participants=cast,
        title="The storm festival",
        setting="the harbor square",
        mood="excited but tense",
        objectives=["finish the lantern boats"],
        tick_seconds=1.0,
        seed=7,
        mode=Scenario.Mode.PARTICIPANT,
    )
    assert scenario_play_turn(scenario_id=scenario.pk, turn=1)
    scenario_post_message(
        scenario_id=scenario.pk,
        author=user,
        content="Tobias, who should lead the parade?",
        target_character_id=cast[2].pk,
    )
    scenario_post_message(scenario_id=scenario.pk, author=user, content="Anyone?")
    assert scenario_play_turn(scenario_id=scenario.pk, turn=2)  # answers the person
    scenario_pause(scenario_id=scenario.pk)
    scenario_resume(scenario_id=scenario.pk)
    assert scenario_play_turn(scenario_id=scenario.pk, turn=3)
    scenario_end(scenario_id=scenario.pk)
    interaction_process(
        initiator_id=cast[0].pk, target_id=cast[1].pk, interaction_type="conflict"
    )  # outside any scenario: scenario_id, turn and user_message_id are null

    rows = list(Event.objects.filter(ecosystem=ecosystem).order_by("seq"))
    assert {row.type for row in rows} == set(Event.Type.values)
    assert any(
        row.payload["user_message_id"] for row in rows if row.type == "character_interaction"
    )
    assert any(
        row.payload["scenario_id"] is None for row in rows if row.type == "character_interaction"
    )
    for row in rows:
        assert errors(row.type, row.payload) == [], (row.seq, row.type)
