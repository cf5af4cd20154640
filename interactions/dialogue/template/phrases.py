"""The phrase pools of the template backend: loaded from TOML files, validated, cached.

The pools live in ``interactions/dialogue/phrases/*.toml`` (format: ``docs/dialogue.md``).
Each top-level key of a file is one pool; the :class:`Phrases` fields below say which pools
must exist, their shape (one list, a list per stance, or a list per named key), what a
phrase in them may contain and which placeholders it may use. A file that breaks any of
these rules raises :class:`PhraseFileError` naming the file and the line when the backend
is built, instead of a ``KeyError`` or a stray "{topc}" in the middle of a scenario.
"""

from __future__ import annotations

import random
import re
import string
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from characters.emotion import EMOTION_LABELS
from interactions.dialogue.template.analysis import WH_WORDS
from interactions.dialogue.template.voice import COLD, HOSTILE, NEUTRAL, WARM
from relationships.dynamics import RELATIONSHIP_LABELS

STANCES = (WARM, NEUTRAL, COLD, HOSTILE)
TRAITS = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")
TOPIC_PLACEHOLDERS = frozenset({"topic", "Topic"})

# Placeholders, by what the code fills in when a pool is used. A capitalised name is the
# same value with its first letter in upper case, for the start of a sentence.
_PEOPLE = frozenset({"name", "me", "Me"})
_TOPIC = TOPIC_PLACEHOLDERS
_SETTING = frozenset({"setting", "Setting"})
_MOOD = frozenset({"mood", "Mood"})
_OBJECTIVE = frozenset({"objective"})
_OTHER = frozenset({"other", "Other"})
# Filled in every sentence: a thing from the speaker's bio, a place from the setting (or
# another thing of the bio when the scenario has no setting).
_THING = frozenset({"thing", "Thing", "place", "Place"})

Shape = Literal["list", "stance", "keyed"]
# sentence: a template, formatted with the placeholders; may be marked hedgeable.
# fragment: said as written next to a sentence (an interjection, a hedge, a prefix).
# value: a noun phrase filled into another template's {topic}.
Kind = Literal["sentence", "fragment", "value"]


@dataclass(frozen=True, slots=True)
class Phrase:
    """One template. ``hedgeable``: it states an opinion, so it may take a hedge
    ("I guess ...", "..., I think."); orders, questions and feelings read wrong hedged."""

    text: str
    hedgeable: bool = False
    needs_topic: bool = False


class Pool:
    """The phrases of one slot; ``generic`` holds the ones that need no topic."""

    __slots__ = ("all", "generic", "topical")

    def __init__(self, phrases: tuple[Phrase, ...]) -> None:
        self.all = phrases
        self.generic = tuple(p for p in phrases if not p.needs_topic)
        self.topical = tuple(p for p in phrases if p.needs_topic)

    def pick(self, rng: random.Random, topical: bool) -> Phrase:
        return rng.choice(self.all if topical else self.generic)


StancePools = Mapping[str, Pool]
StanceFragments = Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class PoolSpec:
    shape: Shape
    kind: Kind = "sentence"
    placeholders: frozenset[str] = frozenset()
    keys: tuple[str, ...] = ()  # the keys a stance or keyed pool may have
    required: tuple[str, ...] = ()  # the keys it must have
    allow_empty_phrase: bool = False  # "" is a phrase ("no prefix this time")
    untopical_use: bool = False  # also picked without a topic: needs phrases without one


def _spec(
    shape: Shape, kind: Kind = "sentence", *placeholders: frozenset[str], **options: Any
) -> dict[str, PoolSpec]:
    """The metadata of a :class:`Phrases` field: the :class:`PoolSpec` of its pool."""
    keys = tuple(options.pop("keys", STANCES if shape == "stance" else ()))
    required = tuple(options.pop("required", keys))
    if kind == "sentence":
        placeholders = (*placeholders, _THING, _PEOPLE)
    spec = PoolSpec(
        shape, kind, frozenset().union(*placeholders), keys=keys, required=required, **options
    )
    return {"spec": spec}


# The specs shared by several pools.
_REPLY_CORE = _spec("stance", "sentence", _TOPIC, untopical_use=True)
_REMARK = _spec("list", "sentence", _PEOPLE)
_FRAGMENTS = _spec("list", "fragment")
_TOPICS = _spec("list", "value")
_OPENING = _spec("stance", "sentence", _PEOPLE, _TOPIC)
_WITH_OBJECTIVE = _spec("list", "sentence", _PEOPLE, _OBJECTIVE)
_TRAIT_KEYS = tuple(f"{trait}_{side}" for trait in TRAITS for side in ("high", "low"))


