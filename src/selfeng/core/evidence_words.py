"""What a request's words say around the values a tool took: the readings the evidence
(:mod:`selfeng.core.evidence`) weighs before a tool's result may be an answer.

Each function reads the scanned request (and what the tool took from it) and returns the
tokens or words of one kind: words joined to a tool's own ("in meters *and inches*"), a
second thing asked ("the median *and max*"), words counted ("how many *words*"), a unit
asked besides the values' ("3 feet plus 2 feet *in inches*"), and so on. None of them
decides anything: :func:`selfeng.core.evidence.assess` does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from selfeng.core.arguments import Extraction
from selfeng.core.context_words import VALUE_KINDS
from selfeng.core.hinted_values import CONVERSION_WORDS
from selfeng.core.language import (
    ADDITIVE,
    ARTICLES,
    MEASURES,
    NEUTRAL_STEMS,
    OPERATORS,
    PREPOSITIONS,
    is_neutral,
    stem,
)
from selfeng.core.list_values import unit_labels
from selfeng.core.scanning import Scan, Token
from selfeng.core.values import json_type
from selfeng.core.wording import QUANTIFIERS, ToolWording


def coordinated(
    read: Scan, extraction: Extraction, wording: ToolWording, taken: frozenset[int]
) -> list[Token]:
    """Words joined by "and"/"or" to a word a structured parameter took, that the tool's
    own description names (a value of its kind), after it or before it, with the link said
    again or not: "in meters *and inches*", "to C *or K*", "to *miles* and to feet", "to ft
    *and in*"."""
    if not extraction.structured:
        return []
    tokens = read.tokens
    params = {i for name in extraction.structured for i in extraction.took.get(name, ())}
    out: list[Token] = []
    for i in sorted(params):
        if not 0 <= i < len(tokens) or tokens[i].kind != "word":
            continue
        for step in (1, -1):
            word = joined_to(tokens, i, step)
            if (
                word is not None
                and word.index not in taken
                # a preposition that ends the request governs nothing: a word of its own
                and (not is_neutral(word.word) or word.index == len(tokens) - 1)
                # its own description, or its parameters' ("or C, F, K")
                and (wording.described(word.text) or stem(word.word) in wording.takes)
                and word not in out
            ):
                out.append(word)
    return out


def joined_to(tokens: Sequence[Token], i: int, step: int) -> Token | None:
    """The word joined to ``tokens[i]`` by "and"/"or" on one side (``step`` 1: after it, -1:
    before it), past a preposition said again on the side of the later word ("miles *and
    to* feet")."""
    k = i + step
    if step < 0 and 0 <= k < len(tokens) and tokens[k].word in PREPOSITIONS:
        k += step  # "miles and *to* feet", seen from feet
    if not 0 <= k < len(tokens) or tokens[k].kind != "word" or tokens[k].word not in {"and", "or"}:
        return None
    k += step
    if step > 0 and 0 <= k < len(tokens) - 1 and tokens[k].word in PREPOSITIONS:
        k += step  # "feet and *to* miles", seen from feet (a last word governs nothing:
        # "to ft and *in*" joins a unit, inches)
    if not 0 <= k < len(tokens) or tokens[k].kind != "word":
        return None
    return tokens[k]


def mixed_units(read: Scan, taken: frozenset[int]) -> list[str]:
    """The different units of the values a tool takes, when the request adds, takes away or
    averages them ("3 *kg* plus 500 *g*"); empty otherwise."""
    tokens = read.tokens
    numbers = [tokens[i] for i in taken if 0 <= i < len(tokens) and tokens[i].kind == "number"]
    if len(numbers) < 2:
        return []
    units = unit_labels(read, sorted(numbers, key=lambda t: t.index))
    if len(units) < 2 or not any(
        t.kind in {"word", "symbol"} and t.word in ADDITIVE for t in tokens
    ):
        return []
    return sorted(units)


_JOINING = frozenset({"and", "then"})


def joined_on(token: Token, tokens: Sequence[Token], taken: frozenset[int]) -> bool:
    """Whether a word the tool leaves unexplained comes right after "and" or "then" (not a
    value's): another thing asked after the one the tool does ("... to km and *back*")."""
    if token.word.endswith("ly"):
        return False  # "and *separately*, what's ...": how, not what
    k = token.index - 1
    return k >= 0 and k not in taken and tokens[k].kind == "word" and tokens[k].word in _JOINING


