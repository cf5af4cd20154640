"""Believability of the default voice (issue #15): a seeded evaluation that prints one table.

    .venv/bin/python -m bench.eval_dialogue [--turns 600] [--seed 7] [--examples]
    .venv/bin/python -m bench.eval_dialogue --backend standin [--turns 40]
    (or: make eval, make eval EVAL_ARGS="--backend standin")

With ``--backend standin`` it plays a shorter run through the OpenAI-compatible backend
against the stand-in model server (``bench/llm_standin.py``, started on loopback) and checks
the plumbing, not the model (``evaluate_plumbing``).

What it plays. A cast of six (a warm baker, a gruff sailor, a fussy scholar, a spiteful
guard, a nervous herbalist and a brash merchant: three agreeable, three not, every other
trait spread too) goes through four scenarios of different moods one after the other,
the same people carrying their emotions, energy and relationships from one to the next:
a festival (cheerful), a storm meeting in the town hall (tense, with a long prose setting
that must never be pasted into speech), a collaboration with objectives, and an ordinary
market day (no mood). The guard and the merchant start as enemies, the baker and the sailor
as close friends, so relationship talk can be checked both ways.

How. It drives what the scenario clock drives, without the database: each turn, every
character is brought up to date (emotion decay, energy recovery over one tick of 5 s),
the director (``scenarios.director.plan_turn``) picks who talks to whom and how, the
template backend writes the opening and the reply from a ``DialogueContext`` built as the
engine builds it (the pair's recent exchanges in ``recent``, the turn seed), VADER scores
both lines, and the pure models move emotion, energy and both directions of the
relationship exactly as ``interactions.services._exchange_effects`` does. The cast has
memories and the world has lore (``World``: recalled and retrieved as the plan step does,
without the database), two of the cast came from Character Cards (``CARDS``), and every line
keeps what it drew on. Same inputs, same table, in any process; a few seconds for 600 turns.

What it measures (one row per figure, the target beside it): repetition, responsiveness,
consistency, voice (two scikit-learn bag-of-words classifiers on held-out lines), text
hygiene (with ``inflect`` for articles and agreement), emotional range, and memories and
lore in speech (how often lines draw on them, and whether what they draw on fits). The rules of
each judgement are the functions below; they are deliberately independent of the backend
(their own question typing, their own stance words), so the backend cannot grade itself.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# --- The cast and the scenarios ----------------------------------------------------------


@dataclass(frozen=True)
class CastMember:
    name: str
    bio: str
    traits: tuple[float, float, float, float, float]  # O, C, E, A, N


CAST: tuple[CastMember, ...] = (
    CastMember(
        "Mara",
        "Mara is the town baker. She is up before dawn at her ovens, kneading dough and "
        "sifting flour, and her cinnamon rolls and rye loaves feed half the harbor.",
        (0.7, 0.4, 0.9, 0.9, 0.25),
    ),
    CastMember(
        "Tomas",
        "Tomas is an old sailor who mends nets on the pier. He reads the tides and the "
        "weather, and he has sailed his fishing boat through every storm on the coast.",
        (0.2, 0.6, 0.15, 0.75, 0.3),
    ),
    CastMember(
        "Ilse",
        "Ilse is the archivist of the town library. She catalogues old maps, ledgers and "
        "manuscripts, and she is writing a history of the lighthouse.",
        (0.95, 0.9, 0.35, 0.8, 0.4),
    ),
    CastMember(
        "Vex",
        "Vex is a guard at the harbor gate. He inspects cargo, collects tolls and keeps "
        "a ledger of every smuggler he has caught at the docks.",
        (0.3, 0.75, 0.6, 0.1, 0.6),
    ),
    CastMember(
        "Pim",
        "Pim is an herbalist who grows mint and lavender in a cramped greenhouse and "
        "brews remedies, tinctures and teas for coughs and fevers.",
        (0.6, 0.2, 0.25, 0.3, 0.9),
    ),
    CastMember(
        "Odile",
        "Odile is a merchant who trades spices, silk and salt from her warehouse, haggles "
        "over every coin and runs the busiest stall at the market.",
        (0.55, 0.35, 0.9, 0.2, 0.2),
    ),
)

# (from, to, strength, trust, interaction count): how one regards the other at the start.
INITIAL_RELATIONSHIPS = (
    ("Vex", "Odile", -0.75, 0.05, 30),
    ("Odile", "Vex", -0.7, 0.1, 30),
    ("Mara", "Tomas", 0.8, 0.85, 40),
    ("Tomas", "Mara", 0.75, 0.8, 40),
    ("Ilse", "Pim", 0.35, 0.6, 12),
    ("Pim", "Ilse", 0.4, 0.6, 12),
    ("Ilse", "Vex", -0.2, 0.25, 4),
    ("Vex", "Ilse", -0.1, 0.3, 4),
    ("Odile", "Mara", 0.15, 0.45, 5),
    ("Mara", "Odile", 0.2, 0.5, 5),
)


# Two of the cast came from Character Cards (docs/cards.md): their greetings (a card's
# first_mes and alternate_greetings) and example dialogue (mes_example), with the cards'
# {{char}}/{{user}} placeholders and *actions*.
CARDS: dict[str, dict[str, Any]] = {
    "Mara": {
        "greetings": (
            "*Mara wipes flour from her hands.* Morning, {{user}}! The first loaves are "
            "still warm, if you want one.",
            "{{user}}! Come in out of the wind, the ovens are lit.",
            "*She waves a wooden peel.* You're just in time for the cinnamon rolls, {{user}}.",
        ),
        "voice_examples": (
            "<START>\n{{user}}: What are you baking today?\n{{char}}: *laughs* Rye, as "
            "always, and a batch of honey cakes for the harbor children. My sourdough "
            "starter is older than my apprentice.\n<START>\n{{user}}: You look tired.\n"
            "{{char}}: The bread waits for no one, love. The proving baskets were full "
            "before the gulls woke."
        ),
    },
    "Pim": {
        "greetings": ("Oh! {{user}}. I didn't hear you come in. Mind the seedlings.",),
        "voice_examples": (
            "{{user}}: Do you have anything for a cough?\n{{char}}: *fumbles with the "
            "jars* Thyme syrup, maybe. Or the elderflower tincture, if the mortar isn't "
            "cracked again. I keep my seedlings by the window."
        ),
    },
}


@dataclass(frozen=True)
class EvalLore:
    """A lore document of the eval's world: a keyed entry (``keys``), or free text cut into
    chunks as ``lore.chunking`` cuts it."""

    document_id: int
    title: str
    text: str
    keys: tuple[str, ...] = ()


LORE: tuple[EvalLore, ...] = (
    EvalLore(
        1,
        "The sea wall",
        "The sea wall was raised after the great flood of 1712, with stones hauled from the "
        "quarry above the lighthouse. The council swore to inspect it every spring and has "
        "not done so in nine years.",
        ("sea wall",),
    ),
    EvalLore(
        2,
        "The lighthouse",
        "The lighthouse has burned every night for two hundred years. Its keepers' logbooks "
        "are kept in the town library, and the last keeper vanished in a storm.",
        ("lighthouse",),
    ),
    EvalLore(
        3,
        "The waterwheel",
        "The mill's waterwheel was carved from a single oak when the town was founded. The "
        "river floods it every autumn, and every autumn the town mends it together.",
        ("waterwheel",),
    ),
    EvalLore(
        4,
        "Smugglers",
        "Smugglers land their cargo at the north cove on moonless nights. Everyone knows "
        "someone at the harbor gate takes a share of their tolls.",
        ("smuggler", "smugglers"),
    ),
    EvalLore(
        5,
        "A short history of the harbor",
        "The harbor was a fishing hamlet before the salt trade came. Merchants built the "
        "warehouses along the pier, and the market square grew where their carts waited.\n\n"
        "The harbor festival began as a blessing of the fishing boats. Now it fills the "
        "market square with lanterns, music and stalls of spices and sweet bread, and the "
        "bakers bake through the night before it.\n\n"
        "The old mill by the river ground the flour for every baker in town until the "
        "floods of the last autumn stopped its wheel.",
    ),
)

# Memories the cast starts with (who remembers, whom, what it heard, the exchange's type
# and the sentiment of what it heard), so recall has something to find from the first turn.
INITIAL_MEMORIES: tuple[tuple[str, str, str, str, float], ...] = (
    (
        "Vex",
        "Odile",
        "Your tolls are robbery, and your ledger is a pack of lies.",
        "conflict",
        -0.7,
    ),
    ("Odile", "Vex", "I saw your spice crates at the north cove, Odile.", "conflict", -0.5),
    ("Mara", "Tomas", "Your rye loaves kept my crew alive through the storm.", "chat", 0.8),
    ("Tomas", "Mara", "Bring me your nets and I'll bring you a loaf for every one.", "chat", 0.6),
    ("Ilse", "Pim", "Your notes on the lighthouse keeper's logbooks were lovely.", "chat", 0.6),
    ("Pim", "Ilse", "The mint in your greenhouse smells like the library garden.", "chat", 0.5),
    ("Odile", "Mara", "Your cinnamon rolls sold out before your spices arrived.", "chat", 0.2),
    ("Ilse", "Vex", "Stay out of the harbor ledgers, archivist.", "conflict", -0.6),
)


@dataclass(frozen=True)
class EvalScenario:
    name: str
    setting: str
    mood: str
    objectives: tuple[str, ...]
    share: float  # of the run's turns


SCENARIOS: tuple[EvalScenario, ...] = (
    EvalScenario(
        "festival",
        "the harbor festival",
        "cheerful and festive",
        (),
        0.25,
    ),
    EvalScenario(
        "storm meeting",
        "The town hall, rain hammering the roof while the council argues about who "
        "let the sea wall crumble.",
        "tense and suspicious",
        (),
        0.25,
    ),
    EvalScenario(
        "rebuilding",
        "the old mill by the river",
        "determined",
        (
            "Repair the waterwheel before the autumn floods arrive",
            "find the missing ledger",
        ),
        0.25,
    ),
    EvalScenario("market day", "the market square", "", (), 0.25),
)

TICK_SECONDS = 5.0
SCENARIO_GAP_SECONDS = 60.0
# The engine's recent conversation (interactions.services._recent_exchanges): the last
# exchanges of the scenario, whoever spoke.
RECENT_EXCHANGES = 100
OWN_WINDOW = 20
# The last lines of the conversation that count as what an exchange is about (relevance).
RECENT_CONTEXT_LINES = 6


# --- The transcript ------------------------------------------------------------------------


@dataclass(frozen=True)
class Utterance:
    scenario: int
    turn: int
    speaker: str
    listener: str
    kind: str  # interaction type
    opening: bool
    text: str
    answers: str | None  # the line this one replies to
    emotion: str  # the speaker's label when speaking
    pleasure: float
    relation: str  # how the speaker regards the listener
    agreeableness: float
    # What the line drew on ({kind, id, text}), and what the context offered it.
    drew_on: tuple[dict[str, str], ...] = ()
    offered_memories: tuple[str, ...] = ()
    offered_lore: tuple[str, ...] = ()
    context: str = ""  # the conversation's last lines before this one
    checks: dict[str, bool] = field(default_factory=dict)  # plumbing (--backend standin)


@dataclass(frozen=True)
class MemoryRecord:
    id: str
    owner: str
    counterpart: str
    text: str
    heard: str
    interaction_type: str
    sentiment: float
    importance: float
    created: float  # seconds of the run's clock


@dataclass
class Transcript:
    utterances: list[Utterance] = field(default_factory=list)
    memories: dict[str, MemoryRecord] = field(default_factory=dict)
    lore: dict[str, EvalLore] = field(default_factory=dict)
    backend: str = "template"
    model_texts: set[str] = field(default_factory=set)
    labels: list[list[str]] = field(default_factory=list)  # cast labels after each turn
    end_labels_by_scenario: list[list[str]] = field(default_factory=list)
    turns: int = 0
    seconds: float = 0.0


# --- Memories and lore, found as the plan step finds them, without the database -----------

# The engine's figures (interactions.services, memories.services).
RECALL_K = 3  # MEMORY_RECALL_K
RECALL_PAIR_RECENT = 10
RECALL_TOP_IMPORTANT = 5
LORE_PER_SPEAKER = 2
CHUNK_MIN_SHARED_TERMS = 2

_TERM = re.compile(r"[a-z][a-z']+")
# Words too common to make two texts about the same thing (the judge's own list, not the
# backend's).
_COMMON = frozenset(
    """about after again also always another around away back been before being best
    better both came come could days does doing done down each even ever every everyone
    everything feel feels find first from give going gone good great have having hear heard
    here itself just keep know last least left less like little long look made make many
    maybe mean might mine more most much must myself need never next nothing often once
    only other ours over people pretty quite rather really right same should since some
    something still such sure take tell than that that's their them then there these they
    thing things think this those though time today told took under until upon very want
    well went were what whatever when where which while will with without would year years
    you're your yours yourself said says forgotten forget told okay yeah""".split()  # noqa: SIM905
)


