"""The event types, each built in one place.

One builder per ``Event.Type``, named after it, with keyword-only arguments that are the
payload's keys (``character_interaction(interaction_id=..., ...)`` builds exactly the
``data`` clients receive). A builder returns an ``EventSpec``, the ``(type, payload)``
pair ``events_append`` takes: a plain tuple, so building one costs a dict and a tuple and
nothing is checked at run time. The payloads' contract is ``eventlog/schemas.py``, shown in
docs/events.md; ``tests/eventlog/test_event_types.py`` holds the builders, the schemas and
the events the system really writes to it.

Values go in as they appear in JSON: ids as strings, timestamps as ISO 8601 strings.
Nested objects (an emotional state, a relationship change, a summary) are taken as built by
their writers and stored as given; their keys are in the schemas.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .models import Event

EventSpec = tuple[Event.Type, dict[str, Any]]
"""``(type, payload)``: one event for ``events_append``; build it with a function below."""


# --- Interactions (written by interaction_process, three per exchange) ----------------


def character_interaction(
    *,
    interaction_id: str,
    participants: Sequence[str],
    names: Mapping[str, str],
    interaction_type: str,
    content: str,
    response: str,
    sentiment: Mapping[str, float],
    relationship_change: Mapping[str, Any],
    emotional_states: Mapping[str, Mapping[str, Any]],
    scenario_id: str | None,
    turn: int | None,
    user_message_id: str | None,
    drew_on: Sequence[Mapping[str, Any]] = (),
) -> EventSpec:
    """One exchange: ``participants`` is ``[initiator_id, target_id]``, ``sentiment``
    ``{content, response}``, ``relationship_change`` the initiator's regard of the target
    (``strength_delta, trust_delta, new_strength, new_trust``) with the target's under
    ``reverse``, ``emotional_states`` ``{character_id: state}``, ``drew_on`` what a line
    recalled: ``[{line, kind, id, text}]`` (``line`` "content" or "response", ``kind``
    "memory", "reflection" or "lore"), empty when nothing."""
    return (
        Event.Type.CHARACTER_INTERACTION,
        {
            "interaction_id": interaction_id,
            "participants": participants,
            "names": names,
            "interaction_type": interaction_type,
            "content": content,
            "response": response,
            "sentiment": sentiment,
            "relationship_change": relationship_change,
            "emotional_states": emotional_states,
            "scenario_id": scenario_id,
            "turn": turn,
            "user_message_id": user_message_id,
            "drew_on": list(drew_on),
        },
    )


def relationship_changed(*, changes: Sequence[Mapping[str, Any]]) -> EventSpec:
    """One change per direction: ``{from, to, from_name, to_name, strength_before,
    strength_after, trust_before, trust_after, strength_delta, trust_delta,
    interaction_count, label, version}``."""
    return (Event.Type.RELATIONSHIP_CHANGED, {"changes": changes})


def character_state_changed(*, characters: Mapping[str, Mapping[str, Any]]) -> EventSpec:
    """``{character_id: {name, pleasure, arousal, dominance, label, energy, status}}``."""
    return (Event.Type.CHARACTER_STATE_CHANGED, {"characters": characters})


# --- Scenarios (written by scenarios.services) -----------------------------------------


def scenario_started(
    *,
    scenario_id: str,
    title: str,
    turn: int,
    setting: str,
    mood: str,
    objectives: Sequence[str],
    participants: Sequence[Mapping[str, Any]],
    duration_minutes: int,
    tick_seconds: float,
    mode: str,
    seed: int,
    start_time: str,
) -> EventSpec:
    """``participants``: ``[{id, name, emotion, energy, status}]``; ``start_time`` ISO 8601."""
    return (
        Event.Type.SCENARIO_STARTED,
        {
            "scenario_id": scenario_id,
            "title": title,
            "turn": turn,
            "setting": setting,
            "mood": mood,
            "objectives": objectives,
            "participants": participants,
            "duration_minutes": duration_minutes,
            "tick_seconds": tick_seconds,
            "mode": mode,
            "seed": seed,
            "start_time": start_time,
        },
    )


def scenario_paused(
    *, scenario_id: str, title: str, turn: int, elapsed_seconds: float
) -> EventSpec:
    return (
        Event.Type.SCENARIO_PAUSED,
        {
            "scenario_id": scenario_id,
            "title": title,
            "turn": turn,
            "elapsed_seconds": elapsed_seconds,
        },
    )


def scenario_resumed(
    *, scenario_id: str, title: str, turn: int, elapsed_seconds: float, next_tick_at: str
) -> EventSpec:
    """``next_tick_at``: ISO 8601."""
    return (
        Event.Type.SCENARIO_RESUMED,
        {
            "scenario_id": scenario_id,
            "title": title,
            "turn": turn,
            "elapsed_seconds": elapsed_seconds,
            "next_tick_at": next_tick_at,
        },
    )


def scenario_ended(
    *, scenario_id: str, title: str, turn: int, reason: str, summary: Mapping[str, Any]
) -> EventSpec:
    """``reason``: ``ended_by_user``, ``duration_elapsed`` ...; ``summary``: docs/scenarios.md,
    "Summary format"."""
    return (
        Event.Type.SCENARIO_ENDED,
        {
            "scenario_id": scenario_id,
            "title": title,
            "turn": turn,
            "reason": reason,
            "summary": summary,
        },
    )


def user_message(
    *,
    scenario_id: str,
    title: str,
    turn: int,
    message_id: str,
    author: str,
    content: str,
    target_character_id: str | None,
    target_name: str | None,
) -> EventSpec:
    """A person's message into a scenario; ``author`` is the username."""
    return (
        Event.Type.USER_MESSAGE,
        {
            "scenario_id": scenario_id,
            "title": title,
            "turn": turn,
            "message_id": message_id,
            "author": author,
            "content": content,
            "target_character_id": target_character_id,
            "target_name": target_name,
        },
    )


