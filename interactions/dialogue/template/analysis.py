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
    ("last", "next", "first", "cannot", "won't", "isn't", "together", "alone"),
    # Verbs that end a noun phrase ("the roof looks ...", "the stall turned ...").
    ("looks", "seems", "feels", "turned", "turns", "takes", "makes", "goes", "gets"),
    ("keeps", "comes", "stays", "means", "matters", "needs", "works", "happened"),
    ("started", "sounds", "smells", "tastes", "went", "came", "looked", "seemed"),
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


_DO_SUPPORT = frozenset({"does", "do", "did", "will", "would", "can", "could", "should", "make"})

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
    found = noun_phrases(utterance, excluded, _POSSESSIVE_FLIP)
    if not found:
        return None
    return max(found, key=lambda scored: scored[0])[1]


def noun_phrases(
    text: str, excluded: frozenset[str], possessives: dict[str, str]
) -> list[tuple[float, str]]:
    """Every candidate noun phrase of ``text`` with its score (see :func:`topic`), a
    possessive in front rewritten through ``possessives``."""
    tokens = TOKEN_RE.findall(_GREETING_PHRASE.sub(",", text))
    found: list[tuple[float, str]] = []
    run: list[str] = []
    run_lead = run_lead_previous = before_previous = ""
    run_start_of_sentence = False
    sentence_start = True
    previous = ""

    def close_run(position: int) -> None:
        if not run:
            return
        words = run[-3:]
        if run_lead in DETERMINERS:
            score = 3.0
            if len(words) > 1 and run_lead_previous in _DO_SUPPORT:
                words = words[:-1]  # "Why does the air matter?": "matter" is the verb
            words = [possessives.get(run_lead, run_lead), *words]
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
        found.append((score + 0.01 * position, " ".join(words)))

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
                run_lead_previous = before_previous
                run_start_of_sentence = sentence_start
            run.append(token)
        else:
            close_run(position)
            run = []
            if lower not in _INTENSIFIERS:
                before_previous, previous = previous, lower
        sentence_start = False
    close_run(len(tokens))
    return found


# A tag on a statement ("..., isn't it?", "..., okay?") asks for no answer.
_TAG_QUESTION = re.compile(
    r",\s*(?:(?:\w+n't|do|does|did|are|is|will)\s+\w+|okay|right|eh|you know that)\?$",
    re.IGNORECASE,
)


@lru_cache(maxsize=4096)
def question_kind(utterance: str) -> str | None:
    """None for a statement, "yn" for a yes/no question, else the wh-word that opens it.

    The question is the last sentence that asks one: a line may ask and then add a remark
    ("What do you think of the mill? I've been up all night."); a tag question asks
    nothing."""
    text = utterance.strip()
    if not text:
        return None
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text) if s]
    asked = [s for s in sentences if s.endswith("?") and not _TAG_QUESTION.search(s)]
    last_sentence = asked[-1] if asked else sentences[-1]
    words = [w.lower() for w in TOKEN_RE.findall(last_sentence) if w[0].isalpha()]
    # A vocative or an interjection may come first: "Tomas, what do you ...".
    for position, word in enumerate(words[:4] if asked else words[:1]):
        if word in WH_WORDS and (asked or (position == 0 and len(words) > 2)):
            return word
        if word in _AUX_WORDS:
            break
    if asked:
        return "yn"
    first = words[0] if words else ""
    if first in _AUX_WORDS and len(words) > 2 and not text.endswith((".", "!")):
        return "yn"
    return None


_VERB_START = frozenset[str]().union(
    ("find", "build", "fix", "plan", "decide", "convince", "win", "escape", "reach"),
    ("rebuild", "mend", "guard", "feed", "harvest", "hold", "warn", "free", "return"),
    ("protect", "repair", "deliver", "solve", "organize", "organise", "prepare", "rescue"),
    ("recover", "save", "stop", "prevent", "gather", "collect", "negotiate", "agree"),
    ("choose", "settle", "persuade", "prove", "keep", "make", "get", "bring", "finish"),
    ("complete", "restore", "secure", "defend", "discover", "explore", "map", "uncover"),
    ("investigate", "learn", "teach", "help", "host", "throw", "raise", "write", "cook"),
    ("clean", "sell", "buy", "trade", "open", "close", "catch", "stay", "survive"),
)


# Where a phrase taken from free text stops: a clause or a second thing begins.
_PHRASE_BREAK = frozenset(
    {"before", "after", "while", "until", "so", "and", "or", "but", "because", "when", "if"}
)
_PHRASE_BREAK |= {"which", "who", "that", "where", "since", "unless", "though", "although"}


def _short(words: list[str], limit: int) -> list[str]:
    kept: list[str] = []
    for word in words:
        if word.lower() in _PHRASE_BREAK or len(kept) >= limit:
            break
        kept.append(word)
    return kept


