"""Scenarios: create, pause, resume, end, a person's message, and the clock that plays turns.

A turn is idempotent. ``Scenario.turn`` is the number of the last turn played; turn ``n``
plays only while the scenario row is locked and still reads ``turn == n - 1``, and the
Interaction it writes is unique per ``(scenario, turn)``. The turn's Interaction, the
scenario's new ``turn`` and ``next_tick_at`` commit together, so a worker that dies
mid-turn leaves nothing behind and the next tick plays the same turn number again; two
workers never both play it (the second skips the locked row, or waits and then finds the
turn already played). See docs/scenarios.md.
"""

import logging
import math
import random
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from characters.emotion import PAD
from characters.models import Character, Ecosystem
from characters.personality import BigFive
from characters.selectors import character_state, character_state_now
from characters.services import character_emotion
from core import metrics
from core.db import model_columns, model_from_row, rows_fetch, rows_select, rows_update
from core.errors import ApplicationError, ConflictError, NotFoundError
from eventlog import types as event_types
from eventlog.services import events_append
from interactions.dialogue.base import DialogueContext, Speaker
from interactions.models import Interaction
from interactions.services import (
    InteractionLines,
    InteractionPlan,
    InteractionRefused,
    PairSnapshot,
    ScenarioContext,
    character_speaker,
    dialogue_backend,
    generates_in_process,
    interaction_apply,
    interaction_generate,
    interaction_plan,
    interaction_speaking,
)
from relationships.dynamics import RelationshipState
from relationships.models import Relationship

from . import director
from .models import Scenario, UserMessage
from .selectors import scenario_duration_seconds, scenario_elapsed_seconds

logger = logging.getLogger(__name__)

MIN_PARTICIPANTS = 2
MAX_PARTICIPANTS = 20
MIN_TICK_SECONDS = 1.0
MAX_TICK_SECONDS = 3600.0
MIN_DURATION_MINUTES = 1
MAX_DURATION_MINUTES = 7 * 24 * 60  # a week: longer is a typo, not a scenario
MAX_OBJECTIVES = 10
MAX_OBJECTIVE_LENGTH = 300
MAX_USER_MESSAGE_LENGTH = 2000
SEED_MAX = 2**31 - 1

# The clock claims at most this many due scenarios per tick (each in its own short
# transaction); the rest wait for the next tick, oldest due first, so none starves.
CLOCK_BATCH_LIMIT = 200
# clock_run: the longest sleep between passes (a new scenario is noticed within it) and the
# shortest (while another claimer holds an overdue scenario).
CLOCK_MAX_IDLE_SECONDS = 0.5
CLOCK_MIN_SLEEP_SECONDS = 0.01
# A claim's lease (docs/scenarios.md, "Turns"): the margin past a remote backend's longest
# generation.
CLAIM_LEASE_MARGIN_SECONDS = 5.0
# How many of the latest exchanges the director sees (to keep anyone from hogging the floor).
RECENT_EXCHANGES = 4
# The mood arc splits the scenario's turns into at most this many equal segments.
MOOD_ARC_SEGMENTS = 5
# The voice a person's message carries when a character answers it.
PERSON_NAME = "a visitor"
PERSON_PERSONALITY = BigFive(
    openness=0.5, conscientiousness=0.5, extraversion=0.5, agreeableness=0.5, neuroticism=0.5
)


def _ended_conflict(scenario: Scenario) -> ConflictError:
    return ConflictError(
        f"Scenario '{scenario.title}' has ended; it cannot change any more.",
        code="scenario_ended",
    )


def _invalid(field: str, message: str) -> ApplicationError:
    return ApplicationError(
        f"{field}: {message}", code="invalid", extra={"errors": {field: [message]}}
    )


def _lock(*, scenario_id: uuid.UUID) -> Scenario:
    try:
        return Scenario.objects.select_for_update().get(pk=scenario_id)
    except Scenario.DoesNotExist:
        raise NotFoundError(f"Scenario {scenario_id} was not found.") from None


# --- Lifecycle --------------------------------------------------------------------------


