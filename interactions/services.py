"""The hot path: one interaction between two characters, as plan -> generate -> apply.

* **Plan** (``interaction_plan``): read what the lines need without holding any lock: both
  characters brought up to date, both directions of the relationship, the recent exchange,
  the scenario's context. An infeasible interaction is refused here already (409).
* **Generate** (``interaction_generate``): the dialogue backend writes both lines, outside
  any transaction (a language model may take seconds); VADER scores them and the exchange
  is embedded for the memories, still outside.
* **Apply** (``interaction_apply``): one short transaction locks both characters (in
  primary-key order, so two interactions never deadlock) and both directions of the
  relationship, re-checks feasibility on the current rows (409 if the world moved),
  computes every delta from the *current* rows by the lines' sentiments, writes the
  Interaction and its events, and after commit broadcasts the events and enqueues the
  graph sync.

docs/architecture.md walks one interaction through these steps.
"""

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from characters import emotion, energy
from characters.models import PAD_FIELDS, Character, Ecosystem
from characters.personality import compatibility
from characters.selectors import character_state, character_state_now
from characters.services import (
    character_emotion,
    character_set_emotion,
)
from core import metrics
from core.db import rows_fetch, rows_insert, rows_select, rows_update
from core.errors import ConflictError, NotFoundError
from eventlog import types as event_types
from eventlog.services import EventBatch, atomic_with_events, ephemeral_broadcast, speaking_frame
from eventlog.types import EventSpec
from lore.selectors import lore_entries_triggered, lore_retrieve
from memories.recalled import RecalledMemory
from memories.services import (
    NO_EMBEDDING,
    Embedding,
    Exchange,
    embedder_ready,
    memories_form,
    memories_recall,
    memory_embedding,
    query_vector,
)
from relationships.dynamics import (
    RelationshipState,
    apply_delta,
    relationship_delta,
    relationship_label_of,
)
from relationships.graph import graph_sync_enqueue
from relationships.models import Relationship

from .dialogue import get_backend
from .dialogue.base import (
    INSTANT_BACKENDS,
    DialogueBackend,
    DialogueContext,
    LoreFact,
    Speaker,
    drew_on_of,
)
from .models import Interaction
from .sentiment import sentiment

CHARACTER_STATE_FIELDS = (*PAD_FIELDS, "emotion", "energy", "status", "state_updated_at")
RELATIONSHIP_FIELDS = (
    "strength",
    "trust",
    "interaction_count",
    "last_interaction_at",
    "version",
    "updated_at",
)


class InteractionRefused(ConflictError):
    default_code = "interaction_refused"


@dataclass(frozen=True)
class ScenarioContext:
    """What the engine knows of a scenario turn (the scenarios app sits above the engine
    and hands this down; the engine never imports it)."""

    scenario_id: uuid.UUID
    turn: int
    setting: str = ""
    mood: str = ""
    objectives: tuple[str, ...] = ()
    user_message_id: uuid.UUID | None = None


@dataclass(frozen=True)
class InteractionPlan:
    """A snapshot read without locks: what the backend needs to write both lines."""

    initiator: Character
    target: Character
    interaction_type: str
    content: str | None
    regard_of_target: RelationshipState
    regard_of_initiator: RelationshipState
    recent: tuple[tuple[str, str], ...]
    scenario: ScenarioContext | None
    seed: int
    owner_id: int | None
    # Each speaker's recalled memories and the lore it knows for the exchange (by id).
    memories: dict[uuid.UUID, tuple[RecalledMemory, ...]] = field(default_factory=dict)
    lore: dict[uuid.UUID, tuple[LoreFact, ...]] = field(default_factory=dict)
    # Both directions of the pair's regard as read, when the caller holds the pair's rows
    # locked in its transaction (``PairSnapshot.locked``): the apply reads nothing again.
    locked_regards: dict[tuple[uuid.UUID, uuid.UUID], Relationship] | None = None


