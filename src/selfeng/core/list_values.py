"""Lists a request gives: an array, or numbers that are a list of like values ("average of
4, 8 and 15"), never one number, the ends of a range, numbers of different units or a
number a word names ("the *square* of the sum of 2 and 3")."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import JsonValue

from selfeng.core.language import POINTING_STEMS, is_neutral, stem
from selfeng.core.scanning import Scan, Token
from selfeng.core.token_pool import TokenPool


def list_value(pool: TokenPool) -> tuple[JsonValue, list[Token]] | None:
    """A list parameter's value from the request, and the tokens it takes (None: none)."""
    arrays = pool.tokens("array")
    if arrays:
        return arrays[0].value, [arrays[0]]
    if pool.previous is not None and pool.previous.kind == "array" and pool.free_previous():
        return pool.previous.value, [pool.previous]
    # a number a word names ("*square* of", "*double*", "the nearest *hundred*") is an
    # operation or a quantity named, not one of the values listed
    numbers = [t for t in pool.tokens("number") if not t.percent and not t.word]
    if pool.scan.colon_tokens:
        inside = [t for t in numbers if t.index in pool.scan.colon_tokens]
        numbers = inside or numbers
    numbers = _introduced(pool.scan.tokens, numbers) or numbers
    if len(numbers) < 2 or _unlike(pool.scan, numbers) or _a_range(pool.scan.tokens, numbers):
        return None  # one number is no list to add up or average
    return [t.value for t in numbers], numbers


def unit_labels(read: Scan, numbers: Sequence[Token]) -> set[str]:
    """The stems of the units right after numbers ("100 *km* in 2 *hours*"). A word after
    a comma, or right before the next number, is that number's label, not a unit of the
    number before it ("rent 1,450, *electricity* 92")."""
    tokens = read.tokens
    kinds: set[str] = set()
    for t in numbers:
        k = t.index + 1
        if t.index < 0 or k >= len(tokens) or t.kind != "number":
            continue
        after = tokens[k]
        if after.kind != "word" or is_neutral(after.word):
            continue
        if "," in read.text[t.end : after.start]:
            continue
        if k + 1 < len(tokens) and tokens[k + 1].kind == "number":
            continue
        kinds.add(stem(after.word))
    return kinds


def _a_range(tokens: Sequence[Token], numbers: list[Token]) -> bool:
    """Whether two numbers are the ends of a range ("*from* 1 *to* 100", "1 *through*
    10"): the numbers between them, not a list of two."""
    if len(numbers) != 2 or numbers[0].index < 0:
        return False
    return spans(tokens, *numbers)


_RANGE_WORDS = frozenset({"to", "through", "thru"})
_ADD = stem("add")


def spans(tokens: Sequence[Token], first: Token, last: Token) -> bool:
    """Whether ``first`` and ``last`` are the ends of a range: one of "to", "through" or
    "thru" alone between them, and not "add 5 *to* 10", which joins two addends ("sum 1
    to 10", "from 1 to 10" and "add 5 through 10" span a range)."""
    between = tokens[first.index + 1 : last.index]
    if len(between) != 1 or between[0].word not in _RANGE_WORDS:
        return False
    before = tokens[first.index - 1] if first.index > 0 else None
    adds = before is not None and stem(before.word) == _ADD
    return between[0].word != "to" or not adds


def _unlike(read: Scan, numbers: list[Token]) -> bool:
    """Whether the numbers are of different kinds ("100 km in 2 hours"): no list of like
    values to add up or average."""
    return len(unit_labels(read, numbers)) > 1


def _introduced(tokens: Sequence[Token], numbers: list[Token]) -> list[Token]:
    """The run of numbers a noun pointing at them introduces ("the list *1, 2, 3*", "the
    values *4 and 5*"), when one does: the list is those, and a number outside it is another
    operand ("Add *5* to the list 1, 2, 3" is no sum of four numbers)."""
    free = {t.index for t in numbers}
    for t in numbers:
        before = tokens[t.index - 1] if t.index > 0 else None
        if before is None or before.kind != "word" or stem(before.word) not in POINTING_STEMS:
            continue
        run = [t]
        i = t.index + 1
        while i < len(tokens):
            if tokens[i].index in free:
                run.append(tokens[i])
                i += 1
            elif (
                tokens[i].kind == "word"
                and tokens[i].word == "and"
                and i + 1 < len(tokens)
                and tokens[i + 1].index in free
            ):
                i += 1
            else:
                break
        return run if len(run) > 1 else []
    return []