@transaction.atomic
def scenario_create(
    *,
    ecosystem: Ecosystem,
    participants: Sequence[Character],
    title: str,
    setting: str = "",
    mood: str = "",
    objectives: Sequence[str] = (),
    duration_minutes: int = 10,
    tick_seconds: float = 5.0,
    seed: int | None = None,
    mode: str = Scenario.Mode.OBSERVER,
    now: datetime | None = None,
) -> Scenario:
    """Create a scenario and start it: active now, first turn one tick from now.

    Raises ApplicationError (400) naming the argument for fewer than two distinct
    participants, a participant of another ecosystem or archived, or a duration / tick out
    of range. Writes ``scenario_started``.
    """
    distinct = {character.pk: character for character in participants}
    if len(distinct) < MIN_PARTICIPANTS:
        raise _invalid("participants", "A scenario needs at least two different characters.")
    if len(distinct) > MAX_PARTICIPANTS:
        raise _invalid("participants", f"At most {MAX_PARTICIPANTS} characters.")
    if any(character.ecosystem_id != ecosystem.pk for character in distinct.values()):
        raise _invalid("participants", "Every character must belong to this ecosystem.")
    if any(c.status == Character.Status.ARCHIVED for c in distinct.values()):
        raise _invalid("participants", "Archived characters cannot take part.")
    if not MIN_DURATION_MINUTES <= duration_minutes <= MAX_DURATION_MINUTES:
        raise _invalid(
            "duration_minutes",
            f"Must be between {MIN_DURATION_MINUTES} and {MAX_DURATION_MINUTES} minutes.",
        )
    if not (MIN_TICK_SECONDS <= tick_seconds <= MAX_TICK_SECONDS) or math.isnan(tick_seconds):
        raise _invalid(
            "tick_seconds", f"Must be between {MIN_TICK_SECONDS:g} and {MAX_TICK_SECONDS:g} s."
        )
    if len(objectives) > MAX_OBJECTIVES:
        raise _invalid("objectives", f"At most {MAX_OBJECTIVES} objectives.")
    if mode not in Scenario.Mode.values:
        raise _invalid("mode", "Must be observer or participant.")
    if seed is None:
        seed = random.SystemRandom().randint(0, SEED_MAX)

    now = now or timezone.now()
    scenario = Scenario.objects.create(
        ecosystem=ecosystem,
        title=title,
        setting=setting,
        mood=mood,
        objectives=[str(objective) for objective in objectives],
        duration_minutes=duration_minutes,
        tick_seconds=float(tick_seconds),
        seed=seed,
        mode=mode,
        status=Scenario.Status.ACTIVE,
        turn=0,
        resumed_at=now,
        next_tick_at=now + timedelta(seconds=tick_seconds),
    )
    cast = sorted(distinct.values(), key=lambda c: (c.name, str(c.pk)))
    scenario.participants.set(cast)
    events_append(
        ecosystem_id=ecosystem.pk,
        events=[
            event_types.scenario_started(
                scenario_id=str(scenario.pk),
                title=scenario.title,
                turn=scenario.turn,
                setting=scenario.setting,
                mood=scenario.mood,
                objectives=scenario.objectives,
                participants=[{"id": str(c.pk), **character_state(c, pad=False)} for c in cast],
                duration_minutes=scenario.duration_minutes,
                tick_seconds=scenario.tick_seconds,
                mode=scenario.mode,
                seed=scenario.seed,
                start_time=scenario.started_at.isoformat(),
            )
        ],
    )
    return scenario


@transaction.atomic
def scenario_pause(*, scenario_id: uuid.UUID, now: datetime | None = None) -> Scenario:
    """Stop the clock for this scenario (active time stops counting). Pausing a paused
    scenario does nothing; an ended one raises ConflictError. Writes ``scenario_paused``."""
    scenario = _lock(scenario_id=scenario_id)
    if scenario.status == Scenario.Status.ENDED:
        raise _ended_conflict(scenario)
    if scenario.status == Scenario.Status.PAUSED:
        return scenario
    now = now or timezone.now()
    scenario.active_seconds = scenario_elapsed_seconds(scenario=scenario, now=now)
    scenario.resumed_at = None
    scenario.status = Scenario.Status.PAUSED
    scenario.next_tick_at = None
    scenario.claim_token = None
    scenario.save(
        update_fields=["active_seconds", "resumed_at", "status", "next_tick_at", "claim_token"]
    )
    events_append(
        ecosystem_id=scenario.ecosystem_id,
        events=[
            event_types.scenario_paused(
                scenario_id=str(scenario.pk),
                title=scenario.title,
                turn=scenario.turn,
                elapsed_seconds=round(scenario.active_seconds, 3),
            )
        ],
    )
    return scenario


@transaction.atomic
def scenario_resume(*, scenario_id: uuid.UUID, now: datetime | None = None) -> Scenario:
    """Start the clock again; the next turn plays one tick from now. Resuming an active
    scenario does nothing; an ended one raises ConflictError. Writes ``scenario_resumed``."""
    scenario = _lock(scenario_id=scenario_id)
    if scenario.status == Scenario.Status.ENDED:
        raise _ended_conflict(scenario)
    if scenario.status == Scenario.Status.ACTIVE:
        return scenario
    now = now or timezone.now()
    scenario.status = Scenario.Status.ACTIVE
    scenario.resumed_at = now
    scenario.next_tick_at = now + timedelta(seconds=scenario.tick_seconds)
    scenario.claim_token = None
    scenario.save(update_fields=["status", "resumed_at", "next_tick_at", "claim_token"])
    events_append(
        ecosystem_id=scenario.ecosystem_id,
        events=[
            event_types.scenario_resumed(
                scenario_id=str(scenario.pk),
                title=scenario.title,
                turn=scenario.turn,
                elapsed_seconds=round(scenario.active_seconds, 3),
                next_tick_at=scenario.next_tick_at.isoformat(),
            )
        ],
    )
    return scenario