@dataclass(frozen=True)
class InteractionLines:
    content: str
    response: str
    # Each line's VADER compound, scored with the lines (outside any lock).
    content_sentiment: float
    response_sentiment: float
    # What the lines drew on: [{line, kind, id, text}] (docs/dialogue.md).
    drew_on: tuple[dict[str, str], ...] = ()
    # The exchange's vector for both memories, embedded with the lines (outside any lock).
    embedding: Embedding | None = None


@dataclass(frozen=True)
class InteractionResult:
    interaction: Interaction
    relationship_change: dict[str, float]
    emotional_state: dict[str, Any]
    event_seq: int


@lru_cache(maxsize=1)
def dialogue_backend() -> DialogueBackend:
    return get_backend(
        settings.DIALOGUE_BACKEND,
        base_url=settings.DIALOGUE_OPENAI_BASE_URL,
        model=settings.DIALOGUE_OPENAI_MODEL,
        api_key=settings.DIALOGUE_OPENAI_API_KEY or None,
        timeout=settings.DIALOGUE_TIMEOUT_SECONDS,
    )


def generates_in_process() -> bool:
    """True when the backend writes lines in this process in a millisecond or two (the
    template backend), not by asking a model that answers in seconds. Its interactions and
    scenario turns are planned, generated and applied in one transaction on rows read
    locked: holding a pair's locks for a millisecond costs less than reading the pair twice
    (docs/architecture.md, "One interaction")."""
    return dialogue_backend().name == "template"


def character_speaker(character: Character) -> Speaker:
    """The dialogue backends' view of a character."""
    return Speaker(
        id=str(character.pk),
        name=character.name,
        bio=character.bio,
        personality=character.personality,
        emotion=character_emotion(character=character),
        energy=character.energy,
        greetings=tuple(str(greeting) for greeting in character.greetings or ()),
        voice_examples=character.voice_examples,
    )


_OWNED_BY = f"ecosystem_id IN (SELECT id FROM {Ecosystem._meta.db_table} WHERE owner_id = %s)"  # noqa: S608


def _load_pair(
    *, initiator_id: uuid.UUID, target_id: uuid.UUID, owner_id: int | None, for_update: bool
) -> tuple[Character, Character]:
    if initiator_id == target_id:
        raise InteractionRefused("A character cannot interact with itself.", code="same_character")
    where = "id IN (%s, %s)"
    params: list[object] = [initiator_id, target_id]
    if owner_id is not None:
        where += f" AND {_OWNED_BY}"
        params.append(owner_id)
    # Locked (when asked) in primary-key order, so two interactions never deadlock.
    by_id = {
        character.pk: character
        for character in rows_select(Character, where, params, for_update=for_update)
    }
    for character_id in (initiator_id, target_id):
        if character_id not in by_id:
            raise NotFoundError(f"Character {character_id} was not found.")
    return by_id[initiator_id], by_id[target_id]


def _check_feasible(initiator: Character, target: Character) -> None:
    if initiator.ecosystem_id != target.ecosystem_id:
        raise InteractionRefused(
            f"{initiator.name} and {target.name} live in different ecosystems.",
            code="different_ecosystems",
        )
    for character in (initiator, target):
        if character.status == Character.Status.ARCHIVED:
            raise InteractionRefused(f"{character.name} is archived.", code="archived")
        if character.status == Character.Status.RESTING or not energy.can_interact(
            character.energy
        ):
            raise InteractionRefused(
                f"{character.name} is too tired to talk (energy {character.energy:.2f}); "
                "let them rest a while.",
                code="too_tired",
            )


def _read_relationships(
    initiator: Character, target: Character, *, for_update: bool
) -> dict[tuple[uuid.UUID, uuid.UUID], Relationship]:
    pair = [initiator.pk, target.pk]
    return {
        (rel.from_character_id, rel.to_character_id): rel
        for rel in rows_select(
            Relationship,
            "from_character_id IN (%s, %s) AND to_character_id IN (%s, %s)",
            pair * 2,
            for_update=for_update,
        )
    }


