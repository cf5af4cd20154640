"""The template backend refers back: an earlier exchange with the listener that fits what
is being said ("Last time you told me "your lanterns are ugly", Otto."), the lore fact a
question asks about, or one the exchange touches. It wraps the composed line and reports
what it drew on (``DialogueLine.drew_on``), so the Interaction can record it
(docs/dialogue.md, "Memories and lore").

Only what fits is drawn on. A memory of the listener fits when it shares a content word
with the line being answered (always recalled), or, failing that, when an important one
shares a content word with the rest of the exchange (the line being said, the scenario, the
last lines) and a seeded draw says so (``RECALL_PROBABILITY``). A lore fact fits when one of
its keys (or a word of its title) is in the question, or for a remark in the exchange. The
same context always gives the same line; a recall the speaker said recently and a sentence
of lore anyone said recently are not said again.
"""

from __future__ import annotations

import random
import re
import zlib

from interactions.dialogue.base import DialogueContext, DialogueLine, LoreFact
from interactions.dialogue.template.card import first_sentences
from interactions.dialogue.template.compose import (
    TemplateBackend,
    line_keys,
    said_by,
    sentence_key,
)
from memories.recalled import RecalledMemory

RECALL_MIN_IMPORTANCE = 0.3
RECALL_PROBABILITY = 0.35
LORE_MENTION_PROBABILITY = 0.5
CHUNK_MENTION_WORDS = 2
# How many of the conversation's last lines count as what the exchange is about.
RECENT_CONTEXT_LINES = 4
QUOTE_MAX_CHARS = 80
LORE_MAX_CHARS = 240