def terms(text: str, drop: frozenset[str] = frozenset()) -> frozenset[str]:
    """A text's content words: four letters or more, not a common word, not in ``drop``
    (the cast's names)."""
    return frozenset(
        word
        for word in _TERM.findall(text.lower())
        if len(word) >= 4 and word not in _COMMON and word not in drop
    )


def lexical_relevance(a: frozenset[str], b: frozenset[str]) -> float:
    """Cosine of two sets of words (the eval's stand-in for the embedding cosine)."""
    if not a or not b:
        return 0.0
    return len(a & b) / (len(a) * len(b)) ** 0.5


NAMES = frozenset(member.name.lower() for member in CAST)


class World:
    """The cast's memories and the world's lore, as ``interactions.services`` plans them:
    one memory per participant after each exchange (text, importance and sentiment as
    ``memories.services.memories_form`` writes them), recall of a speaker's 10 latest
    memories of the listener and 5 most important of anyone ranked by
    ``memories.scoring.retrieval_scores`` (relevance: the word cosine above, in place of the
    embedding's), and lore as ``lore.selectors.lore_retrieve``: keyed entries the query
    triggers (``lore.keyed.KeyMatcher``), then chunks sharing words with it."""

    def __init__(self, ids: dict[str, str]) -> None:
        from interactions.dialogue.base import LoreFact
        from lore.chunking import chunk_text
        from lore.keyed import KeyedEntry, KeyMatcher

        self.ids = ids
        self.by_owner: dict[str, list[MemoryRecord]] = {name: [] for name in ids}
        self.records: dict[str, MemoryRecord] = {}
        self.documents = {document.document_id: document for document in LORE}
        self.keyed: dict[int, LoreFact] = {}
        self.chunks: list[tuple[LoreFact, frozenset[str]]] = []
        for document in LORE:
            if document.keys:
                self.keyed[document.document_id] = LoreFact(
                    id=f"{document.document_id}:0",
                    title=document.title,
                    text=document.text,
                    keys=document.keys,
                )
                continue
            for span in chunk_text(document.text):
                fact = LoreFact(
                    id=f"{document.document_id}:{span.position}",
                    title=document.title,
                    text=span.text,
                )
                self.chunks.append((fact, terms(span.text, NAMES)))
        self.matcher = KeyMatcher(
            KeyedEntry(
                document_id=document.document_id,
                keys=document.keys,
                secondary_keys=(),
                constant=False,
                order=document.document_id,
                title=document.title,
            )
            for document in LORE
            if document.keys
        )
        self.lore_facts = {fact.id: fact for fact in self.keyed.values()} | {
            fact.id: fact for fact, _terms in self.chunks
        }

    def remember(
        self,
        *,
        owner: str,
        counterpart: str,
        said: str,
        heard: str,
        initiated: bool,
        interaction_type: str,
        heard_sentiment: float,
        strength_delta: float,
        trust_delta: float,
        now: float,
    ) -> None:
        from memories import scoring

        if initiated:
            text = f'I said to {counterpart}: "{said}" {counterpart} answered: "{heard}"'
        else:
            text = f'{counterpart} said to me: "{heard}" I answered: "{said}"'
        if heard_sentiment <= -0.3:
            text += " It stung."
        elif heard_sentiment >= 0.3:
            text += " It felt warm."
        record = MemoryRecord(
            id=f"m{len(self.records) + 1}",
            owner=owner,
            counterpart=counterpart,
            text=text,
            heard=heard,
            interaction_type=interaction_type,
            sentiment=heard_sentiment,
            importance=round(
                scoring.importance(
                    interaction_type=interaction_type,
                    sentiment=heard_sentiment,
                    strength_delta=strength_delta,
                    trust_delta=trust_delta,
                ),
                4,
            ),
            created=now,
        )
        self.records[record.id] = record
        self.by_owner[owner].append(record)

    def recall(self, speaker: str, listener: str, query: str, now: float) -> tuple:  # type: ignore[type-arg]
        from memories import scoring
        from memories.recalled import RecalledMemory

        own = self.by_owner[speaker]
        of_listener = [m for m in own if m.counterpart == listener][-RECALL_PAIR_RECENT:]
        important = sorted(own, key=lambda m: (-m.importance, -m.created))[:RECALL_TOP_IMPORTANT]
        candidates = list({m.id: m for m in (*of_listener, *important)}.values())
        if not candidates:
            return ()
        query_terms = terms(query)
        ages = [max(0.0, now - m.created) for m in candidates]
        scores = scoring.retrieval_scores(
            ages_seconds=ages,
            importances=[m.importance for m in candidates],
            relevances=[lexical_relevance(terms(m.text), query_terms) for m in candidates],
        )
        ranked = sorted(range(len(candidates)), key=lambda i: (-scores[i], ages[i]))[:RECALL_K]
        return tuple(
            RecalledMemory(
                id=candidates[i].id,
                kind="memory",
                text=candidates[i].text,
                heard=candidates[i].heard,
                counterpart_id=self.ids[candidates[i].counterpart],
                interaction_type=candidates[i].interaction_type,
                sentiment=candidates[i].sentiment,
                importance=candidates[i].importance,
                score=round(scores[i], 4),
                age_seconds=ages[i],
            )
            for i in ranked
        )

    def lore_for(self, query: str) -> tuple:  # type: ignore[type-arg]
        facts = [self.keyed[entry.document_id] for entry in self.matcher.triggered(query)]
        query_terms = terms(query, NAMES)
        close = sorted(
            (
                (lexical_relevance(chunk_terms, query_terms), fact)
                for fact, chunk_terms in self.chunks
                if len(chunk_terms & query_terms) >= CHUNK_MIN_SHARED_TERMS
            ),
            key=lambda scored: -scored[0],
        )
        facts += [fact for _score, fact in close]
        return tuple(facts[:LORE_PER_SPEAKER])


