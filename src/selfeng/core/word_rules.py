"""What one word of a request does to the values around it, read with its neighbours.

The evidence check (:mod:`selfeng.core.evidence`) asks these of every word a tool does not
plainly account for: whether it names the form the answer is asked in ("1/4 *as a
percentage*"), a kind of what the tool does ("*sample* standard deviation"), an operation
of its own between values ("15% *off* 200", "80 *after* a 30% discount", "sum 1 *to* 10"),
a value it makes unclear ("10*k*", "-3 *squared*"), what to act on one by one ("reverse
*each word*"), or whether a word asking for a tool is negated or only describes a state.
Every rule reads word shapes and positions, never a list of requests.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from selfeng.core.context_words import VALUE_KINDS
from selfeng.core.hinted_values import CHANGE_VERBS, CONVERSION_WORDS
from selfeng.core.language import (
    ARTICLES,
    COMPARATIVES,
    OPERATORS,
    REFERENCES,
    TEXT_PART_STEMS,
    is_plural,
    stem,
)
from selfeng.core.list_values import spans
from selfeng.core.number_words import POWER_VERBS, SIGN_WORDS
from selfeng.core.scanning import Scan, Token
from selfeng.core.wording import QUANTIFIERS, ToolWording

_DISTRIBUTIVES = frozenset({"each", "every", "per"})
"""Words before a noun that make it what to act on one by one ("*each* word")."""
_DIRECTIONS = frozenset({"off", "up", "down"})
"""Words right after a number that say what is done to it ("15% off", "3.7 down")."""
_WAYS = frozenset({"up", "down"})
_ROUND = stem("round")
_POINTED = REFERENCES | ARTICLES
_ADJUSTING = frozenset({"with", "after", "before", "including", "excluding", "without"})
"""Words joining an amount to a percentage that changes it ("80 after a 30% discount")."""
_OPERATION_AFTER = frozenset({"of", "off", "more", "less", "than", "change", "difference"})


FORMS = {
    "percent": "percent",
    "percentage": "percent",
    "fraction": "fraction",
    "binary": "binary",
    "hex": "hex",
    "hexadecimal": "hex",
    "octal": "octal",
    "roman": "roman",
}
"""Forms of a number no plain number is in (a share, a numeral system), and the word a
tool's name has when it gives them."""


def asks_form(token: Token, tokens: Sequence[Token]) -> bool:
    """Whether the word names a form the answer is asked in that a plain number is not in
    ("what's 1/4 *as a percentage*", "3/4 *in percent*", "12 divided by 5 *as a
    fraction*"), not an operation ("percent *of*", "percentage *change*"): only a tool whose
    name says that form gives it."""
    return token.word in FORMS and names_form(token, tokens)


def names_form(token: Token, tokens: Sequence[Token]) -> bool:
    """Whether a word names the form the answer is asked in: after "as", "in", "into" or
    "to" (and an article), and not followed by what it is of ("in percent *of*")."""
    i = token.index - 1
    while i >= 0 and tokens[i].kind == "word" and tokens[i].word in ARTICLES:
        i -= 1
    if i < 0 or tokens[i].kind != "word" or tokens[i].word not in CONVERSION_WORDS:
        return False
    after = tokens[token.index + 1] if token.index + 1 < len(tokens) else None
    return not (after is not None and after.kind == "word" and after.word in _OPERATION_AFTER)


def narrows_name(token: Token, tokens: Sequence[Token], wording: ToolWording) -> bool:
    """Whether an unexplained word stands right before a word naming what the tool does,
    as a kind of it: "*sample* standard deviation", "*geometric* mean", "*capital* letters".
    The tool does one kind, and does not say it is this one. (An adverb before a verb,
    "*quickly* reverse", says how, not which; a short word typed for another, "can *u*
    multiply", says nothing of which.)"""
    k = token.index + 1
    if token.kind != "word" or k >= len(tokens) or len(token.word) < 3:
        return False
    if token.word.endswith("ly"):
        return False
    after = tokens[k]
    return after.kind == "word" and wording.matches(after.word)[0]


_MAGNITUDES = frozenset({"k", "m", "b", "bn", "mn"})
"""Letters glued to a number that may multiply it ("10k") as well as name a unit."""