# --- Memories (written by memories.services in the interaction's transaction) ------------


def memory_formed(*, interaction_id: str, memories: Sequence[Mapping[str, Any]]) -> EventSpec:
    """One memory per participant: ``[{memory_id, character_id, name, counterpart_id,
    importance, text}]``."""
    return (Event.Type.MEMORY_FORMED, {"interaction_id": interaction_id, "memories": memories})


def reflection_formed(
    *,
    memory_id: str,
    character_id: str,
    name: str,
    counterpart_id: str,
    counterpart_name: str,
    text: str,
    importance: float,
    cited_ids: Sequence[str],
) -> EventSpec:
    """A higher-level memory about ``counterpart_id``, formed from the memories ``cited_ids``."""
    return (
        Event.Type.REFLECTION_FORMED,
        {
            "memory_id": memory_id,
            "character_id": character_id,
            "name": name,
            "counterpart_id": counterpart_id,
            "counterpart_name": counterpart_name,
            "text": text,
            "importance": importance,
            "cited_ids": cited_ids,
        },
    )


BUILDERS: dict[Event.Type, Callable[..., EventSpec]] = {
    Event.Type.CHARACTER_INTERACTION: character_interaction,
    Event.Type.RELATIONSHIP_CHANGED: relationship_changed,
    Event.Type.CHARACTER_STATE_CHANGED: character_state_changed,
    Event.Type.SCENARIO_STARTED: scenario_started,
    Event.Type.SCENARIO_PAUSED: scenario_paused,
    Event.Type.SCENARIO_RESUMED: scenario_resumed,
    Event.Type.SCENARIO_ENDED: scenario_ended,
    Event.Type.USER_MESSAGE: user_message,
    Event.Type.MEMORY_FORMED: memory_formed,
    Event.Type.REFLECTION_FORMED: reflection_formed,
}
"""Every type's builder, by type (the test checks none is missing)."""