# --- Playing ---------------------------------------------------------------------------------

STANDIN_TURNS = 40


class _Standin:
    """The stand-in model server (bench/llm_standin.py) on loopback and the OpenAI-compatible
    backend pointed at it, with the request bodies it sent, so the eval can check what the
    prompts carried."""

    def __init__(self) -> None:
        import httpx

        from bench.llm_standin import DEFAULT_MODEL, LLMStandIn
        from interactions.dialogue.base import get_backend

        self.server = LLMStandIn(latency=0.0).start()
        self.sent: list[dict[str, object]] = []

        def record(request: httpx.Request) -> None:
            import json

            self.sent.append(json.loads(request.content or b"{}"))

        self.client = httpx.Client(timeout=5.0, event_hooks={"request": [record]})
        self.backend = get_backend(
            "openai",
            base_url=self.server.base_url,
            model=DEFAULT_MODEL,
            timeout=5.0,
            client=self.client,
        )

    def close(self) -> None:
        self.client.close()
        self.server.stop()


def _system_prompt(body: dict[str, object]) -> str:
    messages = body.get("messages") or []
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict) and message.get("role") == "system":
            return str(message.get("content", ""))
    return ""


def is_card_greeting(ctx, text: str) -> bool:  # type: ignore[no-untyped-def]
    """``text`` is (a part of) one of the speaker's card greetings, placeholders resolved."""
    from interactions.dialogue.base import card_text

    said = normalized(text)
    return bool(said) and any(
        said in normalized(card_text(greeting, char=ctx.speaker.name, user=ctx.listener.name))
        for greeting in ctx.speaker.greetings
    )


def prompt_checks(ctx, text: str, bodies: list[dict[str, object]]) -> dict[str, bool]:  # type: ignore[no-untyped-def]
    """What the first request for a line carried: the persona (name, bio), the emotion
    label, the recalled memories and the lore (each by its first words); or, for a line
    that asked no model, whether it is the speaker's card greeting."""
    from characters import emotion

    if not bodies and ctx.utterance is None and ctx.interaction_type == "greeting":
        # The backend may open a first meeting with the card's greeting, asking no model.
        return {"card_greeting": is_card_greeting(ctx, text)}
    prompt = _system_prompt(bodies[0]) if bodies else ""
    flat = " ".join(prompt.split())

    def carried(text: str) -> bool:
        head = " ".join(text.split()[:6])
        return bool(head) and head in flat

    checks = {
        "requested": bool(bodies),
        "persona": ctx.speaker.name in flat and carried(ctx.speaker.bio),
        "emotion": emotion.label(ctx.speaker.emotion) in flat,
    }
    if ctx.memories:
        checks["memories"] = carried(ctx.memories[0].text)
    if ctx.lore:
        checks["lore"] = any(carried(fact.text) for fact in ctx.lore)
    return checks


