"""Dialogue from any server that speaks OpenAI's chat-completions API.

Ollama (``http://127.0.0.1:11434/v1``), llama.cpp's server, vLLM, LM Studio or OpenAI itself:
one POST to ``{base_url}/chat/completions`` per line. The character's persona, feelings,
relationship, memories, lore, the scenario and the card's voice examples go into the system
prompt; the recent conversation follows as user/assistant turns. A reply that speaks for
another character is cut to the speaker's own part (asked again once if nothing is left).
Whatever goes wrong (timeout, refused connection, an error status, a body that is not the
expected JSON, an empty answer) is logged and the fallback backend (the template generator)
speaks instead, so an interaction never fails because of the model (docs/dialogue.md).
"""

from __future__ import annotations

import logging
import re
import time
import zlib
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from characters.emotion import label as emotion_label
from characters.personality import TRAIT_HIGH, TRAIT_LOW, BigFive
from interactions.dialogue.base import (
    DialogueBackend,
    DialogueContext,
    DialogueLine,
    card_text,
)
from interactions.dialogue.template.recall import RecallingTemplateBackend, content_words
from relationships.dynamics import relationship_label_of

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 5.0
MAX_TOKENS = 120
TEMPERATURE = 0.8
MAX_SENTENCES = 2
MAX_REPLY_CHARS = 500
# Enough context to stay on topic; short enough that a small local model answers fast.
MAX_RECENT_TURNS = 8
# Recalled memories and lore share this many prompt tokens, estimated as words x 1.3
# (English averages about 1.3 tokens a word in BPE vocabularies): memories first, best
# first, then lore; an item that does not fit whole is cut at a word (docs/dialogue.md).
MEMORY_LORE_TOKEN_BUDGET = 240
TOKENS_PER_WORD = 1.3
# The card's example dialogue (mes_example) and greetings get a budget of their own, by
# whole lines: enough for a few exchanges that show the voice.
VOICE_TOKEN_BUDGET = 160
VOICE_EXAMPLES_READ_CHARS = 4000
# A second request (after a reply that spoke only for others) is sent only if at least this
# much of the line's timeout is left: both requests together stay within the timeout.
MIN_RETRY_SECONDS = 0.5

# The failures a flaky or misconfigured server produces. Anything else is a bug here and
# should surface, not be papered over by the fallback.
BACKEND_ERRORS: tuple[type[Exception], ...] = (
    httpx.HTTPError,  # timeouts, refused connections, non-2xx (raise_for_status)
    httpx.InvalidURL,
    ValueError,  # malformed JSON (json.JSONDecodeError), empty content
    KeyError,
    IndexError,
    TypeError,  # a body of the wrong shape ("choices": null, content not a string)
)

_TRAIT_WORDS: dict[str, tuple[str, str, str]] = {
    # trait: (low, middle, high)
    "openness": (
        "practical and conventional",
        "open to new ideas within reason",
        "curious, imaginative and full of ideas",
    ),
    "conscientiousness": (
        "spontaneous and careless with details",
        "reasonably organised",
        "organised, careful and dependable",
    ),
    "extraversion": (
        "reserved and quiet, a person of few words",
        "neither shy nor loud",
        "outgoing, talkative and energetic",
    ),
    "agreeableness": (
        "blunt, critical and competitive",
        "polite but no pushover",
        "warm, kind and eager to cooperate",
    ),
    "neuroticism": (
        "calm and emotionally steady",
        "usually even-tempered",
        "anxious, moody and easily upset",
    ),
}

_INTERACTION_WORDS = {
    "greeting": "a greeting: you are saying hello",
    "chat": "a casual chat",
    "conflict": "a conflict: you disagree and tempers may rise",
    "collaboration": "a collaboration: you are working together on something",
}

_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_STAGE_DIRECTION = re.compile(r"\*[^*]{1,200}\*|\([^)]{1,200}\)(?=\s|$)")
_START_MARKER = re.compile(r"^\s*<start>\s*$", re.IGNORECASE)
# SillyTavern macros other than {{char}}/{{user}} ({{random:...}}, {{time}} ...): dropped.
_OTHER_MACRO = re.compile(r"\{\{[^{}]*\}\}")
_SPEECH_VERBS = (
    "said|says|replied|replies|answered|answers|asked|asks|responded|responds|added|adds|"
    "shouted|shouts|whispered|whispers|muttered|mutters|called|calls"
)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?…])[\"')\]]*\s+")
_QUOTES = "\"'\u201c\u201d\u2018\u2019"


