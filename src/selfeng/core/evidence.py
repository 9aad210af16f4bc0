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

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from selfeng.core import evidence_words as reading
from selfeng.core.arguments import Extraction
from selfeng.core.context_words import LOOSE_OPERATORS, VALUE_KINDS, context_words
from selfeng.core.language import (
    GREETINGS,
    MULTIPLIERS,
    OPERATORS,
    OUTPUT_STEMS,
    POINTING_STEMS,
    is_neutral,
    qualifies,
    stem,
)
from selfeng.core.scanning import Scan, Token
from selfeng.core.values import shown
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
from selfeng.core.wording import ToolWording

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
    named: Sequence[tuple[str, ...]] = (),
) -> Assessment:
    """The evidence that ``wording``'s tool, given ``extraction``, answers ``read``.

    ``returns`` is the JSON Schema of the tool's output: a request that asks for a quantity
    ("how many", "number of") is not answered by a tool that gives text. ``foreign``: stems
    of what other tools' names and descriptions say they do (a word after a percentage that
    says one is no label); ``commands``: the verbs of other tools' names (a request that
    starts with one asks for another tool); ``named``: other tools' names as phrases (a
    request that says one word for word asks for that tool: its words label no value).

    ``generic`` holds stems too common among the tools to show which one a request wants;
    when every stem of what this tool does is among them they still show it ("percent" for
    ``percent_of`` once many tools mention percentages: the request asks for a tool of that
    kind, and the values and the ranking choose which). A tool with words of its own is
    shown by those ("convert" alone does not ask for ``convert_length``: its units do)."""
    if wording.does and wording.does <= generic:
        generic = generic - wording.does
    taken = extraction.taken
    by_param = {i: name for name, took in extraction.took.items() for i in took}
    counted = reading.counted(read)
    references = set(extraction.references) - counted | reading.brackets_around(read, taken)
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
    changes = reading.changes(read, foreign)
    asked_too = reading.asked_with(read, taken, wording) - counted  # a count says it more precisely
    spoken = said(read, named)
    labels = context_words(read, taken, counted, wording, gives) - changes - spoken
    unset = reading.unset_words(extraction, wording.name)
    asked = reading.asked_operands(read)
    outside = reading.outside_expression(read, extraction)
    leading = reading.leading_words(read)
    two_targets = reading.counted_besides_target(read, extraction, counted)
    renamed = other_compounds(read, taken, wording)
    for token in read.tokens:
        if token.index not in taken and (
            # "now add 10 to *each*", "add 10 to *each* of 1, 2, 3": an answer for each of
            # several values, and the tool gives one
            (gives != "array" and reading.each_of_several(token, read.tokens))
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
            # "how many *feet* is 3 meters in inches": the answer asked in two units
            or token.index in two_targets
            # "percentage *change* from 50 to 75": another tool's name, said word for word
            or (token.index in spoken and not wording.matches(token.word)[0])
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
            # "standard *error* of 1, 2, 3": another thing than the standard deviation
            and token.index not in renamed
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
                    or reading.joined_on(token, read.tokens, taken)
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
    for extra in reading.coordinated(read, extraction, wording, taken):
        # "6 feet in meters *and inches*": a second value for a parameter that took one
        content += 1
        unexplained.append(extra.text)
        unused.append(extra.text)
    mixed = reading.mixed_units(read, taken)
    converted = reading.asked_in_other_unit(read, taken, unexplained, counted)
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
    elif gives in reading.NO_QUANTITY and reading.QUANTITY.search(read.text):
        # decided before the tool runs: a tool with effects ("sort" for "how many lines
        # are in the sorted file") must not run for an answer that cannot be given
        confidence = 0.0
        reason = (
            f"the request asks for a quantity, and {wording.name} gives {reading.gives_word(gives)}"
        )
    elif gives and gives != "boolean" and reading.asks_yes_or_no(read):
        confidence = 0.0
        reason = (
            f"the request asks a yes-or-no question, and {wording.name} gives "
            f"{reading.gives_word(gives)}"
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


def said(read: Scan, phrases: Sequence[tuple[str, ...]]) -> frozenset[int]:
    """The indexes of the words that say one of ``phrases`` word for word, in order; a
    phrase of one word only split in two ("lower case" for ``to_lowercase``: alone, a word
    of a tool's name is often a label, "2 *days*" or "the *length* of 'hello'")."""
    if not phrases:
        return frozenset()
    tokens = read.tokens
    stems = [stem(t.word) if t.kind == "word" else "" for t in tokens]
    joined: dict[str, list[int]] = {}  # two words that make one: "lower case"
    for i, (first, second) in enumerate(itertools.pairwise(tokens)):
        if stems[i] and stems[i + 1] and first.end < second.start:
            joined.setdefault(stem(first.word + second.word), []).append(i)
    out: set[int] = set()
    for phrase in phrases:
        if len(phrase) == 1:
            for i in joined.get(phrase[0], ()):
                out.update((i, i + 1))
            continue
        n = len(phrase)
        for i in range(len(tokens) - n + 1):
            if stems[i] == phrase[0] and tuple(stems[i : i + n]) == phrase:
                out.update(range(i, i + n))
    return frozenset(out)


def other_compounds(read: Scan, taken: frozenset[int], wording: ToolWording) -> frozenset[int]:
    """The indexes of the words that follow a word of the tool's name which its wording
    never writes alone (``ToolWording.bound``), where the request goes on with a word of no
    part in the tool's wording: "standard *error* of 1, 2, 3", "the standard *score* of 5"
    name other things than ``standard_deviation`` (as a label of the values after it, the
    word was accounted for, and the spread was given)."""
    bound = wording.bound
    if not bound:
        return frozenset()
    out: set[int] = set()
    for before, token in itertools.pairwise(read.tokens):
        follows = bound.get(stem(before.word)) if before.kind == "word" else None
        if (
            follows is not None
            and token.kind == "word"
            and token.index not in taken
            and not is_neutral(token.word)
            and stem(token.word) != follows
            and not wording.matches(token.word)[1]
        ):
            out.add(token.index)
    return frozenset(out)


def _quote(texts: list[str]) -> str:
    quoted = [f"“{shown(t, 60)}”" for t in texts[:4]]
    more = f" and {len(texts) - 4} more" if len(texts) > 4 else ""
    return ", ".join(quoted) + more
