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
   parameter described as "decimal places". What no role decides goes by order
   (``selfeng.core.number_roles``).
4. Lists, booleans ("without spaces"), enums.
5. Text: quoted text (first to the parameter whose name the word before it says: "the
   *name* 'a.txt'", "*destination* 'Austin'"), else the text after the instruction's colon
   (whole, stop words included), else the longest run of words that are not the tool's own
   words.

Deterministic; no model is involved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import JsonValue

from selfeng.core.free_text import text_value
from selfeng.core.hinted_values import by_hint, strict, wants_expression, wants_path
from selfeng.core.language import (
    ARTICLES,
    DETERMINERS,
    OPERATORS,
    REFERENCE_STEMS,
    is_neutral,
    stem,
)
from selfeng.core.list_values import list_value
from selfeng.core.number_roles import numbers_by_role
from selfeng.core.request_tokens import TokenKind
from selfeng.core.scanning import Scan, Token, scan
from selfeng.core.token_pool import PREVIOUS, TokenPool
from selfeng.core.values import coerce, format_value, spaced_code, type_of
from selfeng.core.wording import ToolWording

_POINTERS = frozenset({"its", "their", "that", "this", "those", "these"})
_NEGATORS = frozenset(
    {"without", "no", "not", "excluding", "exclude", "ignoring", "ignore", "except", "don't",
     "dont", "skip", "skipping", "minus", "omitting", "leaving"}
)  # fmt: skip
_AFFIRMERS = frozenset({"with", "including", "include", "counting", "keep", "keeping"})
_AFTER_AFFIRMERS = frozenset({"included", "counted", "kept"})
_AFTER_NEGATORS = frozenset({"excluded", "ignored", "omitted", "removed", "skipped", "aside"})


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
    resolved: frozenset[str] = frozenset()
    """Parameters whose value was checked against what the request gives (a path that
    resolves in its JSON document): naming a field of a document given asks for it."""
    mistyped: dict[str, str] = field(default_factory=dict)
    """Parameters whose only candidate value had the wrong type, or that the request named
    two options for (of an enum), and why."""
    defaults: frozenset[str] = frozenset()
    """Parameters left to their defaults."""
    default_words: frozenset[str] = frozenset()
    """The stems of what the parameters left to their defaults are called or described as
    (``digits``, "how many decimal places to keep"): a request that says them asks for
    something the defaults do not give."""
    references: tuple[int, ...] = ()
    """Token indexes of the words that pointed at the previous output."""

    @property
    def taken(self) -> frozenset[int]:
        """Every token index some parameter took."""
        return frozenset(i for took in self.took.values() for i in took if i >= 0)


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
    counts = read.value_counts
    pool = TokenPool(read, [t.index not in counts for t in read.tokens])
    out = Extraction()
    took: dict[str, tuple[int, ...]] = {}
    free_text: set[str] = set()
    structured: set[str] = set()
    resolved: set[str] = set()
    if use_previous and previous is not None:
        _place_previous(pool, previous, out, wording)
    pending = dict(properties)

    def fill(name: str, value: JsonValue, tokens: Sequence[Token], *, loose: bool = False) -> None:
        schema = pending.pop(name)
        coerced, problem = coerce(value, schema)
        options = schema.get("enum")
        if problem is None and isinstance(options, list) and coerced not in options:
            problem = f"{format_value(coerced)} is not one of {', '.join(map(str, options))}"
        if problem is None:
            problem = spaced_code(name, schema, coerced)
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
        target = _previous_target(pending, pool, wording)
        if target is not None:
            fill(target, pool.previous.value, [pool.previous])
    # 2. Parameters that say what they want.
    for name, schema in list(pending.items()):
        found = by_hint(name, schema, pool, pending, wording.roles if wording else None)
        if found is not None:
            fill(name, found[0], found[1])
            structured.add(name)
            if wants_path(name, schema):
                resolved.add(name)
    # 3. Numbers by role, then by order.
    for name, token in numbers_by_role(pending, pool, wording):
        fill(name, token.value, [token])
    # 4. Lists, booleans, enums.
    for name, schema in list(pending.items()):
        kind = type_of(schema)
        if kind == "array":
            found = list_value(pool)
            if found is not None:
                fill(name, found[0], found[1])
        elif kind == "boolean":
            found = _boolean(name, pool)
            if found is not None:
                fill(name, found[0], found[1])
        elif kind == "enum" or "enum" in schema:
            named = _enum(schema, pool)
            if len(named) > 1:
                # "the sample and population standard deviation": which one?
                pending.pop(name)
                said = " and ".join(f"“{option}”" for option, _ in named)
                out.mistyped[name] = f"the request names {said}, and it takes one"
            elif named:
                fill(name, named[0][0], named[0][1])
    # 5. Text: quoted text a parameter's name labels first ("the *name* 'notes.txt'",
    # "*destination* 'Austin'"), then in order.
    for name, token, label in _labelled_quotes(pending, pool):
        fill(name, token.value, [token])
        pool.take(label)  # not a text of its own ("files *named* 'a.txt'"), nor the value
    for name, schema in list(pending.items()):
        if _takes_text(name, schema):
            found_text = text_value(name, schema, pool, wording, foreign)
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
    out.default_words = frozenset(
        word for n in defaults for word in _default_words(n, pending[n].get("description", ""))
    )
    out.took = took
    out.free_text = frozenset(free_text)
    out.structured = frozenset(structured & set(out.arguments))
    out.resolved = frozenset(resolved & set(out.arguments))
    return out


_DEFAULT_CLAUSE = re.compile(r"\bdefault(?:s|ing)?\b[^.;]*", re.IGNORECASE)


def _default_words(name: str, description: object) -> set[str]:
    """The stems of what a parameter left to its default is called or described as, less
    the words of what its description says the default is ("Defaults to the current
    directory"): a request that says those asks for the default."""

    def stems(text: str) -> set[str]:
        return {stem(w) for w in re.split(r"[\W_]+", text) if len(w) > 2 and not is_neutral(w)}

    text = str(description)
    default = stems(" ".join(m.group(0) for m in _DEFAULT_CLAUSE.finditer(text)))
    return stems(f"{name} {text}") - default


# -- text a parameter's name labels ---------------------------------------------------------


def _takes_text(name: str, schema: Mapping[str, Any]) -> bool:
    """Whether a parameter takes a text: a string (or untyped) value that is no enum and no
    value of a kind of its own (a date, a unit)."""
    return (
        type_of(schema) in {"string", "any"} and "enum" not in schema and not strict(name, schema)
    )


def _labelled_quotes(
    pending: Mapping[str, Mapping[str, Any]], pool: TokenPool
) -> list[tuple[str, Token, Token]]:
    """Quoted values labelled by the word right before them (articles skipped) when that
    word is one of exactly one text parameter's name words: ``name`` for "with the name
    'test.txt'" (stems compared, so "named" labels it too)."""
    texts = {
        name: {stem(w) for w in re.split(r"[\W_]+", name) if len(w) > 2}
        for name, schema in pending.items()
        if _takes_text(name, schema)
    }
    found: list[tuple[str, Token, Token]] = []
    claimed: set[str] = set()
    for token in pool.tokens("quoted"):
        label = _label_before(pool, token)
        if label is None:
            continue
        named = [n for n, words in texts.items() if stem(label.word) in words and n not in claimed]
        if len(named) == 1:
            found.append((named[0], token, label))
            claimed.add(named[0])
    return found


def _label_before(pool: TokenPool, token: Token) -> Token | None:
    """The free word right before a token, articles skipped."""
    tokens = pool.scan.tokens
    at = token.index - 1
    while at >= 0 and tokens[at].kind == "word" and tokens[at].word in ARTICLES:
        at -= 1
    if at < 0 or tokens[at].kind != "word" or not pool.free[at]:
        return None
    return tokens[at]


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
    pool: TokenPool, previous: JsonValue, out: Extraction, wording: ToolWording | None
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
    kind: TokenKind = (
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
        kind=kind,
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
    pending: Mapping[str, dict[str, Any]], pool: TokenPool, wording: ToolWording | None
) -> str | None:
    previous = pool.previous
    assert previous is not None
    # with an operator of its own ("times that by itself") the request makes an expression
    # of which the previous output is one operand, not the whole
    operated = any(t.word in OPERATORS for t in pool.tokens())
    fits = [
        name
        for name, schema in pending.items()
        if _fits(previous, schema) and not (operated and wants_expression(name, schema))
    ]
    if not fits:
        return None
    if previous.kind == "number" and len(fits) > 1 and wording is not None:
        return None  # several numeric parameters: the roles decide (step 3)
    return fits[0]


def _fits(token: Token, schema: Mapping[str, Any]) -> bool:
    """Whether the previous output fits a parameter: a record (a JSON object) only one that
    takes any value or an object, never a text parameter as its JSON; a list only a list."""
    kind = type_of(schema)
    if kind == "any" or (kind == "object" and token.kind == "json"):
        return True
    if kind == "string":
        return token.kind in {"quoted", "number"}
    if kind in {"number", "integer"}:
        return token.kind == "number" and (kind == "number" or token.integer)
    if kind == "array":
        return token.kind == "array"  # one number is no list to sum or average
    return False


# -- numbers -------------------------------------------------------------------------------


def _boolean(name: str, pool: TokenPool) -> tuple[JsonValue, list[Token]] | None:
    """A yes/no parameter named like ``include_spaces``: "with spaces" or "including the
    spaces" or "spaces included" says yes, "without spaces", "not counting the spaces" or
    "spaces excluded" says no (a negation up to three words before the parameter's noun; what
    follows the noun, when it says, decides)."""
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
        after = _said_after(t, tokens)
        if after is not None:
            # "spaces *included*", "spaces *not counted*", "with spaces *excluded*"
            said, tail = after
            return (said if positive else not said), [
                *(w for w in lead if pool.free[w.index] and w.word in _AFFIRMERS | _NEGATORS),
                t,
                *(w for w in tail if pool.free[w.index]),
            ]
        if not (negated or affirmed):
            continue
        value = (not negated) if positive else negated
        start = next(
            i for i, w in enumerate(lead) if w.word in _NEGATORS | _AFFIRMERS
        )  # the phrase from its negation or affirmation on
        taken = [w for w in lead[start:] if pool.free[w.index]] + [t]
        return value, taken
    return None


def _said_after(noun: Token, tokens: Sequence[Token]) -> tuple[bool, list[Token]] | None:
    """Whether the words right after a parameter's noun keep it ("spaces included") or
    leave it out ("spaces not counted", "spaces excluded"), and those words."""
    tail = [
        tokens[j]
        for j in range(noun.index + 1, min(len(tokens), noun.index + 4))
        if tokens[j].kind == "word"
    ]
    for k, word in enumerate(tail):
        if word.word in _AFTER_NEGATORS:
            return False, tail[: k + 1]
        if word.word == "not" and k + 1 < len(tail) and tail[k + 1].word in _AFTER_AFFIRMERS:
            return False, tail[: k + 2]
        if word.word in _AFTER_AFFIRMERS:
            return True, tail[: k + 1]
        if word.word not in {"are", "is", "be", "being"}:
            return None
    return None


def _enum(schema: Mapping[str, Any], pool: TokenPool) -> list[tuple[JsonValue, list[Token]]]:
    """The options of an enum the request names (each with its first mention), in the
    schema's order: one is the value, several leave it undecided."""
    named: list[tuple[JsonValue, list[Token]]] = []
    for option in schema.get("enum", []) or []:
        if not isinstance(option, str):
            continue
        for t in pool.tokens():
            if t.kind in {"word", "quoted"} and str(t.value or t.word).lower() == option.lower():
                named.append((option, [t]))
                break
    return named


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