def describe_personality(personality: BigFive) -> str:
    """The Big Five in words, one phrase per trait, for a prompt."""
    phrases = []
    for trait, (low, middle, high) in _TRAIT_WORDS.items():
        value = getattr(personality, trait)
        phrases.append(low if value <= TRAIT_LOW else high if value >= TRAIT_HIGH else middle)
    return "; ".join(phrases)


def _energy_words(energy: float) -> str:
    if energy < 0.25:
        return "exhausted"
    if energy < 0.5:
        return "a little tired"
    if energy < 0.8:
        return "fairly rested"
    return "full of energy"


def system_prompt(ctx: DialogueContext) -> str:
    """The persona, state, relationship and scenario, as the model's standing instructions."""
    speaker, listener, relationship = ctx.speaker, ctx.listener, ctx.relationship
    relation = relationship_label_of(relationship)
    lines = [
        f"You are {speaker.name}, a character in a small living world of characters who "
        f"talk to each other. Stay in character and speak only as {speaker.name}.",
    ]
    if speaker.bio.strip():
        lines.append(f"About you: {speaker.bio.strip()}")
    lines.append(f"Your personality: {describe_personality(speaker.personality)}.")
    lines.append(
        f"Right now you feel {emotion_label(speaker.emotion)}, and you are "
        f"{_energy_words(speaker.energy)}."
    )
    history = (
        "you have never spoken before"
        if relationship.interaction_count <= 0
        else f"you have spoken {relationship.interaction_count} times"
    )
    lines.append(
        f"You are talking to {listener.name}. To you, {listener.name} is: {relation} "
        f"(regard {relationship.strength:+.2f} on a scale from -1 hostile to +1 devoted, "
        f"trust {relationship.trust:.2f} from 0 to 1; {history})."
    )
    lines.append(
        f"This exchange is {_INTERACTION_WORDS.get(ctx.interaction_type, ctx.interaction_type)}."
    )
    if ctx.setting.strip():
        lines.append(f"Setting: {ctx.setting.strip()}")
    if ctx.mood.strip():
        lines.append(f"Mood of the scene: {ctx.mood.strip()}")
    objectives = [objective.strip() for objective in ctx.objectives if objective.strip()]
    if objectives:
        lines.append("Objectives of the scene: " + "; ".join(objectives) + ".")
    lines += memory_and_lore_lines(ctx)
    lines += voice_lines(ctx)
    lines.append(
        f"Speak only for yourself: never write what {ctx.listener.name} or anyone else says, "
        f"and never continue the conversation with their lines. Answer with one or two short "
        f"sentences of {ctx.speaker.name}'s spoken dialogue in plain English: no narration, "
        "no stage directions, no quotation marks, no name in front."
    )
    return "\n".join(lines)


def estimated_tokens(text: str) -> int:
    return round(len(text.split()) * TOKENS_PER_WORD)


def memory_and_lore_lines(
    ctx: DialogueContext, budget: int = MEMORY_LORE_TOKEN_BUDGET
) -> list[str]:
    """What the speaker remembers and knows, within ``budget`` estimated tokens."""
    remembered: list[str] = []
    known: list[str] = []
    left = budget
    items = [(remembered, memory.text) for memory in ctx.memories] + [
        (known, f"{fact.title}: {fact.text}" if fact.title else fact.text) for fact in ctx.lore
    ]
    for target, text in items:
        words = " ".join(text.split()).split(" ")
        fits = int(left / TOKENS_PER_WORD)
        if fits <= 3:
            break
        if len(words) > fits:
            words = [*words[:fits], "..."]
        target.append("- " + " ".join(words))
        left -= estimated_tokens(" ".join(words))
    lines = []
    if remembered:
        lines.append("What you remember (most relevant first):\n" + "\n".join(remembered))
    if known:
        lines.append("What you know of your world:\n" + "\n".join(known))
    return lines


def _card_said(text: str, *, char: str, user: str) -> str:
    """A card's text with its placeholders resolved and any other macro dropped."""
    return _OTHER_MACRO.sub("", card_text(text, char=char, user=user))


