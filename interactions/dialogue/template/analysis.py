"""Text analysis for the template backend: the topic of an utterance, what kind of question
it is, and the scenario's free text (setting, mood, objectives) as phrases to quote."""

from __future__ import annotations

import re
from functools import lru_cache

TOKEN_RE = re.compile(r"[A-Za-z][A-Za-z'\-]*|[.,!?;:]")
_SENTENCE_END = frozenset(".!?")
_CLAUSE_BREAK = frozenset(",;:")
DETERMINERS = frozenset(
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
WH_WORDS = frozenset({"what", "why", "how", "where", "when", "who", "which"})
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
def topic(utterance: str, excluded: frozenset[str]) -> str | None:
    """The most salient noun phrase of ``utterance``, seen from the listener's side.

    Runs of content words are candidates; a run after a determiner scores 3, a capitalised
    run inside a sentence (a name) 2.5, one after a preposition 2, a lone noun-like word 1;
    later runs win ties (the topic usually comes last). "my"/"your" are swapped, because the
    answer is spoken by the other person.
    """
    tokens = TOKEN_RE.findall(_GREETING_PHRASE.sub(",", utterance))
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
        if run_lead in DETERMINERS:
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
            and lower not in DETERMINERS
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
def question_kind(utterance: str) -> str | None:
    """None for a statement, "yn" for a yes/no question, else the wh-word that opens it."""
    text = utterance.strip()
    if not text:
        return None
    last_sentence = re.split(r"(?<=[.!])\s+", text)[-1]
    words = [w.lower() for w in TOKEN_RE.findall(last_sentence) if w[0].isalpha()]
    first = words[0] if words else ""
    if first in WH_WORDS and (text.endswith("?") or len(words) > 2):
        return first
    if text.endswith("?"):
        wh = next((w for w in words[:3] if w in WH_WORDS), None)
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
def objective_forms(objective: str) -> tuple[str, bool]:
    """The objective as a phrase to quote, and whether it reads as a verb phrase."""
    text = objective.strip().rstrip(".!").strip()
    if not text:
        return "", False
    first, _, rest = text.partition(" ")
    if first.lower() in DETERMINERS or first.lower() in _VERB_START:
        text = first.lower() + (" " + rest if rest else "")
    return text, first.lower() in _VERB_START and len(text.split()) <= 8


@lru_cache(maxsize=256)
def setting_phrase(setting: str) -> str | None:
    """The setting as a noun phrase usable inside a sentence, or None when it is prose."""
    text = setting.strip().rstrip(".!").strip()
    if not text or len(text.split()) > 8 or any(mark in text for mark in ".!?;"):
        return None
    first, _, rest = text.partition(" ")
    if first.lower() in DETERMINERS:
        return first.lower() + (" " + rest if rest else "")
    if first[0].isupper():
        return text
    return "the " + text


def mood_phrase(mood: str) -> str | None:
    """The mood as a phrase to quote, or None when it is longer than four words."""
    text = mood.strip().rstrip(".!").strip()
    if not text or len(text.split()) > 4:
        return None
    return text[0].lower() + text[1:]


# --- The first word of a sentence the backend composed ------------------------------------
# A sentence that already opens with one of these takes no interjection in front.
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
