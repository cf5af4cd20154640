"""Assembling a line slot by slot: core sentence, decoration, extra remarks, closer, register.

Every choice is drawn from a ``random.Random`` seeded from the context, and the pools are
read in file order, so the same context and the same phrase files always give the same line.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from characters.personality import TRAIT_HIGH, TRAIT_LOW
from interactions.dialogue.base import DialogueContext
from interactions.dialogue.template.analysis import (
    IMPERATIVE_WORDS,
    INTERJECTION_WORDS,
    mood_phrase,
    objective_forms,
    question_kind,
    setting_phrase,
    topic,
)
from interactions.dialogue.template.phrases import Phrase, Phrases, default_phrases
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
    if prefix.endswith(","):
        sentence = lower_first(sentence, names)
    return f"{prefix} {sentence}"


class Line:
    """Slots filled into templates, and the sentences said so far."""

    __slots__ = ("last_hedgeable", "names", "sentences", "slots")

    def __init__(self, slots: dict[str, str], names: frozenset[str]) -> None:
        self.slots = slots
        self.sentences: list[str] = []
        self.names = names
        self.last_hedgeable = False

    def fill(self, phrase: Phrase) -> str:
        return phrase.text.format_map(self.slots)

    def add(self, phrase: Phrase) -> None:
        self.sentences.append(self.fill(phrase))
        self.last_hedgeable = phrase.hedgeable


def _slots(ctx: DialogueContext, topic_text: str | None) -> dict[str, str]:
    said_topic = topic_text or "that"
    return {
        "name": ctx.listener.name,
        "me": ctx.speaker.name,
        "Me": ctx.speaker.name,
        "topic": said_topic,
        "Topic": upper_first(said_topic),
        "setting": "",
        "Setting": "",
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
        return rng.choice(pools.get(voice.emotion, pools["neutral"]).all)

    def relation_remark() -> Phrase | None:
        pool = phrases.relation_remarks.get(voice.relation)
        return rng.choice(pool.all) if pool else None

    def trait_remark() -> Phrase | None:
        open_pools = []
        for trait, high, low in _TRAIT_SIDES:
            value = getattr(voice, trait)
            for key, applies in ((high, value >= TRAIT_HIGH), (low, value <= TRAIT_LOW)):
                pool = phrases.trait_remarks.get(key)
                if pool is not None and applies:
                    open_pools.append(pool.all)
        return rng.choice(rng.choice(open_pools)) if open_pools else None

    def setting_remark() -> Phrase | None:
        phrase = setting_phrase(ctx.setting)
        if phrase is None:
            return None
        line.slots["setting"] = phrase
        line.slots["Setting"] = upper_first(phrase)
        return phrases.setting_remarks[voice.stance].pick(rng, True)

    def objective_remark() -> Phrase | None:
        objective, is_verb_phrase = objective_forms(rng.choice(ctx.objectives))
        if not objective:
            return None
        line.slots["objective"] = objective
        pool = phrases.objective_remarks.all
        if is_verb_phrase:
            pool += phrases.objective_verb_remarks.all
        return rng.choice(pool)

    def mood_remark() -> Phrase | None:
        phrase = mood_phrase(ctx.mood)
        if phrase is None:
            return None
        line.slots["mood"] = phrase
        line.slots["Mood"] = upper_first(phrase)
        return rng.choice(phrases.mood_remarks.all)

    def recent_remark() -> Phrase | None:
        other = _third_party(ctx)
        if other is None:
            return None
        line.slots["other"] = line.slots["Other"] = other
        return rng.choice(phrases.recent_remarks.all)

    def tired_remark() -> Phrase | None:
        return rng.choice(phrases.tired_remarks.all)

    sources.append((1.0 + abs(voice.arousal), emotion_remark))
    sources.append((1.0, relation_remark))
    sources.append((1.2, trait_remark))
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
        if remark is not None:
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
    if rng.random() < vocative_probability(voice):
        name = line.slots["name"]
        if decorated or opens_with_interjection or rng.random() < 0.5:
            if core[-1] in ".!?" and not core.endswith(".."):
                core = f"{core[:-1]}, {name}{core[-1]}"
        else:
            core = f"{name}, {lower_first(core, line.names)}"
    return core


def add_closer(
    phrases: Phrases, line: Line, voice: Voice, rng: random.Random, topical: bool, asked: bool
) -> None:
    """Ask back (open speakers), thank (warm, agreeable ones) or tag a hedge on the end."""
    curiosity = 0.08 + 0.5 * voice.openness
    if voice.stance == HOSTILE:
        curiosity *= 0.5
    if not asked and rng.random() < curiosity:
        line.add(phrases.ask_back[voice.stance].pick(rng, topical))
        return
    if voice.stance == WARM and voice.agreeableness > 0.6 and rng.random() < 0.3:
        line.add(rng.choice(phrases.warm_closers.all))
        return
    last = line.sentences[-1]
    if line.last_hedgeable and last.endswith(".") and rng.random() < 0.6 * hedge_probability(voice):
        line.sentences[-1] = f"{last[:-1]}, {rng.choice(phrases.hedge_tags)}."


def finish(line: Line, voice: Voice, rng: random.Random) -> str:
    """The sentences as one line, in the speaker's register."""
    sentences = [upper_first(s.strip()) for s in line.sentences if s.strip()]
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
    return upper_first(text.replace("  ", " ").strip())