def _pair_relationships(
    initiator: Character,
    target: Character,
    found: dict[tuple[uuid.UUID, uuid.UUID], Relationship] | None = None,
) -> tuple[Relationship, Relationship]:
    """Both directions of the pair, locked (read here, or ``found`` by a caller that holds
    them locked); a direction that does not exist yet comes new and unsaved
    (``_state.adding``): the caller inserts it with its moved values."""
    if found is None:
        found = _read_relationships(initiator, target, for_update=True)
    found = dict(found)
    for a, b in ((initiator, target), (target, initiator)):
        if (a.pk, b.pk) not in found:
            found[(a.pk, b.pk)] = Relationship(
                ecosystem_id=initiator.ecosystem_id, from_character=a, to_character=b
            )
    return found[(initiator.pk, target.pk)], found[(target.pk, initiator.pk)]


NEW_RELATIONSHIP = RelationshipState(
    strength=Relationship._meta.get_field("strength").get_default(),
    trust=Relationship._meta.get_field("trust").get_default(),
    interaction_count=0,
)


def _relationship_state(rel: Relationship | None) -> RelationshipState:
    if rel is None:
        return NEW_RELATIONSHIP
    return RelationshipState(
        strength=rel.strength, trust=rel.trust, interaction_count=rel.interaction_count
    )


def _move_relationship(
    rel: Relationship, *, interaction_type: str, heard_sentiment: float, compat: float, now: Any
) -> dict[str, Any]:
    before = _relationship_state(rel)
    delta = relationship_delta(
        interaction_type=interaction_type,
        sentiment=heard_sentiment,
        compatibility=compat,
        current=before,
    )
    after = apply_delta(before, delta)
    rel.strength, rel.trust, rel.interaction_count = (
        after.strength,
        after.trust,
        after.interaction_count,
    )
    rel.last_interaction_at = now
    rel.updated_at = now
    rel.version += 1
    return {
        "from": str(rel.from_character_id),
        "to": str(rel.to_character_id),
        "strength_before": round(before.strength, 4),
        "strength_after": round(after.strength, 4),
        "trust_before": round(before.trust, 4),
        "trust_after": round(after.trust, 4),
        "strength_delta": round(after.strength - before.strength, 4),
        "trust_delta": round(after.trust - before.trust, 4),
        "interaction_count": after.interaction_count,
        "label": relationship_label_of(after),
        "version": rel.version,
    }


def _feel_and_tire(
    character: Character,
    *,
    interaction_type: str,
    own_sentiment: float,
    heard_sentiment: float,
    initiated: bool,
) -> None:
    personality = character.personality
    state = character_emotion(character=character)
    state = emotion.appraise(
        state, personality, sentiment=own_sentiment, interaction_type=interaction_type, heard=False
    )
    state = emotion.appraise(
        state, personality, sentiment=heard_sentiment, interaction_type=interaction_type, heard=True
    )
    character_set_emotion(character=character, state=state)
    character.energy = energy.apply_interaction(
        character.energy, personality, interaction_type=interaction_type, initiated=initiated
    )
    character.status = energy.next_status(character.energy, character.status)


# A scenario remembers its last exchanges, whoever spoke (the template backend never lets a
# speaker repeat what it said in them: docs/dialogue.md); outside a scenario, the pair's.
RECENT_SCENARIO_EXCHANGES = 100
RECENT_PAIR_EXCHANGES = 3