def asked_with(read: Scan, taken: frozenset[int], wording: ToolWording) -> frozenset[int]:
    """Words joined by "and" or "or" to a word that asks for the tool, that the tool does
    not say it does: a second thing asked ("the median *and max* of 4, 1, 7", "the *sum*
    and product of 3 and 4"), not what the values are."""
    tokens = read.tokens
    out: set[int] = set()
    for t in tokens:
        if t.kind != "word" or t.index < 2 or is_neutral(t.word):
            continue
        k = t.index - 1
        while k > 0 and tokens[k].kind == "word" and tokens[k].word in ARTICLES:
            k -= 1  # "the median and *the* max"
        if tokens[k].kind != "word" or tokens[k].word not in {"and", "or"} or k == 0:
            continue
        before = tokens[k - 1]
        if (
            t.index not in taken
            and before.kind == "word"
            and before.index not in taken
            and wording.matches(before.word)[0]
            and not any(wording.matches(t.word))
        ):
            out.add(t.index)
        elif (
            # the other way round, before what the values are of: "the *sum* and product
            # of 3 and 4", "*min* and max of 3, 9, 1", "the *mean* and sample standard
            # deviation of 2, 4, 6"
            before.kind == "word"
            and before.index not in taken
            and not is_neutral(before.word)
            and not any(wording.matches(before.word))
            and _names_before_values(tokens, t.index, wording)
        ):
            out.add(before.index)
    return frozenset(out)


def _names_before_values(tokens: Sequence[Token], start: int, wording: ToolWording) -> bool:
    """Whether the words from ``start`` up to an "of" or "in" are all the tool's own (what
    it does, or a value it takes, an option word taken as one: "*sample standard deviation*
    of"), one of them saying what it does."""
    names = False
    j = start
    while j < len(tokens) and tokens[j].kind == "word":
        does, own = wording.matches(tokens[j].word)
        if tokens[j].word in {"of", "in"}:
            return names and j > start
        if not own:
            return False
        names = names or does
        j += 1
    return False


_DISTRIBUTIVE_PRONOUNS = frozenset({"each", "both", "every"})


def each_of_several(token: Token, tokens: Sequence[Token]) -> bool:
    """Whether "each", "both" or "every" stands for several values on its own, with no noun
    after it ("add 10 to *each*", "*each* of them"; in "*both* numbers" it is a noun's, in
    "$45.50 *each*" a price's)."""
    if token.kind != "word" or token.word not in _DISTRIBUTIVE_PRONOUNS:
        return False
    if token.index > 0 and tokens[token.index - 1].kind == "number":
        return False  # "$45.50 *each*": apiece
    after = tokens[token.index + 1] if token.index + 1 < len(tokens) else None
    return after is None or (after.kind == "word" and after.word in {"of", "one"})


def asked_in_other_unit(
    read: Scan, taken: frozenset[int], unexplained: list[str], counted: frozenset[int]
) -> list[str]:
    """Words left unexplained right after "in", "to", "into" or "as" when the values the
    tool takes carry units, or the request counts something, and the word is none of them:
    "3 feet plus 2 feet *in inches*", "5 m times 2 *in cm*", "how many days between ... *in
    weeks*". The answer is asked in another unit, which a tool that took the values as
    plain numbers, or counts what was asked, does not give ("3 feet plus 2 feet *in feet*"
    is 5). How to combine them ("in *total*", "in *all*") and which quantity ("in
    *weight*") are no unit."""
    if not unexplained:
        return []
    tokens = read.tokens
    numbers = [tokens[i] for i in sorted(taken) if 0 <= i < len(tokens)]
    units = unit_labels(read, [t for t in numbers if t.kind == "number"])
    units |= {stem(tokens[i].word) for i in counted if 0 <= i < len(tokens)}
    left = set(unexplained)
    out: list[str] = []
    for t in tokens[1:]:
        before = tokens[t.index - 1]
        if (
            t.kind == "word"
            and t.text in left
            and t.index not in taken
            and before.kind == "word"
            and before.word in CONVERSION_WORDS
            and before.index not in taken
            and stem(t.word) not in units
            # with no unit to differ from, only as the request's last word: "2 plus 2 *in
            # french*", the form the whole answer is asked in
            and (units or t.index == len(tokens) - 1)
            and t.word not in ADDITIVE  # "in *total*": how to combine them, not a unit
            and t.word not in QUANTIFIERS  # "in *all*"
            and t.word not in MEASURES  # "percentage change in *weight*": which quantity
        ):
            out.append(t.text)
    return out