_WORD = re.compile(r"[a-z][a-z']+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
STOPWORDS = frozenset(
    """about after again also been before being could does doing don't even every from
    going have here just know like looks made make many more most much never only other
    over really right said same should some still such than that that's their them then
    there these they thing things think this those very want well were what when where
    which while will with would your you're yours""".split()  # noqa: SIM905
)


def content_words(text: str, *, drop: frozenset[str] = frozenset()) -> frozenset[str]:
    return frozenset(
        word
        for word in _WORD.findall(text.lower())
        if len(word) >= 4 and word not in STOPWORDS and word not in drop
    )


def _rng(ctx: DialogueContext, purpose: str) -> random.Random:
    key = "\x1f".join(
        (purpose, str(ctx.seed), ctx.speaker.id, ctx.listener.id, ctx.utterance or "")
    )
    return random.Random(zlib.crc32(key.encode("utf-8")))


# A recall at the start of the heard line (it recalled something itself): not quoted again.
_LEADING_RECALL = re.compile(
    r'^\s*(?:Last time you (?:told me|said) ".*?", [^.]*\.|You said ".*?" last time, [^;]*; '
    r"I haven't forgotten\.)\s*"
)


def _quote(heard: str) -> str:
    heard = _LEADING_RECALL.sub("", heard) or heard
    text = first_sentences(heard.replace('"', ""), QUOTE_MAX_CHARS)
    return text.rstrip(".!") if not text.endswith("...") else text


def _context_words(ctx: DialogueContext, line: str, names: frozenset[str]) -> frozenset[str]:
    """What the exchange is about beyond the line answered: the line being said (an
    opening's topic), the scenario's setting, mood and objectives, the last few lines."""
    parts = [line, ctx.setting, ctx.mood, *ctx.objectives]
    parts += [text for _name, text in ctx.recent[-RECENT_CONTEXT_LINES:]]
    return content_words(" ".join(parts), drop=names)


def memory_to_recall(
    ctx: DialogueContext, line: str = "", said: frozenset[str] = frozenset()
) -> RecalledMemory | None:
    """The memory of the listener this line should bring up, if any: one that shares a
    content word with what the listener just said, always; else, on a seeded draw, the
    best-ranked important one that shares a content word with the rest of the exchange
    (``_context_words``). Never one whose recall the speaker said in the recent
    conversation (``said``)."""
    names = frozenset(name.lower() for name in (ctx.speaker.name, ctx.listener.name))
    candidates = [
        memory
        for memory in ctx.memories
        if memory.kind == "memory"
        and memory.heard.strip()
        and memory.counterpart_id == ctx.listener.id
        and not said & line_keys(recall_sentence(memory, ctx.listener.name))
    ]
    if not candidates:
        return None
    # What the recall would quote is what must fit.
    quoted = {memory.id: content_words(_quote(memory.heard), drop=names) for memory in candidates}
    now_words = content_words(ctx.utterance or "", drop=names)
    if now_words:
        for memory in candidates:
            if now_words & quoted[memory.id]:
                return memory
    around = _context_words(ctx, line, names)
    for memory in candidates:
        if memory.importance >= RECALL_MIN_IMPORTANCE and around & quoted[memory.id]:
            return memory if _rng(ctx, "recall").random() < RECALL_PROBABILITY else None
    return None


def recall_sentence(memory: RecalledMemory, listener_name: str) -> str:
    quote = _quote(memory.heard)
    if memory.sentiment <= -0.05:
        return f'Last time you told me "{quote}", {listener_name}.'
    if memory.sentiment >= 0.05:
        return f'You said "{quote}" last time, {listener_name}; I haven\'t forgotten.'
    return f'Last time you said "{quote}", {listener_name}.'


def _lore_terms(fact: LoreFact) -> list[str]:
    terms = [key.strip().lower() for key in fact.keys if key.strip()]
    return terms or sorted(content_words(fact.title))


def _names_fact(fact: LoreFact, text: str) -> bool:
    lowered = text.lower()
    words = content_words(lowered)
    return any((" " in term and term in lowered) or term in words for term in _lore_terms(fact))


def conversation_text(ctx: DialogueContext) -> str:
    """The recent conversation and the line being answered, whoever said them, as compared
    for repetition (one register, words only), each line between spaces."""
    lines = [text for _name, text in ctx.recent] + [ctx.utterance or ""]
    return " " + "  ".join(sentence_key(text) for text in lines) + " "


def lore_sentence(fact: LoreFact, heard: str) -> str | None:
    """The first sentence of the fact nobody said in the recent conversation (``heard``,
    from :func:`conversation_text`): a story is not told twice in one conversation, it is
    told on."""
    for sentence in _SENTENCE_END.split(" ".join(fact.text.split())):
        said = sentence_key(sentence)
        if said and f" {said} " not in heard:
            return first_sentences(sentence, LORE_MAX_CHARS)
    return None


def lore_to_state(ctx: DialogueContext, heard: str = "") -> tuple[LoreFact, str] | None:
    """The lore fact a question asks about (one of its keys, or its title's words, in the
    question) and the sentence of it to say."""
    utterance = ctx.utterance or ""
    if "?" not in utterance:
        return None
    for fact in ctx.lore:
        if _names_fact(fact, utterance):
            sentence = lore_sentence(fact, heard)
            if sentence is not None:
                return fact, sentence
    return None


def _touches(fact: LoreFact, ctx: DialogueContext, line: str) -> bool:
    """A keyed entry is touched when one of its keys is in what the listener said, in the
    line or in the scenario's setting or objectives; a chunk of free text (no keys) only
    when what is said shares ``CHUNK_MENTION_WORDS`` of its words (a word of its title in
    the setting is too little to tell the story)."""
    said = " ".join((ctx.utterance or "", line))
    if fact.keys:
        return _names_fact(fact, " ".join((said, ctx.setting, *ctx.objectives)))
    names = frozenset(name.lower() for name in (ctx.speaker.name, ctx.listener.name))
    shared = content_words(fact.text, drop=names) & content_words(said, drop=names)
    return len(shared) >= CHUNK_MENTION_WORDS


def lore_to_mention(
    ctx: DialogueContext, line: str, heard: str = ""
) -> tuple[LoreFact, str] | None:
    """A lore fact the exchange touches (:func:`_touches`) without asking about it, on a
    seeded draw (``LORE_MENTION_PROBABILITY``), and the sentence of it to say."""
    if not ctx.lore:
        return None
    for fact in ctx.lore:
        sentence = lore_sentence(fact, heard) if _touches(fact, ctx, line) else None
        if sentence is not None:
            if _rng(ctx, "lore-mention").random() < LORE_MENTION_PROBABILITY:
                return fact, sentence
            return None
    return None


LORE_LEADS = ("Oh, that.", "Everyone here knows it:", "I can tell you that.", "Ask anyone:")
LORE_MENTION_LEADS = (
    "You know the story:",
    "As the old folks tell it:",
    "Ask anyone here:",
    "It's common knowledge:",
)


def lore_answer(
    sentence: str,
    rng: random.Random,
    leads: tuple[str, ...] = LORE_LEADS,
    said: frozenset[str] = frozenset(),
) -> str:
    """The fact in the speaker's mouth: a lead the speaker did not say recently (``said``;
    none when it said them all), then the fact's sentence as written."""
    first = rng.randrange(len(leads))
    for offset in range(len(leads)):
        lead = leads[(first + offset) % len(leads)]
        if said.isdisjoint(line_keys(lead)):
            return f"{lead} {sentence}"
    return sentence


def _after_first_sentence(line: str, addition: str) -> str:
    first, *rest = _SENTENCE_END.split(line, maxsplit=1)
    return " ".join((first, addition, *rest))


def with_recall(ctx: DialogueContext, line: str) -> DialogueLine:
    """``line`` as the template wrote it, with what it draws on: the lore fact a question
    asks about right after its first sentence (the answer to the question itself stays
    first), or a lore fact the exchange touches at its end; and a fitting memory of the
    listener in front. ``drew_on`` names each (docs/dialogue.md, "Memories and lore")."""
    said = said_by(ctx)
    # Only lore is checked against the whole conversation (up to 200 lines in a scenario):
    # without lore to tell, it is not read.
    heard = conversation_text(ctx) if ctx.lore else ""
    composed = line
    drew_on: list[dict[str, str]] = []
    asked = lore_to_state(ctx, heard)
    touched = asked or lore_to_mention(ctx, line, heard)
    if touched is not None:
        fact, sentence = touched
        if asked is not None:
            answer = lore_answer(sentence, _rng(ctx, "lore"), LORE_LEADS, said)
            line = _after_first_sentence(line, answer)
        else:
            mention = lore_answer(sentence, _rng(ctx, "lore"), LORE_MENTION_LEADS, said)
            line = f"{line} {mention}"
        drew_on.append({"kind": "lore", "id": fact.id, "text": fact.title or fact.text[:80]})
    memory = memory_to_recall(ctx, composed, said)
    if memory is not None:
        recall = recall_sentence(memory, ctx.listener.name)
        # A reply answers first, then remembers; an opening starts from the memory.
        line = _after_first_sentence(line, recall) if ctx.utterance else f"{recall} {line}"
        drew_on.insert(0, {"kind": memory.kind, "id": memory.id, "text": memory.heard})
    return DialogueLine(line, tuple(drew_on))


class RecallingTemplateBackend(TemplateBackend):
    """The template backend, with recall: what ``get_backend("template")`` builds."""

    def reply(self, ctx: DialogueContext) -> str:
        line = super().reply(ctx)  # an empty utterance comes back through opening()
        return line if isinstance(line, DialogueLine) else with_recall(ctx, line)

    def opening(self, ctx: DialogueContext) -> str:
        return with_recall(ctx, super().opening(ctx))
