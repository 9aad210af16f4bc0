"""Values a parameter says it wants: dates, JSON documents, arithmetic expressions, the
units of a conversion, percentages. Such a parameter takes only a value of its kind."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from itertools import pairwise
from typing import Any

import orjson
from pydantic import JsonValue

from selfeng.core.language import ARTICLES, NEUTRAL, OPERATORS, PREPOSITIONS, is_neutral, stem
from selfeng.core.scanning import Token
from selfeng.core.token_pool import TokenPool
from selfeng.core.values import type_of
from selfeng.core.wording import Roles

CONVERSION_WORDS = frozenset({"to", "in", "into", "as"})
"""The words that lead to a conversion's target unit."""
_UNIT_FILLERS = frozenset({"degree", "degrees", "deg", "degs", "°"})
CHANGE_VERBS = frozenset({"increase", "decrease", "reduce"})
"""Verbs that change a number by an amount ("*increase* 200 by 15%")."""
_LEADING_VERBS = CHANGE_VERBS | {"remainder"}
"""Words an expression may start with: "*increase* 200 by 15%", "the *remainder* of 17
divided by 5"."""
_MATH_WORDS = (
    OPERATORS
    | _LEADING_VERBS
    | frozenset({"of", "by", "to", "the", "power", "square", "cube", "off", "more", "than"})
)
_MATH_SYMBOLS = frozenset({"plus", "minus", "times", "divided", "power", "(", ")", "="})
_EXPRESSION_HINTS = ("expression", "formula", "equation", "arithmetic")
_CLAUSE_BREAK = re.compile(r"[,;.?!]")
PATH_HINTS = ("path", "field", "key")
"""Words naming a parameter that takes a path into a document."""


def hints(name: str, schema: Mapping[str, Any]) -> str:
    """A parameter's name and description, lower-cased: what it says it wants."""
    return f"{name} {schema.get('description', '')}".lower()


def by_hint(
    name: str,
    schema: dict[str, Any],
    pool: TokenPool,
    pending: Mapping[str, Any],
    roles: Mapping[str, Roles] | None = None,
) -> tuple[JsonValue, list[Token]] | None:
    """``roles``: the tool's parameters' roles, which place dates ("until X *from* Y")."""
    said = hints(name, schema)
    kind = type_of(schema)
    if kind == "string" and wants_date(name, schema):
        dates = pool.tokens("date")
        if dates:
            date = _date_by_role(name, dates, pool.scan.tokens, roles or {})
            return date.value, [date]
        return None
    if kind == "string" and ("json" in said or "document" in name):
        for t in pool.tokens():
            if t.kind == "json" or (t.kind == "quoted" and _json_object(t) is not None):
                return str(t.value), [t]
        return None
    if kind == "string" and wants_path(name, schema):
        return _json_path(pool)
    if wants_expression(name, schema):
        return _expression(pool)
    if kind == "string" and "unit" in name.lower():
        return _unit(name, pool, pending)
    if kind in {"number", "integer"} and wants_percent(name, schema):
        for t in pool.tokens("number"):
            if t.percent:
                return t.value, [t]
    return None


def _date_by_role(
    name: str, dates: Sequence[Token], tokens: Sequence[Token], roles: Mapping[str, Roles]
) -> Token:
    """The date a parameter takes: the first one its tool's description marks for it (the
    preposition before it, "*from* a start date", or the operator next to it, "end *minus*
    start"), else the first no other parameter's marks claim, else the first ("how many days
    until 2026-12-25 *from* 2026-12-06": the start is the second)."""
    if name in roles:
        marked = [d for d in dates if _marks(roles[name], tokens, d)]
        if marked:
            return marked[0]
    if _between(dates, tokens):
        # "days *between* 2025-12-25 *and* 2025-07-04": "between" gives no order, so the
        # dates go as a span does, the earlier first (ISO dates sort as they fall)
        dates = sorted(dates, key=lambda d: str(d.value))
    others = [r for n, r in roles.items() if n != name]
    unmarked = [d for d in dates if not any(_marks(r, tokens, d) for r in others)]
    return unmarked[0] if unmarked else dates[0]


