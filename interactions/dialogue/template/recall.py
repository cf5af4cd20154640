"""The template backend refers back: an earlier exchange with the listener that fits what
is being said ("Last time you told me "your lanterns are ugly", Otto."), or the lore fact
a question asks about. It wraps the composed line and reports what it drew on
(``DialogueLine.drew_on``), so the Interaction can record it (docs/dialogue.md, "Memories
and lore").

A memory fits when it shares a content word with the line being answered (always
recalled), or, failing that, when the best-ranked memory of the listener is important
enough and a seeded draw says so (``RECALL_PROBABILITY``): the same context always gives
the same line.
"""

from __future__ import annotations

import random
import re
import zlib

from interactions.dialogue.base import DialogueContext, DialogueLine, LoreFact
from interactions.dialogue.template.compose import TemplateBackend
from memories.recalled import RecalledMemory

RECALL_MIN_IMPORTANCE = 0.3
RECALL_PROBABILITY = 0.35
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


def first_sentences(text: str, max_chars: int) -> str:
    """The leading sentences of ``text`` that fit in ``max_chars`` (at least the first,
    cut at a word if it alone is too long)."""
    sentences = _SENTENCE_END.split(" ".join(text.split()))
    kept = ""
    for sentence in sentences:
        candidate = f"{kept} {sentence}".strip()
        if len(candidate) > max_chars:
            break
        kept = candidate
    if not kept:
        kept = sentences[0][:max_chars].rsplit(" ", 1)[0].rstrip(",;:") + "..."
    return kept


# A recall at the start of the heard line (it recalled something itself): not quoted again.
_LEADING_RECALL = re.compile(
    r'^\s*(?:Last time you (?:told me|said) ".*?", [^.]*\.|You said ".*?" last time, [^;]*; '
    r"I haven't forgotten\.)\s*"
)


def _quote(heard: str) -> str:
    heard = _LEADING_RECALL.sub("", heard) or heard
    text = first_sentences(heard.replace('"', ""), QUOTE_MAX_CHARS)
    return text.rstrip(".!") if not text.endswith("...") else text


def memory_to_recall(ctx: DialogueContext) -> RecalledMemory | None:
    """The memory of the listener this line should bring up, if any."""
    names = frozenset(name.lower() for name in (ctx.speaker.name, ctx.listener.name))
    candidates = [
        memory
        for memory in ctx.memories
        if memory.kind == "memory"
        and memory.heard.strip()
        and memory.counterpart_id == ctx.listener.id
    ]
    if not candidates:
        return None
    now_words = content_words(ctx.utterance or "", drop=names)
    if now_words:
        for memory in candidates:
            if now_words & content_words(memory.heard, drop=names):
                return memory
    best = candidates[0]
    if (
        best.importance >= RECALL_MIN_IMPORTANCE
        and _rng(ctx, "recall").random() < RECALL_PROBABILITY
    ):
        return best
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


def lore_to_state(ctx: DialogueContext) -> LoreFact | None:
    """The lore fact a question asks about: one of its keys (or its title's words) in the
    question. Only questions are answered with lore."""
    utterance = (ctx.utterance or "").lower()
    if "?" not in utterance:
        return None
    words = content_words(utterance)
    for fact in ctx.lore:
        for term in _lore_terms(fact):
            if (" " in term and term in utterance) or term in words:
                return fact
    return None


LORE_LEADS = ("Oh, that.", "Everyone here knows it:", "I can tell you that.", "Ask anyone:")


def lore_answer(fact: LoreFact, rng: random.Random) -> str:
    """The fact in the speaker's mouth: a lead, then its first sentences as written."""
    return f"{rng.choice(LORE_LEADS)} {first_sentences(fact.text, LORE_MAX_CHARS)}"


def with_recall(ctx: DialogueContext, line: str) -> DialogueLine:
    """``line`` as the template wrote it, answered from lore when the utterance asks about
    a lore fact, or preceded by a fitting memory of the listener."""
    fact = lore_to_state(ctx)
    if fact is not None:
        answer = lore_answer(fact, _rng(ctx, "lore"))
        return DialogueLine(
            answer, ({"kind": "lore", "id": fact.id, "text": fact.title or fact.text[:80]},)
        )
    memory = memory_to_recall(ctx)
    if memory is not None:
        return DialogueLine(
            f"{recall_sentence(memory, ctx.listener.name)} {line}",
            ({"kind": memory.kind, "id": memory.id, "text": memory.heard},),
        )
    return DialogueLine(line)


class RecallingTemplateBackend(TemplateBackend):
    """The template backend, with recall: what ``get_backend("template")`` builds."""

    def reply(self, ctx: DialogueContext) -> str:
        line = super().reply(ctx)  # an empty utterance comes back through opening()
        return line if isinstance(line, DialogueLine) else with_recall(ctx, line)

    def opening(self, ctx: DialogueContext) -> str:
        return with_recall(ctx, super().opening(ctx))