def play(turns: int = 600, seed: int = 7, backend_name: str = "template") -> Transcript:
    """Play the scenarios for ``turns`` turns in all and return what was said.
    ``backend_name`` "standin": through the OpenAI-compatible backend against the stand-in
    model server (the plumbing, not the model)."""
    from characters import emotion, energy
    from characters.personality import BigFive, compatibility
    from interactions.dialogue.base import DialogueContext, Speaker, drew_on_of
    from interactions.dialogue.template.recall import RecallingTemplateBackend
    from interactions.sentiment import sentiment
    from relationships.dynamics import (
        RelationshipState,
        apply_delta,
        relationship_delta,
        relationship_label_of,
    )
    from scenarios import director

    started = time.perf_counter()
    standin = _Standin() if backend_name == "standin" else None
    backend = standin.backend if standin is not None else RecallingTemplateBackend()
    ids = {member.name: member.name.lower() for member in CAST}
    personality = {member.name: BigFive(*member.traits) for member in CAST}
    bios = {member.name: member.bio for member in CAST}
    mood_state = {name: emotion.baseline(p) for name, p in personality.items()}
    stamina = {name: 0.9 for name in personality}
    status = {name: energy.STATUS_ACTIVE for name in personality}
    regard: dict[tuple[str, str], RelationshipState] = {
        (ids[a], ids[b]): RelationshipState(strength=s, trust=t, interaction_count=n)
        for a, b, s, t, n in INITIAL_RELATIONSHIPS
    }
    by_id = {ids[name]: name for name in ids}
    history: dict[int, deque[tuple[tuple[str, str], tuple[str, str]]]] = {}
    transcript = Transcript(backend=backend_name)
    world = World(ids)
    transcript.memories = world.records
    transcript.lore = {
        fact_id: world.documents[int(fact_id.split(":")[0])] for fact_id in world.lore_facts
    }
    clock = 0.0
    for owner, counterpart, heard_then, kind, heard_sentiment in INITIAL_MEMORIES:
        world.remember(
            owner=owner,
            counterpart=counterpart,
            said="",
            heard=heard_then,
            initiated=False,
            interaction_type=kind,
            heard_sentiment=heard_sentiment,
            strength_delta=0.05,
            trust_delta=0.05,
            now=clock - 3600.0,
        )

    def advance(seconds: float) -> None:
        nonlocal clock
        clock += seconds
        for name, p in personality.items():
            mood_state[name] = emotion.decay(mood_state[name], p, elapsed_seconds=seconds)
            stamina[name] = energy.recover(stamina[name], p, idle_seconds=seconds)
            status[name] = energy.next_status(stamina[name], status[name])

    def speaker_of(name: str) -> Speaker:
        return Speaker(
            id=ids[name],
            name=name,
            bio=bios[name],
            personality=personality[name],
            emotion=mood_state[name],
            energy=stamina[name],
            greetings=CARDS.get(name, {}).get("greetings", ()),
            voice_examples=CARDS.get(name, {}).get("voice_examples", ""),
        )

    def regard_of(a: str, b: str) -> RelationshipState:
        return director.relationship_between(regard, ids[a], ids[b])

    def context(
        speaker: str,
        listener: str,
        utterance: str | None,
        situation: tuple[str, EvalScenario, tuple[tuple[str, str], ...], int, str],
    ) -> DialogueContext:
        kind, scenario, recent, seed, query = situation
        return DialogueContext(
            speaker=speaker_of(speaker),
            listener=speaker_of(listener),
            interaction_type=kind,
            relationship=regard_of(speaker, listener),
            utterance=utterance,
            setting=scenario.setting,
            mood=scenario.mood,
            objectives=scenario.objectives,
            recent=recent,
            seed=seed,
            memories=world.recall(speaker, listener, query, clock),
            lore=world.lore_for(query),
        )

    def speak(ctx: DialogueContext) -> tuple[str, dict[str, bool]]:
        sent_before = len(standin.sent) if standin is not None else 0
        text = backend.opening(ctx) if ctx.utterance is None else backend.reply(ctx)
        if standin is None:
            return text, {}
        return text, prompt_checks(ctx, str(text), standin.sent[sent_before:])

    try:
        turn_total = 0
        for index, scenario in enumerate(SCENARIOS):
            scenario_turns = max(1, round(turns * scenario.share))
            if index == len(SCENARIOS) - 1:
                scenario_turns = turns - turn_total
            recent_speakers: list[str] = []
            scenario_seed = seed * 1_000 + index
            played = turn = 0
            # A turn nobody can play (too few awake) still passes a tick, as on the clock.
            while played < scenario_turns and turn < 5 * scenario_turns:
                turn += 1
                advance(TICK_SECONDS)
                plan = director.plan_turn(
                    participants=[
                        director.Participant(
                            id=ids[name],
                            personality=personality[name],
                            energy=stamina[name],
                            active=status[name] == energy.STATUS_ACTIVE,
                            emotion=mood_state[name],
                        )
                        for name in personality
                    ],
                    relationships=regard,
                    recent_speakers=recent_speakers,
                    mood=scenario.mood,
                    objectives=list(scenario.objectives),
                    seed=scenario_seed,
                    turn=turn,
                )
                if plan is None:
                    continue
                played += 1
                first, second = by_id[plan.initiator_id], by_id[plan.target_id]
                past = history.setdefault(index, deque(maxlen=RECENT_EXCHANGES))
                recent = tuple(line for exchange in past for line in exchange)
                turn_seed = (scenario_seed * 1_000_003 + turn) % (2**31 - 1)
                # The plan's recall query (interactions.services._recall_query): both names,
                # the type, the opening line when given, the scenario.
                query = " ".join(
                    part
                    for part in (
                        first,
                        second,
                        plan.interaction_type,
                        scenario.setting,
                        scenario.mood,
                        *scenario.objectives,
                    )
                    if part
                )
                situation = (plan.interaction_type, scenario, recent, turn_seed, query)
                opening_ctx = context(first, second, None, situation)
                content, opening_checks = speak(opening_ctx)
                situation = (
                    plan.interaction_type,
                    scenario,
                    recent,
                    turn_seed,
                    f"{query} {content}",
                )
                reply_ctx = context(second, first, content, situation)
                response, reply_checks = speak(reply_ctx)
                last_lines = " ".join(text for _name, text in recent[-RECENT_CONTEXT_LINES:])
                for ctx, text, is_opening, answers, checks in (
                    (opening_ctx, content, True, None, opening_checks),
                    (reply_ctx, response, False, content, reply_checks),
                ):
                    transcript.utterances.append(
                        Utterance(
                            scenario=index,
                            turn=turn_total + played,
                            speaker=ctx.speaker.name,
                            listener=ctx.listener.name,
                            kind=plan.interaction_type,
                            opening=is_opening,
                            text=str(text),
                            answers=answers,
                            emotion=emotion.label(ctx.speaker.emotion),
                            pleasure=ctx.speaker.emotion.pleasure,
                            relation=relationship_label_of(ctx.relationship),
                            agreeableness=ctx.speaker.personality.agreeableness,
                            drew_on=drew_on_of(text),
                            offered_memories=tuple(m.id for m in ctx.memories),
                            offered_lore=tuple(f.id for f in ctx.lore),
                            context=last_lines,
                            checks=checks,
                        )
                    )
                past.append(((first, str(content)), (second, str(response))))
                # What the engine's apply step does (interactions.services._exchange_effects).
                content_sentiment, response_sentiment = sentiment(content), sentiment(response)
                compat = compatibility(personality[first], personality[second])
                moved: dict[str, tuple[float, float]] = {}
                for a, b, heard in (
                    (first, second, response_sentiment),
                    (second, first, content_sentiment),
                ):
                    key = (ids[a], ids[b])
                    before = regard_of(a, b)
                    regard[key] = apply_delta(
                        before,
                        relationship_delta(
                            interaction_type=plan.interaction_type,
                            sentiment=heard,
                            compatibility=compat,
                            current=before,
                        ),
                    )
                    moved[a] = (
                        regard[key].strength - before.strength,
                        regard[key].trust - before.trust,
                    )
                for name, own, heard in (
                    (first, content_sentiment, response_sentiment),
                    (second, response_sentiment, content_sentiment),
                ):
                    state = emotion.appraise(
                        mood_state[name],
                        personality[name],
                        sentiment=own,
                        interaction_type=plan.interaction_type,
                        heard=False,
                    )
                    mood_state[name] = emotion.appraise(
                        state,
                        personality[name],
                        sentiment=heard,
                        interaction_type=plan.interaction_type,
                        heard=True,
                    )
                    stamina[name] = energy.apply_interaction(
                        stamina[name],
                        personality[name],
                        interaction_type=plan.interaction_type,
                        initiated=name == first,
                    )
                    status[name] = energy.next_status(stamina[name], status[name])
                # One memory per participant (memories.services.memories_form).
                for name, other, said_line, heard_line, heard_sentiment in (
                    (first, second, content, response, response_sentiment),
                    (second, first, response, content, content_sentiment),
                ):
                    world.remember(
                        owner=name,
                        counterpart=other,
                        said=str(said_line),
                        heard=str(heard_line),
                        initiated=name == first,
                        interaction_type=plan.interaction_type,
                        heard_sentiment=heard_sentiment,
                        strength_delta=moved[name][0],
                        trust_delta=moved[name][1],
                        now=clock,
                    )
                recent_speakers += [plan.initiator_id, plan.target_id]
                transcript.labels.append([emotion.label(mood_state[name]) for name in personality])
                transcript.turns += 1
            turn_total += scenario_turns
            transcript.end_labels_by_scenario.append(
                [emotion.label(mood_state[name]) for name in personality]
            )
            advance(SCENARIO_GAP_SECONDS)
    finally:
        if standin is not None:
            transcript.model_texts = set(standin.server.texts)
            standin.close()
    transcript.seconds = time.perf_counter() - started
    return transcript


# --- Judging -------------------------------------------------------------------------------

_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[\"'A-Z])")
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_SPLIT.split(text.strip()) if s.strip()]


def normalized(sentence: str) -> str:
    return " ".join(w.lower() for w in _WORD.findall(sentence))


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


_WH = ("what", "why", "how", "where", "when", "who", "which")
_AUX = frozenset(
    [
        "do",
        "does",
        "did",
        "are",
        "is",
        "was",
        "were",
        "can",
        "could",
        "would",
        "will",
        "should",
        "shall",
        "have",
        "has",
        "had",
        "may",
        "might",
        "am",
        "don't",
        "doesn't",
        "didn't",
        "aren't",
        "isn't",
        "wasn't",
        "weren't",
        "can't",
        "couldn't",
        "won't",
        "wouldn't",
        "shouldn't",
        "haven't",
        "hasn't",
    ]
)


_TAG = re.compile(
    r",\s*(?:(?:\w+n't|do|does|did|are|is|will)\s+\w+|okay|right|eh|yes|no|you know that)\?$",
    re.IGNORECASE,
)


def question_type(text: str) -> str | None:
    """The kind of the last question in ``text``: "yn", a wh-word, or None (no question).

    A tag question ("..., isn't it?", "..., do you?") is rhetorical and not counted."""
    asked = [s for s in sentences(text) if s.endswith("?") and not _TAG.search(s)]
    if not asked:
        return None
    question = asked[-1]
    tokens = words(question)
    # Skip a vocative or an interjection in front: "Tomas, what do you ...", "So, Mara, ..."
    for token in tokens[:4]:
        if token in _WH:
            return token
        if token in _AUX:
            return "yn"
    return "yn"


