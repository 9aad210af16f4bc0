"""Words as the request path reads them: a light stemmer and the closed classes of English.

Retrieval may stem aggressively (Snowball conflates "capital" and "capitalize" to find more);
deciding whether a tool *fits* a request must not, so the checks that account for a
request's words use :func:`stem`, which only folds inflections (plurals, -ed, -ing,
possessives) and leaves derivations apart.

The word classes below are closed classes of English (articles, pronouns, prepositions,
auxiliaries, question words), the politeness and framing around an instruction ("can you
tell me", "please") and the nouns people use to point at a value ("the word", "the
number", "the result"). None of them says *which* tool a request wants; what is left once
they are set aside is what a tool and its arguments must account for.
"""

from __future__ import annotations

import re
from functools import lru_cache

ARTICLES = frozenset({"a", "an", "the"})
"""Articles."""

DETERMINERS = frozenset(
    {"this", "that", "these", "those", "some", "any", "each", "every", "all", "both", "another"}
)
"""Determiners (they may also stand alone as pronouns)."""

PREPOSITIONS = frozenset(
    {
        "of", "to", "in", "into", "on", "onto", "at", "for", "from", "by", "with", "within",
        "without", "about", "as", "between", "among", "through", "via", "per", "under",
        "after", "before", "since", "until", "till", "than", "like", "out", "off", "up", "down",
        "across", "against", "around", "towards", "toward", "upon",
    }
)  # fmt: skip
"""Prepositions (some, like "from" and "by", also mark an operand's role: see arguments)."""

PRONOUNS = frozenset(
    {
        "i", "me", "my", "mine", "myself", "we", "us", "our", "ours", "you", "your", "yours",
        "he", "him", "his", "she", "her", "hers", "they", "them", "their", "theirs", "it",
        "its", "itself", "one", "ones", "someone", "something", "anything", "everything",
    }
)  # fmt: skip
"""Personal and indefinite pronouns."""

POSSESSIVES = frozenset({"my", "our", "your", "their", "his", "her"})
"""Possessive determiners: what follows is the asker's (or someone's) own thing."""

COLLECTIONS = frozenset(
    {"list", "lists", "set", "array", "series", "sequence", "numbers", "values", "figures",
     "items", "entries", "data", "scores", "amounts"}
)  # fmt: skip
"""Nouns of several values: "add 100 to *the list*" names values, not one number."""

COMPARATIVES = frozenset(
    {"bigger", "larger", "smaller", "greater", "higher", "lower", "more", "less", "fewer",
     "longer", "shorter", "heavier", "lighter", "cheaper", "dearer", "faster", "slower",
     "older", "younger", "wider", "narrower", "taller", "deeper", "hotter", "colder",
     "warmer", "cooler"}
)  # fmt: skip
"""Comparatives of amount and size: right after a number ("25% *bigger*") they change it."""

DIMENSIONS = frozenset(
    {"long", "wide", "tall", "high", "deep", "thick", "heavy", "old", "far", "big"}
)
"""Adjectives of measure: "how *long* is ...", "12 feet *wide*" say which quantity a
measurement is, not what to do with it."""

MEASURES = frozenset(
    {"weight", "length", "height", "width", "depth", "distance", "size", "area", "volume",
     "temperature", "time", "duration", "speed", "age", "price", "cost", "value", "amount"}
)  # fmt: skip
"""Nouns of what is measured: "percentage change *in weight*" says which quantity, where
"3 feet plus 2 feet *in inches*" names a unit to give the answer in."""

OUTPUT_VERBS = frozenset({"write", "print", "display", "spell", "type"})
"""Verbs of giving the answer a form ("*write* 'racecar level' backwards", "*spell* it
backwards"): neutral, unless the tool's own wording says them (a tool that writes files)."""

TEXT_PARTS = frozenset({"word", "sentence", "line", "phrase", "paragraph"})
"""The parts a text is made of, above its characters: "the *words* in 'one two three'"
names what a tool must act on, which a tool acting on the whole text (or on its characters,
as "the letters in ..." asks) does not do."""

ADDITIVE = frozenset(
    {"add", "added", "plus", "sum", "total", "altogether", "subtract", "minus", "less",
     "difference", "average", "mean", "median"}
)  # fmt: skip
"""Words that add, take away or average quantities: only like quantities (the same unit)
can be, unlike multiplying ("15 dollars times 6 tickets") or dividing ("100 km in 2 hours")."""

MULTIPLIERS = frozenset(
    {"double", "doubled", "triple", "tripled", "half", "halved", "twice", "squared", "cubed",
     "negative", "opposite", "reciprocal", "inverse"}
)  # fmt: skip
"""Words that multiply or raise a value ("I want it *doubled*", "the *negative* of 10": by
minus one, "the *reciprocal* of 4": to the minus one)."""

COPULAS = frozenset({"is", "are", "was", "were"})
"""Forms of "be" that link a subject to what it is ("a marathon *is* 26.2 miles")."""