def _example_lines(text: str, *, char: str, user: str) -> list[str]:
    """A card's example dialogue as lines: placeholders resolved, ``<START>`` markers and
    stage directions dropped, blank lines left out."""
    lines = []
    # The budget holds about a hundred words: the head of a long card is enough.
    for raw in _card_said(text[:VOICE_EXAMPLES_READ_CHARS], char=char, user=user).splitlines():
        if _START_MARKER.match(raw):
            continue
        line = " ".join(_STAGE_DIRECTION.sub(" ", raw).split())
        if line.strip(" :"):
            lines.append(line)
    return lines


def _within_budget(lines: Iterable[str], budget: int) -> list[str]:
    """Whole lines while they fit in ``budget`` estimated tokens; the first one is cut at a
    word with "..." when even it does not fit."""
    kept: list[str] = []
    left = budget
    for line in lines:
        cost = estimated_tokens(line)
        if cost <= left:
            kept.append(line)
            left -= cost
            continue
        if not kept and int(left / TOKENS_PER_WORD) > 3:
            kept.append(" ".join(line.split()[: int(left / TOKENS_PER_WORD)]) + " ...")
        break
    return kept


def voice_lines(ctx: DialogueContext, budget: int = VOICE_TOKEN_BUDGET) -> list[str]:
    """The card's voice for the prompt, within ``budget`` estimated tokens: its example
    dialogue (``voice_examples``, a card's ``mes_example``) and, when the speaker opens a
    greeting, its greetings as examples (first, since they fit the moment best)."""
    speaker, listener = ctx.speaker, ctx.listener
    examples = _example_lines(speaker.voice_examples, char=speaker.name, user=listener.name)
    greetings = []
    if ctx.utterance is None and ctx.interaction_type == "greeting":
        for greeting in speaker.greetings:
            line = clean_reply(_card_said(greeting, char=speaker.name, user=listener.name), "")
            if line:
                greetings.append(f"- {line}")
    sections = []
    left = budget
    for heading, section in (
        ("Greetings you have opened with before (use one as it is, or one like it):", greetings),
        (
            "How you talk (example lines in your voice, not things that happened; "
            "match the manner, not the words):",
            examples,
        ),
    ):
        kept = _within_budget(section, left)
        if kept:
            sections.append(heading + "\n" + "\n".join(kept))
            left -= sum(estimated_tokens(line) for line in kept)
    return sections


def card_greeting(ctx: DialogueContext) -> str | None:
    """The card greeting a character opens with when it meets someone for the first time.

    For an opening (``utterance`` None) of a ``greeting`` with a listener the speaker has
    never spoken to, one of the speaker's ``greetings`` (picked by the seed, the pair and
    the greetings themselves, so a replay picks the same one), placeholders resolved and
    cleaned as a model's answer is (narration dropped, two sentences at most). None
    otherwise, or when nothing is left of it: the model writes the line.
    """
    speaker, listener = ctx.speaker, ctx.listener
    if (
        ctx.utterance is not None
        or ctx.interaction_type != "greeting"
        or ctx.relationship.interaction_count > 0
        or not speaker.greetings
    ):
        return None
    key = f"greeting|{ctx.seed}|{speaker.id}|{listener.id}|{len(speaker.greetings)}"
    greeting = speaker.greetings[zlib.crc32(key.encode()) % len(speaker.greetings)]
    line = clean_reply(
        _card_said(greeting, char=speaker.name, user=listener.name),
        speaker.name,
        others=cast_of(ctx),
    )
    return line or None


def drew_on(ctx: DialogueContext, reply: str) -> tuple[dict[str, str], ...]:
    """The memories and lore of the prompt that the reply shares a content word with."""
    names = frozenset(name.lower() for name in (ctx.speaker.name, ctx.listener.name))
    said = content_words(reply, drop=names)
    if not said:
        return ()
    sources: list[dict[str, str]] = []
    for memory in ctx.memories:
        if said & content_words(memory.heard or memory.text, drop=names):
            sources.append(
                {"kind": memory.kind, "id": memory.id, "text": memory.heard or memory.text}
            )
    for fact in ctx.lore:
        if said & content_words(fact.text, drop=names):
            sources.append({"kind": "lore", "id": fact.id, "text": fact.title or fact.text[:80]})
    return tuple(sources)