@transaction.atomic
def scenario_end(
    *, scenario_id: uuid.UUID, reason: str = "ended_by_user", now: datetime | None = None
) -> Scenario:
    """End the scenario and write its summary (``Scenario.summary`` and the payload of
    ``scenario_ended``). Ending an ended scenario raises ConflictError."""
    scenario = _lock(scenario_id=scenario_id)
    if scenario.status == Scenario.Status.ENDED:
        raise _ended_conflict(scenario)
    return _end_locked(scenario, reason=reason, now=now or timezone.now())


def _end_locked(scenario: Scenario, *, reason: str, now: datetime) -> Scenario:
    scenario.active_seconds = scenario_elapsed_seconds(scenario=scenario, now=now)
    scenario.status = Scenario.Status.ENDED
    scenario.resumed_at = None
    scenario.next_tick_at = None
    scenario.claim_token = None
    scenario.ended_at = now
    scenario.summary = scenario_summary(scenario=scenario, reason=reason)
    scenario.save(
        update_fields=[
            "active_seconds",
            "status",
            "resumed_at",
            "next_tick_at",
            "claim_token",
            "ended_at",
            "summary",
        ]
    )
    events_append(
        ecosystem_id=scenario.ecosystem_id,
        events=[
            event_types.scenario_ended(
                scenario_id=str(scenario.pk),
                title=scenario.title,
                turn=scenario.turn,
                reason=reason,
                summary=scenario.summary,
            )
        ],
    )
    return scenario


@transaction.atomic
def scenario_mode_set(*, scenario_id: uuid.UUID, mode: str) -> Scenario:
    """Switch between watching (observer) and stepping in (participant). Setting the
    current mode does nothing; an ended scenario raises ConflictError."""
    if mode not in Scenario.Mode.values:
        raise _invalid("mode", "Must be observer or participant.")
    scenario = _lock(scenario_id=scenario_id)
    if scenario.status == Scenario.Status.ENDED:
        raise _ended_conflict(scenario)
    if scenario.mode == mode:
        return scenario
    scenario.mode = mode
    scenario.save(update_fields=["mode"])
    return scenario


@transaction.atomic
def scenario_post_message(
    *,
    scenario_id: uuid.UUID,
    author: User,
    content: str,
    target_character_id: uuid.UUID | None = None,
) -> UserMessage:
    """A person's message into a participant-mode scenario, answered on the next turn (by
    the named character if one is named). Observer mode or an ended scenario raise
    ConflictError; a target that does not take part raises ApplicationError (400).
    Writes ``user_message``."""
    scenario = _lock(scenario_id=scenario_id)
    if scenario.status == Scenario.Status.ENDED:
        raise _ended_conflict(scenario)
    if scenario.mode != Scenario.Mode.PARTICIPANT:
        raise ConflictError(
            "The scenario is in observer mode; switch it to participant mode to step in.",
            code="observer_mode",
        )
    content = content.strip()
    if not content:
        raise _invalid("content", "This field may not be blank.")
    if len(content) > MAX_USER_MESSAGE_LENGTH:
        raise _invalid("content", f"At most {MAX_USER_MESSAGE_LENGTH} characters.")
    target: Character | None = None
    if target_character_id is not None:
        target = scenario.participants.filter(pk=target_character_id).first()
        if target is None:
            raise _invalid("target_character_id", "This character does not take part.")
    message = UserMessage.objects.create(
        scenario=scenario,
        author=author,  # type: ignore[misc]  # AUTH_USER_MODEL
        content=content,
        target_character=target,
    )
    events_append(
        ecosystem_id=scenario.ecosystem_id,
        events=[
            event_types.user_message(
                scenario_id=str(scenario.pk),
                title=scenario.title,
                turn=scenario.turn,
                message_id=str(message.pk),
                author=author.get_username(),
                content=content,
                target_character_id=str(target.pk) if target else None,
                target_name=target.name if target else None,
            )
        ],
    )
    return message


# --- Summary ----------------------------------------------------------------------------