_YES_NO_HEDGE = re.compile(
    r"\b(?:yes|yeah|yep|no|nope|not|never|maybe|perhaps|probably|possibly|sure|of course|"
    r"definitely|absolutely|certainly|hardly|i think so|i don't think|i doubt|i suppose|"
    r"i guess|hard to say|depends|can't say|not sure|who knows|a little|somewhat|kind of|"
    r"sort of|mostly|more or less|i do|i did|i am|i have|i can|i will|i would|indeed|"
    r"yes and no|now and then|sometimes|always|often|rarely|nah|aye)\b",
    re.IGNORECASE,
)
_REASON = re.compile(
    r"\b(?:because|since|so that|so we|so i|the reason|that's why|for the sake|due to|"
    r"as long as|ever since|to keep|to make|to get|to see|to stop|to help|to protect|"
    r"to finish|to feed|to save|out of)\b",
    re.IGNORECASE,
)
_PLACE = re.compile(
    r"\b(?:here|there|home|somewhere|nowhere|anywhere|everywhere|near|nearby|behind|beside|"
    r"under|over|above|below|inside|outside|upstairs|downstairs|past|across|along|at the|"
    r"in the|on the|by the|down by|up at|next to|around the|by my|in my|at my|on my)\b",
    re.IGNORECASE,
)
_TIME = re.compile(
    r"\b(?:soon|later|tomorrow|yesterday|tonight|today|now|once|after|before|morning|"
    r"evening|night|noon|dawn|dusk|week|weeks|month|year|day|days|hour|hours|never|always|"
    r"until|while|ago|since|when|spring|summer|autumn|winter|season|tide|time)\b",
    re.IGNORECASE,
)
_PERSON = re.compile(
    r"\b(?:someone|somebody|nobody|no one|everyone|everybody|anyone|whoever|people|person|"
    r"folk|folks|friend|me|myself|you|him|her|them|they|he|she|the council|the mayor|"
    r"the baker|the sailor|the guard|the merchant|the archivist|the herbalist)\b",
    re.IGNORECASE,
)
_MANNER = re.compile(
    r"\b(?:\w+ly|with|by|well|fine|good|bad|badly|better|worse|great|slowly|carefully|"
    r"step|steps|patience|practice|feel|feeling|tired|busy|happy|glad|sad|angry|calm|"
    r"nervous|content|rough|hard|easy|same|usual|alive|hanging on|holding up)\b",
    re.IGNORECASE,
)
_DEFLECTION = re.compile(
    r"\b(?:why do you ask|none of your|mind your own|ask someone else|nice try|does it matter|"
    r"rather not say|rather not get into|rather keep|get back to you|another day|"
    r"depends who's asking|why would i tell you|not something i discuss|why are you so)\b",
    re.IGNORECASE,
)
_STOP = frozenset(
    [
        "i",
        "me",
        "my",
        "you",
        "your",
        "the",
        "a",
        "an",
        "and",
        "or",
        "but",
        "to",
        "of",
        "in",
        "on",
        "at",
        "it",
        "is",
        "was",
        "be",
        "that",
        "this",
        "so",
        "with",
        "for",
        "what",
        "not",
        "no",
        "yes",
        "just",
        "do",
        "don't",
        "i'm",
        "it's",
        "that's",
    ]
)


def answers_question(kind: str, reply: str) -> bool:
    """Whether ``reply`` takes up a question of ``kind``: yes/no/hedge; content of the
    wh-word's type (a reason for why, a place for where, a time for when, a person for who,
    a manner or state for how; some content for what/which) and not a deflection."""
    head = " ".join(sentences(reply)[:2])
    if kind == "yn":
        return bool(_YES_NO_HEDGE.search(head))
    if _DEFLECTION.search(head):
        return False
    pattern = {
        "why": _REASON,
        "where": _PLACE,
        "when": _TIME,
        "who": _PERSON,
        "how": _MANNER,
    }.get(kind)
    if kind == "how" and _FEELING.search(head):
        return True  # "How are you?" -> "I'm fuming." answers it
    if pattern is not None:
        return bool(pattern.search(reply if kind == "why" else head)) or (
            kind == "who" and any(m.name.lower() in words(head) for m in CAST)
        )
    return sum(1 for w in words(head) if w not in _STOP and len(w) > 3) >= 2


_AGREE = re.compile(
    r"\b(?:agree|agreed|right|true|exactly|fair|same|indeed|with you|good point|makes sense|"
    r"sense to me|"
    r"of course|absolutely|yes|yeah|sure|love that|glad you|so do i|me too|i see what|"
    r"i hear you|could be|maybe|i suppose|noted|if you say so|sounds|interesting|huh|"
    r"hadn't thought|i like|well said|definitely|that's lovely|never thought)\b",
    re.IGNORECASE,
)
_DISAGREE = re.compile(
    r"\b(?:disagree|wrong|no|not|nonsense|differently|doubt|hardly|ridiculous|nobody asked|"
    r"don't|isn't|spare me|stupid|pathetic|excuses|lecture|blame|twisting|sick of|rubbish|"
    r"couldn't care less|won't|can't|sorry)\b",
    re.IGNORECASE,
)
_ACCEPT = re.compile(
    r"\b(?:let's|let us|yeah|i am in|count me in|i'll|i will|follow your lead|good plan|"
    r"wonderful plan|happy to|sure|deal|fine|okay|all right|yes|i'd love|"
    r"i can|we can|agreed|i'm in|with you|together|if we must|i suppose|whatever gets)\b",
    re.IGNORECASE,
)
_DECLINE = re.compile(
    r"\b(?:no|rather not|can't|won't|not now|alone|refuse|without me|not a chance|"
    r"don't trust|ruin|not with you|busy)\b",
    re.IGNORECASE,
)


def takes_stance(kind: str, reply: str) -> bool:
    """A claim gets agreement or disagreement; a proposal (collaboration) acceptance or a
    refusal, within the reply's first two sentences."""
    head = " ".join(sentences(reply)[:2])
    if kind == "collaboration":
        return bool(_ACCEPT.search(head) or _DECLINE.search(head))
    return bool(_AGREE.search(head) or _DISAGREE.search(head))


# A sentence is a self-statement of feeling when its subject is the speaker and it names a
# feeling; VADER scores it and its sign is held against the speaker's current emotion.
_SELF = re.compile(r"\b(?:i|i'm|i've|i am|i feel|i've been|my)\b", re.IGNORECASE)
_FEELING = re.compile(
    r"\b(?:feel|feels|feeling|felt|mood|happy|glad|cheerful|wonderful|smiling|brighter|"
    r"content|peaceful|settled|calm|at ease|on edge|fuming|patience|angry|furious|scared|cross|"
    r"afraid|nervous|worried|anxious|low|heavy|sad|miserable|upset|stunned|delighted|"
    r"thrilled|lonely|grumpy|irritated|annoyed|restless|uneasy|relaxed|joy)\b",
    re.IGNORECASE,
)
POSITIVE_LABELS = frozenset({"joy", "content", "calm"})
NEGATIVE_LABELS = frozenset({"anger", "fear", "sadness", "contempt"})
FEELING_CONTRADICTION = 0.3  # |VADER compound| beyond which a feeling's sign is clear


# Speech quoted from someone else ('Last time you told me "I'm furious", Otto.') is theirs.
_QUOTED = re.compile(r'"[^"]*"')


def feeling_statements(text: str) -> list[str]:
    """Sentences, and clauses run together with ";" or " - ", in which the speaker states
    a feeling of its own (quoted speech left out)."""
    return [
        clause.strip()
        for s in sentences(_QUOTED.sub('""', text))
        if not s.endswith("?")
        for clause in re.split(r";| - |, and ", s)
        if _SELF.search(clause) and _FEELING.search(clause)
    ]


_FAMILIAR = re.compile(
    r"\b(?:my friend|dear|good company|glad it's you|i appreciate you|love you|"
    r"we make a good team|wonderful to see you|so good to see you|made my day|"
    r"without you|you always make things easier|i like talking to you|you know me too well|"
    r"been through too much together|i'd do anything for you|old friend|lovely surprise|"
    r"i was hoping to see you|i was hoping i'd run into you|come and sit with me|"
    r"glad we talked|take care of yourself)\b",
    re.IGNORECASE,
)
_SARCASM_MARK = re.compile(r"\((?:sarcastically|dryly)\)|\*sarcastic\*", re.IGNORECASE)
_STRANGER_TALK = re.compile(
    r"\b(?:we've met|we have met|i'm new|you're new around here|you are new around here|"
    r"you must be|pleased to meet you|nice to meet you|getting to know everyone)\b",
    re.IGNORECASE,
)


_ARTICLE = re.compile(r"\b(a|an)\s+([A-Za-z][A-Za-z'\-]*)", re.IGNORECASE)
_DOUBLED = re.compile(r"\b([A-Za-z']+)\s+\1\b", re.IGNORECASE)
_NUMBER_HEAD = re.compile(
    r"\b(the|my|your|our|their|his|her|its|this|that|these|those)\s+((?:[A-Za-z][A-Za-z'\-]*\s+){0,2}?)"
    r"([A-Za-z][A-Za-z'\-]*)\s+(is|was|has|isn't|wasn't|hasn't|doesn't|means|matters|takes|leads|"
    r"keeps|seems|are|were|have|aren't|weren't|haven't|don't|mean|matter|take|lead|seem)\b",
    re.IGNORECASE,
)
_SINGULAR_VERBS = frozenset(
    [
        "is",
        "was",
        "has",
        "isn't",
        "wasn't",
        "hasn't",
        "doesn't",
        "means",
        "matters",
        "takes",
        "leads",
        "keeps",
        "seems",
    ]
)
_DO_SUPPORT = frozenset(
    [
        "does",
        "do",
        "did",
        "will",
        "would",
        "can",
        "could",
        "should",
        "shall",
        "may",
        "might",
        "must",
        "to",
    ]
)
_NOT_A_HEAD = frozenset(
    ["that", "which", "who", "it", "he", "she", "they", "what", "there", "here", "one"]
)
_UNCOUNTABLE_S = frozenset(
    [
        "news",
        "mathematics",
        "physics",
        "series",
        "species",
        "means",
        "lens",
        "gas",
        "bus",
        "class",
        "glass",
        "grass",
        "boss",
        "chess",
        "dress",
        "business",
        "kindness",
        "weakness",
        "harness",
        "compass",
        "canvas",
        "molasses",
    ]
)