def build_messages(ctx: DialogueContext) -> list[dict[str, str]]:
    """System prompt, the recent conversation, then the line to answer (or to open)."""
    messages = [{"role": "system", "content": system_prompt(ctx)}]
    recent = list(ctx.recent[-MAX_RECENT_TURNS:])
    if ctx.utterance is not None and recent and recent[-1] == (ctx.listener.name, ctx.utterance):
        recent.pop()  # the caller already counted the utterance as an exchange
    for name, text in recent:
        if name == ctx.speaker.name:
            messages.append({"role": "assistant", "content": text})
        else:
            messages.append({"role": "user", "content": f"{name}: {text}"})
    if ctx.utterance is not None:
        messages.append({"role": "user", "content": f"{ctx.listener.name}: {ctx.utterance}"})
    else:
        messages.append(
            {
                "role": "user",
                "content": (
                    f"({ctx.listener.name} is here. Open a "
                    f"{ctx.interaction_type} with {ctx.listener.name}, addressing them "
                    "by name.)"
                ),
            }
        )
    return messages


def cast_of(ctx: DialogueContext) -> tuple[str, ...]:
    """The other characters the speaker must not speak for: the listener and everyone in
    the recent conversation."""
    names = {ctx.listener.name, *(name for name, _ in ctx.recent)}
    names.discard(ctx.speaker.name)
    return tuple(sorted(name for name in names if name.strip()))


def _aliases(speaker_name: str, others: Iterable[str]) -> dict[str, str]:
    """Every name a speaker tag may use (lower case) -> whose it is ("" for the speaker):
    full names, and first names of three letters or more that no two people share."""
    owners = {"": speaker_name, **{name: name for name in others}}
    aliases: dict[str, str] = {}
    first_names: dict[str, set[str]] = {}
    for owner, name in owners.items():
        name = " ".join(name.split())
        if not name:
            continue
        aliases[name.lower()] = owner
        first = name.split(" ")[0].lower()
        if first != name.lower() and len(first) >= 3:
            first_names.setdefault(first, set()).add(owner)
    for first, holders in first_names.items():
        if len(holders) == 1 and first not in aliases:
            aliases[first] = holders.pop()
    return aliases


def _speaker_tags(aliases: dict[str, str]) -> re.Pattern[str]:
    """A line given to someone: at the start of the text, of a line or of a sentence, a
    name (maybe in markdown or brackets, maybe with a parenthetical) and a colon, or a name
    and a speech verb followed by a colon, a comma or a quotation ("**Otto**:", "Otto:",
    "[Otto]:", "Otto (grinning):", "Otto said:", 'Otto says, "...'). "Otto said you would
    come" is the speaker reporting, not a tag."""
    names = "|".join(re.escape(alias) for alias in sorted(aliases, key=len, reverse=True))
    return re.compile(
        r"(?:^|(?<=\n)|(?<=[.!?\u2026]\s)|(?<=[.!?\u2026][\"')\]\u201d]\s))"
        r"[ \t>*_\[\"\u201c]*"
        rf"(?P<name>{names})"
        r"[*_\]]*(?:\s*\([^)\n]{0,40}\))?[*_]*[ \t]*"
        rf"(?::|(?:{_SPEECH_VERBS})\b[ \t]*(?:[:,]|(?=[\"\u201c])))[*_]*",
        re.IGNORECASE,
    )


def own_part(text: str, speaker_name: str, others: Iterable[str] = ()) -> str:
    """The speaker's own words in ``text``: the first stretch that is the speaker's (before
    any tag, or after the speaker's own "Name:"), up to the first line given to anyone else.
    "" when every line is someone else's."""
    aliases = _aliases(speaker_name, others)
    if not aliases:
        return text
    segments: list[tuple[str, str]] = []  # (owner, words); owner "" is the speaker
    position, owner = 0, ""
    for match in _speaker_tags(aliases).finditer(text):
        segments.append((owner, text[position : match.start()]))
        owner = aliases[match.group("name").lower()]
        position = match.end()
    segments.append((owner, text[position:]))
    own = ""
    for index, (who, words) in enumerate(segments):
        if who == "" and words.strip():
            own = words
            # The speaker's own next tagged lines run on (``Mara: ... Mara: ...``).
            for next_who, next_words in segments[index + 1 :]:
                if next_who != "":
                    break
                own += " " + next_words
            break
    return own.strip()