def glued_magnitude(token: Token, tokens: Sequence[Token]) -> bool:
    """Whether ``token`` is a letter glued to the number before it that may say thousands or
    millions ("10*k*", "2.5*m*")."""
    if token.kind != "word" or token.word not in _MAGNITUDES or token.index == 0:
        return False
    number = tokens[token.index - 1]
    return number.kind == "number" and number.end == token.start and not number.percent


def unscoped(token: Token, read: Scan, wording: ToolWording) -> bool:
    """Whether ``token`` is a word the tool's description scopes ("capitalize *every
    letter*") used with no scope: neither a quantifier nor what it is scoped to."""
    scope = wording.scoped.get(stem(token.word))
    if not scope:
        return False
    said = {t.word for t in read.tokens if t.kind == "word"}
    return not (said & QUANTIFIERS) and not any(stem(w) in scope for w in said)


def spans_range(token: Token, tokens: Sequence[Token], taken: frozenset[int]) -> bool:
    """Whether ``token`` joins two numbers the tool took as the ends of a range ("sum 1
    *to* 10"), not as two operands ("add 5 *to* 10")."""
    if token.index == 0 or token.index + 1 >= len(tokens):
        return False
    first, last = tokens[token.index - 1], tokens[token.index + 1]
    if first.kind != "number" or last.kind != "number" or not {first.index, last.index} <= taken:
        return False
    return spans(tokens, first, last)


def operates(token: Token, tokens: Sequence[Token]) -> bool:
    """Whether a small word says what is done to the numbers around it: "15% *off* 200" (a
    discount), "round 3.7 *down*" (which way), "80 *after* a 30% discount" and "200 *with*
    a 15% tip" (the amount once the share is applied), "*rounded* down" (which way: to
    the nearest is no longer meant)."""
    if token.word in _DIRECTIONS:
        if token.index == 0:
            return False
        before = tokens[token.index - 1]
        if before.kind == "number":
            return True
        k = token.index - 1  # "round *it* up", "rounded *the result* down"
        while k > 0 and tokens[k].kind == "word" and tokens[k].word in _POINTED:
            k -= 1
        return token.word in _WAYS and tokens[k].kind == "word" and tokens[k].stem == _ROUND
    return token.word in _ADJUSTING and _joins_amount_and_share(token, tokens)


def compares(token: Token, tokens: Sequence[Token]) -> bool:
    """Whether a comparative right after a number says what is done to it ("make 12 25%
    *bigger*", "3 *more*"): an amount changed, not a label of the number."""
    return (
        token.word in COMPARATIVES and token.index > 0 and tokens[token.index - 1].kind == "number"
    )


_OPENING = frozenset({"and", "so", "then", "now", "what", "about", "how"})
"""Words a follow-up opens with ("*and* with 10% tax?")."""


def _joins_amount_and_share(token: Token, tokens: Sequence[Token]) -> bool:
    """Whether ``token`` stands between an amount and a percentage ("80 *with* a 15% tip"),
    the amount said or pointed at ("it with 10% tax"), or left to the previous answer at the
    start of a follow-up ("and *with* 10% tax?")."""
    before = next((t for t in reversed(tokens[: token.index]) if t.word not in ARTICLES), None)
    after = next((t for t in tokens[token.index + 1 :] if t.word not in ARTICLES), None)
    if after is None or after.kind != "number" or not after.percent:
        return False
    if before is None or all(
        t.kind == "word" and t.word in _OPENING for t in tokens[: token.index]
    ):
        return True
    return (before.kind == "number" and not before.percent) or (
        before.kind == "word" and before.word in REFERENCES
    )


def distributed(
    token: Token, tokens: Sequence[Token], taken: Collection[int] = frozenset()
) -> bool:
    """Whether a noun names what to act on one by one: after "each", "every" or "per"
    ("reverse *each word*"), or the parts of a value given after it ("reverse the *words*
    in 'one two three'", or in an unquoted text a parameter took, ``taken``)."""
    j = token.index - 1
    if j >= 0 and tokens[j].kind == "word" and tokens[j].word in _DISTRIBUTIVES:
        return True
    if stem(token.word) not in TEXT_PART_STEMS:
        return False
    k = token.index + 1
    if k < len(tokens) and tokens[k].kind == "word" and tokens[k].word in _ORDERS:
        return True  # "reverse the *word* order": the words are what is put in order
    return parts_of_value(token, tokens, taken)


_ORDERS = frozenset({"order", "sequence", "orders"})