@dataclass(frozen=True, slots=True)
class Core:
    text: str
    hedgeable: bool = False
    prefixed: bool = False
    follow: Phrase | None = None  # a second sentence that must come right after


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
    """The sentence that answers the utterance itself."""
    stance = voice.stance
    question = question_kind(utterance)
    if question is None:
        pools = {
            "greeting": phrases.greet_reply,
            "conflict": phrases.disagree,
            "collaboration": phrases.plan,
        }.get(ctx.interaction_type, phrases.react)
        phrase = pools[stance].pick(rng, topical)
        return Core(line.fill(phrase), hedgeable=phrase.hedgeable)
    if rng.random() < deflect_probability(voice):
        return Core(line.fill(phrases.deflect[stance].pick(rng, topical)))
    if question == "yn":
        lean_yes = YES_LEANING[stance] - (0.2 if ctx.interaction_type == "conflict" else 0.0)
        pool = phrases.answer_yes if rng.random() < lean_yes else phrases.answer_no
        text = line.fill(pool[stance].pick(rng, topical))
        follow = (
            phrases.answer_follow[stance].pick(rng, True)
            if topical and rng.random() < 0.7
            else None
        )
        # A bare "Yes." or "No." takes no interjection ("Listen, hardly." reads wrong).
        return Core(text, prefixed=True, follow=follow)
    prefix = rng.choice(phrases.wh_prefix[stance])
    answers = phrases.answer_wh.get(question, phrases.answer_wh["what"])
    answer = line.fill(answers.pick(rng, topical))
    return Core(join_prefix(prefix, answer, line.names), prefixed=bool(prefix))


def compose_reply(phrases: Phrases, ctx: DialogueContext, utterance: str) -> str:
    """The reply to ``utterance`` (not empty) in the speaker's voice."""
    rng = seeded_rng(ctx, "reply")
    voice = voice_of(ctx)
    names = frozenset({ctx.speaker.name, ctx.listener.name})
    subject = topic(utterance, frozenset(n.lower() for n in names))
    topical = subject is not None
    line = Line(_slots(ctx, subject), names)
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
    )
    line.sentences.append(decorated)
    # A hedge prefix or the listener's name already changed the core: no hedge tag too.
    line.last_hedgeable = core.hedgeable and decorated == core.text
    if core.follow is not None:
        line.add(core.follow)
    add_extras(phrases, line, ctx, voice, rng, extras_count(voice, rng))
    add_closer(phrases, line, voice, rng, topical, asked=line.sentences[-1].endswith("?"))
    return finish(line, voice, rng)


def compose_opening(phrases: Phrases, ctx: DialogueContext) -> str:
    """The first line of an exchange, addressing the listener by name."""
    rng = seeded_rng(ctx, "opening")
    voice = voice_of(ctx)
    names = frozenset({ctx.speaker.name, ctx.listener.name})
    line = Line(_slots(ctx, None), names)
    stance = voice.stance
    kind = ctx.interaction_type

    if kind == "greeting":
        if voice.relation == "stranger" and stance != HOSTILE:
            line.add(rng.choice(phrases.open_greeting_stranger.all))
        else:
            line.add(phrases.open_greeting[stance].pick(rng, False))
    elif kind == "collaboration" and ctx.objectives:
        objective, is_verb_phrase = objective_forms(rng.choice(ctx.objectives))
        line.slots["objective"] = objective
        pool = phrases.open_collab_objective.all
        if is_verb_phrase:
            pool += phrases.open_collab_objective_verb.all
        line.add(rng.choice(pool))
        if stance in (COLD, HOSTILE):
            line.add(phrases.plan[stance].pick(rng, False))
    else:
        other = _third_party(ctx)
        if kind == "chat" and other is not None and rng.random() < 0.3:
            line.slots["other"] = line.slots["Other"] = other
            line.add(rng.choice(phrases.open_chat_recent.all))
        else:
            subject = _opening_topic(phrases, ctx, voice, rng)
            line.slots["topic"] = subject
            line.slots["Topic"] = upper_first(subject)
            pools = {"conflict": phrases.open_conflict, "collaboration": phrases.open_collab}.get(
                kind, phrases.open_chat
            )
            line.add(pools[stance].pick(rng, True))

    extras = max(0, extras_count(voice, rng) - 1)
    add_extras(phrases, line, ctx, voice, rng, extras, objective_said=bool(line.slots["objective"]))
    if kind != "greeting" or voice.extraversion > TRAIT_HIGH:
        add_closer(phrases, line, voice, rng, topical=False, asked=line.sentences[-1].endswith("?"))
    return finish(line, voice, rng)


def _opening_topic(phrases: Phrases, ctx: DialogueContext, voice: Voice, rng: random.Random) -> str:
    setting = setting_phrase(ctx.setting)
    if setting is not None and ctx.interaction_type == "chat" and rng.random() < 0.3:
        return f"what's going on in {setting}"
    if ctx.interaction_type == "conflict":
        return rng.choice(phrases.grievances)
    if ctx.interaction_type == "collaboration":
        return rng.choice(phrases.shared_tasks)
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
