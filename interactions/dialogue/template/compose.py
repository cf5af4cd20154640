"""Assembling a line slot by slot: core sentence, decoration, extra remarks, closer, register.

Every choice is drawn from a ``random.Random`` seeded from the context, and the pools are
read in file order, so the same context and the same phrase files always give the same line.
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from characters.personality import TRAIT_HIGH, TRAIT_LOW
from interactions.dialogue.base import DialogueContext
from interactions.dialogue.template.analysis import (
    IMPERATIVE_WORDS,
    INTERJECTION_WORDS,
    mood_phrase,
    objective_forms,
    question_kind,
    setting_phrase,
    setting_things,
    topic,
)
from interactions.dialogue.template.card import speaker_greetings, speaker_things, spoken_greeting
from interactions.dialogue.template.grammar import agree, articles
from interactions.dialogue.template.phrases import Phrase, Phrases, Pool, default_phrases
from interactions.dialogue.template.register import (
    casualize,
    formalize,
    lower_first,
    upper_first,
)
from interactions.dialogue.template.voice import (
    CASUAL_CONSCIENTIOUSNESS,
    COLD,
    FORMAL_CONSCIENTIOUSNESS,
    HOSTILE,
    LOW_ENERGY,
    WARM,
    YES_LEANING,
    Voice,
    deflect_probability,
    extras_count,
    hedge_probability,
    vocative_probability,
    voice_of,
)


def seeded_rng(ctx: DialogueContext, purpose: str) -> random.Random:
    # crc32, not hash(): str hashes are salted per process, and a scenario replayed in
    # another worker must say the same words.
    key = "\x1f".join(
        (
            purpose,
            str(ctx.seed),
            ctx.speaker.id,
            ctx.listener.id,
            ctx.interaction_type,
            ctx.utterance or "",
        )
    )
    return random.Random(zlib.crc32(key.encode("utf-8")))


def join_prefix(prefix: str, sentence: str, names: frozenset[str]) -> str:
    """``prefix`` in front of ``sentence``: "Well," runs on ("Well, you ..."), "Ugh." not."""
    if not prefix:
        return sentence
    if not prefix.endswith((".", "!", "?")):
        sentence = lower_first(sentence, names)
    return f"{prefix} {sentence}"


_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+")
_NOT_WORD = re.compile(r"[^a-z' ]+")


@lru_cache(maxsize=65536)
def sentence_key(sentence: str) -> str:
    """A sentence as compared for repetition: in one register, lower case, words only
    ("I cannot" and "I can't" are the same sentence)."""
    return " ".join(_NOT_WORD.sub(" ", formalize(casualize(sentence)).lower()).split())


def said_by(ctx: DialogueContext) -> frozenset[str]:
    """The sentences the speaker said in the conversation so far (``ctx.recent``): the
    conversation state that keeps a speaker from repeating its own lines."""
    return _said_in(ctx.speaker.name, ctx.recent)


@lru_cache(maxsize=256)
def _said_in(speaker: str, recent: tuple[tuple[str, str], ...]) -> frozenset[str]:
    """``said_by``, once per line written: its composer and the memory recall both ask, and
    a scenario's conversation is its last hundred exchanges (~4% of a scenario worker's
    time when each asked again, py-spy)."""
    said: set[str] = set()
    for name, text in recent:
        if name == speaker:
            said |= line_keys(text)
    return frozenset(said)


@lru_cache(maxsize=65536)
def line_keys(text: str) -> frozenset[str]:
    """The keys of a line's sentences, each also without its last ", ..." (a habit or a
    hedge tag), so a sentence said with a tag is not said again without it or with another."""
    keys: set[str] = set()
    for sentence in _SENTENCE_SPLIT.split(text):
        keys.add(sentence_key(sentence))
        for clause in _CLAUSE_SPLIT.split(sentence):
            keys.add(sentence_key(clause))
            head, comma, _tail = clause.rpartition(", ")
            if comma and len(head.split()) >= 3:
                keys.add(sentence_key(head))
    return frozenset(keys)


# Where run_together joins two statements: each half counts as said.
_CLAUSE_SPLIT = re.compile(r"; | - |, and ")


class Line:
    """Slots filled into templates, the sentences said so far, and what the speaker said
    before (never said again while it is in the recent conversation)."""

    __slots__ = ("feeling", "last_hedgeable", "names", "said", "sentences", "slots")

    def __init__(
        self,
        slots: dict[str, str],
        names: frozenset[str],
        said: frozenset[str] = frozenset(),
        emotion: str = "neutral",
    ) -> None:
        self.slots = slots
        self.sentences: list[str] = []
        self.names = names
        self.last_hedgeable = False
        self.said = said
        # Feeling words the speaker's emotion rules out: no "I'm so glad" when angry.
        self.feeling = (
            POSITIVE_FEELING_WORDS
            if emotion in NEGATIVE_EMOTIONS
            else NEGATIVE_FEELING_WORDS
            if emotion in POSITIVE_EMOTIONS
            else None
        )

    def fill(self, phrase: Phrase) -> str:
        return agree(phrase.text, self.slots).format_map(self.slots)

    def add(self, phrase: Phrase) -> None:
        self.sentences.append(self.fill(phrase))
        self.last_hedgeable = phrase.hedgeable

    def fresh(self, text: str) -> bool:
        """Neither said recently by the speaker nor already in this line, sentence by
        sentence, and no feeling the speaker's emotion rules out."""
        for key in line_keys(text):
            if key in self.said or any(key in line_keys(s) for s in self.sentences):
                return False
            if self.feeling is not None and not self.feeling.isdisjoint(key.split()):
                return False
        return True

    def choose(self, rng: random.Random, phrases: Sequence[Phrase]) -> Phrase:
        """A seeded choice among ``phrases``, skipping what the speaker said recently or
        already in this line (the first in seeded order when all of them were said)."""
        first = rng.randrange(len(phrases))
        return self._fresh_from(phrases, first) or phrases[first]

    def _fresh_from(self, phrases: Sequence[Phrase], first: int) -> Phrase | None:
        for offset in range(len(phrases)):
            phrase = phrases[(first + offset) % len(phrases)]
            if self.fresh(self.fill(phrase)):
                return phrase
        return None

    def pick(self, rng: random.Random, pool: Pool, topical: bool) -> Phrase:
        """From ``pool``: a phrase on the topic three times in four when there is one;
        the rest of the pool when every phrase on the topic was said recently."""
        candidates = pool.all if topical else pool.generic
        first = rng.randrange(len(candidates))
        if topical and pool.topical and rng.random() < TOPICAL_PREFERENCE:
            on_topic = self._fresh_from(pool.topical, first % len(pool.topical))
            if on_topic is not None:
                return on_topic
        return self._fresh_from(candidates, first) or candidates[first]