PART_LINKS = frozenset({"in", "of", "within", "inside"})
"""Words linking a part of a value to the value it is in ("the words *in* ...")."""


def parts_of_value(
    token: Token, tokens: Sequence[Token], taken: Collection[int] = frozenset()
) -> bool:
    """Whether a plural noun is linked to a value after it ("*words* in 'one two three'"),
    or to words a parameter took (``taken``: "*words* in hello world"), or stands right
    before either ("reverse the *words* hello world": their order, as a plural says)."""
    if not is_plural(token.word):
        return False  # "the word banana", "the sentence 'I am here'" point at one value
    k = token.index + 1
    if k < len(tokens) and (tokens[k].kind in VALUE_KINDS or k in taken):
        return True
    if k >= len(tokens) or tokens[k].kind != "word" or tokens[k].word not in PART_LINKS:
        return False
    k += 1
    while k < len(tokens) and tokens[k].kind == "word" and tokens[k].word in ARTICLES:
        k += 1
    return k < len(tokens) and (tokens[k].kind in VALUE_KINDS or k in taken)


EXCLUDING = frozenset(
    {"excluding", "except", "excepting", "without", "besides", "barring", "omitting",
     "ignoring", "skipping"}
)  # fmt: skip
"""Words that leave what follows them out ("*excluding* 3", "*without* spaces")."""
_EXCLUDING_PAIRS = {"apart": "from", "other": "than", "not": "counting", "leaving": "out"}


def excludes(token: Token, tokens: Sequence[Token]) -> bool:
    """Whether a word leaves the value after it out of the others ("the sum of 1, 2, 3
    *excluding* 3", "*apart from* 3", "*other than* 3"): which values to take, which a tool
    taking them all does not do. Not before a percentage ("200 *without* a 15% tip" is an
    amount and a share)."""
    if token.kind != "word":
        return False
    k = token.index + 1
    if token.word in _EXCLUDING_PAIRS:
        if k >= len(tokens) or tokens[k].word != _EXCLUDING_PAIRS[token.word]:
            return False
        k += 1
    elif token.word not in EXCLUDING:
        return False
    while k < len(tokens) and tokens[k].kind == "word" and tokens[k].word in ARTICLES:
        k += 1
    return k < len(tokens) and tokens[k].kind in VALUE_KINDS and not tokens[k].percent


def between_operands(token: Token, tokens: Sequence[Token]) -> bool:
    """Whether an operator word has a value (or a word for the previous answer) next to it."""
    for j in (token.index - 1, token.index + 1):
        if 0 <= j < len(tokens):
            near = tokens[j]
            if near.kind in {"number", "symbol", "date", "array"} or (
                near.kind == "word" and near.word in {"it", "that", "this", "them", "result"}
            ):
                return True
    return False


_NEGATIONS = frozenset({"not", "no", "without", "don't", "dont", "never", "off", "non"})


def negated(token: Token, tokens: Sequence[Token]) -> bool:
    """Whether a word asking for a tool is negated ("turn *off* the caps", "*not* in
    uppercase"): then it asks for something else."""
    return any(
        t.kind == "word" and t.word in _NEGATIONS
        for t in tokens[max(0, token.index - 2) : token.index]
    )


_STATE_LEADS = ARTICLES | frozenset({"is", "are", "was", "were", "be", "been", "being"})


def stative(token: Token, tokens: Sequence[Token]) -> bool:
    """Whether a tool's verb is a participle describing a state ("once the list *is
    sorted*", "in *the sorted* file"), not asking for the action."""
    if token.kind != "word" or not token.word.endswith("ed") or token.index == 0:
        return False
    before = tokens[token.index - 1]
    return before.kind == "word" and before.word in _STATE_LEADS


_POWER_LEADS = (
    ("to", "the", "power", "of"),
    ("raised", "to", "the", "power", "of"),
    ("raised", "to"),
)


