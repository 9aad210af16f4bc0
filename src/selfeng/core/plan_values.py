"""What the pieces of a request hold, as the planner (:mod:`selfeng.core.planning`) asks
when it splits a request into steps: values, a whole calculation ("1,000 divided by 8"), a
piece led by an operator ("times 2"), a conversion's end ("4 feet *in meters*"), and the
shape of values and little words a second step repeats ("30 C to F" after "convert 10 km
to miles").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from selfeng.core.language import OPERATORS, is_neutral
from selfeng.core.scanning import Token, scan

SHAPE_WORDS = frozenset({"to", "in", "into", "of", "by", "from", "as", "over", "per"})


def converted_to(tokens: Sequence[Token], at: int) -> bool:
    """Whether the words before ``at`` end a conversion of a value: "4 feet *in meters*"
    (a value, its unit, then "in"/"to"/"into" and the unit it becomes)."""
    if at < 4:
        return False
    value, unit, link, target = tokens[at - 4], tokens[at - 3], tokens[at - 2], tokens[at - 1]
    return (
        is_value(value)
        and unit.kind == "word"
        and link.kind == "word"
        and link.word in {"in", "to", "into"}
        and target.kind == "word"
        and not is_neutral(target.word)
    )


def operates(tokens: Sequence[Token]) -> bool:
    """Whether these tokens ask for something themselves (two values, or a word of their
    own): "15% of 80" does, "What's 2/3" is only a value."""
    values = sum(1 for t in tokens if is_value(t))
    words = any(t.kind in {"word", "symbol"} and not is_neutral(t.word) for t in tokens)
    return values >= 2 or words


def calculation(text: str) -> bool:
    """Whether a text is a whole calculation of its own: two values or more with an
    arithmetic word or symbol after the first ("1,000 divided by 8", "2 to the 10th power");
    one value of a list ("..., and 5") is not."""
    tokens = scan(text).tokens
    values = [t.index for t in tokens if is_value(t)]
    return len(values) >= 2 and any(
        t.index > values[0]
        and ((t.kind == "word" and t.word in OPERATORS) or (t.kind == "symbol" and t.word))
        for t in tokens
    )


def with_values_of(
    before: str, head: Sequence[Token], after: str, tail: Sequence[Token]
) -> str | None:
    """``before`` with ``after``'s values, when ``after`` restates it with words left out:
    its words, in order, are some of ``before``'s from the start, and its values as many
    ("How many characters in 'cat'" + "how many in 'horse'" -> "How many characters in
    'horse'")."""
    head_words = [t.word for t in head if not is_value(t)]
    tail_words = [t.word for t in tail if not is_value(t)]
    head_values = [t for t in head if is_value(t)]
    tail_values = [t for t in tail if is_value(t)]
    if not tail_words or not head_words or tail_words[0] != head_words[0]:
        return None
    if len(head_values) != len(tail_values) or len(tail_words) >= len(head_words):
        return None
    remaining = iter(head_words)
    if not all(word in remaining for word in tail_words):
        return None  # not a subsequence: another question
    out, at = [], 0
    for mine, theirs in zip(head_values, tail_values, strict=True):
        out.append(before[at : mine.start])
        out.append(after[theirs.start : theirs.end])
        at = mine.end
    out.append(before[at:])
    return "".join(out)


def has_value(text: str) -> bool:
    return any(is_value(t) for t in scan(text).tokens)


def operator_led(text: str) -> bool:
    """Whether ``text`` starts with an arithmetic operation and a value ("times 2", "+ 5",
    "divided by 3")."""
    tokens = scan(text).tokens
    return (
        len(tokens) >= 2
        and tokens[0].kind in {"symbol", "word"}
        and tokens[0].word in OPERATORS
        and any(is_value(t) for t in tokens[1:])
    )


def is_value(t: Token) -> bool:
    return t.kind in {"number", "date", "quoted", "json", "array"}


def shape(tokens: Iterable[Token]) -> tuple[str, ...]:
    out: list[str] = []
    for t in tokens:
        if t.kind == "number":
            out.append("%" if t.percent else "#")
        elif t.kind == "word":
            out.append(t.word if t.word in SHAPE_WORDS else "w")
        else:
            out.append(t.kind)
    return tuple(out)