def _between(dates: Sequence[Token], tokens: Sequence[Token]) -> bool:
    """Whether the two dates are the ends of "between A and B"."""
    if len(dates) != 2:
        return False
    first, second = sorted(dates, key=lambda d: d.index)
    return (
        _word_before(tokens, first) == "between"
        and second.index == first.index + 2
        and tokens[first.index + 1].kind == "word"
        and tokens[first.index + 1].word == "and"
    )


_OPERATORS = frozenset({"minus"})
"""Words between two values that say which is which, as the description says ("end minus
start": the date before "minus" is the end)."""


def _marks(role: Roles, tokens: Sequence[Token], date: Token) -> bool:
    """Whether the words next to ``date`` are those the description puts next to the
    parameter of ``role``."""
    before = _word_before(tokens, date)
    if before in role.before_words & PREPOSITIONS or before in role.before & _OPERATORS:
        return True
    after = tokens[date.index + 1] if date.index + 1 < len(tokens) else None
    return after is not None and after.kind == "word" and after.word in role.after & _OPERATORS


def _word_before(tokens: Sequence[Token], token: Token) -> str:
    i = token.index - 1
    while i >= 0 and tokens[i].kind == "word" and tokens[i].word in ARTICLES:
        i -= 1
    return tokens[i].word if i >= 0 and tokens[i].kind == "word" else ""


def strict(name: str, schema: Mapping[str, Any]) -> bool:
    """Parameters that take only a value of their own kind, never a run of words."""
    said = hints(name, schema)
    return (
        wants_date(name, schema)
        or "unit" in name.lower()
        or "json" in said
        or any(h in said for h in _EXPRESSION_HINTS)
    )


def wants_date(name: str, schema: Mapping[str, Any]) -> bool:
    """A parameter for a date takes only a date (never other words)."""
    said = hints(name, schema)
    return "date" in said or "yyyy" in said or schema.get("format") == "date"


def wants_expression(name: str, schema: Mapping[str, Any]) -> bool:
    """A parameter for an arithmetic expression's text ("expression", "formula", ...)."""
    return type_of(schema) == "string" and any(h in hints(name, schema) for h in _EXPRESSION_HINTS)


def wants_path(name: str, schema: Mapping[str, Any]) -> bool:
    """A parameter for a path into a document ("path", "field", "key")."""
    return any(h in hints(name, schema) for h in PATH_HINTS) and "json" not in hints(name, schema)


def _json_path(pool: TokenPool) -> tuple[JsonValue, list[Token]] | None:
    """The path of a field of the JSON document the request gives, named in the request: a
    dotted path that resolves in it ("weather.temp"), or the name of the one field of that
    name ("which gate?" -> ``flight.gate``; "the price" -> ``price``), an ordinal before it
    picking an item of a list ("the second tag" -> ``tags.1``). A name that is the name of
    several fields is no path."""
    documents = [d for t in pool.scan.tokens if (d := _json_object(t)) is not None]
    if not documents:
        return None
    words = [t for t in pool.tokens("word") if not is_neutral(t.word)]
    for t in words:
        if "." in t.text and any(_lookup(d, t.text.split(".")) is not _MISSING for d in documents):
            return t.text, [t]
    fields = [(d, parts) for d in documents for parts in _paths(d)]
    found: dict[str, list[Token]] = {}
    for t in words:
        for document, parts in fields:
            if parts[-1] == t.text or stem(parts[-1].lower()) == stem(t.word):
                named = _named_field(document, parts, t, pool.scan.tokens)
                if named is not None:
                    found[named[0]] = named[1]
    if len(found) == 1:
        ((dotted, taken),) = found.items()
        return dotted, taken
    return None


def _named_field(
    document: Any, parts: tuple[str, ...], word: Token, tokens: Sequence[Token]
) -> tuple[str, list[Token]] | None:
    """The path ``word`` names in ``document`` (the field at ``parts``, or the item of that
    list an ordinal right before the word picks), and the tokens that name it."""
    picked = _ordinal_before(tokens, word.index)
    items = _lookup(document, parts)
    if picked is None or not isinstance(items, list):
        return ".".join(parts), [word]
    position, ordinal = picked
    if not -len(items) <= position < len(items):
        return None  # "the fifth tag" of two
    return ".".join((*parts, str(position))), [ordinal, word]