@lru_cache(maxsize=1)
def _recent_sql() -> tuple[str, str]:
    """The recent-exchange reads of a scenario and of a pair, written once (the ORM's
    compile of the pair's OR of two filters and two joins cost more than the query)."""
    quote = connection.ops.quote_name
    select = (
        "SELECT a.name, b.name, i.content, i.response "  # noqa: S608 (quoted names)
        f"FROM {quote(Interaction._meta.db_table)} i "
        f"JOIN {quote(Character._meta.db_table)} a ON a.id = i.initiator_id "
        f"JOIN {quote(Character._meta.db_table)} b ON b.id = i.target_id "
    )
    return (
        select + "WHERE i.scenario_id = %s ORDER BY i.turn DESC LIMIT %s",
        select + "WHERE (i.initiator_id = %s AND i.target_id = %s) "
        "OR (i.initiator_id = %s AND i.target_id = %s) ORDER BY i.created DESC LIMIT %s",
    )


def _recent_exchanges(
    initiator: Character, target: Character, scenario: ScenarioContext | None = None
) -> tuple[tuple[str, str], ...]:
    scenario_sql, pair_sql = _recent_sql()
    if scenario is not None:
        rows = rows_fetch(
            scenario_sql, [uuid.UUID(str(scenario.scenario_id)), RECENT_SCENARIO_EXCHANGES]
        )
    else:
        pair = [initiator.pk, target.pk]
        rows = rows_fetch(pair_sql, [*pair, *pair[::-1], RECENT_PAIR_EXCHANGES])
    exchanges: list[tuple[str, str]] = []
    for first, second, content, response in reversed(rows):
        exchanges += [(first, content), (second, response)]
    return tuple(exchanges)


def interaction_process(
    *,
    initiator_id: uuid.UUID,
    target_id: uuid.UUID,
    interaction_type: str,
    content: str | None = None,
    owner: User | None = None,
    scenario: ScenarioContext | None = None,
    seed: int = 0,
) -> InteractionResult:
    """Plan, generate and apply one interaction. ``owner`` scopes the characters to one
    user's ecosystems (API callers); ``content`` None lets the initiator's own voice open.
    Raises NotFoundError (404) or InteractionRefused (409); writes nothing then.

    A model that answers in seconds is asked between the plan (no locks) and the apply (a
    short transaction). The in-process template backend's three steps run in the apply's
    transaction instead, the plan reading the pair and their regard locked, so the apply
    does not read them again (``generates_in_process``)."""
    started = time.perf_counter()

    def plan_and_generate(*, lock: bool) -> tuple[InteractionPlan, InteractionLines]:
        plan = interaction_plan(
            initiator_id=initiator_id,
            target_id=target_id,
            interaction_type=interaction_type,
            content=content,
            owner_id=owner.pk if owner is not None else None,
            scenario=scenario,
            seed=seed,
            lock=lock,
        )
        return plan, interaction_generate(plan=plan)

    if generates_in_process():
        with atomic_with_events() as events:
            plan, lines = plan_and_generate(lock=True)
            interaction = _apply_in(events, plan=plan, lines=lines, now=None, started=started)
        return _result(interaction, events)
    plan, lines = plan_and_generate(lock=False)
    return interaction_apply(plan=plan, lines=lines, started=started)


@dataclass(frozen=True)
class PairSnapshot:
    """Rows a caller has just read (a scenario turn's cast and the relationships among
    them): the plan takes the pair from them instead of reading it. ``locked``: read
    ``FOR NO KEY UPDATE`` in the transaction the apply will run in (an in-process backend's
    scenario turn), so they are the current rows and the apply does not read them again."""

    characters: Mapping[uuid.UUID, Character]
    relationships: Mapping[tuple[uuid.UUID, uuid.UUID], Relationship]
    locked: bool = False