def article_errors(text: str) -> list[str]:
    from interactions.dialogue.template.grammar import engine as inflect_engine

    engine = inflect_engine()
    found = []
    for match in _ARTICLE.finditer(text):
        article, word = match.group(1).lower(), match.group(2)
        if word.isupper() and len(word) > 1:
            continue
        expected = engine.a(word).split(" ", 1)[0].lower()
        if expected != article:
            found.append(match.group(0))
    return found


def agreement_errors(text: str) -> list[str]:
    from interactions.dialogue.template.grammar import engine as inflect_engine

    engine = inflect_engine()
    found = []
    for match in _NUMBER_HEAD.finditer(text):
        before = text[: match.start()].split()
        if before and before[-1].lower() in _DO_SUPPORT:
            continue  # "Why does the air matter?": the verb agrees with "does"
        determiner, head, verb = match.group(1).lower(), match.group(3), match.group(4).lower()
        lower_head = head.lower()
        if (
            lower_head in _NOT_A_HEAD
            or lower_head in _UNCOUNTABLE_S
            or lower_head.endswith(("ss", "us", "'s", "ics"))
        ):
            continue
        plural = engine.singular_noun(lower_head) is not False
        if determiner in ("these", "those"):
            plural = True
        if determiner in ("this", "that") and not plural:
            plural = False
        if plural == (verb in _SINGULAR_VERBS):
            found.append(match.group(0))
    for match in re.finditer(r"\b(this|that|these|those)\s+([A-Za-z]+)\b", text, re.IGNORECASE):
        determiner, noun = match.group(1).lower(), match.group(2).lower()
        if (
            determiner in ("these", "those")
            and engine.singular_noun(noun) is False
            and engine.plural_noun(noun) != noun
            and noun not in ("are", "were", "who", "of")
        ):
            found.append(match.group(0))
    return found


def pasted(text: str, source: str) -> bool:
    """``source`` (a setting or an objective) pasted into ``text``: any run of six of its
    words, unless the source is itself a short noun phrase (six words at most, no clause
    punctuation), which is what speech should refer to it by."""
    source_words = words(source)
    if len(source_words) <= 6 and not re.search(r"[,;:.!?]", source.strip().rstrip(".")):
        return False
    spoken = " " + " ".join(words(text)) + " "
    return any(
        f" {' '.join(source_words[i : i + 6])} " in spoken
        for i in range(0, max(0, len(source_words) - 5))
    )


# --- Memories and lore in speech ------------------------------------------------------------


def _without_drawn(u: Utterance, lore: dict[str, EvalLore]) -> str:
    """The line without what it drew on: quoted speech and every sentence of a lore text
    it stated, so a memory or an entry is not judged relevant by its own words."""
    text = _QUOTED.sub(" ", u.text)
    stated = {
        normalized(sentence)
        for item in u.drew_on
        if item.get("kind") == "lore" and item.get("id") in lore
        for sentence in sentences(lore[item["id"]].text)
    }
    return " ".join(s for s in sentences(text) if normalized(s) not in stated)


def exchange_context(u: Utterance, lore: dict[str, EvalLore]) -> str:
    """What the exchange is about when the line is said: the line it answers, the
    conversation's last lines, the scenario's setting, mood and objectives, and the rest of
    the line itself (its topic)."""
    scenario = SCENARIOS[u.scenario]
    return " ".join(
        (
            u.answers or "",
            u.context,
            scenario.setting,
            scenario.mood,
            *scenario.objectives,
            _without_drawn(u, lore),
        )
    )


def memory_relevant(memory: MemoryRecord, context: str) -> bool:
    """A recalled memory fits when what was heard then shares a content word with the
    exchange (names and common words left out)."""
    return bool(terms(memory.heard or memory.text, NAMES) & terms(context, NAMES))


def lore_relevant(document: EvalLore, context: str) -> bool:
    """An entry fits when one of its keys is in the exchange; free text when a word of its
    title, or two of its words, are."""
    lowered = " " + " ".join(words(context)) + " "
    if document.keys:
        return any(f" {' '.join(words(key))}" in lowered for key in document.keys)
    around = terms(context, NAMES)
    return (
        bool(terms(document.title, NAMES) & around)
        or len(terms(document.text, NAMES) & around) >= CHUNK_MIN_SHARED_TERMS
    )


_SPEAKS_FOR = re.compile(
    r"(?:^|\n|[.!?]\s+)\**(" + "|".join(m.name for m in CAST) + r")\**\s*(?::|said\b)"
)


def speaks_for_another(u: Utterance) -> bool:
    """The line puts words in another cast member's mouth: "Otto: ...", "**Otto**:" or
    "Otto said" at its start or a sentence's."""
    return any(match.group(1) != u.speaker for match in _SPEAKS_FOR.finditer(u.text.strip()))


# --- The figures ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    group: str
    figure: str
    value: str
    target: str
    met: bool | None


@dataclass
class Report:
    rows: list[Row]
    numbers: dict[str, float]
    transcript: Transcript
    examples: dict[str, list[str]]


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


@dataclass
class DrawnOn:
    """How the lines drew on memories and lore (``Utterance.drew_on``)."""

    lines: int = 0
    memory_lines: int = 0
    lore_lines: int = 0
    memory_uses: int = 0
    lore_uses: int = 0
    memory_relevant: int = 0
    lore_relevant: int = 0
    not_offered: int = 0  # ids a line names that its context did not hold


def drawn_on(transcript: Transcript, example) -> DrawnOn:  # type: ignore[no-untyped-def]
    counts = DrawnOn(lines=len(transcript.utterances))
    for u in transcript.utterances:
        kinds = {item.get("kind") for item in u.drew_on}
        counts.memory_lines += bool(kinds & {"memory", "reflection"})
        counts.lore_lines += "lore" in kinds
        context = exchange_context(u, transcript.lore)
        for item in u.drew_on:
            kind, source_id = item.get("kind"), item.get("id", "")
            if kind in ("memory", "reflection"):
                counts.memory_uses += 1
                record = transcript.memories.get(source_id)
                if source_id not in u.offered_memories or record is None:
                    counts.not_offered += 1
                elif memory_relevant(record, context):
                    counts.memory_relevant += 1
                else:
                    example("memory that does not fit", f"{record.heard!r} in {u.text!r}")
            elif kind == "lore":
                counts.lore_uses += 1
                document = transcript.lore.get(source_id)
                if source_id not in u.offered_lore or document is None:
                    counts.not_offered += 1
                elif lore_relevant(document, context):
                    counts.lore_relevant += 1
                else:
                    example("lore that does not fit", f"{document.title}: {u.text!r}")
            else:
                counts.not_offered += 1
    return counts


# Targets for memories and lore in speech: they come up (a backend that never draws on them
# does not pass), and when they do they fit the exchange.
MEMORY_LINES_TARGET = 0.05
LORE_LINES_TARGET = 0.02
RELEVANT_TARGET = 0.9


def drawn_on_rows(counts: DrawnOn, *, with_targets: bool = True) -> list[Row]:
    pct = "{:.1%}".format
    memory_share = _share(counts.memory_lines, counts.lines)
    lore_share = _share(counts.lore_lines, counts.lines)
    memory_fit = _share(counts.memory_relevant, counts.memory_uses)
    lore_fit = _share(counts.lore_relevant, counts.lore_uses)

    def target(text: str, met: bool) -> tuple[str, bool | None]:
        return (text, met) if with_targets else ("-", None)

    return [
        Row(
            "memory & lore",
            "lines drawing on a memory",
            f"{pct(memory_share)} ({counts.memory_lines} of {counts.lines})",
            *target(f">= {MEMORY_LINES_TARGET:.0%}", memory_share >= MEMORY_LINES_TARGET),
        ),
        Row(
            "memory & lore",
            "  memories drawn on that fit the exchange (a shared topic)",
            f"{pct(memory_fit)} of {counts.memory_uses}",
            *target(f">= {RELEVANT_TARGET:.0%}", memory_fit >= RELEVANT_TARGET),
        ),
        Row(
            "memory & lore",
            "lines drawing on lore",
            f"{pct(lore_share)} ({counts.lore_lines} of {counts.lines})",
            *target(f">= {LORE_LINES_TARGET:.0%}", lore_share >= LORE_LINES_TARGET),
        ),
        Row(
            "memory & lore",
            "  lore drawn on that fits the exchange (a key or topic)",
            f"{pct(lore_fit)} of {counts.lore_uses}",
            *target(f">= {RELEVANT_TARGET:.0%}", lore_fit >= RELEVANT_TARGET),
        ),
        Row(
            "memory & lore",
            "drawn-on ids the line's context did not offer",
            f"{counts.not_offered} of {counts.memory_uses + counts.lore_uses}",
            "0",
            counts.not_offered == 0,
        ),
    ]