def _ordinal_before(tokens: Sequence[Token], at: int) -> tuple[int, Token] | None:
    """The list position an ordinal right before a word picks ("the *second* tag": 1,
    "the *2nd* tag": 1, "the *last* tag": -1), with the ordinal's token."""
    j = at - 1
    if j >= 0 and tokens[j].kind == "number" and tokens[j].text[-2:].lower() in _SUFFIXES:
        value = tokens[j].value
        return (int(value) - 1, tokens[j]) if isinstance(value, float | int) else None
    if j >= 0 and tokens[j].kind == "word" and tokens[j].word in _POSITIONS:
        return _POSITIONS[tokens[j].word], tokens[j]
    return None


_SUFFIXES = frozenset({"st", "nd", "rd", "th"})
_POSITIONS = {
    "first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "sixth": 5, "seventh": 6,
    "eighth": 7, "ninth": 8, "tenth": 9, "last": -1,
}  # fmt: skip
_MISSING = object()


def _json_object(token: Token) -> Any:
    """The JSON object a token holds (a JSON token, or quoted text that is one), or None."""
    if token.kind not in {"json", "quoted"}:
        return None
    try:
        value = orjson.loads(str(token.value))
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


_MAX_PATHS = 10_000
"""Named fields a document is searched for a name in, at most."""


def _paths(value: Any) -> list[tuple[str, ...]]:
    """Every path to a named field, depth first, in the document's order, the fields of
    the objects in lists included ("b.0.id": a name there makes a name elsewhere no longer
    the only one); a list item itself has no name. Walked with a stack, not recursion, so a
    document nested a thousand deep is read, not a RecursionError."""
    out: list[tuple[str, ...]] = []
    if not isinstance(value, dict):
        return out
    stack: list[tuple[Iterator[tuple[Any, Any]], tuple[str, ...], bool]] = [
        (iter(value.items()), (), True)
    ]
    while stack:
        items, prefix, named = stack[-1]
        entry = next(items, None)
        if entry is None:
            stack.pop()
            continue
        path = (*prefix, str(entry[0]))
        if named:
            out.append(path)
            if len(out) > _MAX_PATHS:
                return []  # too many to say a name is the only one: a dotted path says it
        if isinstance(entry[1], dict):
            stack.append((iter(entry[1].items()), path, True))
        elif isinstance(entry[1], list):
            stack.append((enumerate(entry[1]), path, False))
    return out


def _lookup(value: Any, parts: Sequence[str]) -> Any:
    """What a dotted path (keys, and list indexes) leads to in a document, or ``_MISSING``."""
    for part in parts:
        if isinstance(value, list) and part.lstrip("-").isdigit():
            if not -len(value) <= int(part) < len(value):
                return _MISSING
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return _MISSING
    return value


def wants_percent(name: str, schema: Mapping[str, Any]) -> bool:
    """A parameter for a percentage takes only a number written as one (25%, 25 percent)."""
    return "percent" in name.lower() or "%" in str(schema.get("description", ""))


def _expression(pool: TokenPool) -> tuple[JsonValue, list[Token]] | None:
    """The longest run of arithmetic (numbers, operators, brackets) with an operator in it."""
    tokens = pool.scan.tokens
    best: list[Token] = []
    run: list[Token] = []

    def close() -> None:
        nonlocal best
        while run and not _math_edge(run[-1]):
            run.pop()
        while run and not _math_edge(run[0], leading=True):
            run.pop(0)
        # a fraction written with a slash ("7/2") is an operation of its own
        fractions = sum(1 for t in run if _fraction(t))
        numbers = sum(1 for t in run if t.kind == "number") + fractions
        operators = sum(1 for t in run if _operator(t)) + fractions
        operators += sum(1 for a, b in pairwise(run) if a.word == "more" and b.word == "than")
        roots = any(t.word in {"root", "sqrt"} for t in run)
        # an operation: two operands ("2 + 2", "20% of 50", "5 squared") or a root of one
        if (numbers >= 2 or (roots and numbers >= 1)) and operators >= 1 and len(run) > len(best):
            best = list(run)

    for t in tokens:
        if run and _CLAUSE_BREAK.search(pool.scan.text[run[-1].end : t.start]):
            close()  # "2 to the power of 10, and 1,000 divided by 8": two expressions
            run = []
        if pool.free[t.index] and _math_token(t):
            run.append(t)
        else:
            close()
            run = []
    close()
    if not best:
        return None
    return _as_numerals(pool.scan.text, best), best