def interaction_plan(
    *,
    initiator_id: uuid.UUID,
    target_id: uuid.UUID,
    interaction_type: str,
    content: str | None = None,
    owner_id: int | None = None,
    scenario: ScenarioContext | None = None,
    seed: int = 0,
    now: datetime | None = None,
    known: PairSnapshot | None = None,
    lock: bool = False,
) -> InteractionPlan:
    """The plan step: a snapshot of the pair, both directions of their relationship and
    their recent exchange, read without locks (or taken from ``known``). Raises
    NotFoundError or InteractionRefused when the interaction cannot happen now (the apply
    step checks again). ``lock``: the pair and their regard are read ``FOR NO KEY UPDATE``
    in the caller's transaction, where the apply will take them as they are."""
    pair = (initiator_id, target_id)
    locked_regards = None
    if known is not None and initiator_id != target_id and set(pair) <= known.characters.keys():
        initiator, target = (known.characters[character_id] for character_id in pair)
        directions = (pair, pair[::-1])
        regards = {
            key: known.relationships[key] for key in directions if key in known.relationships
        }
        locked_regards = regards if known.locked else None
    else:
        initiator, target = _load_pair(
            initiator_id=initiator_id, target_id=target_id, owner_id=owner_id, for_update=lock
        )
        regards = _read_relationships(initiator, target, for_update=lock)
        locked_regards = regards if lock else None
    now = now or timezone.now()
    character_state_now(character=initiator, now=now)
    character_state_now(character=target, now=now)
    _check_feasible(initiator, target)
    recent = _recent_exchanges(initiator, target, scenario)
    query_text = _recall_query(initiator, target, interaction_type, content, scenario)
    # Embedded at most once, when recall or lore first needs it, and shared by both.
    embed_once = lru_cache(maxsize=1)(query_vector)
    memories = memories_recall(
        pairs=[(initiator.pk, target.pk), (target.pk, initiator.pk)],
        query_text=query_text,
        now=now,
        embed=embed_once,
    )
    lore = {
        character.pk: _lore_for(character, query_text, embed_once)
        for character in (initiator, target)
    }
    return InteractionPlan(
        initiator=initiator,
        target=target,
        interaction_type=interaction_type,
        content=content,
        regard_of_target=_relationship_state(regards.get((initiator.pk, target.pk))),
        regard_of_initiator=_relationship_state(regards.get((target.pk, initiator.pk))),
        recent=recent,
        scenario=scenario,
        seed=seed,
        owner_id=owner_id,
        memories=memories,
        lore=lore,
        locked_regards=locked_regards,
    )


LORE_PER_SPEAKER = 2


def _lore_for(
    character: Character, query_text: str, embed: Callable[[str], np.ndarray | None]
) -> tuple[LoreFact, ...]:
    """The lore ``character`` knows that matches the exchange: keyed entries triggered by
    the text, then chunks close in meaning (lore.selectors). Only by key while the
    embedding model is still loading (it is never loaded under a lock)."""
    if embedder_ready() is not None:
        hits = lore_retrieve(
            character.ecosystem_id,
            query_text,
            LORE_PER_SPEAKER,
            character_id=character.pk,
            embed=embed,
        )
    else:
        hits = lore_entries_triggered(
            character.ecosystem_id, query_text, character_id=character.pk
        )[:LORE_PER_SPEAKER]
    return tuple(
        LoreFact(
            id=f"{hit.document_id}:{hit.position}",
            title=hit.document_title,
            text=hit.text,
            keys=tuple(hit.keys),
            score=round(float(hit.score), 4),
        )
        for hit in hits
    )


def _recall_query(
    initiator: Character,
    target: Character,
    interaction_type: str,
    content: str | None,
    scenario: ScenarioContext | None,
) -> str:
    """What the exchange is about, as far as the plan knows: embedded once for recall."""
    parts = [initiator.name, target.name, interaction_type, content or ""]
    if scenario is not None:
        parts += [scenario.setting, scenario.mood, *scenario.objectives]
    return " ".join(part for part in parts if part)