# The speaker never states a feeling that contradicts its emotion label.
POSITIVE_EMOTIONS = frozenset({"joy", "content", "calm", "surprise"})
NEGATIVE_EMOTIONS = frozenset({"anger", "fear", "sadness", "contempt"})
POSITIVE_FEELING_WORDS = frozenset(
    [
        "glad",
        "happy",
        "wonderful",
        "delighted",
        "thrilled",
        "smiling",
        "cheerful",
        "cheers",
        "brighter",
        "content",
        "peaceful",
        "pleased",
        "relaxed",
        "calm",
        "enjoy",
        "love",
        "loved",
        "lovely",
    ]
)
NEGATIVE_FEELING_WORDS = frozenset(
    [
        "angry",
        "furious",
        "fuming",
        "annoyed",
        "irritated",
        "cross",
        "sad",
        "miserable",
        "low",
        "heavy",
        "scared",
        "afraid",
        "nervous",
        "worried",
        "anxious",
        "upset",
        "edge",
        "scorn",
        "disgusted",
        "unimpressed",
        "sick",
    ]
)

FEELING_WORDS = POSITIVE_FEELING_WORDS | NEGATIVE_FEELING_WORDS | {"feel", "feeling", "scared"}

# With a topic, most lines take it up rather than saying something generic.
TOPICAL_PREFERENCE = 0.75