def brackets_around(read: Scan, taken: frozenset[int]) -> set[int]:
    """Brackets that only wrap a value the tool took, as a call is written ("sqrt*(*81*)*")."""
    tokens = read.tokens
    out: set[int] = set()
    for t in tokens:
        if t.kind != "symbol" or t.word != "(" or t.index in taken:
            continue
        k = t.index + 1
        while k < len(tokens) and k in taken:
            k += 1
        if k > t.index + 1 and k < len(tokens) and tokens[k].word == ")":
            out.update((t.index, k))
    return out


NO_QUANTITY = frozenset({"string", "boolean", "object", "array"})
"""What a tool may say it returns that never answers "how many" (the step checks the value
too, for a tool that says nothing)."""
QUANTITY = re.compile(
    r"\bhow\s+(?:many|much|long|far|old|big|heavy|tall)\b|\bnumber\s+of\b|\bcount\b",
    re.IGNORECASE,
)
_YES_NO_VERBS = frozenset({"is", "are", "was", "were", "does", "did"})
_YES_NO_SUBJECTS = frozenset({"the", "this", "that", "these", "those", "my", "your"})


def asks_yes_or_no(read: Scan) -> bool:
    """Whether the request is a yes-or-no question about a value: "*Is* 'Hello' in
    uppercase?", "*Does* the text have ...?" ("Is it possible to ...?" and "Can you ...?" are
    requests, not such questions)."""
    tokens = read.tokens
    if len(tokens) < 2 or tokens[0].kind != "word" or tokens[0].word not in _YES_NO_VERBS:
        return False
    second = tokens[1]
    return second.kind in VALUE_KINDS or (second.kind == "word" and second.word in _YES_NO_SUBJECTS)


_COUNTING = frozenset({"many", "of", "count", "counting"})


def asks_quantity(text: str) -> bool:
    """Whether a request asks how many or how much ("how many ...", "the number of ...")."""
    return QUANTITY.search(text) is not None


def is_quantity(value: object) -> bool:
    """Whether a result is a number (what a request asking how many wants)."""
    return json_type(value) == "number"


def gives_word(kind: str) -> str:
    """How a person calls a JSON Schema type."""
    return {
        "string": "text",
        "boolean": "yes or no",
        "number": "a number",
        "integer": "a whole number",
        "array": "a list",
        "object": "a record",
        "null": "nothing",
    }.get(kind, kind)


def counted(read: Scan) -> frozenset[int]:
    """Words a request counts ("how many *sentences*", "the number of *lines*", "count the
    *items*"): what is asked about, never a mere pointer at a value."""
    out: set[int] = set()
    tokens = read.tokens
    for t in tokens:
        if t.kind != "word" or t.word not in _COUNTING:
            continue
        before = tokens[t.index - 1] if t.index > 0 else None
        if (
            t.word == "count"
            and before is not None
            and before.kind == "word"
            and not is_neutral(before.word)
        ):
            out.add(before.index)  # "the *word* count of ...": a count of words
        if t.word == "of" and not (t.index > 0 and tokens[t.index - 1].word == "number"):
            continue
        j = t.index + 1
        while j < len(tokens) and tokens[j].kind == "word" and tokens[j].word in ARTICLES:
            j += 1
        if j < len(tokens) and tokens[j].kind == "word":
            out.add(j)
            # "how many characters *and words*": each thing counted
            while (
                j + 2 < len(tokens)
                and tokens[j + 1].kind == "word"
                and tokens[j + 1].word in {"and", "or"}
                and tokens[j + 2].kind == "word"
                and not is_neutral(tokens[j + 2].word)
            ):
                j += 2
                out.add(j)
    return frozenset(out)