def clean_reply(content: str, speaker_name: str, others: Iterable[str] = ()) -> str:
    """The spoken line out of a model's answer: one or two sentences, at most 500 chars.

    Drops reasoning blocks (``<think>...</think>``), keeps only the speaker's own part
    (``own_part``: a leading "Mara:", "**Mara**:" or "Mara says:" is dropped, and lines
    given to ``others`` are cut), then stage directions and wrapping quotes; returns ""
    when nothing is left.
    """
    text = _THINK_BLOCK.sub(" ", content)
    text = own_part(text, speaker_name, others) if speaker_name else text
    text = _STAGE_DIRECTION.sub(" ", text)
    text = " ".join(text.split())
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    sentences = _SENTENCE_SPLIT.split(text)
    text = " ".join(sentences[:MAX_SENTENCES]).strip().strip(_QUOTES).strip()
    if len(text) > MAX_REPLY_CHARS:
        cut = text[: MAX_REPLY_CHARS - 1]
        cut = cut[: cut.rfind(" ")] if " " in cut else cut
        text = cut.rstrip(",;:- ") + "…"
    return text


class OpenAICompatBackend:
    """Chat-completions dialogue with a timeout and a fallback backend.

    ``client`` is for tests (an ``httpx.Client`` over a ``MockTransport``) or for sharing a
    pool; without one the backend owns a client and ``close()`` releases it.
    """

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        fallback: DialogueBackend | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key or None
        self.timeout = timeout
        self.fallback: DialogueBackend = (
            fallback if fallback is not None else RecallingTemplateBackend()
        )
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout)

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def reply(self, ctx: DialogueContext) -> str:
        if ctx.utterance is None:
            return self.opening(ctx)
        return self._complete(ctx, self.fallback.reply)

    def opening(self, ctx: DialogueContext) -> str:
        greeting = card_greeting(ctx)
        if greeting is not None:
            return greeting
        return self._complete(ctx, self.fallback.opening)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def request_body(self, ctx: DialogueContext, *, reminder: bool = False) -> dict[str, Any]:
        """The chat-completions body; ``reminder`` adds the rule against speaking for
        others once more at the end (the second request, after a reply that broke it)."""
        messages = build_messages(ctx)
        if reminder:
            others = ", ".join(cast_of(ctx)) or "anyone else"
            messages.append(
                {
                    "role": "user",
                    "content": (
                        f"(Answer as {ctx.speaker.name} only, in {ctx.speaker.name}'s own "
                        f"words. Do not write lines for {others}, and put no name in front.)"
                    ),
                }
            )
        return {
            "model": self.model,
            "messages": messages,
            "max_tokens": MAX_TOKENS,
            "temperature": TEMPERATURE,
            "stream": False,
        }

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def _ask(self, ctx: DialogueContext, *, timeout: float, reminder: bool) -> str:
        response = self._client.post(
            self.url,
            json=self.request_body(ctx, reminder=reminder),
            headers=self._headers(),
            timeout=timeout,
        )
        response.raise_for_status()
        content = response.json()["choices"][0]["message"]["content"]
        if not isinstance(content, str):
            raise TypeError(f"message content is {type(content).__name__}, not a string")
        return content

    def _complete(self, ctx: DialogueContext, fallback: Callable[[DialogueContext], str]) -> str:
        """The model's line, cut to the speaker's own part. A reply with nothing of the
        speaker's (every line given to someone else) is asked again once, reminded, if at
        least MIN_RETRY_SECONDS of the timeout is left; both requests share the timeout."""
        deadline = time.monotonic() + self.timeout
        others = cast_of(ctx)
        try:
            content = self._ask(ctx, timeout=self.timeout, reminder=False)
            text = clean_reply(content, ctx.speaker.name, others)
            if not text and clean_reply(content, ctx.speaker.name):
                left = deadline - time.monotonic()
                if left < MIN_RETRY_SECONDS:
                    raise ValueError("the model spoke only for others; no time to ask again")
                logger.info(
                    "Dialogue backend %r spoke only for others as %s; asking again.",
                    self.model,
                    ctx.speaker.name,
                )
                content = self._ask(ctx, timeout=left, reminder=True)
                text = clean_reply(content, ctx.speaker.name, others)
                if not text and clean_reply(content, ctx.speaker.name):
                    raise ValueError("the model spoke only for others, twice")
            if not text:
                raise ValueError("the model returned an empty reply")
        except BACKEND_ERRORS as error:
            logger.warning(
                "Dialogue backend %r at %s failed for %s (%s: %s); using the %s backend.",
                self.model,
                self.url,
                ctx.speaker.name,
                type(error).__name__,
                error,
                self.fallback.name,
            )
            return fallback(ctx)
        return DialogueLine(text, drew_on(ctx, text))