def _dialogue_context(
    plan: InteractionPlan, *, initiator_speaks: bool, utterance: str | None
) -> DialogueContext:
    speaker, listener = (plan.initiator, plan.target)[:: 1 if initiator_speaks else -1]
    scenario = plan.scenario
    return DialogueContext(
        speaker=character_speaker(speaker),
        listener=character_speaker(listener),
        interaction_type=plan.interaction_type,
        relationship=plan.regard_of_target if initiator_speaks else plan.regard_of_initiator,
        utterance=utterance,
        recent=plan.recent,
        seed=plan.seed,
        setting=scenario.setting if scenario else "",
        mood=scenario.mood if scenario else "",
        objectives=scenario.objectives if scenario else (),
        memories=plan.memories.get(speaker.pk, ()),
        lore=plan.lore.get(speaker.pk, ()),
    )


@contextmanager
def interaction_speaking(
    plan: InteractionPlan, character: Character, backend: DialogueBackend
) -> Iterator[None]:
    """Tell the ecosystem's observers that ``character`` is writing a line: an ephemeral
    ``speaking`` frame (no seq, not logged; docs/events.md) before the backend is asked and
    its end after, whatever happens. Only for backends that take noticeable time (a model:
    every call is at least a round trip); none for the in-process template backend."""
    if backend.name in INSTANT_BACKENDS:
        yield
        return

    def announce(speaking: bool) -> None:
        ephemeral_broadcast(
            ecosystem_id=character.ecosystem_id,
            frame=speaking_frame(
                character_id=str(character.pk),
                name=character.name,
                scenario_id=str(plan.scenario.scenario_id) if plan.scenario else None,
                speaking=speaking,
            ),
        )

    announce(True)
    try:
        yield
    finally:
        announce(False)


def interaction_generate(*, plan: InteractionPlan) -> InteractionLines:
    """The generate step: both lines from the dialogue backend. Runs outside any
    transaction, so a slow model holds no lock and no idle transaction. Observers see who
    is speaking meanwhile (``interaction_speaking``)."""
    backend = dialogue_backend()
    content = plan.content
    if content is None:
        with interaction_speaking(plan, plan.initiator, backend):
            content = backend.opening(
                _dialogue_context(plan, initiator_speaks=True, utterance=None)
            )
    with interaction_speaking(plan, plan.target, backend):
        response = backend.reply(_dialogue_context(plan, initiator_speaks=False, utterance=content))
    drew_on = tuple(
        {"line": line_name, **source}
        for line_name, line in (("content", content), ("response", response))
        for source in drew_on_of(line)
    )
    return InteractionLines(
        content=str(content),
        response=str(response),
        drew_on=drew_on,
        embedding=_exchange_embedding(content, response),
        content_sentiment=sentiment(content),
        response_sentiment=sentiment(response),
    )


def _exchange_embedding(content: str, response: str) -> Embedding:
    if settings.MEMORY_RETENTION_PER_CHARACTER <= 0:
        return NO_EMBEDDING
    return memory_embedding(f"{content} {response}")


def interaction_apply(
    *,
    plan: InteractionPlan,
    lines: InteractionLines,
    now: datetime | None = None,
    started: float | None = None,
) -> InteractionResult:
    """The apply step, in one short transaction: lock the pair and their relationship,
    re-check feasibility on the current rows (InteractionRefused, 409, if the world moved:
    a character tired out, was archived or moved away meanwhile), move everything from the
    current rows by what was said, write the Interaction and its events.

    Inside a transaction the caller holds (a scenario turn, which locks its scenario first)
    it runs in that transaction, with no savepoint: two round trips fewer, and a refusal is
    raised before anything is written, so the caller's transaction stays usable. The events
    are the transaction's last statement, sent with its COMMIT (``atomic_with_events``)."""
    started = time.perf_counter() if started is None else started
    with atomic_with_events() as events:
        interaction = _apply_in(events, plan=plan, lines=lines, now=now, started=started)
    return _result(interaction, events)


def _result(interaction: Interaction, events: EventBatch) -> InteractionResult:
    """What the caller answers, once the apply's transaction has committed."""
    return InteractionResult(
        interaction=interaction,
        relationship_change=interaction.relationship_change,
        emotional_state=interaction.emotional_states,
        event_seq=events.rows[-1].seq,
    )


