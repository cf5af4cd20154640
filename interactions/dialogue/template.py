"""The default dialogue backend: a deterministic, personality-conditioned line generator.

A line is composed from small fragment pools, slot by slot (interjection, address, core,
extra remarks, closer), and every choice is drawn from a ``random.Random`` seeded from the
context, so the same context always gives the same line in any process. The speaker's
Big Five traits, emotion, energy, relationship to the listener, the interaction type and
the scenario (setting, mood, objectives) decide which pools are open and how likely each
slot is. How it works, slot by slot: ``docs/dialogue.md``.
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from characters.emotion import label as emotion_label
from interactions.dialogue.base import DialogueContext
from interactions.sentiment import mood_tension
from relationships.dynamics import relationship_label

WARM, NEUTRAL, COLD, HOSTILE = "warm", "neutral", "cold", "hostile"

# --- How the voice is derived ------------------------------------------------------------
# warmth = 1.3 (A - 0.5) + 0.7 strength + 0.3 (trust - 0.5) + 0.25 pleasure
#          - 0.25 mood_tension + TYPE_WARMTH[type] + EMOTION_WARMTH[label]
# Agreeableness weighs most: it is the trait of warmth and of softening disagreement
# (Graziano et al. 1996), so an agreeable character stays kind even in a conflict.
WARMTH_AGREEABLENESS = 1.3
WARMTH_STRENGTH = 0.7
WARMTH_TRUST = 0.3
WARMTH_PLEASURE = 0.25
WARMTH_MOOD_TENSION = -0.25
TYPE_WARMTH = {"greeting": 0.15, "chat": 0.1, "conflict": -0.45, "collaboration": 0.15}
EMOTION_WARMTH = {"anger": -0.3, "contempt": -0.3, "joy": 0.1, "content": 0.1}
STANCE_THRESHOLDS = ((0.3, WARM), (-0.15, NEUTRAL), (-0.55, COLD))
# Formal register at high conscientiousness, casual at low.
FORMAL_CONSCIENTIOUSNESS = 0.72
CASUAL_CONSCIENTIOUSNESS = 0.3
TRAIT_HIGH = 0.65
TRAIT_LOW = 0.35
LOW_ENERGY = 0.3
# Extra sentences after the core: int(2.6 E + 1.1 u + 0.4 max(0, arousal) - 0.35), u ~ U(0,1),
# one fewer when tired, clamped to 0..3. Extraverts talk more (Mehl et al. 2006).
EXTRA_PER_EXTRAVERSION = 2.6
EXTRA_RANDOM_SPAN = 1.1
EXTRA_PER_AROUSAL = 0.4
EXTRA_OFFSET = -0.35
MAX_EXTRAS = 3

INTERJECTION_WORDS = frozenset(
    {
        "oh",
        "hello",
        "hi",
        "hey",
        "yes",
        "no",
        "well",
        "hm",
        "mm",
        "right",
        "good",
        "morning",
        "ugh",
        "ha",
        "wow",
        "fine",
        "look",
        "listen",
        "seriously",
    }
)
# A hedge in front of an order reads wrong ("Maybe don't you dare ..."): never hedge these.
IMPERATIVE_WORDS = frozenset(
    {
        "don't",
        "stop",
        "save",
        "spare",
        "let's",
        "mind",
        "stay",
        "ask",
        "tell",
        "go",
        "count",
        "explain",
        "keep",
        "work",
        "remember",
        "nobody",
    }
)


@dataclass(frozen=True, slots=True)
class _Voice:
    openness: float
    conscientiousness: float
    extraversion: float
    agreeableness: float
    neuroticism: float
    emotion: str
    relation: str
    stance: str
    arousal: float
    energy: float


def _stance(warmth: float) -> str:
    for threshold, stance in STANCE_THRESHOLDS:
        if warmth >= threshold:
            return stance
    return HOSTILE


def _voice(ctx: DialogueContext) -> _Voice:
    personality = ctx.speaker.personality
    emotion = ctx.speaker.emotion
    relationship = ctx.relationship
    emotion_name = emotion_label(emotion)
    warmth = (
        WARMTH_AGREEABLENESS * (personality.agreeableness - 0.5)
        + WARMTH_STRENGTH * relationship.strength
        + WARMTH_TRUST * (relationship.trust - 0.5)
        + WARMTH_PLEASURE * emotion.pleasure
        + WARMTH_MOOD_TENSION * mood_tension(ctx.mood)
        + TYPE_WARMTH.get(ctx.interaction_type, 0.0)
        + EMOTION_WARMTH.get(emotion_name, 0.0)
    )
    return _Voice(
        openness=personality.openness,
        conscientiousness=personality.conscientiousness,
        extraversion=personality.extraversion,
        agreeableness=personality.agreeableness,
        neuroticism=personality.neuroticism,
        emotion=emotion_name,
        relation=relationship_label(
            relationship.strength, relationship.trust, relationship.interaction_count
        ),
        stance=_stance(warmth),
        arousal=emotion.arousal,
        energy=ctx.speaker.energy,
    )


def _rng(ctx: DialogueContext, purpose: str) -> random.Random:
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


# --- Fragment pools --------------------------------------------------------------------------


class _Pool:
    """Templates for one slot; ``generic`` holds the ones that need no topic."""

    __slots__ = ("all", "generic")

    def __init__(self, *templates: str) -> None:
        self.all = templates
        self.generic = tuple(t for t in templates if "opic}" not in t) or templates

    def pick(self, rng: random.Random, topical: bool) -> str:
        return rng.choice(self.all if topical else self.generic)


def _pools(**by_stance: tuple[str, ...]) -> dict[str, _Pool]:
    return {stance: _Pool(*templates) for stance, templates in by_stance.items()}


GREET_REPLY = _pools(
    warm=(
        "Hello! It's so good to see you.",
        "Oh, hi! You just made my day a little better.",
        "Hey there! I was hoping I'd run into you.",
        "Hello, hello! Come and sit with me.",
        "Hi! What a lovely surprise.",
        "Well, hello! You look like you're in good spirits.",
        "Hi! Perfect timing, honestly.",
        "Hello to you too! How are you holding up?",
        "Oh, it's you! Hello!",
    ),
    neutral=(
        "Hello there.",
        "Hi. How's your day going?",
        "Oh, hello. I didn't see you come in.",
        "Hey. What brings you over here?",
        "Hello. Nice to see a familiar face.",
        "Hi there. Everything all right?",
        "Good day to you too.",
        "Hello. I was just about to take a break.",
        "Hi. Keeping busy?",
    ),
    cold=(
        "Oh. It's you.",
        "Hello, I suppose.",
        "Hi. Was there something you needed?",
        "Yes, hello. I'm a little busy right now.",
        "Right. Hello.",
        "Hm. Hello.",
        "You again. Hello.",
        "Hello. Make it quick.",
    ),
    hostile=(
        "Save the pleasantries.",
        "What do you want now?",
        "You've got some nerve, showing up here.",
        "Don't pretend we're friends.",
        "Spare me the greeting.",
        "I was having a perfectly fine day until now.",
        "Oh, great. You.",
    ),
)

REACT = _pools(
    warm=(
        "I love that you brought up {topic}.",
        "{Topic} has been on my mind too.",
        "Oh, I'm so glad you mentioned {topic}.",
        "That's a lovely way to put it.",
        "You always notice the things that matter.",
        "I feel the same way about {topic}, honestly.",
        "~That makes a lot of sense to me.",
        "What a nice thing to think about.",
        "~I'm with you on {topic}.",
        "You're right, and I like how you said it.",
        "I could listen to you talk about {topic} for hours.",
    ),
    neutral=(
        "Huh, {topic}. I hadn't thought about it that way.",
        "~That's fair enough.",
        "I see what you mean about {topic}.",
        "Interesting. Tell me more about {topic}.",
        "~I've heard people say the same about {topic}.",
        "Could be. {Topic} is hard to judge.",
        "Hm, maybe. I'd have to think about it.",
        "Fair point, I suppose.",
        "~I don't have strong feelings about {topic}, to be honest.",
        "{Topic}, huh? That's one way to look at it.",
        "I suppose that's true.",
    ),
    cold=(
        "If you say so.",
        "~{Topic} isn't really my concern.",
        "I'm not sure why you're telling me about {topic}.",
        "Fine. Noted.",
        "That's your opinion, I suppose.",
        "I've heard enough about {topic} for one day.",
        "Mm. Sure.",
        "Is that all?",
        "~I don't see why {topic} matters.",
    ),
    hostile=(
        "Nobody asked for your thoughts on {topic}.",
        "That's the most ridiculous thing I've heard all day.",
        "Of course you'd say something like that.",
        "Spare me your opinions on {topic}.",
        "You really don't know when to stop talking, do you?",
        "I couldn't care less about {topic}.",
        "Wrong, as usual.",
        "What a stupid thing to say about {topic}.",
    ),
)

DISAGREE = _pools(
    warm=(
        "I understand why you feel that way, but I see {topic} differently.",
        "I hear you, and I'm sorry this upset you.",
        "You have a fair point, but I don't fully agree about {topic}.",
        "I don't want us to fight over {topic}.",
        "Let's take a breath; I'm sure we can sort out {topic} together.",
        "I really value you, so let's talk this through calmly.",
        "I appreciate you being honest with me, even if I disagree.",
        "Maybe we're both a little right about {topic}.",
        "I'm sorry, I never meant to hurt you.",
        "You matter more to me than winning this argument.",
    ),
    neutral=(
        "~I don't agree with you about {topic}.",
        "~That's not how I remember it.",
        "I see it differently, and I'm not going to pretend otherwise.",
        "~We clearly disagree about {topic}.",
        "You're not entirely wrong, but you're not right either.",
        "~I'd push back on that.",
        "Let's be honest: {topic} isn't as simple as you make it sound.",
        "I hear you, but my answer hasn't changed.",
        "That's one version of what happened with {topic}.",
    ),
    cold=(
        "No, that's simply wrong.",
        "~You're twisting things, and you know it.",
        "~I'm not taking the blame for {topic}.",
        "That's convenient for you, isn't it?",
        "~You always make {topic} about yourself.",
        "Save the lecture about {topic}; I'm not interested.",
        "You don't get to decide that on your own.",
        "I've had enough of this argument.",
        "Don't bring up {topic} as if you were blameless.",
    ),
    hostile=(
        "That's absolute nonsense, and you know it.",
        "You're wrong about {topic}, and frankly it's pathetic.",
        "Stop blaming me for your own mess.",
        "Don't you dare lecture me about {topic}.",
        "You ruin everything you touch, {topic} included.",
        "I'm sick of your excuses.",
        "Everyone can see right through you.",
        "How stupid do you think I am?",
        "You've got no right to talk to me about {topic}.",
    ),
)

PLAN = _pools(
    warm=(
        "Great idea, let's do it together.",
        "I'd love to help with {topic}.",
        "Count me in, we make a good team.",
        "Yes! Let's start with {topic} and go from there.",
        "I'm happy to take the hard part of {topic}.",
        "That's a wonderful plan; I'll follow your lead.",
        "Perfect, I was hoping we'd work on {topic} together.",
        "Let's do it, and I'll bring whatever you need.",
        "With the two of us on {topic}, how could it fail?",
    ),
    neutral=(
        "All right, let's work out {topic} step by step.",
        "Okay. Who handles what?",
        "That could work. Let's start with {topic}.",
        "Fine by me, as long as we divide the work fairly.",
        "Let's make a plan for {topic} before we rush in.",
        "Sounds workable. What do you need from me?",
        "~I can help with {topic}, within reason.",
        "Sure, let's see how far we get.",
        "~We should split {topic} into smaller pieces.",
    ),
    cold=(
        "Fine, I'll help with {topic}, but don't expect miracles.",
        "I suppose we have to work together on this.",
        "I'll do my part. You do yours.",
        "If we must. Just don't slow me down.",
        "Whatever gets {topic} done faster.",
        "~I'll go along with it, for now.",
        "Let's just get it over with.",
        "You handle your half of {topic}, and I'll handle mine.",
    ),
    hostile=(
        "I'd rather handle {topic} alone than with you.",
        "Work with you? You'd only ruin it.",
        "Fine, but the moment you mess up {topic}, I'm out.",
        "I don't trust you with {topic}, not for a second.",
        "Don't think this makes us partners.",
        "I'll help, but only because I have no choice.",
    ),
)

ANSWER_YES = _pools(
    warm=(
        "Yes, absolutely!",
        "Oh, definitely.",
        "Of course, no doubt about it.",
        "Yes, and thank you for asking.",
        "I think so, yes.",
        "Yes, happily.",
    ),
    neutral=(
        "Yes, I think so.",
        "I'd say yes.",
        "Probably, yes.",
        "Yes, more or less.",
        "Mostly, yes.",
        "Yes, for what it's worth.",
    ),
    cold=(
        "Yes. Why?",
        "I suppose so.",
        "Yes, obviously.",
        "If you must know, yes.",
        "Yes. Is that a problem?",
    ),
    hostile=(
        "Yes, obviously. Keep up.",
        "Yes, not that it's any of your business.",
        "Yes. Happy now?",
        "Yes, and I don't need your approval.",
    ),
)

ANSWER_NO = _pools(
    warm=(
        "Not really, but I'm glad you asked.",
        "No, I'm afraid not. Sorry!",
        "Honestly, no, but I'd like to.",
        "Not yet, but maybe soon.",
        "No, but thank you for thinking of me.",
    ),
    neutral=(
        "No, not really.",
        "I don't think so.",
        "Not as far as I know.",
        "No, I'm afraid not.",
        "Not today, no.",
        "Not exactly.",
    ),
    cold=(
        "No. Next question.",
        "Not a chance.",
        "No, and I'd rather not explain.",
        "Hardly.",
        "No. Why would I?",
    ),
    hostile=(
        "No, and stop asking.",
        "Absolutely not.",
        "No. What a stupid question.",
        "Not in a million years.",
    ),
)

ANSWER_FOLLOW = _pools(
    warm=(
        "{Topic} means a lot to me.",
        "I've been thinking about {topic} all week.",
        "{Topic} always cheers me up.",
        "We should talk about {topic} more often.",
    ),
    neutral=(
        "{Topic} is complicated, though.",
        "~There's more to {topic} than it seems.",
        "I haven't made up my mind about {topic} yet.",
        "{Topic} could still go either way.",
    ),
    cold=(
        "~{Topic} isn't worth the fuss.",
        "I'd rather not dwell on {topic}.",
        "{Topic} is my business, not yours.",
    ),
    hostile=(
        "Not that {topic} is any of your business.",
        "And stay out of my business.",
        "You'd only mess up {topic} anyway.",
    ),
)

ANSWER_WH: dict[str, _Pool] = {
    "what": _Pool(
        "Honestly, I have mixed feelings about {topic}.",
        "Mostly I think people don't give {topic} enough thought.",
        "Hard to say. {Topic} could go either way.",
        "Nothing worth worrying about, I hope.",
        "The short version? It's complicated.",
        "Something I'm still figuring out.",
        "More than I'd like to admit.",
    ),
    "why": _Pool(
        "Because it felt right at the time.",
        "Because somebody had to.",
        "Honestly? Because {topic} matters to me.",
        "I'm not sure I can explain why.",
        "Because I didn't see another way.",
        "Because {topic} wasn't going to fix itself.",
    ),
    "how": _Pool(
        "Carefully, and one step at a time.",
        "With a lot of patience.",
        "Better than I expected, actually.",
        "Not easily, I'll tell you that.",
        "Slowly. {Topic} takes time.",
        "The same way as always: stubbornly.",
    ),
    "where": _Pool(
        "Not far from here.",
        "Somewhere I'd rather not say.",
        "Right where I left it, I hope.",
        "Closer than you'd think.",
        "Wherever {topic} leads, I suppose.",
    ),
    "when": _Pool(
        "Soon, I hope.",
        "Sooner than you'd think.",
        "When the time is right.",
        "Not for a while yet.",
        "Once {topic} is sorted out.",
    ),
    "who": _Pool(
        "Someone you know, actually.",
        "I'd rather not name names.",
        "Nobody you need to worry about.",
        "I honestly thought it was you.",
        "Whoever cares enough about {topic}, I suppose.",
    ),
    "which": _Pool(
        "The first one, I think.",
        "Whichever causes less trouble.",
        "Hard to choose, honestly.",
        "The one that keeps {topic} simple.",
    ),
}

# How likely a yes/no question gets "yes", by stance (a conflict takes 0.2 off).
YES_LEANING = {WARM: 0.75, NEUTRAL: 0.55, COLD: 0.4, HOSTILE: 0.3}

WH_PREFIX = _pools(
    warm=("Oh, good question! ", "Happy to tell you. ", "", ""),
    neutral=("Well, ", "Let me think. ", "", ""),
    cold=("If you must know, ", "Fine. ", ""),
    hostile=("Not that you deserve an answer. ", "Ugh. ", "Fine, if it shuts you up. "),
)

DEFLECT = _pools(
    warm=(
        "Oh, that's a big question. Can I think about it and get back to you?",
        "I'd rather not say just yet, if that's all right.",
        "Let's save {topic} for another day.",
        "Ha, you'll have to ask me again over tea.",
        "Maybe later. I'm still sorting out my thoughts on {topic}.",
    ),
    neutral=(
        "Why do you ask?",
        "Depends who's asking.",
        "Hard to say, really.",
        "I'd rather not get into {topic} right now.",
        "That's a longer story than you'd think.",
    ),
    cold=(
        "That's not something I discuss with just anyone.",
        "Does it matter?",
        "I'd rather keep {topic} to myself.",
        "Ask someone else.",
        "Why are you so interested in {topic}?",
    ),
    hostile=(
        "Why would I tell you?",
        "Mind your own business.",
        "That's none of your concern.",
        "Nice try.",
        "{Topic} is none of your business.",
    ),
)

EMOTION_REMARKS: dict[str, tuple[str, ...]] = {
    "joy": (
        "I'm in such a good mood today.",
        "~Everything feels a bit brighter today.",
        "I can't stop smiling today.",
        "I feel wonderful right now.",
    ),
    "content": (
        "I'm quite content right now, actually.",
        "Things feel settled today, and I like that.",
        "I'm in a peaceful sort of mood.",
    ),
    "calm": (
        "I'm feeling pretty calm about all of it.",
        "No need to rush anything.",
        "Let's keep a level head.",
        "~I'm at ease today.",
    ),
    "surprise": (
        "I did not see that coming.",
        "Wow, that caught me off guard.",
        "I'm still a little stunned, honestly.",
        "Well, that's unexpected.",
    ),
    "anger": (
        "I'm already on edge today.",
        "I'm fuming, to be honest.",
        "My patience is wearing thin.",
        "Don't push me right now.",
    ),
    "fear": (
        "I've had a bad feeling all day.",
        "~Something about this makes me nervous.",
        "~I keep expecting something to go wrong.",
        "I'm a little scared, to be honest.",
    ),
    "sadness": (
        "~I've been feeling low lately.",
        "Sorry, I'm not much company today.",
        "Everything feels heavy right now.",
        "I miss how things used to be.",
    ),
    "contempt": (
        "Not that any of this impresses me.",
        "Some people never learn.",
        "I expected more, frankly.",
        "I've seen better.",
    ),
    "boredom": (
        "I'm bored out of my mind, honestly.",
        "Nothing interesting has happened all day.",
    ),
    "neutral": (
        "Anyway, that's where I stand.",
        "~It's been an ordinary sort of day.",
        "~Nothing much to report on my end.",
        "I'm just taking things as they come.",
    ),
}

TIRED_REMARKS = (
    "I'm running on empty, though.",
    "Sorry, I'm exhausted.",
    "I could really use a rest.",
    "Forgive me, I'm worn out.",
)

RELATION_REMARKS: dict[str, tuple[str, ...]] = {
    "stranger": (
        "I don't think we've met properly. I'm {me}.",
        "Sorry, I'm {me}, by the way.",
        "You're new around here, aren't you?",
        "I'm still getting to know everyone here.",
    ),
    "acquaintance": (
        "~We should talk more often.",
        "I feel like I barely know you.",
        "We've crossed paths a few times now.",
        "It's nice to finally have a proper conversation.",
    ),
    "friend": (
        "~You always make things easier.",
        "I'm glad it's you I'm talking to.",
        "That's why I like talking to you.",
        "~You know me too well.",
    ),
    "close friend": (
        "You're the only one I'd say this to.",
        "I don't know what I'd do without you.",
        "You know I'd do anything for you.",
        "We've been through too much together to worry about that.",
    ),
    "rival": (
        "Not that you'd ever admit I'm right.",
        "I suppose you think you'd do it better.",
        "Try to keep up this time.",
        "Don't get too comfortable.",
    ),
    "enemy": (
        "I haven't forgotten what you did.",
        "Don't think I trust you.",
        "I'm watching you.",
        "You and I will never see eye to eye.",
    ),
}

# Trait remarks: (trait name, high side?) -> lines. Applied when the trait is past the
# TRAIT_HIGH / TRAIT_LOW cut, so the line shows who is speaking.
TRAIT_REMARKS: dict[tuple[str, bool], tuple[str, ...]] = {
    ("openness", True): (
        "~It reminds me of a story I read once.",
        "I keep wondering what it would look like from the outside.",
        "~There's something strangely beautiful about it.",
        "I love how many ways there are to see it.",
        "What if we tried something nobody's tried before?",
    ),
    ("openness", False): (
        "I like things the way they are.",
        "No need to overthink it.",
        "~Let's stick with what works.",
        "I'm not one for fancy ideas.",
    ),
    ("conscientiousness", True): (
        "Let's do this properly, one step at a time.",
        "I've already made a list.",
        "~Details matter here.",
        "I'd like a clear plan before we go further.",
    ),
    ("conscientiousness", False): (
        "~We'll figure it out as we go.",
        "Eh, we'll wing it.",
        "I never plan these things anyway.",
        "Details can wait.",
    ),
    ("neuroticism", True): (
        "I just hope nothing goes wrong.",
        "Sorry, I worry too much.",
        "What if it all falls apart?",
        "I was up half the night overthinking it.",
    ),
    ("extraversion", True): (
        "I could talk about this all day!",
        "We should get everyone together and talk it over!",
        "You know me, I can't keep quiet about these things.",
        "Ask anyone, I've been telling the whole room!",
    ),
    ("extraversion", False): (
        "Anyway, I'll keep the rest to myself.",
        "That's about all I have to say.",
    ),
}

SETTING_REMARKS = _pools(
    warm=(
        "I love being in {setting}.",
        "There's no place quite like {setting}.",
        "Somehow {setting} makes everything feel easier.",
        "I'm glad we ended up in {setting} together.",
    ),
    neutral=(
        "~{Setting} is quieter than usual today.",
        "Everyone in {setting} is listening, you know.",
        "I keep noticing new things about {setting}.",
        "Strange, how {setting} changes with the light.",
    ),
    cold=(
        "Being in {setting} puts me on edge.",
        "I don't much like {setting} at this hour.",
        "Keep your voice down; this is {setting}, after all.",
    ),
    hostile=(
        "I'd leave {setting} right now if I could.",
        "Even {setting} feels too small with you in it.",
        "Don't make a scene in {setting}.",
    ),
)

MOOD_REMARKS = (
    "The mood around here? {Mood}, if you ask me.",
    "Everyone can feel it: {mood}.",
    "You can feel it in the air: {mood}.",
)

OBJECTIVE_REMARKS = (
    "Remember why we're here: {objective}.",
    "We can't lose sight of the goal: {objective}.",
    "First things first: {objective}.",
    "Our job hasn't changed: {objective}.",
    "The plan is still the same: {objective}.",
)
OBJECTIVE_VERB_REMARKS = (
    "~We still need to {objective}.",
    "If we want to {objective}, we'd better start now.",
    "I really think we can {objective}.",
    "Let's not forget we have to {objective}.",
)

RECENT_REMARKS = (
    "{Other} said something similar earlier.",
    "I heard what {other} said, by the way.",
    "Even {other} would agree with that.",
    "You sound just like {other}.",
)

ASK_BACK = _pools(
    warm=(
        "What got you thinking about {topic}?",
        "How about you? How are you feeling?",
        "What do you think we should do?",
        "Tell me, what would you do?",
        "Have you always cared this much about {topic}?",
        "What else is on your mind?",
    ),
    neutral=(
        "What do you make of {topic}?",
        "How did you come to that?",
        "What's your take?",
        "Where did you hear that?",
        "Is {topic} really that important?",
    ),
    cold=(
        "Why does it matter to you?",
        "What's your point, exactly?",
        "Is there a reason you're bringing up {topic}?",
    ),
    hostile=(
        "What's your angle here?",
        "Who put you up to this?",
        "Are you done?",
    ),
)

WARM_CLOSERS = (
    "Thanks for telling me.",
    "I'm really glad we talked.",
    "I appreciate you.",
    "Take care of yourself, okay?",
    "You're good company, you know that?",
)

HEDGE_PREFIXES = (
    "I guess ",
    "Maybe ",
    "I might be wrong, but ",
    "I'm not sure, but ",
    "I don't know, ",
    "If I'm honest, ",
)
HEDGE_TAGS = (", I think.", ", if that makes sense.", ", or maybe I'm wrong.", ", I guess.")

INTERJECTIONS = _pools(
    warm=("Oh, ", "Ha! ", "Wow, ", "Ooh, ", "Aw, "),
    neutral=("Well, ", "So, ", "Hm, ", "Right, "),
    cold=("Look, ", "Listen, ", "Well. "),
    hostile=("Oh, please. ", "Ugh. ", "Seriously? ", "Unbelievable. "),
)
QUIET_INTERJECTIONS = ("Hm. ", "Mm. ", "Well... ", "Ah. ")
# In a conflict even a warm speaker does not say "Wow" or "Ha!".
CONFLICT_WARM_INTERJECTIONS = ("Oh, ", "Okay, ", "Hey, ", "Look, ")

# --- Openings ---------------------------------------------------------------------------------

OPEN_GREETING_STRANGER = (
    "Hello, you must be {name}. I'm {me}.",
    "Hi, {name}, isn't it? I'm {me}.",
    "Excuse me, {name}? I don't think we've met. I'm {me}.",
    "{name}! I've heard a lot about you. I'm {me}.",
    "Hello there, {name}. {Me}, pleased to meet you.",
)
OPEN_GREETING = _pools(
    warm=(
        "{name}! How wonderful to see you.",
        "Hey, {name}! How have you been?",
        "Good morning, {name}! You look well.",
        "{name}, there you are! I was hoping to see you.",
        "Hi, {name}! Got a minute to catch up?",
        "{name}! Come here, it's been ages.",
    ),
    neutral=(
        "Hello, {name}. How are things?",
        "Hi, {name}. Busy day?",
        "Morning, {name}. Mind if I join you?",
        "Oh, hello, {name}. I didn't expect to see you here.",
        "Hey, {name}. How's it going?",
    ),
    cold=(
        "{name}.",
        "Hello, {name}. I suppose we should talk.",
        "Oh. {name}. Hello.",
        "{name}. Still around, I see.",
    ),
    hostile=(
        "Well, well. {name}.",
        "{name}. I was hoping to avoid you.",
        "Look who it is: {name}.",
        "Of all the people to run into, {name}.",
    ),
)
OPEN_CHAT = _pools(
    warm=(
        "Hey, {name}, have you been thinking about {topic} lately?",
        "{name}, I have to tell you about {topic}!",
        "Oh, {name}, you'll love this. It's about {topic}.",
        "{name}! What do you think about {topic}?",
        "{name}, I keep coming back to {topic}. Can I tell you why?",
    ),
    neutral=(
        "{name}, what's your take on {topic}?",
        "So, {name}, any thoughts on {topic}?",
        "{name}, I've been meaning to ask you about {topic}.",
        "Hey, {name}. Heard anything new about {topic}?",
        "{name}, do you have a minute? It's about {topic}.",
    ),
    cold=(
        "{name}. I suppose you have an opinion on {topic}.",
        "Tell me, {name}, do you actually know anything about {topic}?",
        "{name}, since we're stuck here anyway: {topic}. Thoughts?",
    ),
    hostile=(
        "{name}, I bet you've got something stupid to say about {topic}.",
        "Go on, {name}, tell me you're an expert on {topic} too.",
        "{name}, let's hear your latest nonsense about {topic}.",
    ),
)
OPEN_CHAT_RECENT = (
    "{name}, did you hear what {other} just said?",
    "{name}, what did you make of {other}'s point?",
    "{name}, I can't stop thinking about what {other} said.",
)
OPEN_CONFLICT = _pools(
    warm=(
        "{name}, can we talk about something that's been bothering me?",
        "{name}, I don't want to fight, but we need to talk about {topic}.",
        "{name}, I think we misunderstood each other about {topic}.",
        "{name}, I care about you, so I have to be honest: something's wrong.",
    ),
    neutral=(
        "{name}, we need to talk about {topic}.",
        "{name}, I'm not happy about {topic}.",
        "{name}, I have a problem with how you handled {topic}.",
        "We need to clear the air, {name}.",
    ),
    cold=(
        "{name}, I'm tired of your excuses.",
        "{name}, you crossed a line with {topic}.",
        "Explain yourself, {name}.",
        "{name}, I know what you did with {topic}.",
    ),
    hostile=(
        "{name}, you've got a lot of nerve.",
        "{name}, you ruined {topic}, and you know it.",
        "I've had it with you, {name}.",
        "{name}, you're a disgrace.",
        "Stay out of my way, {name}.",
    ),
)
OPEN_COLLAB_OBJECTIVE = (
    "{name}, I could use your help. The goal: {objective}.",
    "{name}, let's team up. Remember what we're here for: {objective}.",
    "{name}, you and I should take this on together: {objective}.",
)
OPEN_COLLAB_OBJECTIVE_VERB = (
    "{name}, want to help me {objective}?",
    "{name}, I think the two of us can {objective}.",
    "{name}, if we work together, we can {objective}.",
)
OPEN_COLLAB = _pools(
    warm=(
        "{name}, want to work on {topic} together?",
        "{name}, I have an idea about {topic}, and I'd love your help.",
        "{name}, you're just the person I need for {topic}!",
    ),
    neutral=(
        "{name}, I need a hand with {topic}.",
        "{name}, shall we sort out {topic} together?",
        "{name}, got time to help with {topic}?",
    ),
    cold=(
        "{name}, I need your help with {topic}, as much as it pains me to say.",
        "{name}, like it or not, we're working on {topic} together.",
    ),
    hostile=(
        "{name}, I need you for {topic}. Don't make me regret it.",
        "{name}, you're helping with {topic}, and you're not ruining it this time.",
    ),
)

SMALL_TALK_CURIOUS = (
    "that strange old map in the archive",
    "the song everyone keeps humming",
    "what lies past the northern hills",
    "the dream I had last night",
    "the stars last night",
    "the book I just finished",
    "learning a new language",
    "the painting by the door",
)
SMALL_TALK_PLAIN = (
    "the weather",
    "dinner tonight",
    "the price of bread",
    "the leaky roof",
    "tomorrow's chores",
    "the market",
    "the new neighbours",
    "the festival next month",
    "how the week is going",
)
GRIEVANCES = (
    "what you said yesterday",
    "the missing supplies",
    "the way you talked to me",
    "the promise you broke",
    "last night",
    "the mess you left behind",
)
SHARED_TASKS = ("the garden", "the supply list", "the old cart", "the leaky roof", "the map")

# --- Text analysis ------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"[A-Za-z][A-Za-z'\-]*|[.,!?;:]")
_SENTENCE_END = frozenset(".!?")
_CLAUSE_BREAK = frozenset(",;:")
_DETERMINERS = frozenset(
    {"the", "a", "an", "my", "your", "our", "their", "his", "her", "its", "some", "every"}
)
_PREPOSITIONS = frozenset(
    {
        "about",
        "of",
        "for",
        "with",
        "on",
        "in",
        "at",
        "to",
        "from",
        "into",
        "over",
        "under",
        "near",
        "after",
        "before",
        "around",
        "without",
        "through",
        "behind",
    }
)
# Intensifiers sit between a determiner and its noun phrase without breaking it.
_INTENSIFIERS = frozenset({"very", "really", "so", "quite", "pretty", "too", "rather"})
# Function words, pronouns and common verbs: never a topic on their own.
_STOPWORDS = frozenset[str]().union(
    ("i", "me", "you", "he", "she", "it", "we", "they", "him", "her", "us", "them"),
    ("myself", "yourself", "itself", "this", "that", "these", "those", "what", "who"),
    ("whom", "why", "how", "when", "where", "which", "whose", "there", "here", "then"),
    ("than", "and", "but", "or", "nor", "if", "because", "as", "so", "not", "no", "yes"),
    ("yeah", "oh", "hi", "hello", "hey", "ok", "okay", "well", "please", "thanks", "thank"),
    ("sorry", "is", "am", "are", "was", "were", "be", "been", "being", "do", "does", "did"),
    ("done", "doing", "have", "has", "had", "having", "will", "would", "can", "could"),
    ("shall", "should", "may", "might", "must", "let", "let's", "i'm", "you're", "it's"),
    ("that's", "we're", "they're", "don't", "doesn't", "didn't", "can't", "won't", "isn't"),
    ("aren't", "wasn't", "weren't", "i've", "you've", "we've", "i'll", "you'll", "i'd"),
    ("you'd", "he's", "she's", "there's", "what's", "who's", "how's", "where's", "ain't"),
    ("shouldn't", "wouldn't", "couldn't", "haven't", "hasn't", "get", "got", "go", "going"),
    ("went", "gone", "come", "came", "say", "said", "tell", "told", "think", "thought"),
    ("know", "knew", "known", "want", "wanted", "need", "needed", "like", "liked", "love"),
    ("loved", "hate", "hated", "feel", "felt", "see", "saw", "seen", "look", "looked"),
    ("hear", "heard", "make", "made", "take", "took", "give", "gave", "try", "tried"),
    ("seem", "seems", "mean", "meant", "keep", "kept", "find", "found", "put", "help"),
    ("start", "finish", "finished", "remember", "forget", "believe", "hope", "wonder"),
    ("guess", "just", "still", "also", "even", "ever", "never", "always", "maybe"),
    ("perhaps", "actually", "honestly", "really", "very", "all", "any", "some", "more"),
    ("most", "much", "many", "lot", "lots", "one", "ones", "thing", "things", "something"),
    ("anything", "nothing", "everything", "someone", "anyone", "everyone", "today"),
    ("tonight", "now", "again", "too", "quite", "pretty", "rather", "already", "soon"),
    ("later", "else", "enough", "only", "own", "same", "such", "off", "up", "down", "out"),
    ("back", "away", "tomorrow", "yesterday", "best", "worst", "better", "worse", "least"),
    ("last", "next", "first"),
)
_NOUNISH_SUFFIXES = ("ings", "ing", "tion", "ment", "ness", "ity", "ship", "ism", "ance", "ence")
_POSSESSIVE_FLIP = {"my": "your", "your": "my", "our": "our"}
_WH_WORDS = frozenset({"what", "why", "how", "where", "when", "who", "which"})
_AUX_WORDS = frozenset[str]().union(
    ("do", "does", "did", "are", "is", "was", "were", "can", "could", "would", "will"),
    ("should", "shall", "have", "has", "had", "may", "might", "am", "don't", "doesn't"),
    ("didn't", "aren't", "isn't", "wasn't", "weren't", "can't", "couldn't", "won't"),
    ("wouldn't", "shouldn't", "haven't", "hasn't"),
)


# Set phrases of greeting are not a topic ("Nobody asked about good morning").
_GREETING_PHRASE = re.compile(
    r"\b(?:good|lovely|fine|nice|beautiful)\s+(?:morning|afternoon|evening|day|night)\b",
    re.IGNORECASE,
)


@lru_cache(maxsize=4096)
def _topic(utterance: str, excluded: frozenset[str]) -> str | None:
    """The most salient noun phrase of ``utterance``, seen from the listener's side.

    Runs of content words are candidates; a run after a determiner scores 3, a capitalised
    run inside a sentence (a name) 2.5, one after a preposition 2, a lone noun-like word 1;
    later runs win ties (the topic usually comes last). "my"/"your" are swapped, because the
    answer is spoken by the other person.
    """
    tokens = _TOKEN_RE.findall(_GREETING_PHRASE.sub(",", utterance))
    best: tuple[float, str] | None = None
    run: list[str] = []
    run_lead = ""
    run_start_of_sentence = False
    sentence_start = True
    previous = ""

    def close_run(position: int) -> None:
        nonlocal best
        if not run:
            return
        words = run[-3:]
        if run_lead in _DETERMINERS:
            score = 3.0
            words = [_POSSESSIVE_FLIP.get(run_lead, run_lead), *words]
        elif any(w[0].isupper() for w in run) and not (run_start_of_sentence and len(run) == 1):
            score = 2.5
        elif run_lead in _PREPOSITIONS:
            score = 2.0
        elif run[-1].lower().endswith(_NOUNISH_SUFFIXES) or (
            run[-1].lower().endswith("s") and not run[-1].lower().endswith(("ss", "ous", "'s"))
        ):
            score = 1.0
        else:
            return
        if run_start_of_sentence and words[0] == run[0]:
            words[0] = words[0].lower() if not words[0].isupper() else words[0]
        candidate = (score + 0.01 * position, " ".join(words))
        if best is None or candidate[0] >= best[0]:
            best = candidate

    for position, token in enumerate(tokens):
        lower = token.lower()
        if token in _SENTENCE_END or token in _CLAUSE_BREAK:
            close_run(position)
            run = []
            sentence_start = token in _SENTENCE_END
            previous = ""
            continue
        is_content = (
            lower not in _STOPWORDS
            and lower not in _DETERMINERS
            and lower not in _PREPOSITIONS
            and lower not in excluded
            and len(token) > 1
        )
        if is_content:
            if not run:
                run_lead = previous
                run_start_of_sentence = sentence_start
            run.append(token)
        else:
            close_run(position)
            run = []
            if lower not in _INTENSIFIERS:
                previous = lower
        sentence_start = False
    close_run(len(tokens))
    return best[1] if best else None


@lru_cache(maxsize=4096)
def _question_kind(utterance: str) -> str | None:
    """None for a statement, "yn" for a yes/no question, else the wh-word that opens it."""
    text = utterance.strip()
    if not text:
        return None
    last_sentence = re.split(r"(?<=[.!])\s+", text)[-1]
    words = [w.lower() for w in _TOKEN_RE.findall(last_sentence) if w[0].isalpha()]
    first = words[0] if words else ""
    if first in _WH_WORDS and (text.endswith("?") or len(words) > 2):
        return first
    if text.endswith("?"):
        wh = next((w for w in words[:3] if w in _WH_WORDS), None)
        return wh or "yn"
    if first in _AUX_WORDS and len(words) > 2:
        return "yn"
    return None


_VERB_START = frozenset[str]().union(
    ("find", "build", "fix", "plan", "decide", "convince", "win", "escape", "reach"),
    ("protect", "repair", "deliver", "solve", "organize", "organise", "prepare", "rescue"),
    ("recover", "save", "stop", "prevent", "gather", "collect", "negotiate", "agree"),
    ("choose", "settle", "persuade", "prove", "keep", "make", "get", "bring", "finish"),
    ("complete", "restore", "secure", "defend", "discover", "explore", "map", "uncover"),
    ("investigate", "learn", "teach", "help", "host", "throw", "raise", "write", "cook"),
    ("clean", "sell", "buy", "trade", "open", "close", "catch", "stay", "survive"),
)


@lru_cache(maxsize=256)
def _objective_forms(objective: str) -> tuple[str, bool]:
    """The objective as a phrase to quote, and whether it reads as a verb phrase."""
    text = objective.strip().rstrip(".!").strip()
    if not text:
        return "", False
    first, _, rest = text.partition(" ")
    if first.lower() in _DETERMINERS or first.lower() in _VERB_START:
        text = first.lower() + (" " + rest if rest else "")
    return text, first.lower() in _VERB_START and len(text.split()) <= 8


@lru_cache(maxsize=256)
def _setting_phrase(setting: str) -> str | None:
    """The setting as a noun phrase usable inside a sentence, or None when it is prose."""
    text = setting.strip().rstrip(".!").strip()
    if not text or len(text.split()) > 8 or any(mark in text for mark in ".!?;"):
        return None
    first, _, rest = text.partition(" ")
    if first.lower() in _DETERMINERS:
        return first.lower() + (" " + rest if rest else "")
    if first[0].isupper():
        return text
    return "the " + text


def _mood_phrase(mood: str) -> str | None:
    text = mood.strip().rstrip(".!").strip()
    if not text or len(text.split()) > 4:
        return None
    return text[0].lower() + text[1:]


# --- Register ---------------------------------------------------------------------------------

_FORMAL_REPLACEMENTS = {
    "I'm": "I am",
    "don't": "do not",
    "Don't": "Do not",
    "can't": "cannot",
    "won't": "will not",
    "it's": "it is",
    "It's": "It is",
    "that's": "that is",
    "That's": "That is",
    "you're": "you are",
    "You're": "You are",
    "we're": "we are",
    "isn't": "is not",
    "didn't": "did not",
    "doesn't": "does not",
    "haven't": "have not",
    "I've": "I have",
    "I'd": "I would",
    "I'll": "I will",
    "we'd": "we would",
    "you'd": "you would",
    "Okay": "Very well",
    "okay": "all right",
    "Hey": "Hello",
    "Eh, ": "",
    "Ha! ": "",
    "Ooh, ": "Oh, ",
    "Aw, ": "Oh, ",
}
_CASUAL_REPLACEMENTS = {
    "going to": "gonna",
    "kind of": "kinda",
    "want to": "wanna",
    "Yes": "Yeah",
    "yes": "yeah",
    "Hello": "Hey",
    "do not": "don't",
    "cannot": "can't",
    "Perhaps": "Maybe",
    "a little": "a bit",
    "Good day": "Hey",
}


# "Don't you dare", "isn't it?": an inverted negative stays contracted ("Do not you dare").
_INVERSION = r"(?! (?:you|it|we|they|he|she|I)\b)"


def _key_pattern(key: str) -> str:
    pattern = rf"(?<![A-Za-z']){re.escape(key)}"
    if key[-1].isalpha():
        pattern += r"(?![A-Za-z'])"
    if key.endswith("n't"):
        pattern += _INVERSION
    return pattern


def _replacer(table: Mapping[str, str]) -> Callable[[str], str]:
    pattern = re.compile(
        "|".join(_key_pattern(key) for key in sorted(table, key=len, reverse=True))
    )

    def replace(text: str) -> str:
        return pattern.sub(lambda match: table[match.group(0)], text)

    return replace


_formalize = _replacer(_FORMAL_REPLACEMENTS)
_casualize = _replacer(_CASUAL_REPLACEMENTS)


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _lower_first(text: str, keep: frozenset[str]) -> str:
    first = text.split(" ", 1)[0].rstrip(",.!?")
    if first in ("I", "I'm", "I've", "I'd", "I'll") or first in keep:
        return text
    if len(first) > 1 and first[1].isupper():  # an acronym
        return text
    return text[:1].lower() + text[1:]


# --- Composition --------------------------------------------------------------------------


class _Line:
    """Slots filled into templates, and the sentences said so far.

    A template that starts with "~" states an opinion and may take a hedge ("I guess ...",
    "..., I think."); the others (orders, questions, feelings) read wrong hedged.
    """

    __slots__ = ("last_hedgeable", "names", "sentences", "slots")

    def __init__(self, slots: dict[str, str], names: frozenset[str]) -> None:
        self.slots = slots
        self.sentences: list[str] = []
        self.names = names
        self.last_hedgeable = False

    def fill(self, template: str) -> str:
        return template.lstrip("~").format_map(self.slots)

    def add(self, template: str) -> None:
        self.sentences.append(self.fill(template))
        self.last_hedgeable = template.startswith("~")


def _slots(ctx: DialogueContext, topic: str | None) -> dict[str, str]:
    topic_text = topic or "that"
    return {
        "name": ctx.listener.name,
        "me": ctx.speaker.name,
        "Me": ctx.speaker.name,
        "topic": topic_text,
        "Topic": _upper_first(topic_text),
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


def _extras_count(voice: _Voice, rng: random.Random) -> int:
    count = int(
        EXTRA_PER_EXTRAVERSION * voice.extraversion
        + EXTRA_RANDOM_SPAN * rng.random()
        + EXTRA_PER_AROUSAL * max(0.0, voice.arousal)
        + EXTRA_OFFSET
    )
    if voice.energy < LOW_ENERGY:
        count -= 1
    return max(0, min(MAX_EXTRAS, count))


def _add_extras(
    line: _Line,
    ctx: DialogueContext,
    voice: _Voice,
    rng: random.Random,
    count: int,
    *,
    objective_said: bool = False,
) -> None:
    """Add up to ``count`` remarks, each from a different source, weighted by relevance."""
    if count <= 0:
        return
    sources: list[tuple[float, Callable[[], str | None]]] = []

    def emotion_remark() -> str | None:
        return rng.choice(EMOTION_REMARKS.get(voice.emotion, EMOTION_REMARKS["neutral"]))

    def relation_remark() -> str | None:
        pool = RELATION_REMARKS.get(voice.relation)
        return rng.choice(pool) if pool else None

    def trait_remark() -> str | None:
        traits = (
            ("openness", voice.openness),
            ("conscientiousness", voice.conscientiousness),
            ("extraversion", voice.extraversion),
            ("neuroticism", voice.neuroticism),
        )
        open_pools = [
            TRAIT_REMARKS[key]
            for name, value in traits
            for key in ((name, True), (name, False))
            if key in TRAIT_REMARKS and (value >= TRAIT_HIGH if key[1] else value <= TRAIT_LOW)
        ]
        return rng.choice(rng.choice(open_pools)) if open_pools else None

    def setting_remark() -> str | None:
        phrase = _setting_phrase(ctx.setting)
        if phrase is None:
            return None
        line.slots["setting"] = phrase
        line.slots["Setting"] = _upper_first(phrase)
        return SETTING_REMARKS[voice.stance].pick(rng, True)

    def objective_remark() -> str | None:
        objective, is_verb_phrase = _objective_forms(rng.choice(ctx.objectives))
        if not objective:
            return None
        line.slots["objective"] = objective
        pool = OBJECTIVE_REMARKS + (OBJECTIVE_VERB_REMARKS if is_verb_phrase else ())
        return rng.choice(pool)

    def mood_remark() -> str | None:
        phrase = _mood_phrase(ctx.mood)
        if phrase is None:
            return None
        line.slots["mood"] = phrase
        line.slots["Mood"] = _upper_first(phrase)
        return rng.choice(MOOD_REMARKS)

    def recent_remark() -> str | None:
        other = _third_party(ctx)
        if other is None:
            return None
        line.slots["other"] = line.slots["Other"] = other
        return rng.choice(RECENT_REMARKS)

    def tired_remark() -> str | None:
        return rng.choice(TIRED_REMARKS)

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
        template = source()
        if template is not None:
            line.add(template)
            count -= 1


def _hedge_probability(voice: _Voice) -> float:
    return (
        0.05
        + 0.6 * max(0.0, voice.neuroticism - 0.45) / 0.55
        + 0.35 * max(0.0, 0.4 - voice.conscientiousness) / 0.4
    )


def _vocative_probability(voice: _Voice) -> float:
    return {
        "stranger": 0.1,
        "acquaintance": 0.2,
        "friend": 0.35,
        "close friend": 0.45,
        "rival": 0.25,
        "enemy": 0.3,
    }.get(voice.relation, 0.2)


def _decorate_core(
    core: str,
    line: _Line,
    voice: _Voice,
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
    if hedgeable and plain_statement and rng.random() < _hedge_probability(voice):
        core = rng.choice(HEDGE_PREFIXES) + _lower_first(core, line.names)
        decorated = True
    elif not opens_with_interjection and rng.random() < 0.15 + 0.45 * voice.extraversion:
        if voice.extraversion < TRAIT_LOW:
            core = rng.choice(QUIET_INTERJECTIONS) + core
        else:
            interjection = (
                rng.choice(CONFLICT_WARM_INTERJECTIONS)
                if conflict and voice.stance == WARM
                else INTERJECTIONS[voice.stance].pick(rng, False)
            )
            if interjection.endswith(", "):
                core = interjection + _lower_first(core, line.names)
            else:
                core = interjection + core
        decorated = True
    if rng.random() < _vocative_probability(voice):
        name = line.slots["name"]
        if decorated or opens_with_interjection or rng.random() < 0.5:
            if core[-1] in ".!?" and not core.endswith(".."):
                core = f"{core[:-1]}, {name}{core[-1]}"
        else:
            core = f"{name}, {_lower_first(core, line.names)}"
    return core


def _add_closer(line: _Line, voice: _Voice, rng: random.Random, topical: bool, asked: bool) -> None:
    curiosity = 0.08 + 0.5 * voice.openness
    if voice.stance == HOSTILE:
        curiosity *= 0.5
    if not asked and rng.random() < curiosity:
        line.add(ASK_BACK[voice.stance].pick(rng, topical))
        return
    if voice.stance == WARM and voice.agreeableness > 0.6 and rng.random() < 0.3:
        line.add(rng.choice(WARM_CLOSERS))
        return
    last = line.sentences[-1]
    if (
        line.last_hedgeable
        and last.endswith(".")
        and rng.random() < 0.6 * _hedge_probability(voice)
    ):
        line.sentences[-1] = last[:-1] + rng.choice(HEDGE_TAGS)


def _finish(line: _Line, voice: _Voice, rng: random.Random) -> str:
    sentences = [_upper_first(s.strip()) for s in line.sentences if s.strip()]
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
        text = _formalize(text)
    elif voice.conscientiousness <= CASUAL_CONSCIENTIOUSNESS:
        text = _casualize(text)
    return _upper_first(text.replace("  ", " ").strip())


@dataclass(frozen=True, slots=True)
class _Core:
    text: str
    hedgeable: bool = False
    prefixed: bool = False
    follow: str | None = None  # a template for a second sentence that must come right after


def _deflect_probability(voice: _Voice) -> float:
    return (
        0.08
        + 0.3 * max(0.0, 0.5 - voice.agreeableness)
        + 0.15 * max(0.0, voice.neuroticism - 0.5)
        + (0.2 if voice.relation in ("rival", "enemy") else 0.0)
        + (0.1 if voice.relation == "stranger" else 0.0)
    )


def _reply_core(
    ctx: DialogueContext,
    line: _Line,
    voice: _Voice,
    rng: random.Random,
    *,
    topical: bool,
    utterance: str,
) -> _Core:
    """The sentence that answers the utterance itself."""
    stance = voice.stance
    question = _question_kind(utterance)
    if question is None:
        pools = {"greeting": GREET_REPLY, "conflict": DISAGREE, "collaboration": PLAN}.get(
            ctx.interaction_type, REACT
        )
        template = pools[stance].pick(rng, topical)
        return _Core(line.fill(template), hedgeable=template.startswith("~"))
    if rng.random() < _deflect_probability(voice):
        return _Core(line.fill(DEFLECT[stance].pick(rng, topical)))
    if question == "yn":
        lean_yes = YES_LEANING[stance] - (0.2 if ctx.interaction_type == "conflict" else 0.0)
        pool = ANSWER_YES if rng.random() < lean_yes else ANSWER_NO
        text = line.fill(pool[stance].pick(rng, topical))
        follow = ANSWER_FOLLOW[stance].pick(rng, True) if topical and rng.random() < 0.7 else None
        # A bare "Yes." or "No." takes no interjection ("Listen, hardly." reads wrong).
        return _Core(text, prefixed=True, follow=follow)
    prefix = WH_PREFIX[stance].pick(rng, False)
    answer = line.fill(ANSWER_WH.get(question, ANSWER_WH["what"]).pick(rng, topical))
    if prefix.endswith(", "):
        answer = _lower_first(answer, line.names)
    return _Core(prefix + answer, prefixed=bool(prefix))


class TemplateBackend:
    """Deterministic dialogue from fragment pools; needs nothing outside the process."""

    name = "template"

    def reply(self, ctx: DialogueContext) -> str:
        utterance = (ctx.utterance or "").strip()
        if not utterance:
            return self.opening(ctx)
        rng = _rng(ctx, "reply")
        voice = _voice(ctx)
        names = frozenset({ctx.speaker.name, ctx.listener.name})
        topic = _topic(utterance, frozenset(n.lower() for n in names))
        line = _Line(_slots(ctx, topic), names)
        core = _reply_core(ctx, line, voice, rng, topical=topic is not None, utterance=utterance)
        decorated = _decorate_core(
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
        _add_extras(line, ctx, voice, rng, _extras_count(voice, rng))
        _add_closer(line, voice, rng, topic is not None, asked=line.sentences[-1].endswith("?"))
        return _finish(line, voice, rng)

    def opening(self, ctx: DialogueContext) -> str:
        rng = _rng(ctx, "opening")
        voice = _voice(ctx)
        names = frozenset({ctx.speaker.name, ctx.listener.name})
        line = _Line(_slots(ctx, None), names)
        stance = voice.stance
        kind = ctx.interaction_type

        if kind == "greeting":
            if voice.relation == "stranger" and stance != HOSTILE:
                line.add(rng.choice(OPEN_GREETING_STRANGER))
            else:
                line.add(OPEN_GREETING[stance].pick(rng, False))
        elif kind == "collaboration" and ctx.objectives:
            objective, is_verb_phrase = _objective_forms(rng.choice(ctx.objectives))
            line.slots["objective"] = objective
            pool = OPEN_COLLAB_OBJECTIVE + (OPEN_COLLAB_OBJECTIVE_VERB if is_verb_phrase else ())
            line.add(rng.choice(pool))
            if stance in (COLD, HOSTILE):
                line.add(PLAN[stance].pick(rng, False))
        else:
            other = _third_party(ctx)
            if kind == "chat" and other is not None and rng.random() < 0.3:
                line.slots["other"] = line.slots["Other"] = other
                line.add(rng.choice(OPEN_CHAT_RECENT))
            else:
                topic = self._opening_topic(ctx, voice, rng)
                line.slots["topic"] = topic
                line.slots["Topic"] = _upper_first(topic)
                pools = {"conflict": OPEN_CONFLICT, "collaboration": OPEN_COLLAB}.get(
                    kind, OPEN_CHAT
                )
                line.add(pools[stance].pick(rng, True))

        extras = max(0, _extras_count(voice, rng) - 1)
        _add_extras(line, ctx, voice, rng, extras, objective_said=bool(line.slots["objective"]))
        if kind != "greeting" or voice.extraversion > TRAIT_HIGH:
            _add_closer(line, voice, rng, topical=False, asked=line.sentences[-1].endswith("?"))
        return _finish(line, voice, rng)

    @staticmethod
    def _opening_topic(ctx: DialogueContext, voice: _Voice, rng: random.Random) -> str:
        setting = _setting_phrase(ctx.setting)
        if setting is not None and ctx.interaction_type == "chat" and rng.random() < 0.3:
            return f"what's going on in {setting}"
        if ctx.interaction_type == "conflict":
            return rng.choice(GRIEVANCES)
        if ctx.interaction_type == "collaboration":
            return rng.choice(SHARED_TASKS)
        if voice.openness >= TRAIT_HIGH:
            return rng.choice(SMALL_TALK_CURIOUS)
        if voice.openness <= TRAIT_LOW:
            return rng.choice(SMALL_TALK_PLAIN)
        return rng.choice(SMALL_TALK_CURIOUS + SMALL_TALK_PLAIN)


__all__ = ["TemplateBackend"]
