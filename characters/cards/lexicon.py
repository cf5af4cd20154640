"""Big Five from free text, with adjective markers of each trait pole.

The markers are our own compact list in the spirit of Goldberg's (1992) Big-Five factor
markers ("The development of markers for the Big-Five factor structure", Psychological
Assessment 4(1), 26-42): adjectives that load on one pole of one factor, with a few common
near-synonyms a card author writes ("bubbly", "grumpy"). Factor V is read as Intellect /
Imagination (our ``openness``); factor IV as Emotional Stability, whose low pole is our
``neuroticism``.

Scoring (docs/models.md, "Personality from a card's text"): each word of the text that is a
marker counts one for its pole; a marker right after a negation ("not", "never", "isn't",
"no" up to two words before) counts for the opposite pole. A trait's score is

    0.5 + 0.5 * (high - low) / (high + low + PRIOR_WEIGHT)

so a text with no marker of a trait leaves it at the population mean 0.5, one marker moves it
to 0.75 (or 0.25), and many consistent markers approach 1 (or 0). The matched markers are
returned, so the author sees why before adjusting and saving.
"""

import re
from dataclasses import dataclass, field

PRIOR_WEIGHT = 1.0
NEGATIONS = frozenset({"not", "never", "no", "isn't", "isnt", "wasn't", "hardly", "rarely"})
NEGATION_REACH = 2

# trait -> (high-pole markers, low-pole markers)
MARKERS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "extraversion": (
        frozenset(
            [
                "talkative",
                "extraverted",
                "extroverted",
                "outgoing",
                "bold",
                "energetic",
                "assertive",
                "active",
                "vigorous",
                "unrestrained",
                "adventurous",
                "sociable",
                "gregarious",
                "lively",
                "bubbly",
                "exuberant",
                "enthusiastic",
                "confident",
                "flamboyant",
                "loud",
                "chatty",
                "cheerful",
                "playful",
                "daring",
            ]
        ),
        frozenset(
            [
                "shy",
                "quiet",
                "introverted",
                "introvert",
                "reserved",
                "untalkative",
                "bashful",
                "withdrawn",
                "timid",
                "inhibited",
                "unadventurous",
                "passive",
                "unassertive",
                "reticent",
                "aloof",
                "solitary",
                "silent",
                "taciturn",
                "meek",
            ]
        ),
    ),
    "agreeableness": (
        frozenset(
            [
                "kind",
                "sympathetic",
                "warm",
                "cooperative",
                "trustful",
                "trusting",
                "considerate",
                "pleasant",
                "helpful",
                "generous",
                "agreeable",
                "gentle",
                "caring",
                "compassionate",
                "affectionate",
                "friendly",
                "polite",
                "courteous",
                "tender",
                "loyal",
                "forgiving",
                "patient",
                "selfless",
                "empathetic",
                "sweet",
                "nurturing",
                "humble",
            ]
        ),
        frozenset(
            [
                "cold",
                "unkind",
                "unsympathetic",
                "rude",
                "harsh",
                "selfish",
                "distrustful",
                "uncooperative",
                "demanding",
                "cruel",
                "stingy",
                "hostile",
                "arrogant",
                "callous",
                "rough",
                "inconsiderate",
                "uncharitable",
                "mean",
                "sarcastic",
                "manipulative",
                "spiteful",
                "vindictive",
                "grumpy",
                "condescending",
                "ruthless",
            ]
        ),
    ),
    "conscientiousness": (
        frozenset(
            [
                "organized",
                "organised",
                "systematic",
                "thorough",
                "practical",
                "neat",
                "efficient",
                "careful",
                "steady",
                "conscientious",
                "prompt",
                "disciplined",
                "responsible",
                "reliable",
                "meticulous",
                "diligent",
                "dutiful",
                "punctual",
                "orderly",
                "hardworking",
                "dependable",
                "precise",
                "methodical",
                "tidy",
            ]
        ),
        frozenset(
            [
                "disorganized",
                "disorganised",
                "careless",
                "unsystematic",
                "inefficient",
                "sloppy",
                "haphazard",
                "negligent",
                "inconsistent",
                "impractical",
                "lazy",
                "reckless",
                "irresponsible",
                "undependable",
                "forgetful",
                "messy",
                "impulsive",
                "scatterbrained",
                "unreliable",
                "aimless",
            ]
        ),
    ),
    "neuroticism": (
        frozenset(
            [
                "moody",
                "temperamental",
                "envious",
                "touchy",
                "fretful",
                "anxious",
                "nervous",
                "insecure",
                "jealous",
                "irritable",
                "fearful",
                "volatile",
                "emotional",
                "worried",
                "worrier",
                "tense",
                "neurotic",
                "melancholic",
                "melancholy",
                "depressed",
                "paranoid",
                "hysterical",
                "unstable",
                "high-strung",
                "self-pitying",
            ]
        ),
        frozenset(
            [
                "relaxed",
                "calm",
                "unenvious",
                "stable",
                "unexcitable",
                "composed",
                "imperturbable",
                "serene",
                "unflappable",
                "placid",
                "collected",
                "unemotional",
                "secure",
                "stoic",
                "even-tempered",
                "level-headed",
                "easygoing",
                "easy-going",
            ]
        ),
    ),
    "openness": (
        frozenset(
            [
                "creative",
                "imaginative",
                "intellectual",
                "philosophical",
                "complex",
                "deep",
                "artistic",
                "bright",
                "curious",
                "innovative",
                "inventive",
                "inquisitive",
                "intelligent",
                "clever",
                "witty",
                "sophisticated",
                "perceptive",
                "insightful",
                "open-minded",
                "eccentric",
                "whimsical",
                "dreamy",
                "scholarly",
            ]
        ),
        frozenset(
            [
                "unintelligent",
                "uncreative",
                "unimaginative",
                "shallow",
                "conventional",
                "unsophisticated",
                "narrow-minded",
                "incurious",
                "unreflective",
                "unintellectual",
                "traditional",
                "simple-minded",
                "closed-minded",
                "dull",
            ]
        ),
    ),
}

_WORD = re.compile(r"[a-z]+(?:[-'][a-z]+)*")


@dataclass
class LexiconScore:
    """Scores 0..1 per trait and the markers that moved them (``+word`` / ``-word``)."""

    scores: dict[str, float]
    evidence: dict[str, list[str]] = field(default_factory=dict)


def score_text(text: str) -> LexiconScore:
    words = _WORD.findall(text.lower())
    counts = {trait: [0, 0] for trait in MARKERS}
    evidence: dict[str, list[str]] = {trait: [] for trait in MARKERS}
    for index, word in enumerate(words):
        for trait, (high, low) in MARKERS.items():
            pole = 0 if word in high else 1 if word in low else None
            if pole is None:
                continue
            negated = any(
                previous in NEGATIONS for previous in words[max(0, index - NEGATION_REACH) : index]
            )
            if negated:
                pole = 1 - pole
            counts[trait][pole] += 1
            sign = "+" if pole == 0 else "-"
            evidence[trait].append(f"{sign}{'not ' if negated else ''}{word}")
    scores = {
        trait: round(0.5 + 0.5 * (high - low) / (high + low + PRIOR_WEIGHT), 4)
        for trait, (high, low) in counts.items()
    }
    return LexiconScore(scores=scores, evidence={t: e for t, e in evidence.items() if e})