WHEN_WORDS = frozenset(
    {
        "today", "tonight", "yesterday", "tomorrow", "monday", "tuesday", "wednesday",
        "thursday", "friday", "saturday", "sunday", "january", "february", "march", "april",
        "june", "july", "august", "september", "october", "november", "december",
    }
)  # fmt: skip
"""Words that say when (the days and the months; "may" is left out: it is a verb too)."""

PERIODS = frozenset(
    {"week", "weekend", "month", "year", "morning", "afternoon", "evening", "night", "day",
     "quarter", "season", "semester", "weeks", "months", "years", "days"}
)  # fmt: skip
"""Periods, which say when after "this", "last", "next", "every" ("*this week*")."""

AUXILIARIES = frozenset(
    {
        "is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did", "done",
        "have", "has", "had", "can", "could", "will", "would", "shall", "should", "may",
        "might", "must", "need", "needs", "want", "wants", "wanted", "like", "let", "lets",
        "get", "gets", "got", "getting", "go", "goes", "going", "come", "comes", "there",
        "here",
    }
)  # fmt: skip
"""Auxiliary and light verbs, and the existential "there"."""

GREETINGS = frozenset({"hi", "hey", "hello", "hiya", "heya", "yo", "howdy", "greetings"})
"""Words that open a message by greeting (they say nothing of what is asked)."""

QUESTION_WORDS = frozenset(
    {"what", "whats", "which", "who", "whom", "whose", "when", "where", "why", "how", "hows"}
)
"""Question words."""


def is_question_word(word: str) -> bool:
    """Whether a word (as scanned, lower case) is a question word, contracted or not
    ("what", "what's", "how's")."""
    return word.split("'")[0] in QUESTION_WORDS


CONJUNCTIONS = frozenset({"and", "or", "but", "nor", "so", "yet", "if", "then", "also"})
"""Conjunctions and the adverbs that join instructions."""

OPERATORS = frozenset(
    {
        "plus", "minus", "less", "times", "multiplied", "divided", "over", "squared", "cubed",
        "power", "root", "percent", "mod", "modulo", "sqrt", "raised", "remainder",
    }
)  # fmt: skip
"""Arithmetic words: content a tool must account for, never neutral."""

SYMBOL_WORDS = {
    "+": "plus", "-": "minus", "\u2212": "minus", "*": "times", "\u00d7": "times", "x": "times",
    "/": "divided", "÷": "divided", "^": "power", "**": "power", "%": "percent",
}  # fmt: skip
"""The word an arithmetic symbol reads as (for search, and for matching a tool's wording)."""

FRAMING = frozenset(
    {
        "please", "pls", "plz", "kindly", "thanks", "thank", "thx", "ok", "okay", "just",
        "now", "quickly", "again", "really", "actually", "exactly",
        "tell", "show", "give", "find", "calculate", "compute", "work", "figure",
        "determine", "return", "make", "know", "help", "answer", "result", "output",
        "much", "many", "number", "amount", "quantity", "value", "values", "way",
        "wonder", "wondering", "curious", "able", "possible", "try", "quick", "simple",
        "use", "using", "following", "below", "above", "given", "new", "resulting", "say",
        "put", "turn",
        "said", "whether", "exact", "approximately", "roughly", "about", "question",
    }
)  # fmt: skip
"""Politeness and the generic verbs and nouns of asking ("can you *find* the ...")."""

POINTING_NOUNS = frozenset(
    {
        "word", "words", "text", "string", "strings", "sentence", "sentences", "phrase",
        "phrases", "line", "number", "numbers", "value", "values", "list", "figure",
        "figures", "thing", "item", "items", "input", "data", "entry", "term", "expression",
        "question", "message",
    }
)  # fmt: skip
"""Nouns that point at a value ("the word banana", "these numbers: ...")."""

REFERENCES = frozenset(
    {
        "it",
        "its",
        "that",
        "this",
        "them",
        "their",
        "those",
        "these",
        "result",
        "answer",
        "output",
        "outcome",
        "value",
        "number",
        "sum",
        "total",
        "product",
        "previous",
        "last",
        "above",
    }
)
"""Words that may refer to an earlier answer ("reverse *the result*", "multiply *it*")."""

FUNCTION_WORDS = (
    ARTICLES | DETERMINERS | PREPOSITIONS | PRONOUNS | AUXILIARIES | QUESTION_WORDS | CONJUNCTIONS
)
"""Closed-class words: they never name what a request wants."""

NEUTRAL = FUNCTION_WORDS | FRAMING
"""Words a tool need not account for (pointing nouns are neutral unless a tool names them)."""

_INFLECTION_EXCEPTIONS = {
    "is": "is", "was": "was", "has": "has", "does": "does", "this": "this", "its": "its",
    "plus": "plus", "minus": "minus", "less": "less", "times": "times", "news": "news",
    "series": "series", "bias": "bias", "gas": "gas", "yes": "yes", "us": "us",
    "feet": "foot", "children": "child", "people": "person", "men": "man", "women": "woman",
    "teeth": "tooth", "mice": "mouse", "data": "data", "radius": "radius", "celsius": "celsius",
    "fahrenheit": "fahrenheit", "degrees": "degree", "inches": "inch", "kilos": "kilo",
    "pounds": "pound", "ounces": "ounce", "grams": "gram", "tonnes": "tonne", "tons": "ton",
    "lbs": "lb", "kgs": "kg", "squared": "squared", "cubed": "cubed",
}  # fmt: skip
# "squared" raises to a power; it is no form of the "square" of "square root"