def counted_besides_target(
    read: Scan, extraction: Extraction, counted: frozenset[int]
) -> frozenset[int]:
    """Words a request counts in ("how many *feet*") that no parameter took, when a
    structured parameter took the unit written after "in", "to", "into" or "as": "how many
    feet is 3 meters in inches" asks for the answer in two units, and the tool gives one."""
    tokens = read.tokens
    targets = [
        i
        for name in extraction.structured
        for i in extraction.took.get(name, ())
        if 0 < i < len(tokens)
        and tokens[i].kind == "word"
        and tokens[i - 1].kind == "word"
        and tokens[i - 1].word in CONVERSION_WORDS
    ]
    if not targets:
        return frozenset()
    return frozenset(
        i
        for i in counted
        if i not in extraction.taken
        and 0 <= i < len(tokens)
        and tokens[i].kind == "word"
        and not is_neutral(tokens[i].word)
        and all(stem(tokens[i].word) != stem(tokens[t].word) for t in targets)
    )


def unset_words(extraction: Extraction, tool: str) -> frozenset[str]:
    """The stems of the names and descriptions of parameters left to their defaults
    (``include_spaces``: include, space; "how many decimal places": decimal, place), less
    the words of the tool's own name."""
    named = {stem(w) for w in re.split(r"[\W_]+", tool) if w}
    return extraction.default_words - NEUTRAL_STEMS - named


_QUESTION_WORDS = frozenset({"what", "which", "whatever"})


def asked_operands(read: Scan) -> frozenset[int]:
    """Question words standing where a value goes: after a preposition, once a value was
    given ("10 percent of *what* is 5", "5 more than *what* makes 12"). A question word
    before any value asks for the result ("by *what* percentage did it drop from 500 to
    400")."""
    tokens = read.tokens
    out: set[int] = set()
    seen_value = False
    for t in tokens:
        if t.kind in {"number", "date", "quoted", "json", "array"}:
            seen_value = True
        elif (
            seen_value
            and t.kind == "word"
            and t.word in _QUESTION_WORDS
            and t.index > 0
            and tokens[t.index - 1].kind == "word"
            and tokens[t.index - 1].word in PREPOSITIONS | {"than"}
        ):
            out.add(t.index)
    return frozenset(out)


def outside_expression(read: Scan, extraction: Extraction) -> frozenset[int]:
    """Operator words no parameter took, when a parameter took an expression with operators
    of its own ("100 squared *root*"): what the expression evaluated leaves out."""
    tokens = read.tokens
    inside = [
        i
        for name in extraction.structured
        for i in extraction.took.get(name, ())
        if 0 <= i < len(tokens) and tokens[i].word in OPERATORS
    ]
    if not inside:
        return frozenset()
    taken = extraction.taken
    return frozenset(
        t.index for t in tokens if t.kind == "word" and t.word in OPERATORS and t.index not in taken
    )


_CLAUSE_BREAK = re.compile(r"[,;:.?!]")


def leading_words(read: Scan) -> frozenset[int]:
    """The first word of the request and of each clause after a comma or a sentence's end,
    when nothing but neutral words come before it: the instruction of an imperative
    ("please *round* 22.7 ...", "my number is 555-1234, *reverse* it"; after an article it
    is a noun, "the *population* grew")."""
    out: set[int] = set()
    looking = True
    tokens = read.tokens
    for t in tokens:
        if t.index > 0 and _CLAUSE_BREAK.search(read.text[tokens[t.index - 1].end : t.start]):
            looking = True
        if not looking:
            continue
        if t.kind != "word" or t.word in ARTICLES:
            looking = False
        elif not is_neutral(t.word):
            out.add(t.index)
            looking = False
    return frozenset(out)


def changes(read: Scan, foreign: frozenset[str]) -> frozenset[int]:
    """Words that say what another tool does where a label would stand: right after a
    percentage ("a 20% *increase* on 50": what is done with the percentage, the increase or
    the amount it leads to?, not what it is of, as "a 15% *tip*" is), or right before "of"
    and the values ("the sum of *squares* of 1, 2, 3": what is done to each of them, not
    what they are, as "the *scores* of 88, 92" are; "the percentage *difference* between 40
    and 50")."""
    tokens = read.tokens
    out: set[int] = set()
    for t in tokens[1:]:
        if t.kind != "word" or stem(t.word) not in foreign:
            continue
        before = tokens[t.index - 1]
        after = tokens[t.index + 1 : t.index + 3]
        if (before.kind == "number" and before.percent) or (
            len(after) == 2
            and after[0].kind == "word"
            and after[0].word in {"of", "between"}
            and after[1].kind in {"number", "array"}
        ):
            out.add(t.index)
    return frozenset(out)