def scenario_summary(*, scenario: Scenario, reason: str) -> dict[str, Any]:
    """Turns, relationship changes per directed pair and the mood arc, from the scenario's
    own Interactions (format: docs/scenarios.md, "Summary")."""
    rows = list(
        Interaction.objects.filter(scenario=scenario)
        .order_by("turn")
        .values_list(
            "turn",
            "initiator_id",
            "target_id",
            "interaction_type",
            "relationship_change",
            "emotional_states",
            "user_message_id",
        )
    )
    names = {c.pk: c.name for c in scenario.participants.all()}
    pairs: dict[tuple[Any, Any], dict[str, Any]] = {}

    def track(from_id: Any, to_id: Any, change: Mapping[str, Any]) -> None:
        if "new_strength" not in change:
            return
        entry = pairs.get((from_id, to_id))
        if entry is None:
            entry = pairs[(from_id, to_id)] = {
                "from": str(from_id),
                "from_name": names.get(from_id, "?"),
                "to": str(to_id),
                "to_name": names.get(to_id, "?"),
                "interactions": 0,
                "strength_before": round(change["new_strength"] - change["strength_delta"], 4),
                "trust_before": round(change["new_trust"] - change["trust_delta"], 4),
            }
        entry["interactions"] += 1
        entry["strength_after"] = change["new_strength"]
        entry["trust_after"] = change["new_trust"]

    for _turn, initiator_id, target_id, _type, change, _states, _message in rows:
        track(initiator_id, target_id, change or {})
        track(target_id, initiator_id, (change or {}).get("reverse") or {})
    relationship_changes = []
    for entry in pairs.values():
        entry["strength_delta"] = round(entry["strength_after"] - entry["strength_before"], 4)
        entry["trust_delta"] = round(entry["trust_after"] - entry["trust_before"], 4)
        relationship_changes.append(entry)
    relationship_changes.sort(
        key=lambda e: (-abs(e["strength_delta"]), e["from_name"], e["to_name"])
    )

    return {
        "reason": reason,
        "turns": len(rows),
        "elapsed_seconds": round(scenario.active_seconds, 3),
        "interaction_types": dict(Counter(row[3] for row in rows)),
        "user_messages_answered": sum(1 for row in rows if row[6] is not None),
        "speakers": {
            names.get(speaker, "?"): count
            for speaker, count in Counter(row[1] for row in rows).most_common()
        },
        "relationship_changes": relationship_changes,
        "mood_arc": _mood_arc([(row[0], row[5]) for row in rows]),
    }


