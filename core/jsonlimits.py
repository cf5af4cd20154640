"""JSON from clients, parsed with a bound on nesting.

Python's ``json`` recurses once per level of nesting: ``[`` x 100,000 (100 KB) raises
``RecursionError``, which is not a ``ValueError`` and so escapes every ``except ValueError``
around a parse (a 500, or a WebSocket closed with 1011). Even nesting the parser survives
(a few hundred levels) recurses again in whatever walks the result later: validation, error
messages, the renderer. So input nested deeper than ``MAX_JSON_DEPTH`` is refused; no
request or frame of this API comes near it.

``loads_bounded`` is the one entry point: the REST parser (``core.parsers``) and the event
stream's client frames use it. Everything it refuses is a ``ValueError``.
"""

import itertools
import json
from typing import Any

# Arrays and objects inside one another, the outermost counting as 1. The API's bodies nest
# two or three levels (a scenario's objectives: a list inside the body's object).
MAX_JSON_DEPTH = 64

# Bytes that move the depth, as signed steps: an opening +1, a closing -1; the rest go.
_DEPTH_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")


class JSONTooDeep(ValueError):
    """The text nests arrays or objects deeper than allowed."""

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        super().__init__(f"JSON nested deeper than {max_depth} levels.")


def nesting_exceeds(text: str, max_depth: int) -> bool:
    """Whether the JSON ``text`` (already parsed once, so valid) nests arrays or objects
    more than ``max_depth`` deep. Brackets inside strings do not count.

    No recursion and no Python loop per character, so the largest body costs about what
    parsing it does: escaped backslashes and quotes are dropped, which leaves every ``"``
    a string's start or end, so splitting on them puts the strings at the odd places; the
    brackets outside become +1/-1 steps, and the deepest point is their largest running sum.
    """
    if text.count("[") + text.count("{") <= max_depth:
        return False  # cannot nest deeper than it has openings (almost every body)
    encoded = text.encode("utf-8", errors="surrogatepass")
    unescaped = encoded.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside_strings = b"".join(unescaped.split(b'"')[::2])
    steps = memoryview(outside_strings.translate(_DEPTH_STEPS, _NOT_BRACKETS)).cast("b")
    return max(itertools.accumulate(steps), default=0) > max_depth


def loads_bounded(text: str, max_depth: int = MAX_JSON_DEPTH, **json_kwargs: Any) -> Any:
    """``json.loads(text)``, refusing nesting deeper than ``max_depth`` with ``JSONTooDeep``
    (a ``ValueError``, as is every other way ``text`` can fail to parse).

    The C parser runs first: nesting past Python's recursion limit stops it with a
    ``RecursionError`` at once (turned into ``JSONTooDeep``); what it parsed is then
    measured against ``max_depth``."""
    try:
        parsed = json.loads(text, **json_kwargs)
    except RecursionError:
        raise JSONTooDeep(max_depth) from None
    if nesting_exceeds(text, max_depth):
        raise JSONTooDeep(max_depth)
    return parsed


def has_lone_surrogate(text: str, parsed: Any) -> bool:
    """Whether ``parsed`` (parsed from ``text``) holds a string with a lone UTF-16 surrogate
    (``"\\ud800"``): valid JSON, but no UTF-8 can carry it, so the database, the cache keys'
    digests and the response's encoding would all fail on it. Only a ``\\u`` escape can
    produce one, so text without one is not walked."""
    if "\\u" not in text:
        return False
    try:
        json.dumps(parsed, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class JSONRefused(ValueError):
    """Why a JSON document from a file was refused: ``reason`` completes a sentence that
    names the document ("The card's JSON <reason>."), ``code`` is the error's code."""

    def __init__(self, reason: str, code: str) -> None:
        self.reason = reason
        self.code = code
        super().__init__(reason)


def loads_document(raw: bytes | str) -> Any:
    """A JSON document from an uploaded file (UTF-8, a BOM allowed), nesting bounded and
    lone surrogates refused: every refusal is a ``JSONRefused``."""
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
        parsed = loads_bounded(text)
    except JSONTooDeep:
        raise JSONRefused("is nested too deeply", "json_too_deep") from None
    except ValueError as error:  # includes UnicodeDecodeError
        raise JSONRefused(f"is not valid JSON: {error}", "invalid_json") from None
    if has_lone_surrogate(text, parsed):
        raise JSONRefused("names a lone UTF-16 surrogate (\\ud800...)", "invalid_unicode")
    return parsed
