"""Does a tool fit a request? The evidence for answering, and the confidence it gives.

A wrong answer is worse than "I don't know". Before a tool's result may be given as an
answer, every token of the request must be accounted for, either by an argument the tool
was given or by the tool's own wording, and some word of the request must ask for what the
tool does (not only carry its arguments):

- "What is the capital of France?" against ``to_uppercase``: "France" could be the text to
  convert, but nothing asks for upper case, and "capital" is not what it does: no answer.
- "What is 20% of 50 plus 10?" against ``percent_of``: "plus" and "10" are left over; the
  request asks for more than the tool gives: no answer.
- "Subtract 19 from 100" against ``subtract_numbers``: "subtract" names it, 19 and 100 are
  its arguments: confidence 1.

Words that never say which tool is wanted (articles, pronouns, "please", "what is", "the
word") are set aside, and so are words that only give the values their context: what a value
is of ("12 *eggs*"), the asker's own things ("for *my homework*"), when ("*this week*") and
what the text after a colon is ("*this tweet*: ..."). Words too common among the registry's
tools ("number") account for a word but do not show that a tool is wanted. The confidence is
the share of the request's remaining words and arguments (each argument counts once, however
many words or values it spans) accounted for, and 0 when a required value is missing or of
the wrong type, when nothing asks for the tool, or when a value could not be read safely (an
ambiguous date)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from selfeng.core.arguments import Extraction
from selfeng.core.context_words import LOOSE_OPERATORS, VALUE_KINDS, context_words
from selfeng.core.hinted_values import CONVERSION_WORDS
from selfeng.core.language import (
    ADDITIVE,
    ARTICLES,
    GREETINGS,
    MEASURES,
    MULTIPLIERS,
    NEUTRAL_STEMS,
    OPERATORS,
    OUTPUT_STEMS,
    POINTING_STEMS,
    PREPOSITIONS,
    is_neutral,
    qualifies,
    stem,
)
from selfeng.core.list_values import unit_labels
from selfeng.core.scanning import Scan, Token
from selfeng.core.values import json_type, shown
from selfeng.core.word_rules import (
    FORMS,
    asks_form,
    between_operands,
    compares,
    distributed,
    excludes,
    named_by_kind,
    names_form,
    narrows_name,
    negated,
    operates,
    separating_dash,
    spans_range,
    stative,
    unclear_value,
    unscoped,
)
from selfeng.core.wording import QUANTIFIERS, ToolWording

_IGNORED_SYMBOLS = frozenset({"="})
_WRITTEN_FORMS = frozenset({"words", "letters", "text"})
_NUMBER_FORMS = {
    **dict.fromkeys(_WRITTEN_FORMS, frozenset({"number", "integer"})),
    **dict.fromkeys(("whole", "integer", "int"), frozenset({"number"})),
}
"""Forms of a number, and the kinds of answer that need not come in them: written out ("in
*words*", "as *text*"), which no number is; with no fraction ("as a *whole* number"), which
any number need not be."""


@dataclass(frozen=True)
class Assessment:
    """How well one tool, with the arguments found, accounts for a request."""

    confidence: float
    """0..1: the share of the request accounted for, 0 when a gate fails."""
    coverage: float
    """The share of the request's tokens (besides neutral words) accounted for."""
    intent: tuple[str, ...]
    """The request's words that ask for what the tool does."""
    unexplained: tuple[str, ...]
    """What nothing accounts for, as written."""
    unused: tuple[str, ...]
    """Values the request gives that no argument took, and words narrowing what it asks
    ("first", "longest") that nothing accounts for (a subset of ``unexplained``)."""
    unclear: tuple[str, ...]
    """Values that could not be read safely, and why."""
    filled: bool
    """Every required parameter has a value of the right type from the request."""
    reason: str
    """Why the confidence is what it is, in one sentence."""


def assess(
    read: Scan,
    extraction: Extraction,
    wording: ToolWording,
    *,
    generic: frozenset[str] = frozenset(),
    returns: Mapping[str, Any] | None = None,
    foreign: frozenset[str] = frozenset(),
    commands: frozenset[str] = frozenset(),
) -> Assessment:
    """The evidence that ``wording``'s tool, given ``extraction``, answers ``read``.

    ``returns`` is the JSON Schema of the tool's output: a request that asks for a quantity
    ("how many", "number of") is not answered by a tool that gives text. ``foreign``: stems
    of what other tools' names and descriptions say they do (a word after a percentage that
    says one is no label); ``commands``: the verbs of other tools' names (a request that
    starts with one asks for another tool)."""
    taken = extraction.taken
    by_param = {i: name for name, took in extraction.took.items() for i in took}
    counted = _counted(read)
    references = set(extraction.references) - counted | _brackets_around(read, taken)
    intent: list[str] = []
    unused: list[str] = []
    unexplained: list[str] = []
    unclear: list[str] = []
    narrowed: list[str] = []
    content = 0
    accounted = 0
    counted_params: set[str] = set()
    miscounted: set[str] = set()
    gives = str((returns or {}).get("type", ""))
    changes = _changes(read, foreign)
    asked_too = _asked_with(read, taken, wording) - counted  # a count says it more precisely
    labels = context_words(read, taken, counted, wording, gives) - changes
    unset = _unset_words(extraction, wording.name)
    asked = _asked_operands(read)
    outside = _outside_expression(read, extraction)
    leading = _leading_words(read)
    for token in read.tokens:
        if token.index not in taken and (
            # "now add 10 to *each*", "add 10 to *each* of 1, 2, 3": an answer for each of
            # several values, and the tool gives one
            (gives != "array" and _each_of_several(token, read.tokens))
            # "the sum of 1, 2, 3 *excluding* 3": which values to take, not a label of one
            or excludes(token, read.tokens)
            # "100 squared *root*": an operation the expression taken does not hold
            or token.index in outside
            # "*round* 22.7 degrees celsius to fahrenheit": the instruction is another tool's
            or (token.index in leading and stem(token.word) in commands)
            # "the median and *max* of 4, 1, 7": a second thing asked of the same values
            or token.index in asked_too
            # "count the letter *a* in banana": one letter of the text, not every letter
            or named_by_kind(token, read.tokens)
        ):
            content += 1
            unexplained.append(token.text)
            unused.append(token.text)
            continue
        if token.index in asked:
            # "10 percent of *what* is 5": the request asks for a value the tool takes, not
            # for what it gives
            content += 1
            unexplained.append(token.text)
            continue
        doubt = unclear_value(token, read.tokens, taken, wording)
        if doubt is not None:
            content += 1
            unclear.append(doubt)
            continue
        if (
            token.index in labels
            and not wording.matches(token.word)[1]
            and not operates(token, read.tokens)
            and not compares(token, read.tokens)
        ):
            continue  # "12 *eggs*", "*score* among 88, 92", "*my* test *scores*": whose
        if (
            gives in {"number", "integer"}
            and token.word == "decimal"
            and token.index not in taken
            and stem(token.word) not in unset
            and names_form(token, read.tokens)
        ):
            continue  # "2/3 *as a decimal*": the form a number comes in, which it gives
        if (
            gives in _NUMBER_FORMS.get(token.word, ())
            and token.index not in taken
            and names_form(token, read.tokens)
            and (token.word in _WRITTEN_FORMS or not wording.matches(token.word)[0])
        ):
            # "99 + 1 *in words*", "7 divided by 2 *as a whole* number": a form a tool
            # giving a number does not give, unless its wording says it does ("round 3.7 to
            # a *whole* number"; a tool that counts letters gives no number *in letters*)
            content += 1
            unexplained.append(token.text)
            unused.append(token.text)
            continue
        if token.kind == "word" and token.index not in taken and stem(token.word) in unset:
            # the request says something of a parameter left to its default ("not counting
            # the *spaces*"): not understood, so not accounted for
            content += 1
            unexplained.append(token.text)
            continue
        if (
            token.kind == "word"
            and not wording.says(token.word)
            and spans_range(token, read.tokens, taken)
        ):
            # "sum 1 to 10": the numbers from 1 to 10, which a tool that never says "to"
            # does not take
            content += 1
            unexplained.append(token.text)
            unused.append(token.text)
            continue
        if token.kind == "word" and token.index not in taken and unscoped(token, read, wording):
            # "capitalize 'new york'" for a tool that capitalizes *every letter*: the first
            # letters may be meant
            content += 1
            unexplained.append(token.text)
            continue
        counts, ok, names = _account(
            token, taken, by_param, references, extraction, wording, counted, read.tokens
        )
        param = by_param.get(token.index)
        if param is not None and not names:
            # an argument counts once, however many words or values it spans
            if param in counted_params:
                continue
            counted_params.add(param)
        if not counts:
            continue
        content += 1
        if ok:
            accounted += 1
        elif token.kind == "unclear":
            unclear.append(token.note or token.text)
        else:
            unexplained.append(token.text)
            if narrows_name(token, read.tokens, wording):
                narrowed.append(token.text)
            if asks_form(token, read.tokens):
                unused.append(token.text)  # "1/4 *as a percentage*": a form it does not give
            if token.kind in VALUE_KINDS or (
                token.kind == "word"
                and (
                    qualifies(token.word)
                    or distributed(token, read.tokens, taken)
                    or token.word in OPERATORS
                    or token.word in MULTIPLIERS
                    or operates(token, read.tokens)
                    or compares(token, read.tokens)
                    or token.index in counted  # counted, and not what the tool counts
                    # what another tool does to the result, left undone: "10 divided by
                    # 3 *rounded* up"
                    or (token.word.endswith("ed") and stem(token.word) in foreign)
                    # what another tool does to each value: "the sum of *squares* of 3
                    # and 4"
                    or token.index in changes
                    # a second thing asked, joined on: "convert 1 mile to km and *back*"
                    or _joined_on(token, read.tokens, taken)
                )
            ):
                if token.index in counted:
                    miscounted.add(token.text)
                # a value, a word narrowing what is asked, or an operation the tool does not
                # do ("what is 5 plus 3 and I want it *doubled*")
                unused.append(token.text)
        if (
            names
            and token.stem not in generic
            and stem(token.word) not in generic
            and not negated(token, read.tokens)
            and not stative(token, read.tokens)
            # "write 85 *in letters*": the form the answer is asked in, which asks for no
            # tool on its own ("in *small* letters" does)
            and not (token.word in _WRITTEN_FORMS and names_form(token, read.tokens))
        ):
            intent.append(token.text)
    for extra in _coordinated(read, extraction, wording, taken):
        # "6 feet in meters *and inches*": a second value for a parameter that took one
        content += 1
        unexplained.append(extra.text)
        unused.append(extra.text)
    mixed = _mixed_units(read, taken)
    converted = _asked_in_other_unit(read, taken, unexplained, counted)
    if extraction.handoff is not None:
        content += 1
        accounted += 1
    coverage = accounted / content if content else 0.0
    filled = not extraction.missing and not extraction.mistyped
    confidence = coverage
    if unclear:
        confidence, reason = 0.0, f"a value is unclear: {unclear[0]}"
    elif mixed:
        confidence = 0.0
        reason = f"the request adds or averages values in different units ({', '.join(mixed)})"
    elif converted:
        # "3 feet plus 2 feet *in inches*": the answer in a unit its values are not in
        confidence = 0.0
        reason = (
            f"the request asks for the answer in {_quote(converted)}, and {wording.name} "
            "does not convert to it"
        )
    elif gives in _NO_QUANTITY and _QUANTITY.search(read.text):
        # decided before the tool runs: a tool with effects ("sort" for "how many lines
        # are in the sorted file") must not run for an answer that cannot be given
        confidence = 0.0
        reason = f"the request asks for a quantity, and {wording.name} gives {gives_word(gives)}"
    elif gives and gives != "boolean" and _asks_yes_or_no(read):
        confidence = 0.0
        reason = (
            f"the request asks a yes-or-no question, and {wording.name} gives {gives_word(gives)}"
        )
    elif not intent:
        confidence = 0.0
        reason = f"nothing in the request asks for what {wording.name} does"
        if unexplained:
            reason += f" ({_quote(unexplained)} is not what it does)"
    elif extraction.mistyped:
        name, why = next(iter(extraction.mistyped.items()))
        confidence, reason = 0.0, f"the value for {name} does not fit: {why}"
    elif extraction.missing:
        confidence, reason = 0.0, f"no value for {', '.join(extraction.missing)}"
    elif narrowed:
        confidence = 0.0
        reason = (
            f"the request asks for a kind of it ({_quote(narrowed)}) that {wording.name} does "
            "not say it is"
        )
    elif unused and set(unused) <= miscounted:
        confidence = 0.0
        reason = f"the request counts {_quote(unused)}, which {wording.name} does not count"
    elif unused:
        confidence = 0.0
        reason = f"the request gives {_quote(unused)}, which {wording.name} does not take"
    elif unexplained:
        reason = f"{_quote(unexplained)} is not accounted for by {wording.name}"
    else:
        reason = f"every part of the request is accounted for by {wording.name}"
    return Assessment(
        confidence=round(confidence, 4),
        coverage=round(coverage, 4),
        intent=tuple(intent),
        unexplained=tuple(unexplained),
        unused=tuple(unused),
        unclear=tuple(unclear),
        filled=filled,
        reason=reason,
    )


def _account(
    token: Token,
    taken: frozenset[int],
    by_param: dict[int, str],
    references: set[int],
    extraction: Extraction,
    wording: ToolWording,
    counted: frozenset[int] = frozenset(),
    tokens: Sequence[Token] = (),
) -> tuple[bool, bool, bool]:
    """(counts as content, accounted for, asks for the tool) for one token."""
    if token.index in references:
        return False, True, False
    if token.index in taken:
        param = by_param.get(token.index)
        names = False
        if param not in extraction.free_text and token.word and token.kind != "quoted":
            does, part = wording.matches(token.word)
            # a value a structured parameter took (a unit, an operator) that the tool's own
            # wording lists shows the tool is wanted: "100 F to C" for a temperature tool
            names = (
                does
                or (part and param in extraction.structured)
                or param in extraction.resolved
                # an operator inside an expression the tool evaluates: "17 *mod* 5"
                or (param in extraction.structured and token.word in OPERATORS)
            )
        elif param in extraction.structured and token.kind == "number" and "/" in token.text:
            names = True  # a fraction inside an expression the tool evaluates: "7/2"
        return True, True, names
    if token.kind == "word":
        if token.index == 0 and token.word in GREETINGS:
            return False, True, False  # "*Hey*, can you reverse ...": a greeting
        if asks_form(token, tokens):
            gives = FORMS[token.word] in wording.name
            return True, gives, gives
        if operates(token, tokens):
            # an operation of its own, which only a tool whose description says the word
            # does ("of" is the stem of "off", so only the word as written shows it)
            return True, wording.says(token.word), False
        if is_neutral(token.word):
            return False, True, False
        names, part = wording.matches(token.word)
        if (
            stem(token.word) in POINTING_STEMS
            and token.index not in counted
            and not distributed(token, tokens, taken)
        ):
            # "another *word* for happy": a noun pointing at a value never asks for a tool
            # on its own; "how many *words*" (counted) does, and so does "each *word*"
            # (what to do it to, one by one: the tool must say it does that)
            return names, True, False
        if stem(token.word) in OUTPUT_STEMS and not names and not part:
            return False, True, False  # "*write* it backwards": how to give the answer
        if token.word in LOOSE_OPERATORS and not between_operands(token, tokens):
            return True, False, False  # "how *many* times does 7 go into 84": no product
        return True, part, names
    if token.kind == "symbol":
        if token.word in _IGNORED_SYMBOLS or separating_dash(token, tokens):
            return False, True, False
        names, part = wording.matches(token.word)
        return True, part, names
    return True, False, False


def _coordinated(
    read: Scan, extraction: Extraction, wording: ToolWording, taken: frozenset[int]
) -> list[Token]:
    """Words joined by "and"/"or" to a word a structured parameter took, that the tool's
    own description names (a value of its kind), after it or before it, with the link said
    again or not: "in meters *and inches*", "to C *or K*", "to *miles* and to feet"."""
    if not extraction.structured:
        return []
    tokens = read.tokens
    params = {i for name in extraction.structured for i in extraction.took.get(name, ())}
    out: list[Token] = []
    for i in sorted(params):
        if not 0 <= i < len(tokens) or tokens[i].kind != "word":
            continue
        for step in (1, -1):
            word = _joined_to(tokens, i, step)
            if (
                word is not None
                and word.index not in taken
                and not is_neutral(word.word)
                # its own description, or its parameters' ("or C, F, K")
                and (wording.described(word.text) or stem(word.word) in wording.takes)
                and word not in out
            ):
                out.append(word)
    return out


def _joined_to(tokens: Sequence[Token], i: int, step: int) -> Token | None:
    """The word joined to ``tokens[i]`` by "and"/"or" on one side (``step`` 1: after it, -1:
    before it), past a preposition said again on the side of the later word ("miles *and
    to* feet")."""
    k = i + step
    if step < 0 and 0 <= k < len(tokens) and tokens[k].word in PREPOSITIONS:
        k += step  # "miles and *to* feet", seen from feet
    if not 0 <= k < len(tokens) or tokens[k].kind != "word" or tokens[k].word not in {"and", "or"}:
        return None
    k += step
    if step > 0 and 0 <= k < len(tokens) and tokens[k].word in PREPOSITIONS:
        k += step  # "feet and *to* miles", seen from feet
    if not 0 <= k < len(tokens) or tokens[k].kind != "word":
        return None
    return tokens[k]


def _mixed_units(read: Scan, taken: frozenset[int]) -> list[str]:
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


def _joined_on(token: Token, tokens: Sequence[Token], taken: frozenset[int]) -> bool:
    """Whether a word the tool leaves unexplained comes right after "and" or "then" (not a
    value's): another thing asked after the one the tool does ("... to km and *back*")."""
    if token.word.endswith("ly"):
        return False  # "and *separately*, what's ...": how, not what
    k = token.index - 1
    return k >= 0 and k not in taken and tokens[k].kind == "word" and tokens[k].word in _JOINING


def _asked_with(read: Scan, taken: frozenset[int], wording: ToolWording) -> frozenset[int]:
    """Words joined by "and" or "or" to a word that asks for the tool, that the tool does
    not say it does: a second thing asked ("the median *and max* of 4, 1, 7"), not what the
    values are."""
    tokens = read.tokens
    out: set[int] = set()
    for t in tokens:
        if t.kind != "word" or t.index in taken or t.index < 2 or is_neutral(t.word):
            continue
        k = t.index - 1
        while k > 0 and tokens[k].kind == "word" and tokens[k].word in ARTICLES:
            k -= 1  # "the median and *the* max"
        if tokens[k].kind != "word" or tokens[k].word not in {"and", "or"} or k == 0:
            continue
        before = tokens[k - 1]
        if (
            before.kind == "word"
            and before.index not in taken
            and wording.matches(before.word)[0]
            and not any(wording.matches(t.word))
        ):
            out.add(t.index)
    return frozenset(out)


_DISTRIBUTIVE_PRONOUNS = frozenset({"each", "both", "every"})


def _each_of_several(token: Token, tokens: Sequence[Token]) -> bool:
    """Whether "each", "both" or "every" stands for several values on its own, with no noun
    after it ("add 10 to *each*", "*each* of them"; in "*both* numbers" it is a noun's, in
    "$45.50 *each*" a price's)."""
    if token.kind != "word" or token.word not in _DISTRIBUTIVE_PRONOUNS:
        return False
    if token.index > 0 and tokens[token.index - 1].kind == "number":
        return False  # "$45.50 *each*": apiece
    after = tokens[token.index + 1] if token.index + 1 < len(tokens) else None
    return after is None or (after.kind == "word" and after.word in {"of", "one"})


def _asked_in_other_unit(
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


def _brackets_around(read: Scan, taken: frozenset[int]) -> set[int]:
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


_NO_QUANTITY = frozenset({"string", "boolean", "object", "array"})
"""What a tool may say it returns that never answers "how many" (the step checks the value
too, for a tool that says nothing)."""
_QUANTITY = re.compile(
    r"\bhow\s+(?:many|much|long|far|old|big|heavy|tall)\b|\bnumber\s+of\b|\bcount\b",
    re.IGNORECASE,
)
_YES_NO_VERBS = frozenset({"is", "are", "was", "were", "does", "did"})
_YES_NO_SUBJECTS = frozenset({"the", "this", "that", "these", "those", "my", "your"})


def _asks_yes_or_no(read: Scan) -> bool:
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
    return _QUANTITY.search(text) is not None


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


def _counted(read: Scan) -> frozenset[int]:
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


def _unset_words(extraction: Extraction, tool: str) -> frozenset[str]:
    """The stems of the names and descriptions of parameters left to their defaults
    (``include_spaces``: include, space; "how many decimal places": decimal, place), less
    the words of the tool's own name."""
    named = {stem(w) for w in re.split(r"[\W_]+", tool) if w}
    return extraction.default_words - NEUTRAL_STEMS - named


_QUESTION_WORDS = frozenset({"what", "which", "whatever"})


def _asked_operands(read: Scan) -> frozenset[int]:
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


def _quote(texts: list[str]) -> str:
    quoted = [f"“{shown(t, 60)}”" for t in texts[:4]]
    more = f" and {len(texts) - 4} more" if len(texts) > 4 else ""
    return ", ".join(quoted) + more


def _outside_expression(read: Scan, extraction: Extraction) -> frozenset[int]:
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


def _leading_words(read: Scan) -> frozenset[int]:
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


def _changes(read: Scan, foreign: frozenset[str]) -> frozenset[int]:
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
