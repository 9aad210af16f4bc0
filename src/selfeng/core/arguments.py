"""The offline argument extractor: bind a request's values to a tool's parameters.

The request is read into tokens (``selfeng.core.scanning``); each parameter takes the tokens
that fit it, and the extractor remembers which tokens each one took, so the evidence check
can tell what in the request no argument and no word of the tool accounts for.

How values reach parameters, in order:

1. The previous step's output (or a session's previous answer), where the wording points at
   it ("reverse *the result*", "multiply *it* by 3"), or where a step lacks one value.
2. Parameters whose names or descriptions say what they want: dates, JSON documents,
   arithmetic expressions, units of a conversion ("3 *meters* to *feet*", "how many
   *ounces* in 2 *kg*"), percentages (only numbers written as percentages).
3. Numbers, by their role: the words around a number are matched against the words around
   each parameter in the tool's own description, so "Subtract 19 from 100" gives ``a=100``
   because the description says "Subtract b from a", and "2 decimal places" goes to the
   parameter described as "decimal places". What no role decides goes by order.
4. Lists, booleans ("without spaces"), enums.
5. Text: quoted text, else the text after the instruction's colon (whole, stop words
   included), else the longest run of words that are not the tool's own words.

Deterministic; no model is involved.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import JsonValue

from selfeng.core.language import (
    ARTICLES,
    AUXILIARIES,
    DETERMINERS,
    FUNCTION_WORDS,
    NEUTRAL,
    OPERATORS,
    POINTING_STEMS,
    PREPOSITIONS,
    PRONOUNS,
    REFERENCE_STEMS,
    is_neutral,
    stem,
)
from selfeng.core.scanning import Scan, Token, scan
from selfeng.core.wording import Roles, ToolWording

PREVIOUS = -1
"""The token index of the previous output, when a parameter took it."""

_CONVERSION_WORDS = frozenset({"to", "in", "into", "as"})
_POINTERS = frozenset({"its", "their", "that", "this", "those", "these"})
_EXPONENT_WORDS = frozenset({"squared", "cubed"})
_NAMED_QUANTITIES = frozenset({"hundred", "thousand", "million", "billion"})
_EXPONENT_STEMS = frozenset({stem("exponent"), stem("power")})
_UNIT_FILLERS = frozenset({"degree", "degrees", "°"})
_NEGATORS = frozenset(
    {"without", "no", "not", "excluding", "exclude", "ignoring", "ignore", "except", "don't",
     "dont", "skip", "skipping", "minus", "omitting", "leaving"}
)  # fmt: skip
_AFFIRMERS = frozenset({"with", "including", "include", "counting", "keep", "keeping"})
_MATH_WORDS = OPERATORS | frozenset({"of", "by", "to", "the", "power", "square", "cube", "and"})
_MATH_SYMBOLS = frozenset({"plus", "minus", "times", "divided", "power", "(", ")", "="})
_EXPRESSION_HINTS = ("expression", "formula", "equation", "arithmetic")
_PATH_HINTS = ("path", "field", "key")


@dataclass
class Extraction:
    """Arguments found, what each took from the request, and what is missing."""

    arguments: dict[str, JsonValue] = field(default_factory=dict)
    """Values by parameter name."""
    missing: list[str] = field(default_factory=list)
    """Required parameters no value was found for."""
    handoff: str | None = None
    """The parameter the previous output went to, if it was used."""
    took: dict[str, tuple[int, ...]] = field(default_factory=dict)
    """The token indexes each parameter took (``PREVIOUS`` for the previous output)."""
    free_text: frozenset[str] = frozenset()
    """Parameters filled with a run of unquoted words (the weakest evidence)."""
    structured: frozenset[str] = frozenset()
    """Parameters filled by what they say they want (a unit, a date, an expression)."""
    mistyped: dict[str, str] = field(default_factory=dict)
    """Parameters whose only candidate value had the wrong type, and why."""
    defaults: frozenset[str] = frozenset()
    """Parameters left to their defaults."""
    references: tuple[int, ...] = ()
    """Token indexes of the words that pointed at the previous output."""

    @property
    def taken(self) -> frozenset[int]:
        """Every token index some parameter took."""
        return frozenset(i for took in self.took.values() for i in took if i >= 0)


@dataclass
class _Pool:
    """The tokens still free to take."""

    scan: Scan
    free: list[bool]
    previous: Token | None = None
    previous_at: int = 0
    previous_taken: bool = False

    def tokens(self, kind: str | None = None) -> list[Token]:
        """The free tokens (of one kind)."""
        return [
            t for t in self.scan.tokens if self.free[t.index] and (kind is None or t.kind == kind)
        ]

    def free_previous(self) -> bool:
        """Whether the previous output is there and no parameter took it yet."""
        return self.previous is not None and not self.previous_taken

    def take(self, *tokens: Token) -> tuple[int, ...]:
        """Mark tokens taken; their indexes."""
        for t in tokens:
            if t.index >= 0:
                self.free[t.index] = False
            else:
                self.previous_taken = True
        return tuple(t.index for t in tokens)


def extract(
    text: str | Scan,
    parameters: Mapping[str, Any],
    wording: ToolWording | None = None,
    *,
    previous: JsonValue | None = None,
    use_previous: bool = False,
    context: Mapping[str, JsonValue] | None = None,
    foreign: frozenset[str] = frozenset(),
) -> Extraction:
    """Fill the parameters (a JSON Schema object) of a tool from a request.

    ``wording`` is the tool's wording (its own words are never taken as a text value).
    With ``use_previous``, ``previous`` (the previous step's output) goes to the parameter
    the wording points it at ("the result", "it"), or to the first one it fits; then
    ``context``, the arguments of the step that gave it, continues it: a ``from_X``
    parameter left empty starts where the previous step's ``to_X`` ended ("convert 100 F to
    Celsius, then convert that to Kelvin"). ``foreign`` are stems that say what *other*
    tools do: a run of unquoted words holding one is an instruction, not a text value.
    """
    read = text if isinstance(text, Scan) else scan(text)
    properties: dict[str, dict[str, Any]] = dict(parameters.get("properties", {}) or {})
    required = list(parameters.get("required", list(properties)))
    pool = _Pool(read, [True] * len(read.tokens))
    out = Extraction()
    took: dict[str, tuple[int, ...]] = {}
    free_text: set[str] = set()
    structured: set[str] = set()
    if use_previous and previous is not None:
        _place_previous(pool, previous, out, wording)
    pending = dict(properties)

    def fill(name: str, value: JsonValue, tokens: Sequence[Token], *, loose: bool = False) -> None:
        schema = pending.pop(name)
        coerced, problem = coerce(value, schema)
        if problem is not None:
            out.mistyped[name] = problem
            return
        out.arguments[name] = coerced
        took[name] = pool.take(*tokens)
        if any(t.index == PREVIOUS for t in tokens):
            out.handoff = name
        if loose:
            free_text.add(name)

    # 1. The previous output: where the wording points at it, to a parameter it fits.
    if pool.previous is not None:
        target = _previous_target(pending, pool.previous, wording)
        if target is not None:
            fill(target, pool.previous.value, [pool.previous])
    # 2. Parameters that say what they want.
    for name, schema in list(pending.items()):
        found = _by_hint(name, schema, pool, pending)
        if found is not None:
            fill(name, found[0], found[1])
            structured.add(name)
    # 3. Numbers by role, then by order.
    for name, token in _numbers_by_role(pending, pool, wording):
        fill(name, token.value, [token])
    # 4. Lists, booleans, enums.
    for name, schema in list(pending.items()):
        kind = _type_of(schema)
        if kind == "array":
            found = _list(pool)
            if found is not None:
                fill(name, found[0], found[1])
        elif kind == "boolean":
            found = _boolean(name, pool)
            if found is not None:
                fill(name, found[0], found[1])
        elif kind == "enum":
            found = _enum(schema, pool)
            if found is not None:
                fill(name, found[0], found[1])
    # 5. Text.
    for name, schema in list(pending.items()):
        if _type_of(schema) in {"string", "any"} and not _strict(name, schema):
            found_text = _text(name, schema, pool, wording, foreign)
            if found_text is not None:
                value, tokens, loose = found_text
                if loose and free_text:
                    continue  # two texts from loose words: where one ends is a guess
                fill(name, value, tokens, loose=loose)
    if pool.previous_taken and context:
        for name in list(pending):
            source = _continued(name, context)
            if source is not None:
                fill(name, context[source], [])
    defaults = {n for n, s in pending.items() if "default" in s}
    out.missing = [n for n in required if n in pending and n not in defaults]
    out.defaults = frozenset(defaults)
    out.took = took
    out.free_text = frozenset(free_text)
    out.structured = frozenset(structured & set(out.arguments))
    return out


# -- the previous output -------------------------------------------------------------------


def _continued(name: str, context: Mapping[str, JsonValue]) -> str | None:
    """The previous step's argument a parameter continues from: ``from_X`` <- ``to_X``."""
    for start, end in (("from_", "to_"), ("source_", "target_")):
        if name.startswith(start):
            counterpart = end + name[len(start) :]
            if counterpart in context:
                return counterpart
    return None


def _place_previous(
    pool: _Pool, previous: JsonValue, out: Extraction, wording: ToolWording | None
) -> None:
    """Put the previous output where the wording refers to it, taking the reference words."""
    tokens = pool.scan.tokens
    refs: list[int] = []
    for t in tokens:
        if t.kind == "word" and stem(t.word) in REFERENCE_STEMS:
            refs.append(t.index)
            if t.index > 0 and tokens[t.index - 1].word in ARTICLES | DETERMINERS:
                refs.append(t.index - 1)
            following = tokens[t.index + 1] if t.index + 1 < len(tokens) else None
            if (
                t.word in _POINTERS
                and following is not None
                and following.kind == "word"
                and not is_neutral(following.word)
                and not (wording is not None and wording.matches(following.word)[0])
            ):
                refs.append(following.index)  # "its digits", "that distance"
            break
    at = tokens[min(refs)].start if refs else -1
    kind = (
        "number"
        if isinstance(previous, int | float) and not isinstance(previous, bool)
        else "array"
        if isinstance(previous, list)
        else "json"
        if isinstance(previous, dict)
        else "quoted"
    )
    pool.previous = Token(
        index=PREVIOUS,
        kind=kind,  # type: ignore[arg-type]
        text="",
        start=at,
        end=at,
        value=previous if kind != "quoted" else format_value(previous),
        integer=isinstance(previous, int)
        or (isinstance(previous, float) and previous.is_integer()),
    )
    pool.previous_at = at
    for i in refs:
        pool.free[i] = False
    out.references = tuple(sorted(refs))


def _previous_target(
    pending: Mapping[str, dict[str, Any]], previous: Token, wording: ToolWording | None
) -> str | None:
    fits = [name for name, schema in pending.items() if _fits(previous, schema)]
    if not fits:
        return None
    if previous.kind == "number" and len(fits) > 1 and wording is not None:
        return None  # several numeric parameters: the roles decide (step 3)
    return fits[0]


def _fits(token: Token, schema: Mapping[str, Any]) -> bool:
    """Whether the previous output fits a parameter: a record (a JSON object) only one that
    takes any value or an object, never a text parameter as its JSON."""
    kind = _type_of(schema)
    if kind == "any" or (kind == "object" and token.kind == "json"):
        return True
    if kind == "string":
        return token.kind in {"quoted", "number"}
    if kind in {"number", "integer"}:
        return token.kind == "number" and (kind == "number" or token.integer)
    if kind == "array":
        return token.kind == "array" or token.kind == "number"
    return False


# -- hints ---------------------------------------------------------------------------------


def _hints(name: str, schema: Mapping[str, Any]) -> str:
    return f"{name} {schema.get('description', '')}".lower()


def _by_hint(
    name: str, schema: dict[str, Any], pool: _Pool, pending: Mapping[str, Any]
) -> tuple[JsonValue, list[Token]] | None:
    hints = _hints(name, schema)
    kind = _type_of(schema)
    if kind == "string" and _wants_date(name, schema):
        dates = pool.tokens("date")
        if dates:
            return dates[0].value, [dates[0]]
        return None
    if kind == "string" and ("json" in hints or "document" in name):
        for t in pool.tokens():
            if t.kind == "json" or (t.kind == "quoted" and _is_json_object(str(t.value))):
                return str(t.value), [t]
        return None
    if kind == "string" and any(h in hints for h in _EXPRESSION_HINTS):
        return _expression(pool)
    if kind == "string" and "unit" in name.lower():
        return _unit(name, pool, pending)
    if kind in {"number", "integer"} and _wants_percent(name, schema):
        for t in pool.tokens("number"):
            if t.percent:
                return t.value, [t]
    return None


def _strict(name: str, schema: Mapping[str, Any]) -> bool:
    """Parameters that take only a value of their own kind, never a run of words."""
    hints = _hints(name, schema)
    return (
        _wants_date(name, schema)
        or "unit" in name.lower()
        or "json" in hints
        or any(h in hints for h in _EXPRESSION_HINTS)
    )


def _wants_date(name: str, schema: Mapping[str, Any]) -> bool:
    """A parameter for a date takes only a date (never other words)."""
    hints = _hints(name, schema)
    return "date" in hints or "yyyy" in hints or schema.get("format") == "date"


def _wants_percent(name: str, schema: Mapping[str, Any]) -> bool:
    """A parameter for a percentage takes only a number written as one (25%, 25 percent)."""
    return "percent" in name.lower() or "%" in str(schema.get("description", ""))


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(orjson.loads(text), dict)
    except orjson.JSONDecodeError:
        return False


def _expression(pool: _Pool) -> tuple[JsonValue, list[Token]] | None:
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
        numbers = sum(1 for t in run if t.kind == "number")
        operators = sum(1 for t in run if _operator(t))
        roots = any(t.word in {"root", "sqrt"} for t in run)
        # an operation: two operands ("2 + 2", "20% of 50", "5 squared") or a root of one
        if (numbers >= 2 or (roots and numbers >= 1)) and operators >= 1 and len(run) > len(best):
            best = list(run)

    for t in tokens:
        if pool.free[t.index] and _math_token(t):
            run.append(t)
        else:
            close()
            run = []
    close()
    if not best:
        return None
    text = pool.scan.between(best[0].index, best[-1].index)
    return text, best


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
        return t.word in {"square", "cube", "sqrt", "minus", "-"} or t.word == "minus"
    return t.word in {"squared", "cubed"}


def _unit(
    name: str, pool: _Pool, pending: Mapping[str, Any]
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
        if t.kind == "word" and t.word in _CONVERSION_WORDS and i + 1 < len(tokens):
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
    tokens: Sequence[Token], at: int, pool: _Pool, *, allow_filler: bool = True
) -> Token | None:
    i = at
    while i < len(tokens) and tokens[i].kind == "word" and tokens[i].word in _UNIT_FILLERS:
        i += 1
    if i >= len(tokens):
        return None
    t = tokens[i]
    if t.kind != "word" or not pool.free[t.index] or t.word in NEUTRAL - {"in", "m"}:
        return None
    if t.word in {"in", "to", "into", "as"} and i == at:
        # "in" is also the inch's abbreviation: only when a number comes right before it
        previous = tokens[i - 1] if i > 0 else None
        if t.word != "in" or previous is None or previous.kind != "number":
            return None
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        if (
            following is not None
            and following.kind == "word"
            and following.word not in _CONVERSION_WORDS
        ):
            return None  # "5 in miles": "in" joins, it is no unit
    return t


# -- numbers -------------------------------------------------------------------------------


def _neighbours(tokens: Sequence[Token], token: Token, at: int) -> tuple[str, str, bool]:
    """Stems of the words right before and after a value (articles skipped; a symbol reads
    as its word), and whether the one after is a word rather than a symbol."""
    before = ""
    after = ""
    worded = False
    i = (token.index if token.index >= 0 else _index_at(tokens, at)) - 1
    while i >= 0 and tokens[i].kind == "word" and tokens[i].word in ARTICLES:
        i -= 1
    if i >= 0 and tokens[i].kind in {"word", "symbol"}:
        before = stem(tokens[i].word)
    j = token.index + 1 if token.index >= 0 else _index_at(tokens, at)
    while j < len(tokens) and tokens[j].kind == "word" and tokens[j].word in ARTICLES:
        j += 1
    if 0 <= j < len(tokens) and tokens[j].kind in {"word", "symbol"}:
        after = stem(tokens[j].word)
        worded = tokens[j].kind == "word"
    return before, after, worded


def _index_at(tokens: Sequence[Token], at: int) -> int:
    for t in tokens:
        if t.start >= at:
            return t.index
    return len(tokens)


def _numbers_by_role(
    pending: Mapping[str, dict[str, Any]], pool: _Pool, wording: ToolWording | None
) -> list[tuple[str, Token]]:
    params = [
        n
        for n, s in pending.items()
        if _type_of(s) in {"number", "integer"} and not _wants_percent(n, s)
    ]
    if not params:
        return []
    numbers = [t for t in pool.tokens("number") if not t.percent]
    if pool.previous is not None and pool.previous.kind == "number" and pool.free_previous():
        numbers.append(pool.previous)
        numbers.sort(key=lambda t: t.start if t.index >= 0 else pool.previous_at)
    if not numbers:
        return []
    roles = wording.roles if wording is not None else {}
    tokens = pool.scan.tokens

    def score(param: str, token: Token) -> float:
        if _type_of(pending[param]) == "integer" and not token.integer:
            return -math.inf
        role = roles.get(param, Roles())
        before, after, worded = _neighbours(tokens, token, pool.previous_at)
        s = 0.0
        if token.word in _EXPONENT_WORDS:
            # "5 squared", "square it": the power a word names goes to the exponent
            return 3.0 if role.own & _EXPONENT_STEMS else -math.inf
        if token.word in _NAMED_QUANTITIES:
            return -math.inf  # "the nearest hundred" is no count of decimal places
        if before and before in role.before:
            s += 1.0
        if after and after in role.after:
            s += 1.0
        if after and worded and after in role.own:
            s += 1.0  # "2 decimal places" (a word naming the parameter; "2 ^ 3" is no name)
        if before and before in role.own and before not in {"number"}:
            s += 0.5
        return s

    pairs = sorted(
        (
            (-score(p, t), pi, ti, p, t)
            for pi, p in enumerate(params)
            for ti, t in enumerate(numbers)
        ),
        key=lambda x: (x[0], x[1], x[2]),
    )
    assigned: dict[str, Token] = {}
    used: set[int] = set()
    for negative, _, ti, p, t in pairs:
        if negative >= 0 or p in assigned or ti in used:
            continue
        assigned[p] = t
        used.add(ti)
    rest = [t for ti, t in enumerate(numbers) if ti not in used]
    for p in params:
        if p in assigned or not rest:
            continue
        candidates = [
            t
            for t in rest
            if (_type_of(pending[p]) != "integer" or t.integer) and score(p, t) > -math.inf
        ]
        if not candidates:
            continue
        assigned[p] = candidates[0]
        rest.remove(candidates[0])
    return [(p, assigned[p]) for p in params if p in assigned]


# -- lists, booleans, enums ----------------------------------------------------------------


def _list(pool: _Pool) -> tuple[JsonValue, list[Token]] | None:
    arrays = pool.tokens("array")
    if arrays:
        return arrays[0].value, [arrays[0]]
    if pool.previous is not None and pool.previous.kind == "array" and pool.free_previous():
        return pool.previous.value, [pool.previous]
    numbers = [t for t in pool.tokens("number") if not t.percent]
    if pool.scan.colon_tokens:
        inside = [t for t in numbers if t.index in pool.scan.colon_tokens]
        numbers = inside or numbers
    if not numbers:
        return None
    return [t.value for t in numbers], numbers


def _boolean(name: str, pool: _Pool) -> tuple[JsonValue, list[Token]] | None:
    """A yes/no parameter named like ``include_spaces``: "with spaces" or "including the
    spaces" says yes, "without spaces" or "not counting the spaces" says no (a negation up
    to three words before the parameter's noun)."""
    parts = [stem(w) for w in re.split(r"[\W_]+", name) if w]
    if not parts:
        return None
    nouns = set(parts[1:]) if len(parts) > 1 else set(parts)
    positive = parts[0] not in {stem(w) for w in ("ignore", "exclude", "skip", "without", "no")}
    tokens = pool.scan.tokens
    for t in pool.tokens("word"):
        if stem(t.word) not in nouns:
            continue
        lead: list[Token] = []
        for j in range(t.index - 1, max(-1, t.index - 4), -1):
            if tokens[j].kind != "word":
                break
            lead.insert(0, tokens[j])
        words = [w.word for w in lead]
        negated = any(w in _NEGATORS for w in words)
        affirmed = any(w in _AFFIRMERS for w in words)
        if not (negated or affirmed):
            continue
        value = (not negated) if positive else negated
        start = next(
            i for i, w in enumerate(lead) if w.word in _NEGATORS | _AFFIRMERS
        )  # the phrase from its negation or affirmation on
        taken = [w for w in lead[start:] if pool.free[w.index]] + [t]
        return value, taken
    return None


def _enum(schema: Mapping[str, Any], pool: _Pool) -> tuple[JsonValue, list[Token]] | None:
    for option in schema.get("enum", []) or []:
        if not isinstance(option, str):
            continue
        for t in pool.tokens():
            if t.kind in {"word", "quoted"} and str(t.value or t.word).lower() == option.lower():
                return option, [t]
    return None


# -- text ----------------------------------------------------------------------------------


def _text(
    name: str,
    schema: Mapping[str, Any],
    pool: _Pool,
    wording: ToolWording | None,
    foreign: frozenset[str] = frozenset(),
) -> tuple[JsonValue, list[Token], bool] | None:
    """A text value: quoted text, the colon's text, a dotted path, or a run of words."""
    quoted = pool.tokens("quoted")
    if quoted:
        return quoted[0].value, [quoted[0]], False
    if pool.previous is not None and pool.previous.kind == "quoted" and pool.free_previous():
        return pool.previous.value, [pool.previous], False
    colon = pool.scan.colon_text()
    if colon and all(pool.free[i] for i in pool.scan.colon_tokens):
        inside = [pool.scan.tokens[i] for i in sorted(pool.scan.colon_tokens)]
        return colon, inside, False
    if any(h in _hints(name, schema) for h in _PATH_HINTS):
        for t in pool.tokens("word"):
            if "." in t.text or "_" in t.text:
                return t.text, [t], False
    run = _free_run(pool, wording)
    if run and any(t.kind == "word" and stem(t.word) in foreign for t in run):
        return None  # "... orders and aim to review ...": what other tools do, not a text
    if run and (len(run) == 1 or not _IDENTIFIER.search(name)):
        return pool.scan.between(run[0].index, run[-1].index).rstrip("?!.,;"), run, True
    return None  # an identifier ("file_name", "booking_id") is never a run of words


_IDENTIFIER = re.compile(
    r"(^|_)(id|ids|uuid|token|key|code|file|filename|path|url|uri|email|dir|folder|"
    r"directory|username|user|account|sku|isbn|hash|ip|port)(_name)?$",
    re.IGNORECASE,
)


def _free_run(pool: _Pool, wording: ToolWording | None) -> list[Token]:
    """The longest run of free tokens the request marks as a value by where it stands,
    trimmed of the words that frame it ("the word banana" -> banana, "hello to uppercase"
    -> hello) but not of its own words ("in i am going to the store" -> i am going to the
    store).

    A run of unquoted words is a value only when it is anchored to what the tool does: right
    after one of the tool's words ("reverse *hello world*", "characters in *hello*"), or
    right before one, linked by a preposition ("*hello* in uppercase") or after an
    instruction verb at the start ("make *hello* uppercase"). Words anywhere else are not
    taken as a text value: they are what the request says, and the evidence must account for
    them."""
    runs: list[tuple[list[Token], bool, bool, bool]] = []
    # (tokens, at the start, right after one of the tool's words, right before one)
    current: list[Token] = []
    at_start = True
    after_own = False
    for t in pool.scan.tokens:
        own = wording is not None and t.kind == "word" and wording.matches(t.word)[0]
        if not pool.free[t.index] or own or t.kind in {"unclear", "json", "array"}:
            if current:
                runs.append((current, at_start, after_own, own))
            current = []
            at_start = False
            # a value follows an instruction ("post hello"), not a past action ("posted")
            after_own = own and not t.word.endswith("ed")
        else:
            current.append(t)
    if current:
        runs.append((current, at_start, after_own, False))
    best: list[Token] = []
    first = pool.scan.tokens[0].index if pool.scan.tokens else -1
    for run, starts, after, before in runs:
        trimmed = _trim(run, at_start=starts, before_own=before)
        if not trimmed or not _anchored(run, trimmed, starts, after, before):
            continue
        if all(t.kind == "word" and t.word in FUNCTION_WORDS for t in trimmed):
            continue  # "copy it into": no value, only the little words around one
        if trimmed[0].index == first and trimmed[0].kind == "word":
            # a request starts with what it asks (an instruction or a question), never with
            # an unquoted value: "Sort 5, 2, 8 in ascending order" is no text to reverse
            continue
        if (
            len(trimmed) == 2
            and trimmed[0].word in ARTICLES
            and trimmed[1].kind == "word"
            and not is_neutral(trimmed[1].word)
        ):
            continue  # "the alphabet", "a haiku": a thing named, not a text given
        if len(trimmed) >= len(best):
            best = trimmed
    return best


_VALUE_LINKS = frozenset({"in", "to", "into", "as"})


def _anchored(
    run: list[Token], trimmed: list[Token], starts: bool, after: bool, before: bool
) -> bool:
    """Whether a run of words stands where a value of the tool stands (see ``_free_run``)."""
    if after:
        return True
    if not before:
        return False
    if run[-1].kind == "word" and run[-1].word in _VALUE_LINKS:
        return True  # "hello world in uppercase"
    lead = run[: run.index(trimmed[0])]
    return starts and any(t.kind == "word" and t.word in _INSTRUCTION_VERBS for t in lead)


_INSTRUCTION_VERBS = frozenset({"make", "turn", "convert", "change", "put", "set", "write"})


def _links(run: list[Token]) -> bool:
    """Whether a run starts with the words that link an instruction to its value: auxiliaries
    then a preposition ("are in", "is there in", "of")."""
    for token in run:
        if token.kind != "word":
            return False
        if token.word in PREPOSITIONS:
            return True
        if token.word not in AUXILIARIES | {"there"}:
            return False
    return False


def _points(token: Token) -> bool:
    """A word that points at a value rather than being one ("the *word* banana", "the
    *result*")."""
    return token.kind == "word" and (
        stem(token.word) in POINTING_STEMS or stem(token.word) in REFERENCE_STEMS
    )


_POLITE = frozenset({"please", "pls", "plz", "thanks", "thank", "thx", "kindly", "for", "me"})


def _trim(run: list[Token], *, at_start: bool, before_own: bool) -> list[Token]:
    """A run of words without the words that frame the value in it: before it, the framing
    of the request ("What is ...", at its start), the words that point at the value ("the
    word", "the result") and the link from the instruction ("... are in"); after it, the
    link to the instruction that follows ("... to uppercase") and politeness."""
    run = list(run)
    while run and run[0].kind == "word":
        first = run[0]
        nxt = run[1] if len(run) > 1 else None
        if at_start and is_neutral(first.word):
            run.pop(0)  # "What is ..." at the start of a request
        elif _points(first) and (len(run) == 1 or first.word not in DETERMINERS | PRONOUNS):
            run.pop(0)  # "word banana", "the result" (but "this is loud" is a value)
        elif first.word in ARTICLES | DETERMINERS and (
            len(run) == 1 or (nxt is not None and _points(nxt))
        ):
            run.pop(0)  # "the word banana"
        elif not at_start and _links(run):
            while run[0].word not in PREPOSITIONS:
                run.pop(0)
            run.pop(0)  # "characters are in hello world", "words in i am going ..."
        else:
            break
    while run:
        last = run[-1]
        if last.kind == "word" and last.word in _POLITE:
            run.pop()
        elif (
            before_own
            and last.kind == "word"
            and (last.word in PREPOSITIONS | ARTICLES | DETERMINERS | AUXILIARIES)
        ):
            run.pop()  # "hello world to uppercase"
        elif last.kind == "symbol" and last.word not in {")"}:
            run.pop()
        else:
            break
    return run


# -- types ---------------------------------------------------------------------------------


def _type_of(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, str):
        return kind
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        return str(kinds[0]) if kinds else "any"
    if "anyOf" in schema:
        kinds = [_type_of(s) for s in schema["anyOf"] if s.get("type") != "null"]
        return kinds[0] if kinds else "any"
    if "enum" in schema:
        return "enum"
    return "any"


def format_value(value: JsonValue) -> str:
    """A value as text: 25.0 reads "25", other numbers as Python writes them, lists and
    objects as compact JSON (the same as a composite tool's hand-off)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    return orjson.dumps(value).decode()


def coerce(value: JsonValue, schema: Mapping[str, Any]) -> tuple[JsonValue, str | None]:
    """The value in the parameter's type, and why it does not fit (None when it does).

    The value is what ``selfeng.core.composition``'s hand-off gives, so a composite feeds
    its members exactly as the handler feeds the steps it replaces."""
    kind = _type_of(schema)
    if kind == "string":
        return format_value(value), None
    if kind in {"number", "integer"}:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return value, f"{format_value(value)} is not a number"
        number: float
        if isinstance(value, str):
            try:
                number = float(value.strip().replace(",", ""))
            except ValueError:
                return value, f"{value!r} is not a number"
        else:
            number = float(value)
        if not math.isfinite(number):
            return value, f"{format_value(value)} is not a finite number"
        if kind == "integer":
            if not number.is_integer():
                return value, f"{format_value(value)} is not a whole number"
            return int(number), None
        return (value if isinstance(value, int | float) else number), None
    if kind == "array":
        return (value if isinstance(value, list) else [value]), None
    if kind == "boolean":
        return (value, None) if isinstance(value, bool) else (value, f"{value!r} is not yes/no")
    return value, None


def template(scanned: str | Scan, extraction: Extraction) -> str:
    """The request with each argument's text replaced by ``{name}`` and other digits by
    ``#``: the wording without the values, which is what a tool learns to be asked by
    ("reverse the string {text}")."""
    read = scanned if isinstance(scanned, Scan) else scan(scanned)
    spans: list[tuple[int, int, str]] = []
    for name, indexes in extraction.took.items():
        real = [i for i in indexes if i >= 0]
        if not real:
            continue
        first, last = min(real), max(real)
        spans.append((read.tokens[first].start, read.tokens[last].end, "{" + name + "}"))
    out = read.text
    for start, end, label in sorted(spans, reverse=True):
        out = out[:start] + label + out[end:]
    return re.sub(r"\d+(?:[.,]\d+)*", "#", out)


def parse_date(text: str) -> str | None:
    """An ISO date from the first date a text mentions, if any."""
    for t in scan(text).tokens:
        if t.kind == "date":
            return str(t.value)
    return None


def now_iso() -> str:
    """Today's date (used only by callers that say "today")."""
    return datetime.now().date().isoformat()