@dataclass(frozen=True)
class Phrases:
    """Every pool of the template backend, by its name in the phrase files."""

    # replies.toml: the core of a reply, and how it ends.
    warm_closers: Pool = field(metadata=_REMARK)
    greet_reply: StancePools = field(metadata=_REPLY_CORE)
    react: StancePools = field(metadata=_REPLY_CORE)
    disagree: StancePools = field(metadata=_REPLY_CORE)
    plan: StancePools = field(metadata=_REPLY_CORE)
    answer_yes: StancePools = field(metadata=_REPLY_CORE)
    answer_no: StancePools = field(metadata=_REPLY_CORE)
    answer_follow: StancePools = field(metadata=_spec("stance", "sentence", _TOPIC))
    answer_wh: Mapping[str, Pool] = field(
        metadata=_spec("keyed", "sentence", _TOPIC, keys=sorted(WH_WORDS), untopical_use=True)
    )
    wh_prefix: StanceFragments = field(
        metadata=_spec("stance", "fragment", allow_empty_phrase=True)
    )
    deflect: StancePools = field(metadata=_REPLY_CORE)
    ask_back: StancePools = field(metadata=_REPLY_CORE)
    # remarks.toml: the extra sentences after the core.
    tired_remarks: Pool = field(metadata=_REMARK)
    mood_remarks: Pool = field(metadata=_spec("list", "sentence", _PEOPLE, _MOOD))
    objective_remarks: Pool = field(metadata=_WITH_OBJECTIVE)
    objective_verb_remarks: Pool = field(metadata=_WITH_OBJECTIVE)
    recent_remarks: Pool = field(metadata=_spec("list", "sentence", _PEOPLE, _OTHER))
    emotion_remarks: Mapping[str, Pool] = field(
        metadata=_spec("keyed", "sentence", _PEOPLE, keys=EMOTION_LABELS)
    )
    relation_remarks: Mapping[str, Pool] = field(
        metadata=_spec("keyed", "sentence", _PEOPLE, keys=RELATIONSHIP_LABELS)
    )
    trait_remarks: Mapping[str, Pool] = field(
        metadata=_spec("keyed", "sentence", _PEOPLE, keys=_TRAIT_KEYS, required=())
    )
    setting_remarks: StancePools = field(metadata=_spec("stance", "sentence", _PEOPLE, _SETTING))
    bio_remarks: StancePools = field(metadata=_spec("stance", "sentence", _PEOPLE))
    # decoration.toml: what goes in front of or after a sentence.
    hedge_prefixes: tuple[str, ...] = field(metadata=_FRAGMENTS)
    hedge_tags: tuple[str, ...] = field(metadata=_FRAGMENTS)
    quiet_interjections: tuple[str, ...] = field(metadata=_FRAGMENTS)
    conflict_warm_interjections: tuple[str, ...] = field(metadata=_FRAGMENTS)
    interjections: StanceFragments = field(metadata=_spec("stance", "fragment"))
    habit_tags: tuple[str, ...] = field(metadata=_FRAGMENTS)
    soft_tags: tuple[str, ...] = field(metadata=_FRAGMENTS)
    blunt_tags: tuple[str, ...] = field(metadata=_FRAGMENTS)
    # openings.toml: the first line of an exchange.
    open_greeting_stranger: Pool = field(metadata=_REMARK)
    open_chat_recent: Pool = field(metadata=_spec("list", "sentence", _PEOPLE, _OTHER))
    open_collab_objective: Pool = field(metadata=_WITH_OBJECTIVE)
    open_collab_objective_verb: Pool = field(metadata=_WITH_OBJECTIVE)
    open_greeting: StancePools = field(
        metadata=_spec("stance", "sentence", _PEOPLE, untopical_use=True)
    )
    open_chat: StancePools = field(metadata=_OPENING)
    open_conflict: StancePools = field(metadata=_OPENING)
    open_collab: StancePools = field(metadata=_OPENING)
    # topics.toml: what an opening talks about ({topic} of open_chat and the like).
    small_talk_curious: tuple[str, ...] = field(metadata=_TOPICS)
    small_talk_plain: tuple[str, ...] = field(metadata=_TOPICS)
    grievances: tuple[str, ...] = field(metadata=_TOPICS)
    shared_tasks: tuple[str, ...] = field(metadata=_TOPICS)


SPECS: Mapping[str, PoolSpec] = MappingProxyType(
    {pool.name: pool.metadata["spec"] for pool in fields(Phrases)}
)