@lru_cache(maxsize=256)
def objective_forms(objective: str) -> tuple[str, bool]:
    """The objective as a short phrase to say, and whether it reads as a verb phrase.

    Never the objective pasted whole: a verb and its object, cut where a clause begins
    ("Repair the waterwheel before the floods" -> "repair the waterwheel"), or the first
    noun phrase of it ("the missing ledger")."""
    text = objective.strip().rstrip(".!").strip()
    if not text:
        return "", False
    words = TOKEN_RE.findall(text)
    words = [w for w in words if w[0].isalpha()]
    if not words:
        return "", False
    first = words[0].lower()
    if first in _VERB_START:
        kept = _short([first, *words[1:]], 5)
        if len(kept) >= 2:
            return " ".join(kept), True
    found = noun_phrases(text, frozenset(), {})
    if found:
        best = max(found, key=lambda scored: scored[0])[1]
        return (best if best.split()[0].lower() in DETERMINERS else "the " + best), False
    return " ".join(_short(words, 4)).lower(), False


@lru_cache(maxsize=256)
def setting_phrase(setting: str) -> str | None:
    """The setting as a noun phrase usable inside a sentence: the whole of a short one
    ("the old harbor tavern"), the opening noun phrase of prose ("The town hall, rain
    hammering the roof ..." -> "the town hall"); None when there is none."""
    text = setting.strip().rstrip(".!").strip()
    if text and (len(text.split()) > 6 or any(mark in text for mark in ".!?;,:")):
        head = re.split(r"[.!?;,:]", text, maxsplit=1)[0].split()
        text = " ".join(_short(head, 5))
    if not text or len(text.split()) > 6:
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


_SUBJECT_VERB = re.compile(r"\b(he|she|they|who|and)\s+[a-z]+s\b(?!')", re.IGNORECASE)
_GERUND = re.compile(r"(?<!\bmy )(?<!\bher )(?<!\bhis )(?<!\bthe )(?<!\ba )\b[a-z]+ing\b")
# The speaker's own things, named in the bio ("her ovens" -> "my ovens").
_OWN = {"her": "my", "his": "my", "their": "our", "its": "its", "my": "my", "our": "our"}


# In the character's own speech (a card's example dialogue) only its own things count:
# "your", "her", "his" and "their" things belong to someone else.
_OWN_SPOKEN = {"my": "my", "our": "our"}
_NOT_OWN = frozenset({"your", "her", "his", "their"})
_SPEAKER_VERB = re.compile(r"\b(i|we|you)\s+(?:[a-z]+ly\s+)?[a-z]+\b", re.IGNORECASE)


@lru_cache(maxsize=1024)
def bio_things(bio: str, name: str, *, spoken: bool = False) -> tuple[str, ...]:
    """The noun phrases of a bio, in the speaker's own words: what the character talks
    about (the baker's ovens and flour, the sailor's tides). Phrases after a determiner or
    a preposition, a possessive turned first person; the character's name left out.

    ``spoken``: the text is the character's own speech (its card's example dialogue), so
    "my" stays "my", the verb after "I"/"we"/"you" is no thing, and phrases that belong to
    someone else ("your boat", "her shop") are left out."""
    excluded = frozenset(part.lower() for part in name.split()) | {"you"}
    phrases: list[str] = []
    # Verbs are not things: the word after a subject pronoun, and -ing forms not after a
    # determiner ("She kneads dough" -> "dough"; "her fishing boat" stays).
    text = _SUBJECT_VERB.sub(r"\1,", bio)
    if spoken:
        text = _SPEAKER_VERB.sub(r"\1,", text)
    for part in name.split():
        text = re.sub(rf"\b({re.escape(part)})\s+[a-z]+s\b", r"\1,", text)
    text = _GERUND.sub(",", text)
    for _score, phrase in noun_phrases(text, excluded, _OWN_SPOKEN if spoken else _OWN):
        words = _short(phrase.split(), 4)
        if not words or words[-1].lower() in DETERMINERS:
            continue
        if spoken and words[0].lower() in _NOT_OWN:
            continue
        if len(words) == 2 and words[0].islower() and words[0].endswith("s"):
            words = words[1:]  # "collects tolls": a verb the patterns above missed
        if words[0] == "a" or words[0] == "an":
            words = ["the", *words[1:]]
        lead = words[0].lower()
        if lead not in DETERMINERS:
            words = ["the", *words] if not words[0][0].isupper() else words
        said = " ".join(words)
        if said.lower() not in (p.lower() for p in phrases):
            phrases.append(said)
    return tuple(phrases)


@lru_cache(maxsize=256)
def setting_things(setting: str) -> tuple[str, ...]:
    """Noun phrases of the setting to refer to it by (never the setting pasted whole)."""
    phrases = []
    head = setting_phrase(setting)
    if head:
        phrases.append(head)
    for score, phrase in noun_phrases(setting, frozenset(), {}):
        words = _short(phrase.split(), 3)
        if score < 3.0 or len(words) < 2:
            continue
        said = " ".join(words[:2]).lower()
        if all(said not in p.lower() for p in phrases):
            phrases.append(said)
    return tuple(phrases)