def _slots(ctx: DialogueContext, topic_text: str | None, rng: random.Random) -> dict[str, str]:
    said_topic = topic_text or "that"
    things = speaker_things(ctx.speaker) or ("my work",)
    thing = rng.choice(things)
    places = setting_things(ctx.setting) if ctx.setting else ()
    place = rng.choice(places) if places else thing
    return {
        "thing": thing,
        "Thing": upper_first(thing),
        "place": place,
        "Place": upper_first(place),
        "name": ctx.listener.name,
        "me": ctx.speaker.name,
        "Me": ctx.speaker.name,
        "topic": said_topic,
        "Topic": upper_first(said_topic),
        "setting": setting_phrase(ctx.setting) or "",
        "Setting": upper_first(setting_phrase(ctx.setting) or ""),
        "objective": "",
        "mood": "",
        "Mood": "",
        "other": "",
        "Other": "",
    }


def _third_party(ctx: DialogueContext) -> str | None:
    for name, _text in reversed(ctx.recent):
        if name and name not in (ctx.speaker.name, ctx.listener.name):
            return name
    return None


_TRAIT_SIDES = (
    ("openness", "openness_high", "openness_low"),
    ("conscientiousness", "conscientiousness_high", "conscientiousness_low"),
    ("extraversion", "extraversion_high", "extraversion_low"),
    ("neuroticism", "neuroticism_high", "neuroticism_low"),
    ("agreeableness", "agreeableness_high", "agreeableness_low"),
)


def add_extras(
    phrases: Phrases,
    line: Line,
    ctx: DialogueContext,
    voice: Voice,
    rng: random.Random,
    count: int,
    *,
    objective_said: bool = False,
) -> None:
    """Add up to ``count`` remarks, each from a different source, weighted by relevance."""
    if count <= 0:
        return
    sources: list[tuple[float, Callable[[], Phrase | None]]] = []

    def emotion_remark() -> Phrase | None:
        pools = phrases.emotion_remarks
        return line.choose(rng, pools.get(voice.emotion, pools["neutral"]).all)

    def relation_remark() -> Phrase | None:
        pool = phrases.relation_remarks.get(voice.relation)
        return line.choose(rng, pool.all) if pool else None

    def trait_remark() -> Phrase | None:
        open_pools: list[Phrase] = []
        for trait, high, low in _TRAIT_SIDES:
            value = getattr(voice, trait)
            for key, applies in ((high, value >= TRAIT_HIGH), (low, value <= TRAIT_LOW)):
                pool = phrases.trait_remarks.get(key)
                if pool is not None and applies:
                    open_pools.extend(pool.all)
        return line.choose(rng, open_pools) if open_pools else None

    def bio_remark() -> Phrase | None:
        return line.choose(rng, phrases.bio_remarks[voice.stance].all)

    def setting_remark() -> Phrase | None:
        if setting_phrase(ctx.setting) is None:
            return None
        return line.pick(rng, phrases.setting_remarks[voice.stance], True)

    def objective_remark() -> Phrase | None:
        objective, is_verb_phrase = objective_forms(rng.choice(ctx.objectives))
        if not objective:
            return None
        line.slots["objective"] = objective
        pool = phrases.objective_remarks.all
        if is_verb_phrase:
            pool += phrases.objective_verb_remarks.all
        return line.choose(rng, pool)

    def mood_remark() -> Phrase | None:
        phrase = mood_phrase(ctx.mood)
        if phrase is None:
            return None
        line.slots["mood"] = phrase
        line.slots["Mood"] = upper_first(phrase)
        return line.choose(rng, phrases.mood_remarks.all)

    def recent_remark() -> Phrase | None:
        other = _third_party(ctx)
        if other is None:
            return None
        line.slots["other"] = line.slots["Other"] = other
        return line.choose(rng, phrases.recent_remarks.all)

    def tired_remark() -> Phrase | None:
        return line.choose(rng, phrases.tired_remarks.all)

    sources.append((1.0 + abs(voice.arousal), emotion_remark))
    sources.append((0.8, relation_remark))
    # A marked agreeableness shows in most lines (warmth is the trait listeners read first).
    marked = voice.agreeableness >= TRAIT_HIGH or voice.agreeableness <= TRAIT_LOW
    sources.append((2.5 if marked else 1.0, trait_remark))
    # What the character's life is made of (its bio) comes up most: it is what makes the
    # baker sound like a baker.
    sources.append((2.0, bio_remark))
    if ctx.setting:
        sources.append((0.7, setting_remark))
    if ctx.objectives and not objective_said:
        sources.append((2.5 if ctx.interaction_type == "collaboration" else 0.5, objective_remark))
    if ctx.mood:
        sources.append((0.4, mood_remark))
    if ctx.recent and ctx.interaction_type == "chat":
        sources.append((0.5, recent_remark))
    if voice.energy < LOW_ENERGY:
        sources.append((1.5, tired_remark))

    while count > 0 and sources:
        total = sum(weight for weight, _ in sources)
        pick = rng.random() * total
        chosen = len(sources) - 1
        for position, (weight, _source) in enumerate(sources):
            pick -= weight
            if pick <= 0:
                chosen = position
                break
        _weight, source = sources.pop(chosen)
        remark = source()
        if remark is not None and line.fresh(line.fill(remark)):
            line.add(remark)
            count -= 1