def signed_base(token: Token, tokens: Sequence[Token]) -> bool:
    """Whether a number written with its minus sign is raised to an even power ("-3
    squared", "-3^2", "minus 3 squared", "negative 2 to the power of 2"): (-3)² is 9 and
    -(3²) is -9, and which is meant is a guess. (A bracket says it: "(-3) squared".)"""
    if token.kind != "number" or not (
        token.text[:1] in "-\u2212" or token.text.split()[0].lower() in SIGN_WORDS
    ):
        return False
    rest = tokens[token.index + 1 :]
    exponent: object = None
    if rest and rest[0].kind == "number" and rest[0].word == "squared":
        exponent = 2.0
    elif len(rest) > 1 and rest[0].kind == "symbol" and rest[0].word == "power":
        exponent = rest[1].value if rest[1].kind == "number" else None
    else:
        for lead in _POWER_LEADS:
            words = tuple(t.word for t in rest[: len(lead)])
            if words == lead and len(rest) > len(lead) and rest[len(lead)].kind == "number":
                exponent = rest[len(lead)].value
                break
    return isinstance(exponent, int | float) and float(exponent) % 2 == 0


def unclear_value(
    token: Token, tokens: Sequence[Token], taken: frozenset[int], wording: ToolWording
) -> str | None:
    """Why a value written around ``token`` cannot be read safely for this tool, if it
    cannot: a signed number to an even power, or a magnitude letter glued to a number that
    the tool does not take as a unit ("10k divided by 4": ten thousand, or a unit; either
    way not the 10 it was read as)."""
    if signed_base(token, tokens):
        sign, _, rest = token.text.partition(" ")
        unsigned = rest if sign.lower() in SIGN_WORDS else token.text[1:]
        return (
            f"“{token.text}” to an even power: ({token.text}) to it, or minus "
            f"({unsigned.strip()} to it)?"
        )
    if (
        glued_magnitude(token, tokens)
        and token.index not in taken
        and not wording.matches(token.word)[1]
    ):
        return f"“{tokens[token.index - 1].text}{token.text}”: thousands or millions, or a unit?"
    either = either_operation(token, tokens)
    if either is not None:
        return f"“{either}”: which one?"
    within = compared_within(token, tokens, taken)
    if within is not None:
        return f"“{within}”: which comes first?"
    if percent_over(token, tokens):
        before, after = tokens[token.index - 1], tokens[token.index + 1]
        return (
            f"“{before.text} over {after.text}”: {before.text} more than {after.text}, "
            f"or {before.text} divided by {after.text}?"
        )
    pair = marked_pair(token, tokens, taken, wording)
    if pair is not None:
        return f"“{pair}”: which value is which?"
    return None


def marked_pair(
    token: Token, tokens: Sequence[Token], taken: frozenset[int], wording: ToolWording
) -> str | None:
    """The words of two values joined by "and" or "or" right after the preposition that
    marks one parameter's value ("power *of 2 and 5*": "base to the power of exponent"
    marks the exponent, and "of" here governs both, so which is the base?); None when the
    value after the preposition is not such a pair, or the parameter it marks is the
    tool's first, which the pair's first value takes either way ("the quotient *of* 10 and
    2"). A request that says which ("2 to the power of 5") reads as written."""
    at = token.index
    if token.kind != "number" or at < 1 or at + 2 >= len(tokens) or at not in taken:
        return None
    link, joint, other = tokens[at - 1], tokens[at + 1], tokens[at + 2]
    if link.kind != "word" or joint.word not in {"and", "or"} or other.kind != "number":
        return None
    marking = [p for p, r in wording.roles.items() if link.word in r.before_words]
    if len(marking) != 1 or other.index not in taken or marking[0] == next(iter(wording.roles)):
        return None  # the value it marks comes first anyway ("the quotient of 10 and 2")
    return f"{link.text} {token.text} {joint.text} {other.text}"


def either_operation(token: Token, tokens: Sequence[Token]) -> str | None:
    """The words of two operations offered as alternatives around an "or" ("10 *plus or
    minus* 2", "times or divided by"), read as one operation and a signed number otherwise."""
    if token.kind != "word" or token.word != "or" or token.index == 0:
        return None
    before = tokens[token.index - 1]
    after = tokens[token.index + 1] if token.index + 1 < len(tokens) else None
    if after is None or before.word not in OPERATORS:
        return None
    first = after.text.split()[0]  # "minus 2", read as one signed number
    signed = after.kind == "number" and (first[0] in "-+\u2212" or first.lower() in OPERATORS)
    return f"{before.text} or {first}" if after.word in OPERATORS or signed else None