def _as_numerals(text: str, run: Sequence[Token]) -> str:
    """The expression's text with numbers written in words as numerals ("1 million divided by
    1000" -> "1000000 divided by 1000", "twenty plus five" -> "20 plus 5"): the expression's
    tool reads arithmetic, not number words."""
    out: list[str] = []
    at = run[0].start
    for t in run:
        written = text[t.start : t.end]
        if (
            t.kind == "number"
            and not t.word
            and not t.percent
            and not _NUMERAL.fullmatch(written)
            and not _fraction(t)
        ):
            out.append(text[at : t.start])
            value = t.value
            out.append(
                str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
            )
            at = t.end
    out.append(text[at : run[-1].end])
    return "".join(out)


_NUMERAL = re.compile(r"[-+]?[\d,]*\.?\d+")


def _fraction(t: Token) -> bool:
    """Whether a number is written as a fraction with a slash ("7/2")."""
    return t.kind == "number" and "/" in t.text


def _math_token(t: Token) -> bool:
    if t.kind in {"number", "symbol"}:
        return True
    return t.kind == "word" and t.word in _MATH_WORDS


def _operator(t: Token) -> bool:
    return (
        (t.kind == "symbol" and t.word in _MATH_SYMBOLS - {"(", ")", "="})
        or (t.kind == "word" and t.word in OPERATORS)
        or (t.kind == "number" and (t.percent or t.word in {"squared", "cubed"}))
    )


def _math_edge(t: Token, *, leading: bool = False) -> bool:
    if t.kind == "number" or (t.kind == "symbol" and t.word in {"(", ")"}):
        return True
    if leading:
        return t.word in {"square", "cube", "sqrt", "minus", "-"} | _LEADING_VERBS
    return t.word in {"squared", "cubed"}


def _unit(
    name: str, pool: TokenPool, pending: Mapping[str, Any]
) -> tuple[JsonValue, list[Token]] | None:
    """A conversion's unit: the word after the amount (from), or after to/in/into/as, or
    after "how many" (to)."""
    tokens = pool.scan.tokens
    lowered = name.lower()
    wants_target = lowered.startswith(("to", "target")) or "to_" in lowered or "target" in lowered
    source: Token | None = None
    target: Token | None = None
    amount = next((t for t in tokens if t.kind == "number"), None)
    if amount is None and pool.previous is not None and pool.previous.kind == "number":
        amount = pool.previous
    if amount is not None:
        source = _unit_word_after(tokens, amount.index + 1 if amount.index >= 0 else 0, pool)
        if amount.index < 0 and pool.previous_at >= 0:
            later = [t for t in tokens if t.start >= pool.previous_at]
            if later:
                source = _unit_word_after(tokens, later[0].index, pool)
    for i, t in enumerate(tokens):
        if t.kind == "word" and t.word in CONVERSION_WORDS and i + 1 < len(tokens):
            after = _unit_word_after(tokens, i + 1, pool, allow_filler=True)
            if after is not None and (source is None or after.index != source.index):
                target = after
        if t.word == "how" and i + 2 < len(tokens) and tokens[i + 1].word == "many":
            word = _unit_word_after(tokens, i + 2, pool, allow_filler=True)
            if word is not None:
                target = word
    if wants_target:
        return (target.word, [target]) if target is not None and pool.free[target.index] else None
    if source is not None and pool.free[source.index]:
        return source.word, [source]
    return None


def _unit_word_after(
    tokens: Sequence[Token], at: int, pool: TokenPool, *, allow_filler: bool = True
) -> Token | None:
    i = at
    while i < len(tokens) and tokens[i].kind == "word" and tokens[i].word in _UNIT_FILLERS:
        i += 1
    if i >= len(tokens):
        return None
    t = tokens[i]
    if t.kind != "word" or not pool.free[t.index] or t.word in NEUTRAL - {"in", "m"}:
        return None
    if t.word in CONVERSION_WORDS and i > at:
        return None  # "20 degrees *in* fahrenheit": after a filler, the link to the target
    if t.word in CONVERSION_WORDS:
        # "in" is also the inch's abbreviation: only when a number comes right before it
        previous = tokens[i - 1] if i > 0 else None
        if t.word != "in" or previous is None or previous.kind != "number":
            return None
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        if (
            following is not None
            and following.kind == "word"
            and following.word not in CONVERSION_WORDS
        ):
            return None  # "5 in miles": "in" joins, it is no unit
    return t