def _apply_in(
    events: EventBatch,
    *,
    plan: InteractionPlan,
    lines: InteractionLines,
    now: datetime | None,
    started: float,
) -> Interaction:
    """The apply step's work, in the transaction of ``atomic_with_events`` that yielded
    ``events``."""
    embedding = lines.embedding or _exchange_embedding(lines.content, lines.response)
    # Rows the caller read locked are current only inside the caller's transaction.
    locked = plan.locked_regards if connection.in_atomic_block else None
    if locked is not None:
        initiator, target = plan.initiator, plan.target
    else:
        initiator, target = _load_pair(
            initiator_id=plan.initiator.pk,
            target_id=plan.target.pk,
            owner_id=plan.owner_id,
            for_update=True,
        )
    now = now or timezone.now()
    character_state_now(character=initiator, now=now)
    character_state_now(character=target, now=now)
    _check_feasible(initiator, target)
    regards = _pair_relationships(initiator, target, locked)
    regard_of_target, regard_of_initiator = regards
    changes, content_sentiment, response_sentiment = _exchange_effects(
        plan,
        lines,
        initiator=initiator,
        target=target,
        regards=regards,
        now=now,
    )
    rows_update([initiator, target], CHARACTER_STATE_FIELDS)
    rows_update([rel for rel in regards if not rel._state.adding], RELATIONSHIP_FIELDS)
    rows_insert([rel for rel in regards if rel._state.adding])
    interaction = Interaction(
        ecosystem_id=initiator.ecosystem_id,
        scenario_id=plan.scenario.scenario_id if plan.scenario else None,
        turn=plan.scenario.turn if plan.scenario else None,
        initiator=initiator,
        target=target,
        interaction_type=plan.interaction_type,
        content=lines.content,
        response=lines.response,
        content_sentiment=content_sentiment,
        response_sentiment=response_sentiment,
        relationship_change=_relationship_change(changes),
        emotional_states={
            str(initiator.pk): character_state(initiator, emotion_key="label"),
            str(target.pk): character_state(target, emotion_key="label"),
        },
        user_message_id=plan.scenario.user_message_id if plan.scenario else None,
        latency_ms=(time.perf_counter() - started) * 1000,
        drew_on=list(lines.drew_on),
    )
    rows_insert([interaction])
    memory_events = _form_memories(
        interaction, initiator=initiator, target=target, changes=changes, embedding=embedding
    )
    _append_events(
        events,
        interaction,
        initiator=initiator,
        target=target,
        changes=changes,
        extra_events=memory_events,
    )
    relationship_ids = [regard_of_target.pk, regard_of_initiator.pk]
    ecosystem_id = initiator.ecosystem_id
    transaction.on_commit(
        lambda: graph_sync_enqueue(relationship_ids=relationship_ids, ecosystem_id=ecosystem_id)
    )
    elapsed_seconds = time.perf_counter() - started
    transaction.on_commit(lambda: metrics.interaction_latency_observe(elapsed_seconds))
    return interaction


def _exchange_effects(
    plan: InteractionPlan,
    lines: InteractionLines,
    *,
    initiator: Character,
    target: Character,
    regards: tuple[Relationship, Relationship],
    now: datetime,
) -> tuple[list[dict[str, Any]], float, float]:
    """What the lines do, on the current (locked) rows: each direction of the relationship
    moves by what the *other* said; each character feels both lines and tires or
    refreshes. Answers both moves and the lines' sentiments."""
    content_sentiment, response_sentiment = lines.content_sentiment, lines.response_sentiment
    compat = compatibility(initiator.personality, target.personality)
    regard_of_target, regard_of_initiator = regards
    changes = [
        _move_relationship(
            regard_of_target,
            interaction_type=plan.interaction_type,
            heard_sentiment=response_sentiment,
            compat=compat,
            now=now,
        ),
        _move_relationship(
            regard_of_initiator,
            interaction_type=plan.interaction_type,
            heard_sentiment=content_sentiment,
            compat=compat,
            now=now,
        ),
    ]
    for character, own, heard in (
        (initiator, content_sentiment, response_sentiment),
        (target, response_sentiment, content_sentiment),
    ):
        _feel_and_tire(
            character,
            interaction_type=plan.interaction_type,
            own_sentiment=own,
            heard_sentiment=heard,
            initiated=character is initiator,
        )
    return changes, content_sentiment, response_sentiment