def _mood_arc(turn_states: Sequence[tuple[int | None, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Emotion labels after each exchange (both speakers), counted per segment of turns."""
    if not turn_states:
        return []
    segment_size = math.ceil(len(turn_states) / MOOD_ARC_SEGMENTS)
    arc = []
    for start in range(0, len(turn_states), segment_size):
        segment = turn_states[start : start + segment_size]
        labels: Counter[str] = Counter(
            state.get("label", "neutral")
            for _turn, states in segment
            for state in (states or {}).values()
        )
        arc.append(
            {
                "turns": [segment[0][0], segment[-1][0]],
                "labels": dict(labels.most_common()),
                "dominant": labels.most_common(1)[0][0] if labels else None,
            }
        )
    return arc


# --- Turns and the clock -------------------------------------------------------------------
#
# A turn is played in three steps (docs/scenarios.md, "Turns"):
#   claim    one short transaction: take the due scenario (SKIP LOCKED), let the director
#            pick who talks, plan the interaction from a snapshot, and stamp the scenario
#            with a claim token whose lease pushes ``next_tick_at`` past the generation, so
#            no other claimer sees it due (none can play it, none waits on it);
#   generate outside any transaction: the dialogue backend writes the lines;
#   apply    one short transaction: the scenario row, locked again, must still carry our
#            token, be active and at ``turn - 1``; the engine applies the lines to the
#            current rows; the turn number, the speakers and the next tick are saved.
# With the in-process template backend all three run in the claim's transaction
# (``_claim_settle``): nothing to wait for, so nothing to save the claim for.


@dataclass(frozen=True)
class TurnClaim:
    """A claimed turn, planned and waiting for its lines."""

    scenario_id: uuid.UUID
    token: uuid.UUID
    turn: int
    due: datetime
    now: datetime
    tick_seconds: float
    plan: InteractionPlan
    person_message: UserMessage | None
    scheduled: bool  # True for the clock (next tick from ``due``), False when played by hand
    # Played in the claiming transaction, its cast read locked (an in-process backend).
    in_place: bool


def _turn_seed(scenario: Scenario, turn: int) -> int:
    return (scenario.seed * 1_000_003 + turn) % (SEED_MAX + 1)


def _claim_lease_seconds() -> float:
    """How long a saved claim keeps other claimers away: past the longest generation
    (opening, reply and a reply to a person, each bounded by a remote backend's timeout).
    A worker that dies holding a claim delays that scenario's turn by at most this. (An
    in-process backend's claim is never saved: ``_claim_settle``.)"""
    return 3 * float(settings.DIALOGUE_TIMEOUT_SECONDS) + CLAIM_LEASE_MARGIN_SECONDS


def _reply_to_person(plan: InteractionPlan, message: UserMessage) -> str:
    """The answering character's line in reply to the person's message; it opens the turn's
    exchange, so the character it addresses hears (and answers) it."""
    person = Speaker(
        id=f"person-{message.author_id}",
        name=PERSON_NAME,
        bio="",
        personality=PERSON_PERSONALITY,
        emotion=PAD(pleasure=0.0, arousal=0.0, dominance=0.0),
        energy=1.0,
    )
    scenario = plan.scenario
    backend = dialogue_backend()
    with interaction_speaking(plan, plan.initiator, backend):
        return backend.reply(
            DialogueContext(
                speaker=character_speaker(plan.initiator),
                listener=person,
                interaction_type=plan.interaction_type,
                relationship=RelationshipState(strength=0.0, trust=0.3, interaction_count=0),
                utterance=message.content,
                setting=scenario.setting if scenario else "",
                mood=scenario.mood if scenario else "",
                objectives=scenario.objectives if scenario else (),
                seed=plan.seed,
            )
        )


@lru_cache(maxsize=1)
def _cast_sql() -> str:
    """The scenario's cast as a subquery of its participants (one parameter: its id)."""
    through = Scenario.participants.through._meta.db_table
    return f"SELECT character_id FROM {through} WHERE scenario_id = %s"  # noqa: S608


def _cast_snapshot(
    scenario: Scenario, *, for_update: bool
) -> tuple[list[Character], dict[Any, Relationship]]:
    """The scenario's characters (in primary-key order) and the relationships among them:
    two fixed statements (``core.db.rows_select``; the ORM's compile of the relation and the
    filters cost more than the reads, on every turn). Without locks, or ``for_update`` locked
    as an interaction locks its pair (characters, then relationships, each in primary-key
    order) when the turn is applied in this transaction (``_claim_settle``)."""
    cast_sql, scenario_id = _cast_sql(), uuid.UUID(str(scenario.pk))
    cast = rows_select(Character, f"id IN ({cast_sql})", [scenario_id], for_update=for_update)
    relationships = {
        (rel.from_character_id, rel.to_character_id): rel
        for rel in rows_select(
            Relationship,
            f"from_character_id IN ({cast_sql}) AND to_character_id IN ({cast_sql})",
            [scenario_id, scenario_id],
            for_update=for_update,
        )
    }
    return cast, relationships


def _direct(
    scenario: Scenario,
    cast: Sequence[Character],
    relationships: Mapping[Any, Relationship],
    *,
    turn: int,
    now: datetime,
    pending: UserMessage | None,
) -> director.TurnPlan | None:
    """The director's choice of who talks to whom, and how, from a snapshot of the cast."""
    cast = sorted(cast, key=lambda c: (c.name, str(c.pk)))
    for character in cast:  # decay and recovery since the last exchange
        character_state_now(character=character, now=now)
    return director.plan_turn(
        participants=[
            director.Participant(
                id=str(character.pk),
                personality=character.personality,
                energy=character.energy,
                active=character.status == Character.Status.ACTIVE,
                emotion=character_emotion(character=character),
            )
            for character in cast
        ],
        relationships={
            (str(from_id), str(to_id)): RelationshipState(
                strength=rel.strength, trust=rel.trust, interaction_count=rel.interaction_count
            )
            for (from_id, to_id), rel in relationships.items()
        },
        recent_speakers=list(scenario.recent_speakers),
        mood=scenario.mood,
        objectives=list(scenario.objectives),
        seed=scenario.seed,
        turn=turn,
        pending=(
            director.PendingMessage(
                content=pending.content,
                target_id=str(pending.target_character_id) if pending.target_character_id else None,
            )
            if pending is not None
            else None
        ),
    )


def _claim_locked(
    scenario: Scenario,
    *,
    turn: int,
    now: datetime,
    due: datetime,
    scheduled: bool,
    may_have_messages: bool = True,
) -> TurnClaim | None:
    """Plan turn ``turn`` of a locked, active scenario at ``turn - 1``: the claim, which
    ``_claim_settle`` plays in place or stamps on the scenario. None when nobody can talk
    (everyone too tired) or the engine refuses: the turn is skipped and its number stays
    free for the next tick."""
    pending = (
        UserMessage.objects.filter(scenario=scenario, answered_at__isnull=True)
        .order_by("created", "pk")
        .first()
        if may_have_messages
        else None
    )
    # Played in this transaction (an in-process backend): the cast locked now, and the
    # engine's apply reads none of it again.
    in_place = generates_in_process()
    cast, relationships = _cast_snapshot(scenario, for_update=in_place)
    direction = _direct(scenario, cast, relationships, turn=turn, now=now, pending=pending)
    if direction is None:
        logger.info(
            "Scenario %s turn %s skipped: nobody has the energy to talk.", scenario.pk, turn
        )
        return None
    answered = pending if (direction.answers_user and pending is not None) else None
    try:
        plan = interaction_plan(
            initiator_id=uuid.UUID(str(direction.initiator_id)),
            target_id=uuid.UUID(str(direction.target_id)),
            interaction_type=direction.interaction_type,
            scenario=ScenarioContext(
                scenario_id=scenario.pk,
                turn=turn,
                setting=scenario.setting,
                mood=scenario.mood,
                objectives=tuple(scenario.objectives),
                user_message_id=answered.pk if answered is not None else None,
            ),
            seed=_turn_seed(scenario, turn),
            now=now,
            # The pair and their regard were just read with the cast: not read again.
            known=PairSnapshot(
                characters={character.pk: character for character in cast},
                relationships=relationships,
                locked=in_place,
            ),
        )
    except InteractionRefused as refusal:
        logger.info("Scenario %s turn %s skipped: %s", scenario.pk, turn, refusal)
        return None
    return TurnClaim(
        scenario_id=scenario.pk,
        token=uuid.uuid4(),
        turn=turn,
        due=due,
        now=now,
        tick_seconds=scenario.tick_seconds,
        plan=plan,
        person_message=answered,
        scheduled=scheduled,
        in_place=in_place,
    )


def turn_generate(claim: TurnClaim) -> InteractionLines:
    """The generate step of a claimed turn; runs outside any transaction."""
    plan = claim.plan
    if claim.person_message is not None:
        plan = replace(plan, content=_reply_to_person(plan, claim.person_message))
    return interaction_generate(plan=plan)


def turn_apply(claim: TurnClaim, lines: InteractionLines | None) -> bool:
    """The apply step of a claimed turn, in one transaction. True when the interaction was
    played. The lines are dropped when the scenario moved on meanwhile (paused, ended,
    claimed again after the lease ran out); ``lines`` None (generation failed) or a refusal
    of the engine (a character tired out meanwhile) skip the turn and free the scenario for
    its next tick."""
    with transaction.atomic():
        found = rows_select(
            Scenario, "id = %s", [uuid.UUID(str(claim.scenario_id))], for_update=True
        )
        scenario = found[0] if found else None
        if scenario is None or scenario.claim_token != claim.token:
            return False
        return _turn_finish(scenario, claim, lines)


def _turn_finish(scenario: Scenario, claim: TurnClaim, lines: InteractionLines | None) -> bool:
    """Apply ``lines`` to the locked scenario, if it still waits for this turn, and free it
    for its next tick, in the caller's transaction. True when the interaction was played."""
    played = False
    if (
        lines is not None
        and scenario.status == Scenario.Status.ACTIVE
        and scenario.turn == claim.turn - 1
    ):
        played = _apply_lines(scenario, claim, lines)
    scenario.claim_token = None
    if scenario.status == Scenario.Status.ACTIVE:
        scenario.next_tick_at = (
            _next_tick(claim.due, tick_seconds=scenario.tick_seconds, now=claim.now)
            if claim.scheduled
            else claim.now + timedelta(seconds=scenario.tick_seconds)
        )
    rows_update([scenario], ["turn", "recent_speakers", "next_tick_at", "claim_token"])
    if played and claim.scheduled:
        lateness_seconds = (claim.now - claim.due).total_seconds()
        transaction.on_commit(lambda: metrics.scenario_turn_played(lateness_seconds))
    return played


def _apply_lines(scenario: Scenario, claim: TurnClaim, lines: InteractionLines) -> bool:
    try:
        interaction_apply(plan=claim.plan, lines=lines, now=claim.now)
    except (InteractionRefused, NotFoundError) as refusal:
        logger.info("Scenario %s turn %s skipped: %s", scenario.pk, claim.turn, refusal)
        return False
    if claim.person_message is not None:
        UserMessage.objects.filter(pk=claim.person_message.pk, answered_at__isnull=True).update(
            answered_at=claim.now
        )
    scenario.turn = claim.turn
    scenario.recent_speakers = [
        *scenario.recent_speakers,
        str(claim.plan.initiator.pk),
        str(claim.plan.target.pk),
    ][-2 * RECENT_EXCHANGES :]
    return True


def _turn_lines(claim: TurnClaim) -> InteractionLines | None:
    """The claimed turn's lines, None when generation failed (logged): a backend bug must not
    leave the scenario claimed until the lease ends."""
    try:
        return turn_generate(claim)
    except Exception:  # any backend bug: logged, and the turn skipped (not raised)
        logger.exception("Scenario %s turn %s: generation failed.", claim.scenario_id, claim.turn)
        return None


def _claim_settle(scenario: Scenario, claim: TurnClaim | None) -> TurnClaim | bool:
    """End the claiming transaction of a locked scenario.

    * No claim (the turn is skipped): the scenario is saved free for its next tick; False.
    * An in-process backend (lines in a few milliseconds): the turn is generated and applied
      right here, in the claiming transaction, with the scenario row still locked (other
      claimers skip it): True when played. Saving the claim only to lock the row again to
      apply it was two of the turn's three transactions' worth of round trips.
    * A remote model: the claim is saved (its token, and ``next_tick_at`` pushed to the
      lease) and answered, to be generated outside any transaction and applied by
      ``turn_apply``.
    """
    if claim is not None and claim.in_place:
        return _turn_finish(scenario, claim, _turn_lines(claim))
    if claim is not None:
        scenario.claim_token = claim.token
        scenario.next_tick_at = claim.now + timedelta(seconds=_claim_lease_seconds())
    rows_update([scenario], ["next_tick_at", "claim_token"])
    return claim if claim is not None else False


def _next_tick(due: datetime, *, tick_seconds: float, now: datetime) -> datetime:
    """One tick after the previous due time, so lateness does not accumulate; a scenario
    more than a tick behind starts afresh from now instead of replaying a burst."""
    step = timedelta(seconds=tick_seconds)
    upcoming = due + step
    return upcoming if upcoming > now else now + step


def scenario_play_turn(*, scenario_id: uuid.UUID, turn: int, now: datetime | None = None) -> bool:
    """Play turn ``turn`` now (the clock's work for one scenario, also usable by hand).

    Does nothing, and returns False, unless the scenario is active, at ``turn - 1`` and not
    claimed by a clock that is generating its lines: running it twice, or after the turn
    has played, is harmless. The next tick is one tick from now. Returns True when an
    interaction was played.
    """
    with transaction.atomic():
        scenario = Scenario.objects.select_for_update().filter(pk=scenario_id).first()
        if scenario is None or scenario.status != Scenario.Status.ACTIVE:
            return False
        now = now or timezone.now()
        claimed = scenario.claim_token is not None and (
            scenario.next_tick_at is not None and scenario.next_tick_at > now
        )
        if claimed or scenario.turn != turn - 1:
            return False
        claim = _claim_locked(scenario, turn=turn, now=now, due=now, scheduled=False)
        if claim is None:
            scenario.next_tick_at = now + timedelta(seconds=scenario.tick_seconds)
        outcome = _claim_settle(scenario, claim)
    if isinstance(outcome, TurnClaim):
        return turn_apply(outcome, _turn_lines(outcome))
    return outcome


def _claim_next(*, now: datetime) -> TurnClaim | bool | None:
    """Claim the most overdue scenario nobody else holds, in one short transaction: end it
    if its time is up, else plan its next turn (and play it, with an in-process backend:
    ``_claim_settle``). Answers the claim to generate, True when the turn was played,
    False when the scenario ended or its turn was skipped, None when none is due."""
    with transaction.atomic():
        found = rows_fetch(
            _due_sql(connection.vendor),
            [Scenario.Status.ACTIVE.value, connection.ops.adapt_datetimefield_value(now)],
        )
        if not found:
            return None
        scenario, has_messages = model_from_row(Scenario, found[0]), found[0][-1]
        # The tick's start, or later when a long batch has taken time.
        clock_now = max(now, timezone.now())
        if scenario_elapsed_seconds(scenario=scenario, now=clock_now) >= scenario_duration_seconds(
            scenario=scenario
        ):
            _end_locked(scenario, reason="duration_elapsed", now=clock_now)
            return False
        due = scenario.next_tick_at or clock_now
        claim = _claim_locked(
            scenario,
            turn=scenario.turn + 1,
            now=clock_now,
            due=due,
            scheduled=True,
            may_have_messages=bool(has_messages),
        )
        if claim is None:
            scenario.next_tick_at = _next_tick(
                due, tick_seconds=scenario.tick_seconds, now=clock_now
            )
        return _claim_settle(scenario, claim)


@lru_cache(maxsize=2)
def _due_sql(vendor: str) -> str:
    """The most overdue active scenario that no other claimer holds (locked, the others
    skipped), its whole row (``core.db.model_columns``, not read again) and whether a
    person's message waits in it: written once, where the ORM compiled the same query on
    every claim (a tenth of a scenario worker's time, py-spy). Parameters: the active
    status, the clock's time."""
    scenarios = connection.ops.quote_name(Scenario._meta.db_table)
    messages = connection.ops.quote_name(UserMessage._meta.db_table)
    lock = (
        " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    )
    return (
        f"SELECT {model_columns(Scenario)}, EXISTS (SELECT 1 FROM {messages} m "  # noqa: S608
        "WHERE m.scenario_id = s.id AND m.answered_at IS NULL) "
        f"FROM {scenarios} s WHERE s.status = %s AND s.next_tick_at <= %s "
        f"ORDER BY s.next_tick_at, s.id LIMIT 1{lock}"
    )


def _seconds_until_next_due(*, now: datetime) -> float | None:
    earliest = Scenario.objects.filter(status=Scenario.Status.ACTIVE).aggregate(
        earliest=Min("next_tick_at")
    )["earliest"]
    return None if earliest is None else (earliest - now).total_seconds()


@lru_cache(maxsize=1)
def _generation_pool() -> ThreadPoolExecutor:
    """Threads that wait on a remote model for claimed turns (they never touch the
    database: a claim carries everything generation needs)."""
    return ThreadPoolExecutor(
        max_workers=settings.SCENARIO_GENERATION_THREADS, thread_name_prefix="turn-generate"
    )


class _TurnPipeline:
    """Claimed turns waiting for a remote model's lines, generated in the generation pool
    while the clock goes on claiming other scenarios (an in-process backend's turns are
    played as they are claimed: ``_claim_settle``)."""

    def __init__(self) -> None:
        self.waiting: dict[Future[InteractionLines], TurnClaim] = {}
        self.played = 0

    def start(self, claim: TurnClaim) -> None:
        self.waiting[_generation_pool().submit(turn_generate, claim)] = claim

    def apply_ready(self, *, timeout: float = 0.0) -> None:
        """Apply every turn whose lines are ready, waiting up to ``timeout`` for one."""
        if not self.waiting:
            return
        done, _ = wait(self.waiting, timeout=timeout, return_when=FIRST_COMPLETED)
        for future in done:
            claim = self.waiting.pop(future)
            try:
                lines: InteractionLines | None = future.result()
            except Exception:  # see _turn_lines
                logger.exception(
                    "Scenario %s turn %s: generation failed.", claim.scenario_id, claim.turn
                )
                lines = None
            self.played += turn_apply(claim, lines)

    def drain(self) -> int:
        while self.waiting:
            self.apply_ready(timeout=_claim_lease_seconds())
        return self.played


def _claim_due(pipeline: _TurnPipeline, *, now: datetime, limit: int) -> None:
    for _ in range(limit):
        outcome = _claim_next(now=now)
        if outcome is None:
            return
        if isinstance(outcome, TurnClaim):
            pipeline.start(outcome)
        else:
            pipeline.played += outcome


def clock_run(*, seconds: float, max_idle_seconds: float = CLOCK_MAX_IDLE_SECONDS) -> int:
    """Keep the clock for ``seconds``: claim what is due, apply the turns whose lines are
    ready, wait until the next scenario is due or a line arrives (at most
    ``max_idle_seconds``, to notice new scenarios), repeat. Returns turns played.

    The Celery task runs this for a window a little longer than beat's period, so each
    scenario plays within milliseconds of its due time instead of at beat's next second,
    and overlapping windows on a worker's pool share the work (SKIP LOCKED) in parallel.
    """
    deadline = time.monotonic() + seconds
    pipeline = _TurnPipeline()
    while True:
        _claim_due(pipeline, now=timezone.now(), limit=CLOCK_BATCH_LIMIT)
        pipeline.apply_ready()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return pipeline.drain()
        until_due = _seconds_until_next_due(now=timezone.now())
        pause = max_idle_seconds if until_due is None else min(until_due, max_idle_seconds)
        # An overdue row another claimer holds shows up as "due now": poll, do not spin.
        pause = min(max(pause, CLOCK_MIN_SLEEP_SECONDS), remaining)
        if pipeline.waiting:
            pipeline.apply_ready(timeout=pause)
        else:
            time.sleep(pause)


def clock_tick(*, now: datetime | None = None, limit: int = CLOCK_BATCH_LIMIT) -> int:
    """One beat of the scenario clock: every scenario due by ``now`` (at most ``limit``,
    most overdue first) plays one turn, or ends when its active time is up; lines from a
    remote model are generated concurrently. Safe to run on many workers at once (rows
    are claimed with SKIP LOCKED). Returns the turns played."""
    pipeline = _TurnPipeline()
    _claim_due(pipeline, now=now or timezone.now(), limit=limit)
    return pipeline.drain()