def decorate_core(
    phrases: Phrases,
    core: str,
    line: Line,
    voice: Voice,
    rng: random.Random,
    *,
    hedgeable: bool,
    prefixed: bool,
    conflict: bool,
    always_name: bool = False,
) -> str:
    """Hedge or interjection in front of the core sentence, and the listener's name."""
    first_word = core.split(" ", 1)[0].strip(",.!?").lower()
    opens_with_interjection = prefixed or first_word in INTERJECTION_WORDS
    plain_statement = (
        not opens_with_interjection
        and first_word not in IMPERATIVE_WORDS
        and core.endswith(".")
        and core.count(".") == 1
        and "?" not in core
        and len(core.split()) >= 4
    )
    decorated = False
    if hedgeable and plain_statement and rng.random() < hedge_probability(voice):
        core = f"{rng.choice(phrases.hedge_prefixes)} {lower_first(core, line.names)}"
        decorated = True
    elif not opens_with_interjection and rng.random() < 0.15 + 0.45 * voice.extraversion:
        if voice.extraversion < TRAIT_LOW:
            interjection = rng.choice(phrases.quiet_interjections)
        elif conflict and voice.stance == WARM:
            # In a conflict even a warm speaker does not say "Wow" or "Ha!".
            interjection = rng.choice(phrases.conflict_warm_interjections)
        else:
            interjection = rng.choice(phrases.interjections[voice.stance])
        core = join_prefix(interjection, core, line.names)
        decorated = True
    name = line.slots["name"]
    if name not in core and (always_name or rng.random() < vocative_probability(voice)):
        if decorated or opens_with_interjection or rng.random() < 0.5:
            # The name goes after the first clause: "Yes, absolutely, Tomas; ..."
            cut = min((core.find(mark) for mark in ".!?;" if core.find(mark) > 0), default=-1)
            if cut > 0 and not core.endswith(".."):
                core = f"{core[:cut]}, {name}{core[cut:]}"
        else:
            core = f"{name}, {lower_first(core, line.names)}"
    return core


# Only those who like each other exchange warm words at the end of a line.
FAMILIAR_RELATIONS = frozenset({"acquaintance", "friend", "close friend"})


