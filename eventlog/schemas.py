"""The payload (``data``) of every event type, as JSON Schema (draft 2020-12).

This is the contract docs/events.md shows to clients ("Payload schemas"): the same
definitions and one schema per ``Event.Type``, block for block
(``tests/eventlog/test_event_types.py`` fails if the two differ, if a type has no schema,
or if an event the system writes does not validate). Nothing validates at run time; the
builders in ``eventlog.types`` give the payloads their shape.

Each type's schema refers to the shared ``DEFINITIONS`` as ``#/$defs/<name>``;
``payload_schema(type)`` returns it self-contained. A schema lists every key written today
(``additionalProperties: false`` keeps this file and the writers in step); clients must still
ignore keys they do not know, since new ones may be added.
"""

from typing import Any

from characters import personality
from characters.emotion import EMOTION_LABELS
from characters.models import Character

from .models import Event

# Values owned by higher layers, which the event log may not import; the test compares them
# with Interaction.Type, RELATIONSHIP_LABELS and Scenario.Mode.
INTERACTION_TYPES = list(personality.INTERACTION_TYPES)
RELATIONSHIP_LABELS = ["stranger", "acquaintance", "friend", "close friend", "rival", "enemy"]
SCENARIO_MODES = ["observer", "participant"]

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/$defs/{name}"}


def _object(properties: dict[str, Schema]) -> Schema:
    """An object with exactly these keys, all required."""
    return {
        "type": "object",
        "required": list(properties),
        "additionalProperties": False,
        "properties": properties,
    }


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _number(minimum: float, maximum: float) -> Schema:
    return {"type": "number", "minimum": minimum, "maximum": maximum}


_TEXT: Schema = {"type": "string"}
_COUNT: Schema = {"type": "integer", "minimum": 0}
_SECONDS: Schema = {"type": "number", "minimum": 0}
_TIMESTAMP: Schema = {"type": "string", "format": "date-time"}