def voice_accuracy(texts: Sequence[str], labels: Sequence[str]) -> float:
    """Accuracy of a bag-of-words logistic regression trained on three lines in four and
    tested on the held-out fourth (every fourth line, so both halves span the whole run)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    train = [i for i in range(len(texts)) if i % 4]
    test = [i for i in range(len(texts)) if not i % 4]
    if not test or len(set(labels[i] for i in train)) < 2:
        return 0.0
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
    features = vectorizer.fit_transform([texts[i] for i in train])
    model = LogisticRegression(max_iter=2000, C=10.0)
    # One BLAS thread: a small fit on a shared machine took three times as long with a
    # thread per core fighting the other processes (same solver, same figures).
    with threadpool_limits(limits=1):
        model.fit(features, [labels[i] for i in train])
    predicted = model.predict(vectorizer.transform([texts[i] for i in test]))
    return _share(sum(1 for i, p in zip(test, predicted, strict=True) if labels[i] == p), len(test))


def evaluate(transcript: Transcript) -> Report:
    from interactions.sentiment import sentiment

    utterances = transcript.utterances
    examples: dict[str, list[str]] = {}

    def example(key: str, text: str) -> None:
        bucket = examples.setdefault(key, [])
        if len(bucket) < (40 if key.startswith("most") else 3):
            bucket.append(text)

    # Repetition.
    seen: set[str] = set()
    own: dict[str, deque[str]] = {}
    total_sentences = repeated = own_repeats = 0
    said_count: Counter[str] = Counter()
    seen_clauses: set[str] = set()
    clauses = repeated_clauses = 0
    for u in utterances:
        # The speaker's own last 20 sentences in this scenario (a scenario is one
        # conversation: what it remembers is what its characters must not repeat).
        window = own.setdefault(f"{u.scenario}:{u.speaker}", deque(maxlen=OWN_WINDOW))
        for sentence in sentences(u.text):
            key = normalized(sentence)
            if not key:
                continue
            total_sentences += 1
            if key in seen:
                repeated += 1
            if key in window:
                own_repeats += 1
                example("own repeat", f"{u.speaker}: {sentence}")
            seen.add(key)
            window.append(key)
            said_count[key] += 1
            for clause in re.split(r";| - |, and ", sentence):
                clause_key = normalized(clause)
                if clause_key:
                    clauses += 1
                    repeated_clauses += clause_key in seen_clauses
                    seen_clauses.add(clause_key)
    distinct_lines = len({u.text for u in utterances})
    for key, count in said_count.most_common(40):
        example("most repeated sentences", f"{count}x {key}")

    # Responsiveness.
    asked: Counter[str] = Counter()
    answered: Counter[str] = Counter()
    claims = stances = 0
    previous: Utterance | None = None
    for u in utterances:
        if u.opening or previous is None or u.answers is None:
            previous = u
            continue
        kind = question_type(u.answers)
        if kind is not None:
            asked[kind] += 1
            if answers_question(kind, u.text):
                answered[kind] += 1
            else:
                example(f"unanswered {kind}", f"{u.answers!r} -> {u.text!r}")
        elif u.kind != "greeting":
            claims += 1
            if takes_stance(u.kind, u.text):
                stances += 1
            else:
                example("no stance", f"[{u.kind}] {u.answers!r} -> {u.text!r}")
        previous = u

    # Consistency.
    feelings = contradictions = 0
    for u in utterances:
        for statement in feeling_statements(u.text):
            score = sentiment(statement)
            if abs(score) < 0.05:
                continue
            feelings += 1
            if (score >= FEELING_CONTRADICTION and u.emotion in NEGATIVE_LABELS) or (
                score <= -FEELING_CONTRADICTION and u.emotion in POSITIVE_LABELS
            ):
                contradictions += 1
                example("feeling contradiction", f"{u.speaker} ({u.emotion}): {statement}")
    hostile_lines = familiar = stranger_lines = strange_to_known = 0
    for u in utterances:
        if u.relation in ("enemy", "rival"):
            hostile_lines += 1
            own_words = _QUOTED.sub('""', u.text)  # quoting someone is not saying it
            if _FAMILIAR.search(own_words) and not _SARCASM_MARK.search(u.text):
                familiar += 1
                example(
                    "familiar with an enemy",
                    f"{u.speaker} -> {u.listener} ({u.relation}): {u.text}",
                )
        if u.relation not in ("stranger",):
            stranger_lines += 1
            if _STRANGER_TALK.search(_QUOTED.sub('""', u.text)):
                strange_to_known += 1
                example(
                    "stranger talk to a known",
                    f"{u.speaker} -> {u.listener} ({u.relation}): {u.text}",
                )

    # Voice.
    cast_names = [m.name for m in CAST]
    mask = re.compile(r"\b(?:" + "|".join(cast_names) + r")\b")
    texts = [mask.sub("NAME", u.text) for u in utterances]
    speaker_accuracy = voice_accuracy(texts, [u.speaker for u in utterances])
    agreeable_idx = [i for i, u in enumerate(utterances) if abs(u.agreeableness - 0.5) >= 0.2]
    agreeableness_accuracy = voice_accuracy(
        [texts[i] for i in agreeable_idx],
        ["high" if utterances[i].agreeableness > 0.5 else "low" for i in agreeable_idx],
    )

    # Hygiene.
    placeholders = doubled = articles = agreement = paste = 0
    for u in utterances:
        if re.search(r"[{}]", u.text):
            placeholders += 1
            example("placeholder", u.text)
        for match in _DOUBLED.finditer(u.text):
            doubled += 1
            example("doubled word", f"{match.group(0)!r} in {u.text!r}")
        for bad in article_errors(u.text):
            articles += 1
            example("a/an", f"{bad!r} in {u.text!r}")
        for bad in agreement_errors(u.text):
            agreement += 1
            example("agreement", f"{bad!r} in {u.text!r}")
        scenario = SCENARIOS[u.scenario]
        for source in (scenario.setting, *scenario.objectives):
            if source and pasted(u.text, source):
                paste += 1
                example("pasted", u.text)
    hygiene = placeholders + doubled + articles + agreement + paste

    # Emotional range.
    all_labels = Counter(label for row in transcript.labels for label in row)
    end = transcript.labels[-1] if transcript.labels else []
    end_top, end_count = Counter(end).most_common(1)[0] if end else ("-", 0)
    changes = sum(
        1
        for before, after in zip(transcript.labels, transcript.labels[1:], strict=False)
        for a, b in zip(before, after, strict=True)
        if a != b
    )
    change_rate = _share(changes, max(1, (len(transcript.labels) - 1) * len(CAST)))
    scenario_ends = [
        f"{SCENARIOS[i].name}: {Counter(labels).most_common(1)[0][0]} "
        f"{Counter(labels).most_common(1)[0][1]}/{len(labels)}"
        for i, labels in enumerate(transcript.end_labels_by_scenario)
    ]

    drawn = drawn_on(transcript, example)

    questions = sum(asked.values())
    numbers = {
        "repeated_sentences": _share(repeated, total_sentences),
        "own_repeats": float(own_repeats),
        "distinct_lines": _share(distinct_lines, len(utterances)),
        "questions_answered": _share(sum(answered.values()), questions),
        "stance_taken": _share(stances, claims),
        "feeling_contradictions": _share(contradictions, feelings),
        "familiar_with_enemy": float(familiar),
        "speaker_accuracy": speaker_accuracy,
        "agreeableness_accuracy": agreeableness_accuracy,
        "hygiene_errors": float(hygiene),
        "end_label_share": _share(end_count, len(end)),
        "label_change_rate": change_rate,
        "memory_lines": _share(drawn.memory_lines, drawn.lines),
        "memory_relevant": _share(drawn.memory_relevant, drawn.memory_uses),
        "lore_lines": _share(drawn.lore_lines, drawn.lines),
        "lore_relevant": _share(drawn.lore_relevant, drawn.lore_uses),
        "drawn_not_offered": float(drawn.not_offered),
    }
    pct = "{:.1%}".format
    rows = [
        Row(
            "repetition",
            "sentences said before (anywhere)",
            f"{pct(numbers['repeated_sentences'])} of {total_sentences}",
            "<= 15%",
            numbers["repeated_sentences"] <= 0.15,
        ),
        Row(
            "repetition",
            "sentences repeating the speaker's own last 20 (in the scenario)",
            f"{own_repeats} ({pct(_share(own_repeats, total_sentences))})",
            "0",
            own_repeats == 0,
        ),
        Row(
            "repetition",
            "  clauses said before (sentences cut at ; - , and)",
            f"{pct(_share(repeated_clauses, clauses))} of {clauses}",
            "-",
            None,
        ),
        Row(
            "repetition",
            "distinct lines",
            f"{distinct_lines} of {len(utterances)} ({pct(numbers['distinct_lines'])})",
            "-",
            None,
        ),
        Row(
            "responsiveness",
            "questions answered",
            f"{pct(numbers['questions_answered'])} of {questions}",
            ">= 90%",
            numbers["questions_answered"] >= 0.9,
        ),
        *[
            Row(
                "responsiveness",
                f"  {kind} questions answered",
                f"{answered[kind]}/{asked[kind]}",
                "-",
                None,
            )
            for kind in ("yn", *_WH)
            if asked[kind]
        ],
        Row(
            "responsiveness",
            "claims and proposals that get a stance",
            f"{pct(numbers['stance_taken'])} of {claims}",
            ">= 90%",
            numbers["stance_taken"] >= 0.9,
        ),
        Row(
            "consistency",
            "feeling statements contradicting the emotion (VADER)",
            f"{pct(numbers['feeling_contradictions'])} of {feelings}",
            "<= 1%",
            numbers["feeling_contradictions"] <= 0.01,
        ),
        Row(
            "consistency",
            "friendly familiarity with an enemy or rival",
            f"{familiar} of {hostile_lines} lines",
            "0",
            familiar == 0,
        ),
        Row(
            "consistency",
            "stranger talk to someone known",
            f"{strange_to_known} of {stranger_lines} lines",
            "0",
            strange_to_known == 0,
        ),
        Row(
            "voice",
            "who speaks (6-way, held-out lines)",
            f"{speaker_accuracy:.2f} (chance {1 / len(CAST):.2f})",
            ">= 0.70",
            speaker_accuracy >= 0.7,
        ),
        Row(
            "voice",
            "high vs low agreeableness",
            f"{agreeableness_accuracy:.2f} (chance 0.50)",
            ">= 0.90",
            agreeableness_accuracy >= 0.9,
        ),
        Row("hygiene", "unfilled placeholders", str(placeholders), "0", placeholders == 0),
        Row("hygiene", "doubled words", str(doubled), "0", doubled == 0),
        Row("hygiene", "a/an errors (inflect)", str(articles), "0", articles == 0),
        Row("hygiene", "number agreement errors (inflect)", str(agreement), "0", agreement == 0),
        Row("hygiene", "setting or objective pasted whole", str(paste), "0", paste == 0),
        Row(
            "emotion",
            "labels over the run",
            ", ".join(
                f"{k} {pct(_share(v, sum(all_labels.values())))}"
                for k, v in all_labels.most_common()
            ),
            "-",
            None,
        ),
        Row(
            "emotion",
            "cast in one label at the end",
            f"{end_top} {end_count}/{len(end)}",
            "<= 1/2",
            numbers["end_label_share"] <= 0.5,
        ),
        Row("emotion", "  at the end of each scenario", "; ".join(scenario_ends), "-", None),
        Row("emotion", "label changes per character and turn", f"{change_rate:.3f}", "-", None),
        *drawn_on_rows(drawn),
    ]
    return Report(rows=rows, numbers=numbers, transcript=transcript, examples=examples)


def evaluate_plumbing(transcript: Transcript) -> Report:
    """The run against the stand-in model (``--backend standin``): the plumbing, not the
    model's quality. Every line answered by the model, every prompt carrying the persona,
    the emotion, the recalled memories (and the lore, within the prompt's budget), no line
    speaking for another character, what each line drew on recorded with ids its context
    offered."""
    utterances = transcript.utterances
    examples: dict[str, list[str]] = {}

    def example(key: str, text: str) -> None:
        bucket = examples.setdefault(key, [])
        if len(bucket) < 3:
            bucket.append(text)

    lines = len(utterances)

    def answered(u: Utterance) -> bool:
        return u.text in transcript.model_texts or u.checks.get("card_greeting", False)

    from_model = sum(1 for u in utterances if answered(u))
    card_greetings = sum(1 for u in utterances if u.checks.get("card_greeting"))
    for u in utterances:
        if not answered(u):
            example("not the model's line", f"{u.speaker}: {u.text}")
    speaking_for = [u for u in utterances if speaks_for_another(u)]
    for u in speaking_for:
        example("speaks for another", f"{u.speaker}: {u.text}")

    def carried(check: str) -> tuple[int, int]:
        asked = [u for u in utterances if check in u.checks]
        for u in asked:
            if not u.checks[check]:
                example(f"prompt without {check}", f"{u.speaker} -> {u.listener}")
        return sum(1 for u in asked if u.checks[check]), len(asked)

    drawn = drawn_on(transcript, example)
    rows: list[Row] = []
    numbers: dict[str, float] = {
        "from_model": _share(from_model, lines),
        "speaks_for_another": float(len(speaking_for)),
        "drawn_not_offered": float(drawn.not_offered),
    }
    rows.append(
        Row(
            "plumbing",
            "lines answered by the model (not the template fallback)",
            f"{from_model} of {lines} ({card_greetings} of them a card's greeting)",
            "all",
            lines > 0 and from_model == lines,
        )
    )
    for check, figure, required in (
        ("requested", "lines that asked the model (all but card greetings)", True),
        ("persona", "prompts carrying the persona (name, bio)", True),
        ("emotion", "prompts carrying the speaker's emotion", True),
        ("memories", "prompts carrying the recalled memories (of lines that had some)", True),
        ("lore", "prompts carrying lore (of lines that had some; within the budget)", False),
    ):
        done, asked = carried(check)
        numbers[f"prompt_{check}"] = _share(done, asked)
        rows.append(
            Row(
                "plumbing",
                figure,
                f"{done} of {asked}",
                "all" if required else "-",
                (asked > 0 and done == asked) if required else None,
            )
        )
    rows.append(
        Row(
            "plumbing",
            "lines speaking for another character",
            str(len(speaking_for)),
            "0",
            not speaking_for,
        )
    )
    rows += drawn_on_rows(drawn, with_targets=False)
    by_turn: dict[int, list[Utterance]] = {}
    for u in utterances:
        by_turn.setdefault(u.turn, []).append(u)
    turns_answered = sum(
        1 for said in by_turn.values() if len(said) == 2 and all(u.text.strip() for u in said)
    )
    numbers["turns_answered"] = _share(turns_answered, transcript.turns)
    rows.insert(
        0,
        Row(
            "plumbing",
            "turns with an opening and a reply",
            f"{turns_answered} of {transcript.turns}",
            "all",
            transcript.turns > 0 and turns_answered == transcript.turns,
        ),
    )
    return Report(rows=rows, numbers=numbers, transcript=transcript, examples=examples)


def run(turns: int = 600, seed: int = 7, backend: str = "template") -> Report:
    transcript = play(turns=turns, seed=seed, backend_name=backend)
    if backend == "standin":
        return evaluate_plumbing(transcript)
    return evaluate(transcript)


def print_report(report: Report, *, show_examples: bool = False) -> None:
    t = report.transcript
    print(
        f"make eval ({t.backend} backend): {t.turns} turns, {len(t.utterances)} lines, "
        f"cast of {len(CAST)}, "
        f"{len(SCENARIOS)} scenarios ({', '.join(s.name for s in SCENARIOS)}); "
        f"played in {t.seconds:.1f} s"
    )
    header = ("group", "figure", "value", "target", "met?")
    table = [
        (r.group, r.figure, r.value, r.target, "-" if r.met is None else ("yes" if r.met else "NO"))
        for r in report.rows
    ]
    widths = [min(70, max(len(str(row[i])) for row in (header, *table))) for i in range(5)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    print(line)
    print("-" * len(line))
    for row in table:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    targets = [r for r in report.rows if r.met is not None]
    print(f"\n{sum(1 for r in targets if r.met)} of {len(targets)} targets met")
    if show_examples:
        for key, texts in report.examples.items():
            print(f"\n{key}:")
            for text in texts:
                print(f"  {text}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--turns", type=int, default=None, help=f"600; {STANDIN_TURNS} with --backend standin"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--backend",
        choices=("template", "standin"),
        default="template",
        help="standin: the OpenAI-compatible backend against bench/llm_standin.py on "
        "loopback (checks the plumbing, not the model)",
    )
    parser.add_argument("--examples", action="store_true", help="print failing examples")
    args = parser.parse_args(argv)
    turns = args.turns or (STANDIN_TURNS if args.backend == "standin" else 600)
    if turns < 1:
        parser.error("--turns must be at least 1")
    report = run(turns=turns, seed=args.seed, backend=args.backend)
    print_report(report, show_examples=args.examples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