def add_closer(
    phrases: Phrases,
    line: Line,
    voice: Voice,
    rng: random.Random,
    topical: bool,
    asked: bool,
) -> None:
    """Ask back (open speakers), thank (warm, agreeable ones) or tag a hedge on the end."""
    curiosity = 0.08 + 0.5 * voice.openness
    if voice.stance == HOSTILE:
        curiosity *= 0.5
    if not asked and rng.random() < curiosity:
        closer = line.pick(rng, phrases.ask_back[voice.stance], topical)
        if line.fresh(line.fill(closer)):
            line.add(closer)
        return
    if (
        voice.stance == WARM
        and voice.agreeableness > 0.6
        and voice.relation in FAMILIAR_RELATIONS
        and rng.random() < 0.3
    ):
        closer = line.choose(rng, phrases.warm_closers.all)
        if line.fresh(line.fill(closer)):
            line.add(closer)
        return
    last = line.sentences[-1]
    if line.last_hedgeable and last.endswith(".") and rng.random() < 0.6 * hedge_probability(voice):
        line.sentences[-1] = f"{last[:-1]}, {rng.choice(phrases.hedge_tags)}."


# Two statements in a row are often run together ("..., and ..."), as people talk: fewer,
# longer sentences, and a pair is far less likely to have been said before than either half.
JOIN_PROBABILITY = 0.8
JOINERS = ("; ", ", and ", "; ", " - ")


def run_together(sentences: list[str], names: frozenset[str], rng: random.Random) -> list[str]:
    """Adjacent statements (ending in ".") joined in pairs, seeded."""
    joined: list[str] = []
    was_joined = False
    for sentence in sentences:
        previous = joined[-1] if joined else ""
        if (
            not was_joined
            and previous.endswith(".")
            and not previous.endswith("..")
            and previous.count(".") == 1
            and previous.count(";") + previous.count(" - ") == 0
            and sentence.endswith((".", "!"))
            and rng.random() < JOIN_PROBABILITY
        ):
            joined[-1] = previous[:-1] + rng.choice(JOINERS) + lower_first(sentence, names)
            was_joined = True
        else:
            joined.append(sentence)
            was_joined = False
    return joined


# How often a line carries one of the speaker's verbal habits.
HABIT_PROBABILITY = 0.92
HABIT_AGREEABLENESS_SHARE = 0.85
# A word said twice in a row by splicing ("work on the tolls together together").
_DOUBLED_WORD = re.compile(r"\b([A-Za-z']+) \1\b", re.IGNORECASE)


def speaker_habits(phrases: Phrases, ctx: DialogueContext, voice: Voice) -> tuple[str, ...]:
    """The speaker's own tags, fixed for good by its id (crc32: the same in every process):
    one idiolect habit, and a soft one when agreeable or a blunt one when not."""
    key = zlib.crc32(ctx.speaker.id.encode("utf-8"))
    idiolect = phrases.habit_tags[key % len(phrases.habit_tags)]
    tags = (
        phrases.soft_tags
        if voice.agreeableness >= TRAIT_HIGH
        else phrases.blunt_tags
        if voice.agreeableness <= TRAIT_LOW
        else ()
    )
    if not tags:
        return (idiolect,)
    first = (key >> 8) % len(tags)
    second = (first + 1 + (key >> 16) % max(1, len(tags) - 1)) % len(tags)
    return (tags[first], tags[second], idiolect)


def add_habit(
    phrases: Phrases, line: Line, ctx: DialogueContext, voice: Voice, rng: random.Random
) -> None:
    """One of the speaker's habits at the end of a statement ("..., mind you.")."""
    if rng.random() >= HABIT_PROBABILITY:
        return
    habits = speaker_habits(phrases, ctx, voice)
    if len(habits) == 1:
        habit = habits[0]
    elif rng.random() < HABIT_AGREEABLENESS_SHARE:
        habit = rng.choice(habits[:2])
    else:
        habit = habits[2]
    statements = [
        index
        for index, sentence in enumerate(line.sentences)
        if sentence.endswith(".")
        and not sentence.endswith("..")
        and len(sentence.split()) >= 3
        # A tag on a stated feeling would change its tone ("I'm scared, bless you").
        and FEELING_WORDS.isdisjoint(sentence_key(sentence).split())
    ]
    if not statements:
        # A line that only asks still sounds like its speaker: a marked agreeableness adds
        # its remark ("I hope that helps a little.", "Take it or leave it.").
        side = (
            "agreeableness_high"
            if voice.agreeableness >= TRAIT_HIGH
            else "agreeableness_low"
            if voice.agreeableness <= TRAIT_LOW
            else None
        )
        pool = phrases.trait_remarks.get(side) if side else None
        if pool is not None:
            remark = line.choose(rng, pool.all)
            if line.fresh(line.fill(remark)):
                line.add(remark)
        return
    index = rng.choice(statements)
    sentence = line.sentences[index]
    line.sentences[index] = f"{sentence[:-1]}, {habit}."