def percent_over(token: Token, tokens: Sequence[Token]) -> bool:
    """Whether ``token`` is "over" between a percentage and a number ("10% *over* 50"): a
    percentage above an amount (55), or a fraction written with "over" (0.002)?"""
    at = token.index
    return (
        token.kind == "word"
        and token.word == "over"
        and 0 < at < len(tokens) - 1
        and tokens[at - 1].kind == "number"
        and tokens[at - 1].percent
        and tokens[at + 1].kind == "number"
    )


_COMPARATIVE_LINKS = frozenset({"more", "less", "fewer"})


def compared_within(token: Token, tokens: Sequence[Token], taken: frozenset[int]) -> str | None:
    """The words of an expression that puts a comparison ("10 *less than* 45", "20% *more
    than* 80", "30% *off* 120", "*increase* 50 *by* 10%") or a power's verb ("*square* 2")
    beside another operation: "10 less than 45 times 2" is 10 less than 90, or 35 times 2,
    and neither is 45 - 10 * 2, which reading the comparison as a minus sign in place
    gives; "square 2 plus 3" squares 2, or 5. None when ``token`` is not such a word, or the
    values the tool took around it hold no other operation."""
    at = token.index
    if at not in taken or at + 1 >= len(tokens):
        return None
    if token.kind == "number" and token.text.lower() in POWER_VERBS:
        own, first, second = {at}, at + 1, at + 1  # "*square* 2 plus 3": of 2, or of 5?
    elif token.kind != "word":
        return None
    elif token.word == "than" and at >= 2 and tokens[at - 1].word in _COMPARATIVE_LINKS:
        own, first, second = {at - 1, at}, at - 2, at + 1
    elif token.word == "off" and at >= 1:
        own, first, second = {at}, at - 1, at + 1
    elif token.word in CHANGE_VERBS and at + 3 < len(tokens) and tokens[at + 2].word == "by":
        own, first, second = {at, at + 2}, at + 3, at + 1  # "*increase* 50 *by* 10%"
    else:
        return None
    if first < 0 or tokens[first].kind != "number" or tokens[second].kind != "number":
        return None
    if token.word in {"off", *CHANGE_VERBS} and not tokens[first].percent:
        return None
    start = end = at
    while start - 1 in taken:
        start -= 1
    while end + 1 in taken:
        end += 1
    run = tokens[start : end + 1]
    for t in run:
        if t.index in own:
            continue
        other = (
            (t.kind in {"word", "symbol"} and t.word in OPERATORS | CHANGE_VERBS | {"than", "off"})
            or (t.kind == "number" and t.word in {"squared", "cubed"})
            or (t.kind == "number" and t.percent and t.index != first)
        )
        if other:
            return " ".join(t.text for t in run)
    return None


DASHES = frozenset({"-", "\u2013", "\u2014"})
"""Hyphen-minus, en dash and em dash."""


def separating_dash(token: Token, tokens: Sequence[Token]) -> bool:
    """A dash set apart before a word, as a colon would stand: "make this all caps *-*
    urgent meeting", "numbers: 4 8 12 *-* what's the median" (before a number, or written
    against a word, it is a minus sign)."""
    if token.text not in DASHES or token.index == 0 or token.index + 1 >= len(tokens):
        return False
    before, after = tokens[token.index - 1], tokens[token.index + 1]
    return (
        before.kind in {"word", "number"}
        and after.kind == "word"
        and before.end < token.start
        and token.end < after.start
    )


_NAMING_STEMS = frozenset(
    stem(w) for w in ("letter", "character", "char", "symbol", "digit", "number", "word", "vowel")
)


def _names_one(token: Token) -> bool:
    """Whether a token may name one letter, digit or word by itself: a single character, a
    number or a quoted text ("the letter *a*", "the number *7*", "the word *'the'*")."""
    return token.kind in {"number", "quoted"} or (token.kind == "word" and len(token.text) == 1)


def named_by_kind(token: Token, tokens: Sequence[Token]) -> bool:
    """Whether a token names one letter, digit or word right after the singular noun of
    its kind: "count the letter *a* in banana" asks for the a's, and a tool that counts
    every letter would answer another question."""
    if token.index == 0 or not _names_one(token):
        return False
    kind = tokens[token.index - 1]
    return (
        kind.kind == "word"
        and not is_plural(kind.word)
        and stem(kind.word) in _NAMING_STEMS
        and token.index > 1
        and tokens[token.index - 2].word in ARTICLES | {"this", "that"}
    )