_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*", re.UNICODE)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Fold a word's inflections: lower case, no possessive, plural and -ed/-ing removed.

    ``reversed``, ``reverses``, ``reversing`` and ``reverse`` share a stem; ``capital`` and
    ``capitalize`` do not, nor do ``count`` and ``counter``.
    """
    w = word.lower().replace("\u2019", "'")
    if w.endswith("'s"):
        w = w[:-2]
    w = w.strip("'")
    if w in _INFLECTION_EXCEPTIONS:
        return _INFLECTION_EXCEPTIONS[w]
    if len(w) <= 3:
        return _undouble(w)
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith(("sses", "shes", "ches", "xes", "zzes")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if w.endswith("ied") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("ing") and len(w) > 5:
        w = w[:-3]
    elif w.endswith("ed") and len(w) > 4:
        w = w[:-2]
    if w.endswith("e") and len(w) > 3:
        w = w[:-1]
    return _undouble(w)


def _undouble(w: str) -> str:
    """One of a final double consonant, in every form alike: stopped/stop -> stop,
    added/add -> ad, summed/sum -> sum (l, s and z stay double: all, pass, buzz)."""
    if len(w) >= 3 and w[-1] == w[-2] and w[-1].isalpha() and w[-1] not in "aeioulsz":
        return w[:-1]
    return w


def words(text: str) -> list[str]:
    """The words of a text (letters, with inner apostrophes), as written."""
    return _WORD.findall(text)


def stems(text: str) -> list[str]:
    """The stems of a text's words, in order."""
    return [stem(w) for w in words(text)]


NEUTRAL_STEMS = frozenset(stem(w) for w in NEUTRAL)
"""Stems of the neutral words."""
POINTING_STEMS = frozenset(stem(w) for w in POINTING_NOUNS)
TEXT_PART_STEMS = frozenset(stem(w) for w in TEXT_PARTS)
OUTPUT_STEMS = frozenset(stem(w) for w in OUTPUT_VERBS)
"""The output verbs' stems ("*spelled* backwards")."""
"""Stems of the pointing nouns."""
REFERENCE_STEMS = frozenset(stem(w) for w in REFERENCES)
"""Stems of the reference words."""
FUNCTION_STEMS = frozenset(stem(w) for w in FUNCTION_WORDS)
"""Stems of the closed-class words."""


def is_plural(word: str) -> bool:
    """Whether a (lower-case) word is a plural: it ends in "s" and shares its singular's
    stem ("apples", "words"; not "sentence", not "is")."""
    return len(word) > 2 and word.endswith("s") and stem(word[:-1]) == stem(word)


def is_neutral(word: str) -> bool:
    """Whether a word says nothing about which tool is wanted: a neutral word, or a form of
    one ("thanks", "numbers"). A word that is its own stem is neutral only as itself: "min"
    has the stem of "mine" and says minimum."""
    lowered = word.lower()
    if lowered in NEUTRAL:
        return True
    s = stem(word)
    return s in NEUTRAL_STEMS and s != lowered


def camel_words(name: str) -> list[str]:
    """The words of an identifier: ``to_uppercase`` -> to, uppercase; ``getStockInfo`` ->
    get, stock, info."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[\W_]+", spaced) if w]


ORDINALS = frozenset(
    {
        "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
        "tenth", "last", "penultimate", "next", "hundredth", "thousandth", "tenths",
        "hundredths", "thousandths",
    }
)  # fmt: skip
"""Ordinals: they pick one of several (or a place: "to the nearest *hundredth*"), so a tool
that does not account for them answers another question."""

_NOT_SUPERLATIVES = frozenset(
    {
        "interest", "request", "suggest", "contest", "protest", "harvest", "forest", "honest",
        "modest", "invest", "digest", "arrest", "manifest", "conquest", "inquest", "quest",
        "test", "rest", "west", "nest", "pest", "vest", "chest", "guest", "zest", "priest",
        "earnest", "attest", "detest", "behest", "unrest", "latest", "everest",
    }
)  # fmt: skip


_NARROWING = frozenset(
    {"most", "least", "unique", "distinct", "only", "inclusive", "exclusive", "inclusively",
     "exclusively", "significant", "part"}
)  # fmt: skip


def qualifies(word: str) -> bool:
    """Whether a word narrows what is asked: an ordinal ("the *first* letter"), a
    superlative ("the *longest* word", "the *most* expensive"), which ends count ("days
    between ... *inclusive*") or a part of a value ("the whole number *part* of 7.9" is 7,
    not 7.9 rounded)."""
    w = word.lower()
    if w in ORDINALS or w in _NARROWING:
        return True
    return len(w) > 5 and w.endswith("est") and w not in _NOT_SUPERLATIVES