def finish(line: Line, voice: Voice, rng: random.Random) -> str:
    """The sentences as one line, in the speaker's register, articles agreeing."""
    said = [s.strip() for s in line.sentences if s.strip()]
    # Last resort of the conversation state: a sentence the speaker said recently, which
    # every pool it could come from ran out of, is left out when the line has others.
    kept = [s for s in said if sentence_key(s) not in line.said] or said
    sentences = run_together([upper_first(s) for s in kept], line.names, rng)
    if (
        voice.extraversion > 0.6
        and voice.arousal > 0.1
        and voice.stance in (WARM, HOSTILE)
        and sentences[0].endswith(".")
        and not sentences[0].endswith("..")
        and rng.random() < 0.6
    ):
        sentences[0] = sentences[0][:-1] + "!"
    text = " ".join(sentences)
    if voice.conscientiousness >= FORMAL_CONSCIENTIOUSNESS:
        text = formalize(text)
    elif voice.conscientiousness <= CASUAL_CONSCIENTIOUSNESS:
        text = casualize(text)
    text = _DOUBLED_WORD.sub(r"\1", text.replace("  ", " ").strip())
    return upper_first(articles(text))


@dataclass(frozen=True, slots=True)
class Core:
    text: str
    hedgeable: bool = False
    prefixed: bool = False
    follow: Phrase | None = None  # a second sentence that must come right after


# "How are you?", "How have you been?": asked about one's state, answered with a feeling.
_HOW_ARE_YOU = re.compile(
    r"\bhow\b.{0,12}\b(?:are you|have you been|are things|is it going|'s it going|"
    r"are you feeling|you holding up|do you feel)\b",
    re.IGNORECASE,
)


def reply_core(
    phrases: Phrases,
    ctx: DialogueContext,
    line: Line,
    voice: Voice,
    rng: random.Random,
    *,
    topical: bool,
    utterance: str,
) -> Core:
    """The sentence that answers the utterance itself, by its dialogue act: a question by
    its type, a claim with a stance, a proposal (collaboration) accepted or declined, a
    greeting returned."""
    stance = voice.stance
    question = question_kind(utterance)
    if question is None:
        pools = {
            "greeting": phrases.greet_reply,
            "conflict": phrases.disagree,
            "collaboration": phrases.plan,
        }.get(ctx.interaction_type, phrases.react)
        phrase = line.pick(rng, pools[stance], topical)
        return Core(line.fill(phrase), hedgeable=phrase.hedgeable)
    if question == "how" and _HOW_ARE_YOU.search(utterance):
        # A state asked after: how the speaker feels, true to its emotion.
        pools = phrases.emotion_remarks
        feeling = line.choose(rng, pools.get(voice.emotion, pools["neutral"]).all)
        return Core(line.fill(feeling))
    if question == "yn":
        if rng.random() < deflect_probability(voice):
            # A dodge still answers a yes/no question: with a hedge.
            return Core(line.fill(line.pick(rng, phrases.deflect[stance], topical)))
        lean_yes = YES_LEANING[stance] - (0.2 if ctx.interaction_type == "conflict" else 0.0)
        pool = phrases.answer_yes if rng.random() < lean_yes else phrases.answer_no
        text = line.fill(line.pick(rng, pool[stance], topical))
        follow = line.pick(rng, phrases.answer_follow[stance], topical)
        # A bare "Yes." or "No." takes no interjection ("Listen, hardly." reads wrong).
        return Core(text, prefixed=True, follow=follow)
    prefix = rng.choice(phrases.wh_prefix[stance])
    answers = phrases.answer_wh.get(question, phrases.answer_wh["what"])
    answer = line.fill(line.pick(rng, answers, topical))
    return Core(join_prefix(prefix, answer, line.names), prefixed=bool(prefix))


