"""Grammar of spliced phrases, with ``inflect``: articles (a/an) and the number of a verb
that follows a filled-in noun phrase ("{Topic} is" with "the stars" -> "The stars are").

``inflect`` works from its own word lists: nothing is downloaded, and one engine serves
the process.
"""

from __future__ import annotations

import importlib
import re
import sys
import threading
from functools import cache, lru_cache
from types import ModuleType
from typing import Any

# The verbs a phrase file puts right after a placeholder, singular -> plural.
_PLURAL_VERB = {
    "is": "are",
    "was": "were",
    "has": "have",
    "isn't": "aren't",
    "wasn't": "weren't",
    "hasn't": "haven't",
    "doesn't": "don't",
    "does": "do",
    "means": "mean",
    "matters": "matter",
    "takes": "take",
    "leads": "lead",
    "keeps": "keep",
    "seems": "seem",
    "needs": "need",
    "makes": "make",
    "cheers": "cheer",
    "feels": "feel",
    "won't": "won't",
    "itself": "themselves",
}
_AFTER_SLOT = re.compile(
    r"(\{(\w+)\}(?:\s+(?:always|still|really|never|just))?\s+)("
    + "|".join(re.escape(verb) for verb in sorted(_PLURAL_VERB, key=len, reverse=True))
    + r")(?![\w'])"
)
_ITSELF = re.compile(r"\{(\w+)\}([^.!?]*?)\bitself\b")
# Words ending in "s" that are singular, and heads that never take a plural verb.
_SINGULAR_S = frozenset(
    [
        "news",
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
        "harness",
        "compass",
        "canvas",
        "mathematics",
        "physics",
        "politics",
        "weather",
        "harbor",
    ]
)
_ARTICLE = re.compile(r"\b([Aa]n?) ([A-Za-z][\w'-]*)")


def _unchecked(target: Any = None, **_options: Any) -> Any:
    return target if target is not None else _unchecked


_IMPORTING = threading.Lock()


def inflect_unchecked() -> ModuleType:
    """``inflect``, imported with typeguard's ``@typechecked`` as the identity.

    inflect decorates its engine's methods with ``@typechecked``, which re-parses inflect's
    4,000-line source once per method at import (~2.7 s in every web process, worker and test
    server) and then checks every call's arguments (calls ~3x slower). The functions are the
    same without it. When something imported inflect first, that import is used as it is.
    One thread imports at a time, and each gets the module whole: ``import_module`` waits for
    an import another thread has begun (a web process's first requests race here).
    """
    with _IMPORTING:
        if "inflect" in sys.modules:
            return importlib.import_module("inflect")
        try:
            import typeguard
        except ImportError:  # an inflect that no longer uses it
            return importlib.import_module("inflect")
        checked = typeguard.typechecked
        typeguard.typechecked = _unchecked  # type: ignore[assignment]
        try:
            return importlib.import_module("inflect")
        finally:
            typeguard.typechecked = checked


@cache
def engine() -> Any:
    """The process's ``inflect.engine``."""
    return inflect_unchecked().engine()


@lru_cache(maxsize=4096)
def is_plural(phrase: str) -> bool:
    """Whether a noun phrase takes a plural verb: by its head (the last word), "every X"
    and names singular, "X and Y" plural."""
    words = phrase.split()
    if not words:
        return False
    if words[0].lower() in ("every", "each", "a", "an", "this", "that", "one"):
        return False
    if " and " in f" {phrase.lower()} ":
        return True
    head = words[-1].lower().strip(",.!?")
    if head in _SINGULAR_S or head.endswith(("ss", "us", "'s", "ics", "ness")):
        return False
    if words[0].lower() in ("these", "those"):
        return True
    return engine().singular_noun(head) is not False


def agree(template: str, values: dict[str, str]) -> str:
    """``template`` with each verb right after a placeholder put in the number of the
    value that fills it ("{Topic} means" with "the stars" -> "{Topic} mean")."""
    if "{" not in template:
        return template

    def fix(match: re.Match[str]) -> str:
        value = values.get(match.group(2), "")
        if not is_plural(value):
            return match.group(0)
        return match.group(1) + _PLURAL_VERB[match.group(3)]

    fixed = _AFTER_SLOT.sub(fix, template)

    def fix_itself(match: re.Match[str]) -> str:
        if not is_plural(values.get(match.group(1), "")):
            return match.group(0)
        return match.group(0)[: -len("itself")] + "themselves"

    return _ITSELF.sub(fix_itself, fixed)


def articles(text: str) -> str:
    """Every "a"/"an" in ``text`` agreeing with the word after it ("a apple" -> "an apple")."""

    def fix(match: re.Match[str]) -> str:
        article, word = match.group(1), match.group(2)
        if word.isupper() and len(word) > 1:
            return match.group(0)
        wanted = engine().a(word).split(" ", 1)[0]
        if wanted.lower() == article.lower():
            return match.group(0)
        return (wanted.capitalize() if article[0].isupper() else wanted) + " " + word

    return _ARTICLE.sub(fix, text)
