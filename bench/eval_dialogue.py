"""Believability of the default voice (issue #15): a seeded evaluation that prints one table.

    .venv/bin/python -m bench.eval_dialogue [--turns 600] [--seed 7]      (or: make eval)

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
relationship exactly as ``interactions.services._exchange_effects`` does. Same inputs, same
table, in any process; about two seconds for 600 turns.

What it measures (one row per figure, the target beside it): repetition, responsiveness,
consistency, voice (two scikit-learn bag-of-words classifiers on held-out lines), text
hygiene (with ``inflect`` for articles and agreement) and emotional range. The rules of
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
from functools import lru_cache

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


@dataclass
class Transcript:
    utterances: list[Utterance] = field(default_factory=list)
    labels: list[list[str]] = field(default_factory=list)  # cast labels after each turn
    end_labels_by_scenario: list[list[str]] = field(default_factory=list)
    turns: int = 0
    seconds: float = 0.0


def play(turns: int = 600, seed: int = 7) -> Transcript:
    """Play the scenarios for ``turns`` turns in all and return what was said."""
    from characters import emotion, energy
    from characters.personality import BigFive, compatibility
    from interactions.dialogue.base import DialogueContext, Speaker
    from interactions.dialogue.template import TemplateBackend
    from interactions.sentiment import sentiment
    from relationships.dynamics import (
        RelationshipState,
        apply_delta,
        relationship_delta,
        relationship_label_of,
    )
    from scenarios import director

    started = time.perf_counter()
    backend = TemplateBackend()
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
    transcript = Transcript()

    def advance(seconds: float) -> None:
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
        )

    def regard_of(a: str, b: str) -> RelationshipState:
        return director.relationship_between(regard, ids[a], ids[b])

    def context(
        speaker: str,
        listener: str,
        utterance: str | None,
        situation: tuple[str, EvalScenario, tuple[tuple[str, str], ...], int],
    ) -> DialogueContext:
        kind, scenario, recent, seed = situation
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
        )

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

            situation = (plan.interaction_type, scenario, recent, turn_seed)
            opening_ctx = context(first, second, None, situation)
            content = backend.opening(opening_ctx)
            reply_ctx = context(second, first, content, situation)
            response = backend.reply(reply_ctx)
            for ctx, text, is_opening, answers in (
                (opening_ctx, content, True, None),
                (reply_ctx, response, False, content),
            ):
                transcript.utterances.append(
                    Utterance(
                        scenario=index,
                        turn=turn_total + played,
                        speaker=ctx.speaker.name,
                        listener=ctx.listener.name,
                        kind=plan.interaction_type,
                        opening=is_opening,
                        text=text,
                        answers=answers,
                        emotion=emotion.label(ctx.speaker.emotion),
                        pleasure=ctx.speaker.emotion.pleasure,
                        relation=relationship_label_of(ctx.relationship),
                        agreeableness=ctx.speaker.personality.agreeableness,
                    )
                )
            past.append(((first, content), (second, response)))
            # What the engine's apply step does (interactions.services._exchange_effects).
            content_sentiment, response_sentiment = sentiment(content), sentiment(response)
            compat = compatibility(personality[first], personality[second])
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
            recent_speakers += [plan.initiator_id, plan.target_id]
            transcript.labels.append([emotion.label(mood_state[name]) for name in personality])
            transcript.turns += 1
        turn_total += scenario_turns
        transcript.end_labels_by_scenario.append(
            [emotion.label(mood_state[name]) for name in personality]
        )
        advance(SCENARIO_GAP_SECONDS)
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


def feeling_statements(text: str) -> list[str]:
    """Sentences, and clauses run together with ";" or " - ", in which the speaker states
    a feeling of its own."""
    return [
        clause.strip()
        for s in sentences(text)
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


@lru_cache(maxsize=1)
def _inflect_engine():  # type: ignore[no-untyped-def]
    import inflect

    return inflect.engine()


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
    engine = _inflect_engine()
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
    engine = _inflect_engine()
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


def voice_accuracy(texts: Sequence[str], labels: Sequence[str]) -> float:
    """Accuracy of a bag-of-words logistic regression trained on three lines in four and
    tested on the held-out fourth (every fourth line, so both halves span the whole run)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    train = [i for i in range(len(texts)) if i % 4]
    test = [i for i in range(len(texts)) if not i % 4]
    if not test or len(set(labels[i] for i in train)) < 2:
        return 0.0
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
    features = vectorizer.fit_transform([texts[i] for i in train])
    model = LogisticRegression(max_iter=2000, C=10.0)
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
            if _FAMILIAR.search(u.text) and not _SARCASM_MARK.search(u.text):
                familiar += 1
                example(
                    "familiar with an enemy",
                    f"{u.speaker} -> {u.listener} ({u.relation}): {u.text}",
                )
        if u.relation not in ("stranger",):
            stranger_lines += 1
            if _STRANGER_TALK.search(u.text):
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
    ]
    return Report(rows=rows, numbers=numbers, transcript=transcript, examples=examples)


def run(turns: int = 600, seed: int = 7) -> Report:
    return evaluate(play(turns=turns, seed=seed))


def print_report(report: Report, *, show_examples: bool = False) -> None:
    t = report.transcript
    print(
        f"make eval: {t.turns} turns, {len(t.utterances)} lines, cast of {len(CAST)}, "
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
    parser.add_argument("--turns", type=int, default=600)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--examples", action="store_true", help="print failing examples")
    args = parser.parse_args(argv)
    report = run(turns=args.turns, seed=args.seed)
    print_report(report, show_examples=args.examples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