def _relationship_change(changes: list[dict[str, Any]]) -> dict[str, Any]:
    """The API's view of both moves: the initiator's regard, and ``reverse``."""
    forward, reverse = changes

    def summary(change: dict[str, Any]) -> dict[str, float]:
        return {
            "strength_delta": change["strength_delta"],
            "trust_delta": change["trust_delta"],
            "new_strength": change["strength_after"],
            "new_trust": change["trust_after"],
        }

    return {**summary(forward), "reverse": summary(reverse)}


def _form_memories(
    interaction: Interaction,
    *,
    initiator: Character,
    target: Character,
    changes: list[dict[str, Any]],
    embedding: Embedding,
) -> list[EventSpec]:
    """One memory per participant (memories.services), in the apply transaction; answers
    their events. ``changes[0]`` is the initiator's regard of the target, ``[1]`` the
    reverse."""
    if settings.MEMORY_RETENTION_PER_CHARACTER <= 0:
        return []
    sides = (
        (initiator, target, True, interaction.content, interaction.response,
         interaction.response_sentiment, changes[0]),
        (target, initiator, False, interaction.response, interaction.content,
         interaction.content_sentiment, changes[1]),
    )  # fmt: skip
    return memories_form(
        ecosystem_id=interaction.ecosystem_id,
        interaction_id=interaction.pk,
        exchanges=[
            Exchange(
                character_id=me.pk,
                character_name=me.name,
                counterpart_id=other.pk,
                counterpart_name=other.name,
                initiated=initiated,
                said=said,
                heard=heard,
                interaction_type=interaction.interaction_type,
                heard_sentiment=heard_sentiment,
                strength_delta=change["strength_delta"],
                trust_delta=change["trust_delta"],
                strength_after=change["strength_after"],
                trust_after=change["trust_after"],
                interaction_count=change["interaction_count"],
            )
            for me, other, initiated, said, heard, heard_sentiment, change in sides
        ],
        embedding=embedding,
        now=interaction.created,
    )


def _append_events(
    batch: EventBatch,
    interaction: Interaction,
    *,
    initiator: Character,
    target: Character,
    changes: list[dict[str, Any]],
    extra_events: list[EventSpec] | None = None,
) -> None:
    """The interaction's three events, then ``extra_events`` (memories), into ``batch``."""
    names = {str(initiator.pk): initiator.name, str(target.pk): target.name}
    for change in changes:
        change["from_name"] = names[change["from"]]
        change["to_name"] = names[change["to"]]
    batch.append(
        ecosystem_id=interaction.ecosystem_id,
        events=[
            event_types.character_interaction(
                interaction_id=str(interaction.pk),
                participants=[str(initiator.pk), str(target.pk)],
                names=names,
                interaction_type=interaction.interaction_type,
                content=interaction.content,
                response=interaction.response,
                sentiment={
                    "content": round(interaction.content_sentiment, 4),
                    "response": round(interaction.response_sentiment, 4),
                },
                relationship_change=interaction.relationship_change,
                emotional_states=interaction.emotional_states,
                scenario_id=str(interaction.scenario_id) if interaction.scenario_id else None,
                turn=interaction.turn,
                user_message_id=(
                    str(interaction.user_message_id) if interaction.user_message_id else None
                ),
                drew_on=interaction.drew_on,
            ),
            event_types.relationship_changed(changes=changes),
            event_types.character_state_changed(characters=interaction.emotional_states),
            *(extra_events or ()),
        ],
    )