class PhraseFileError(ValueError):
    """A phrase file that cannot be used, with the file and (when known) the line."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")


def phrases_directory() -> Traversable:
    """Where the shipped phrase files are: ``interactions/dialogue/phrases/``."""
    return files("interactions.dialogue").joinpath("phrases")


@cache
def default_phrases() -> Phrases:
    """The shipped pools, loaded and validated once per process."""
    return load_phrases(phrases_directory())


def load_phrases(directory: Traversable | Path) -> Phrases:
    """Read every ``*.toml`` file of ``directory`` (in name order) and build the pools.

    Raises :class:`PhraseFileError` for a file that is not TOML, a pool that is unknown,
    defined twice, missing, empty or of the wrong shape, a phrase that is not a string or
    ``{text = ..., hedgeable = ...}``, and a placeholder the pool does not fill.
    """
    sources = sorted(
        (entry for entry in directory.iterdir() if entry.name.endswith(".toml")),
        key=lambda entry: entry.name,
    )
    if not sources:
        raise PhraseFileError(str(directory), None, "no phrase files (*.toml) here")
    built: dict[str, object] = {}
    defined_in: dict[str, str] = {}
    for source in sources:
        path = str(source)
        text = source.read_text(encoding="utf-8")
        document = _parse(path, text)
        locate = _Locator(path, text)
        for name, value in document.items():
            spec = SPECS.get(name)
            if spec is None:
                known = ", ".join(SPECS)
                raise locate.error(f"unknown pool {name!r} (known pools: {known})", name)
            if name in defined_in:
                raise locate.error(f"pool {name!r} is already defined in {defined_in[name]}", name)
            defined_in[name] = source.name
            built[name] = _build(name, value, spec, locate)
    missing = [name for name in SPECS if name not in built]
    if missing:
        raise PhraseFileError(
            str(directory),
            None,
            f"no phrase file defines the pool(s) {', '.join(missing)} "
            f"(read: {', '.join(source.name for source in sources)})",
        )
    return Phrases(**built)  # type: ignore[arg-type]


def _parse(path: str, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # Python 3.11's TOMLDecodeError has no line attribute; the line is in the message.
        found = re.search(r"at line (\d+)", str(error))
        line = int(found.group(1)) if found else text.count("\n") + 1
        raise PhraseFileError(path, line, f"not valid TOML: {error}") from None


def _build(name: str, value: Any, spec: PoolSpec, locate: _Locator) -> object:
    if spec.shape == "list":
        if not isinstance(value, list):
            raise locate.error(f"pool {name!r} must be a list of phrases", name)
        return _build_list(name, None, value, spec, locate)
    if not isinstance(value, dict):
        what = "stance" if spec.shape == "stance" else "key"
        raise locate.error(f"pool {name!r} must be a table of phrase lists by {what}", name)
    for key in value:
        if key not in spec.keys:
            raise locate.error(
                f"pool {name!r} has an unknown key {key!r} (expected: {', '.join(spec.keys)})",
                name,
                key,
            )
    for key in spec.required:
        if key not in value:
            raise locate.error(f"pool {name!r} has no phrases for {key!r}", name)
    built = {}
    for key, phrases in value.items():
        if not isinstance(phrases, list):
            raise locate.error(f"{name}.{key} must be a list of phrases", name, key)
        built[key] = _build_list(name, key, phrases, spec, locate)
    return MappingProxyType(built)


def _build_list(
    name: str, key: str | None, items: list[Any], spec: PoolSpec, locate: _Locator
) -> object:
    where = f"{name}.{key}" if key else name
    if not items:
        raise locate.error(f"{where} is empty: a pool needs at least one phrase", name, key)
    in_list = locate.at(name, key)
    phrases = tuple(
        _phrase(where, item, spec, in_list.item(index)) for index, item in enumerate(items)
    )
    if spec.kind != "sentence":
        return tuple(phrase.text for phrase in phrases)
    if spec.untopical_use and all(phrase.needs_topic for phrase in phrases):
        raise locate.error(
            f"{where} is also used when there is no topic: it needs at least one phrase "
            "without {topic} or {Topic}",
            name,
            key,
        )
    return Pool(phrases)


def _phrase(where: str, item: Any, spec: PoolSpec, locate: _PhraseLocator) -> Phrase:
    hedgeable = False
    if isinstance(item, dict):
        unknown = set(item) - ({"text", "hedgeable"} if spec.kind == "sentence" else {"text"})
        text = item.get("text")
        if not isinstance(text, str):
            text = None
        if unknown:
            raise locate.error(f"{where}: unknown field(s) {', '.join(sorted(unknown))}", text)
        if text is None:
            raise locate.error(f'{where}: a phrase table needs text = "..."', None)
        hedgeable = item.get("hedgeable", False)
        if not isinstance(hedgeable, bool):
            raise locate.error(f"{where}: hedgeable must be true or false", text)
    elif isinstance(item, str):
        text = item
    else:
        raise locate.error(
            f'{where}: a phrase is a string or {{text = "...", hedgeable = true}}, '
            f"not {type(item).__name__}",
            None,
        )
    if text != text.strip():
        raise locate.error(f"{where}: {text!r} has leading or trailing spaces", text)
    if not text and not spec.allow_empty_phrase:
        raise locate.error(f"{where}: an empty phrase", text)
    used = _placeholders(where, text, locate)
    if used and spec.kind != "sentence":
        raise locate.error(
            f"{where}: {text!r} uses placeholders, which this pool cannot fill", text
        )
    unknown_placeholders = used - spec.placeholders
    if unknown_placeholders:
        known = ", ".join(f"{{{p}}}" for p in sorted(spec.placeholders)) or "none"
        bad = ", ".join(f"{{{p}}}" for p in sorted(unknown_placeholders))
        raise locate.error(f"{where}: unknown placeholder {bad} in {text!r} (known: {known})", text)
    return Phrase(text, hedgeable=hedgeable, needs_topic=bool(used & TOPIC_PLACEHOLDERS))


def _placeholders(where: str, text: str, locate: _PhraseLocator) -> set[str]:
    used = set()
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as error:  # a lone "{" or "}"
        raise locate.error(f"{where}: {text!r} has a stray brace ({error})", text) from None
    for _literal, field_name, format_spec, conversion in parsed:
        if field_name is None:
            continue
        if not field_name.isidentifier() or format_spec or conversion:
            raise locate.error(
                f"{where}: {{{field_name}}} in {text!r} is not a plain placeholder name", text
            )
        used.add(field_name)
    return used


class _Locator:
    """Finds the line of a pool, a key or a phrase in a file's text (1-based)."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def error(
        self,
        message: str,
        pool: str,
        key: str | None = None,
        phrase: str | None = None,
        index: int | None = None,
    ) -> PhraseFileError:
        return PhraseFileError(self.path, self.line_of(pool, key, phrase, index), message)

    def at(self, pool: str, key: str | None) -> _PhraseLocator:
        return _PhraseLocator(self, pool, key)

    def line_of(
        self,
        pool: str,
        key: str | None = None,
        phrase: str | None = None,
        index: int | None = None,
    ) -> int | None:
        """The line of ``phrase`` (the ``index``-th item) of ``pool`` / ``key``; failing
        that, the line of the key or of the pool; None when even the pool is not found."""
        pool_line = self._find(_key_pattern(pool, table=True), 0)
        if pool_line is None:
            return None
        list_line = pool_line
        if key is not None:
            list_line = self._find(_key_pattern(key, table=False), pool_line) or pool_line
        item_line = self._item_line(list_line, index) if index is not None else None
        if phrase:
            written = (_basic_string(phrase), f"'{phrase}'")
            if item_line is not None and any(w in self.lines[item_line - 1] for w in written):
                return item_line
            for form in written:
                found = self._find(re.compile(re.escape(form)), list_line - 1)
                if found is not None:
                    return found
        return item_line or list_line

    def _item_line(self, list_line: int, index: int) -> int | None:
        """The line of the ``index``-th item of a list written one item a line."""
        if not self.lines[list_line - 1].split("#", 1)[0].rstrip().endswith("["):
            return None
        seen = -1
        for number, text in self._numbered(list_line):
            stripped = text.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if stripped.startswith("]"):
                return None
            seen += 1
            if seen == index:
                return number
        return None

    def _find(self, pattern: re.Pattern[str], start: int) -> int | None:
        for number, text in self._numbered(start):
            if pattern.search(text):
                return number
        return None

    def _numbered(self, start: int) -> Iterator[tuple[int, str]]:
        for index in range(start, len(self.lines)):
            yield index + 1, self.lines[index]


@dataclass(frozen=True, slots=True)
class _PhraseLocator:
    """The locator of one list of phrases, for the errors of its items."""

    locator: _Locator
    pool: str
    key: str | None
    index: int = 0

    def item(self, index: int) -> _PhraseLocator:
        return _PhraseLocator(self.locator, self.pool, self.key, index)

    def error(self, message: str, phrase: str | None) -> PhraseFileError:
        return self.locator.error(message, self.pool, self.key, phrase, self.index)


def _key_pattern(name: str, *, table: bool) -> re.Pattern[str]:
    quoted = rf"(?:{re.escape(name)}|\"{re.escape(name)}\"|'{re.escape(name)}')"
    assignment = rf"^\s*{quoted}\s*="
    if table:
        return re.compile(rf"{assignment}|^\s*\[\s*{quoted}\s*\]")
    return re.compile(assignment)


def _basic_string(text: str) -> str:
    """``text`` as a TOML basic string, the way the phrase files write it."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