def _join_follow(core: str, follow: str, names: frozenset[str]) -> str:
    """A yes or a no and what follows as one sentence: "Yes, I think so; the tides ..."."""
    if core.endswith((".", "!")) and not core.endswith("..") and core.count(".") <= 1:
        ending = "" if follow.endswith((".", "!", "?")) else "."
        return f"{core[:-1]}; {lower_first(follow, names)}{ending}"
    return f"{core} {upper_first(follow)}" + ("" if follow.endswith((".", "!", "?")) else ".")


@lru_cache(maxsize=8)
def _habit_pattern(tags: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(
        r",\s*(?:"
        + "|".join(re.escape(t) for t in sorted(tags, key=len, reverse=True))
        + r")(?=[.?!])",
        re.IGNORECASE,
    )


def _without_habits(phrases: Phrases, utterance: str) -> str:
    """The utterance without its speaker's verbal habits: "mark my words" is no topic."""
    tags = (*phrases.habit_tags, *phrases.soft_tags, *phrases.blunt_tags, *phrases.hedge_tags)
    return _habit_pattern(tags).sub("", utterance)


def compose_reply(phrases: Phrases, ctx: DialogueContext, utterance: str) -> str:
    """The reply to ``utterance`` (not empty) in the speaker's voice."""
    rng = seeded_rng(ctx, "reply")
    voice = voice_of(ctx)
    names = frozenset({ctx.speaker.name, ctx.listener.name})
    subject = topic(_without_habits(phrases, utterance), frozenset(n.lower() for n in names))
    topical = subject is not None
    line = Line(_slots(ctx, subject, rng), names, said_by(ctx), voice.emotion)
    core = reply_core(phrases, ctx, line, voice, rng, topical=topical, utterance=utterance)
    decorated = decorate_core(
        phrases,
        core.text,
        line,
        voice,
        rng,
        hedgeable=core.hedgeable,
        prefixed=core.prefixed,
        conflict=ctx.interaction_type == "conflict",
        always_name=ctx.interaction_type == "greeting",
    )
    # A hedge prefix or the listener's name already changed the core: no hedge tag too.
    line.last_hedgeable = core.hedgeable and decorated == core.text
    if core.follow is not None:
        decorated = _join_follow(decorated, line.fill(core.follow), names)
        line.last_hedgeable = False
    line.sentences.append(decorated)
    add_extras(phrases, line, ctx, voice, rng, extras_count(voice, rng))
    add_closer(phrases, line, voice, rng, topical, asked=line.sentences[-1].endswith("?"))
    add_habit(phrases, line, ctx, voice, rng)
    return finish(line, voice, rng)


def compose_opening(phrases: Phrases, ctx: DialogueContext) -> str:
    """The first line of an exchange, addressing the listener by name."""
    rng = seeded_rng(ctx, "opening")
    voice = voice_of(ctx)
    names = frozenset({ctx.speaker.name, ctx.listener.name})
    line = Line(_slots(ctx, None, rng), names, said_by(ctx), voice.emotion)
    stance = voice.stance
    kind = ctx.interaction_type

    if kind == "greeting":
        own = card_greeting(ctx, line, voice, rng)
        if own is not None:
            return own
        if voice.relation == "stranger" and stance != HOSTILE:
            line.add(line.choose(rng, phrases.open_greeting_stranger.all))
        else:
            line.add(line.pick(rng, phrases.open_greeting[stance], False))
    elif kind == "collaboration" and ctx.objectives:
        objective, is_verb_phrase = objective_forms(rng.choice(ctx.objectives))
        line.slots["objective"] = objective
        pool = phrases.open_collab_objective.all
        if is_verb_phrase:
            pool += phrases.open_collab_objective_verb.all
        line.add(line.choose(rng, pool))
        if stance in (COLD, HOSTILE):
            line.add(line.pick(rng, phrases.plan[stance], False))
    else:
        other = _third_party(ctx)
        if kind == "chat" and other is not None and rng.random() < 0.3:
            line.slots["other"] = line.slots["Other"] = other
            line.add(line.choose(rng, phrases.open_chat_recent.all))
        else:
            pools = {"conflict": phrases.open_conflict, "collaboration": phrases.open_collab}.get(
                kind, phrases.open_chat
            )
            for _attempt in range(8):
                subject = _opening_topic(phrases, ctx, voice, rng)
                line.slots["topic"] = subject
                line.slots["Topic"] = upper_first(subject)
                opening = line.pick(rng, pools[stance], True)
                if line.fresh(line.fill(opening)):
                    break
            line.add(opening)

    extras = max(0, extras_count(voice, rng) - 1)
    add_extras(phrases, line, ctx, voice, rng, extras, objective_said=bool(line.slots["objective"]))
    if kind != "greeting" or voice.extraversion > TRAIT_HIGH:
        topical = line.slots["topic"] != "that"
        add_closer(phrases, line, voice, rng, topical, asked=line.sentences[-1].endswith("?"))
    add_habit(phrases, line, ctx, voice, rng)
    return finish(line, voice, rng)


# A card's greetings are written as a welcome: not said to a rival or an enemy.
CARD_GREETING_RELATIONS_EXCLUDED = frozenset({"rival", "enemy"})


def card_greeting(ctx: DialogueContext, line: Line, voice: Voice, rng: random.Random) -> str | None:
    """One of the speaker's own greetings (its card's ``first_mes`` and
    ``alternate_greetings``) as it says it to the listener, seeded; None when it has none,
    when the listener is a rival or an enemy, or when every one was said in the recent
    conversation or states a feeling the speaker's emotion rules out (the template's own
    greeting is said then, so the same greeting never comes twice in a row)."""
    greetings = speaker_greetings(ctx.speaker)
    if not greetings or voice.relation in CARD_GREETING_RELATIONS_EXCLUDED:
        return None
    spoken: list[str] = []
    for greeting in greetings:
        text = spoken_greeting(greeting, ctx.speaker.name, ctx.listener.name)
        if text and text not in spoken:
            spoken.append(text)
    if not spoken:
        return None
    first = rng.randrange(len(spoken))
    for offset in range(len(spoken)):
        text = spoken[(first + offset) % len(spoken)]
        if line.fresh(text):
            return text
    return None


def _opening_topic(phrases: Phrases, ctx: DialogueContext, voice: Voice, rng: random.Random) -> str:
    """What an opening is about: the speaker's own world (its bio) most often, the place
    (a noun phrase of the setting, never the setting pasted whole), or small talk."""
    things = speaker_things(ctx.speaker)
    places = setting_things(ctx.setting) if ctx.setting else ()
    if ctx.interaction_type == "conflict":
        return rng.choice((*phrases.grievances, *things))
    if ctx.interaction_type == "collaboration":
        return rng.choice((*phrases.shared_tasks, *things, *things))
    draw = rng.random()
    if things and draw < 0.45:
        return rng.choice(things)
    if places and draw < 0.6:
        return rng.choice(places)
    if voice.openness >= TRAIT_HIGH:
        return rng.choice(phrases.small_talk_curious)
    if voice.openness <= TRAIT_LOW:
        return rng.choice(phrases.small_talk_plain)
    return rng.choice(phrases.small_talk_curious + phrases.small_talk_plain)


class TemplateBackend:
    """Deterministic dialogue from phrase pools; needs nothing outside the process.

    ``phrases`` defaults to the shipped files, loaded and validated once per process; a bad
    file raises :class:`~interactions.dialogue.template.phrases.PhraseFileError` here, when
    the backend is built, rather than in the middle of an interaction.
    """

    name = "template"

    def __init__(self, phrases: Phrases | None = None) -> None:
        self.phrases = phrases if phrases is not None else default_phrases()

    def reply(self, ctx: DialogueContext) -> str:
        utterance = (ctx.utterance or "").strip()
        if not utterance:
            return self.opening(ctx)
        return compose_reply(self.phrases, ctx, utterance)

    def opening(self, ctx: DialogueContext) -> str:
        return compose_opening(self.phrases, ctx)