DEFINITIONS: dict[str, Schema] = {
    "emotion_label": {"enum": list(EMOTION_LABELS)},
    "character_status": {"enum": list(Character.Status.values)},
    "id": {
        "type": "string",
        "format": "uuid",
        "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    },
    "character_state": _object(
        {
            "name": _TEXT,
            "pleasure": _number(-1, 1),
            "arousal": _number(-1, 1),
            "dominance": _number(-1, 1),
            "label": _ref("emotion_label"),
            "energy": _number(0, 1),
            "status": _ref("character_status"),
        }
    ),
    "character_states": {
        "type": "object",
        "propertyNames": _ref("id"),
        "additionalProperties": _ref("character_state"),
    },
    "regard_change": _object(
        {
            "strength_delta": _number(-2, 2),
            "trust_delta": _number(-1, 1),
            "new_strength": _number(-1, 1),
            "new_trust": _number(0, 1),
        }
    ),
    "scenario_turn": _COUNT,
}

PAYLOAD_SCHEMAS: dict[Event.Type, Schema] = {
    Event.Type.CHARACTER_INTERACTION: _object(
        {
            "interaction_id": _ref("id"),
            "participants": {
                "type": "array",
                "items": _ref("id"),
                "minItems": 2,
                "maxItems": 2,
                "description": "[initiator_id, target_id]",
            },
            "names": {
                "type": "object",
                "propertyNames": _ref("id"),
                "additionalProperties": _TEXT,
            },
            "interaction_type": {"enum": INTERACTION_TYPES},
            "content": _TEXT,
            "response": _TEXT,
            "sentiment": _object({"content": _number(-1, 1), "response": _number(-1, 1)}),
            "relationship_change": {
                "description": "initiator -> target; target -> initiator under reverse",
                **_object(
                    {
                        **DEFINITIONS["regard_change"]["properties"],
                        "reverse": _ref("regard_change"),
                    }
                ),
            },
            "emotional_states": _ref("character_states"),
            "scenario_id": _nullable(_ref("id")),
            "turn": _nullable({"type": "integer", "minimum": 1}),
            "user_message_id": _nullable(_ref("id")),
            "drew_on": {
                "type": "array",
                "description": "what a line recalled; empty when nothing",
                "items": _object(
                    {
                        "line": {"enum": ["content", "response"]},
                        "kind": {"enum": ["memory", "reflection", "lore"]},
                        "id": _TEXT,
                        "text": _TEXT,
                    }
                ),
            },
        }
    ),
    Event.Type.RELATIONSHIP_CHANGED: _object(
        {
            "changes": {
                "type": "array",
                "description": "one per direction",
                "items": _object(
                    {
                        "from": _ref("id"),
                        "to": _ref("id"),
                        "from_name": _TEXT,
                        "to_name": _TEXT,
                        "strength_before": _number(-1, 1),
                        "strength_after": _number(-1, 1),
                        "trust_before": _number(0, 1),
                        "trust_after": _number(0, 1),
                        "strength_delta": _number(-2, 2),
                        "trust_delta": _number(-1, 1),
                        "interaction_count": {"type": "integer", "minimum": 1},
                        "label": {"enum": RELATIONSHIP_LABELS},
                        "version": {"type": "integer", "minimum": 1},
                    }
                ),
            }
        }
    ),
    Event.Type.CHARACTER_STATE_CHANGED: _object({"characters": _ref("character_states")}),
    Event.Type.SCENARIO_STARTED: _object(
        {
            "scenario_id": _ref("id"),
            "title": _TEXT,
            "turn": _ref("scenario_turn"),
            "setting": _TEXT,
            "mood": _TEXT,
            "objectives": {"type": "array", "items": _TEXT},
            "participants": {
                "type": "array",
                "minItems": 2,
                "items": _object(
                    {
                        "id": _ref("id"),
                        "name": _TEXT,
                        "emotion": _ref("emotion_label"),
                        "energy": _number(0, 1),
                        "status": _ref("character_status"),
                    }
                ),
            },
            "duration_minutes": {"type": "integer", "minimum": 1},
            "tick_seconds": {"type": "number", "exclusiveMinimum": 0},
            "mode": {"enum": SCENARIO_MODES},
            "seed": {"type": "integer", "minimum": 0},
            "start_time": _TIMESTAMP,
        }
    ),
    Event.Type.SCENARIO_PAUSED: _object(
        {
            "scenario_id": _ref("id"),
            "title": _TEXT,
            "turn": _ref("scenario_turn"),
            "elapsed_seconds": _SECONDS,
        }
    ),
    Event.Type.SCENARIO_RESUMED: _object(
        {
            "scenario_id": _ref("id"),
            "title": _TEXT,
            "turn": _ref("scenario_turn"),
            "elapsed_seconds": _SECONDS,
            "next_tick_at": _TIMESTAMP,
        }
    ),
    Event.Type.SCENARIO_ENDED: _object(
        {
            "scenario_id": _ref("id"),
            "title": _TEXT,
            "turn": _ref("scenario_turn"),
            "reason": {
                "type": "string",
                "examples": ["ended_by_user", "duration_elapsed"],
            },
            "summary": {
                "description": 'docs/scenarios.md, "Summary format"',
                **_object(
                    {
                        "reason": _TEXT,
                        "turns": _COUNT,
                        "elapsed_seconds": _SECONDS,
                        "interaction_types": {
                            "type": "object",
                            "propertyNames": {"enum": INTERACTION_TYPES},
                            "additionalProperties": _COUNT,
                        },
                        "user_messages_answered": _COUNT,
                        "speakers": {
                            "type": "object",
                            "description": "turns opened, by name",
                            "additionalProperties": _COUNT,
                        },
                        "relationship_changes": {
                            "type": "array",
                            "items": _object(
                                {
                                    "from": _ref("id"),
                                    "from_name": _TEXT,
                                    "to": _ref("id"),
                                    "to_name": _TEXT,
                                    "interactions": {"type": "integer", "minimum": 1},
                                    "strength_before": _number(-1, 1),
                                    "strength_after": _number(-1, 1),
                                    "strength_delta": _number(-2, 2),
                                    "trust_before": _number(0, 1),
                                    "trust_after": _number(0, 1),
                                    "trust_delta": _number(-1, 1),
                                }
                            ),
                        },
                        "mood_arc": {
                            "type": "array",
                            "items": _object(
                                {
                                    "turns": {
                                        "type": "array",
                                        "items": _nullable({"type": "integer"}),
                                        "minItems": 2,
                                        "maxItems": 2,
                                    },
                                    "labels": {
                                        "type": "object",
                                        "propertyNames": _ref("emotion_label"),
                                        "additionalProperties": _COUNT,
                                    },
                                    "dominant": _nullable(_ref("emotion_label")),
                                }
                            ),
                        },
                    }
                ),
            },
        }
    ),
    Event.Type.USER_MESSAGE: _object(
        {
            "scenario_id": _ref("id"),
            "title": _TEXT,
            "turn": _ref("scenario_turn"),
            "message_id": _ref("id"),
            "author": {"type": "string", "description": "username"},
            "content": {"type": "string", "minLength": 1},
            "target_character_id": _nullable(_ref("id")),
            "target_name": _nullable(_TEXT),
        }
    ),
    Event.Type.MEMORY_FORMED: _object(
        {
            "interaction_id": _ref("id"),
            "memories": {
                "type": "array",
                "description": "one per participant",
                "items": _object(
                    {
                        "memory_id": _ref("id"),
                        "character_id": _ref("id"),
                        "name": _TEXT,
                        "counterpart_id": _ref("id"),
                        "importance": _number(0, 1),
                        "text": _TEXT,
                    }
                ),
            },
        }
    ),
    Event.Type.REFLECTION_FORMED: _object(
        {
            "memory_id": _ref("id"),
            "character_id": _ref("id"),
            "name": _TEXT,
            "counterpart_id": _ref("id"),
            "counterpart_name": _TEXT,
            "text": _TEXT,
            "importance": _number(0, 1),
            "cited_ids": {"type": "array", "items": _ref("id"), "minItems": 1},
        }
    ),
}


def payload_schema(event_type: Event.Type | str) -> Schema:
    """The self-contained JSON Schema of one type's payload (its ``$defs`` included)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": DEFINITIONS,
        **PAYLOAD_SCHEMAS[Event.Type(event_type)],
    }
