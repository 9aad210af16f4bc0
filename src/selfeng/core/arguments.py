"""The offline argument extractor: fill a tool's parameters from the words of a request.

It reads the values a sentence carries (quoted strings, JSON, lists, dates, percentages,
numbers, units) and hands them to the tool's parameters by type and order, guided by the
parameter names and descriptions; a step that works on the previous output gets it in its
first parameter that fits. What it cannot fill is reported by name, so the answer can say
"I could not find a value for X". Deterministic, and no model is involved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import orjson
from pydantic import JsonValue

_NUMBER = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+"
_NUMBER_ONLY = re.compile(_NUMBER)
_NUMBER_RE = re.compile(rf"(?<![\w.])({_NUMBER})(\s*%|\s*percent\b)?", re.IGNORECASE)
_QUOTED = re.compile(r"\"([^\"]*)\"|'([^']*)'|“([^”]*)”|‘([^’]*)’")  # noqa: RUF001
_JSON_ARRAY = re.compile(r"\[[^\[\]]*\]")
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
_ISO_DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_TEXT_DATE = re.compile(
    r"\b(?:(\d{1,2})(?:st|nd|rd|th)?\s+(" + "|".join(_MONTHS) + r")\.?,?\s+(\d{4})"
    r"|(" + "|".join(_MONTHS) + r")\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4}))\b",
    re.IGNORECASE,
)
_CONVERSION = re.compile(
    rf"(?:{_NUMBER})?\s*([a-z°]+(?:\s[a-z]+)?)\s+(?:to|in|into|as)\s+([a-z°]+)", re.IGNORECASE
)
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "into",
        "for",
        "from",
        "by",
        "with",
        "and",
        "or",
        "is",
        "are",
        "what",
        "whats",
        "what's",
        "please",
        "me",
        "my",
        "give",
        "tell",
        "show",
        "calculate",
        "compute",
        "find",
        "get",
        "return",
        "make",
        "string",
        "text",
        "word",
        "words",
        "number",
        "numbers",
        "value",
        "this",
        "that",
        "it",
        "its",
        "result",
        "answer",
        "how",
        "much",
        "many",
        "do",
        "does",
        "can",
        "you",
        "could",
    ]
)


@dataclass
class Extraction:
    """Arguments found, and the required parameters no value was found for."""

    arguments: dict[str, JsonValue] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    handoff: str | None = None
    """The parameter the previous step's output went to, if it was used."""


@dataclass
class _Found:
    """The values one sentence carries, consumed as parameters take them."""

    numbers: list[tuple[float, bool]]  # (value, written as a percentage)
    quoted: list[str]
    arrays: list[list[JsonValue]]
    objects: list[str]
    dates: list[str]
    units: list[tuple[str, str]]
    rest: str


def _to_number(text: str) -> float:
    return float(text.replace(",", ""))


def _scan(text: str) -> _Found:
    objects = []
    for m in _JSON_OBJECT.finditer(text):
        try:
            if isinstance(orjson.loads(m.group(0)), dict):
                objects.append(m.group(0))
        except orjson.JSONDecodeError:
            pass
    rest = _JSON_OBJECT.sub(" ", text) if objects else text
    arrays: list[list[JsonValue]] = []
    for m in _JSON_ARRAY.finditer(rest):
        try:
            value = orjson.loads(m.group(0))
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, list):
            arrays.append(value)
            rest = rest.replace(m.group(0), " ", 1)
    quoted = [next(g for g in m.groups() if g is not None) for m in _QUOTED.finditer(rest)]
    unquoted = _QUOTED.sub(" ", rest)
    dates = [m.group(1) for m in _ISO_DATE.finditer(unquoted)]
    for m in _TEXT_DATE.finditer(unquoted):
        day, month, year = (m.group(1), m.group(2), m.group(3)) if m.group(1) else (
            m.group(5), m.group(4), m.group(6))  # fmt: skip
        dates.append(date(int(year), _MONTHS.index(month.lower()) + 1, int(day)).isoformat())
    undated = _TEXT_DATE.sub(" ", _ISO_DATE.sub(" ", unquoted))
    numbers = [(_to_number(m.group(1)), bool(m.group(2))) for m in _NUMBER_RE.finditer(undated)]
    units = [(m.group(1).lower(), m.group(2).lower()) for m in _CONVERSION.finditer(undated)]
    rest = _NUMBER_RE.sub(" ", undated)
    return _Found(numbers, quoted, arrays, objects, dates, units, rest)


def _words(text: str) -> list[str]:
    words = re.findall(r"[\w'.-]+", text, flags=re.UNICODE)
    return [w.strip(".'-") for w in words if w.strip(".'-")]


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, str):
        return kind
    if "anyOf" in schema:
        kinds = [_type_of(s) for s in schema["anyOf"] if s.get("type") != "null"]
        return kinds[0] if kinds else "any"
    if "enum" in schema:
        return "enum"
    return "any"


def format_value(value: JsonValue) -> str:
    """A value as text for a string parameter: 25.0 reads "25", lists and objects as JSON."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _coerce(value: JsonValue, schema: dict[str, Any]) -> JsonValue:
    kind = _type_of(schema)
    if kind == "string":
        return format_value(value)
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind in {"number", "integer"} and isinstance(value, str):
        try:
            number = _to_number(value.strip())
        except ValueError:
            return value
        return int(number) if kind == "integer" and number.is_integer() else number
    if kind == "array" and not isinstance(value, list):
        return [value]
    return value


def _hints(name: str, schema: dict[str, Any]) -> str:
    return f"{name} {schema.get('description', '')}".lower()


def extract(
    text: str,
    parameters: dict[str, Any],
    *,
    tool_words: frozenset[str] = frozenset(),
    previous: JsonValue | None = None,
    use_previous: bool = False,
) -> Extraction:
    """Fill the parameters (a JSON Schema object) of a tool from ``text``.

    ``tool_words`` (the words of the tool's name) are not taken as a free string value.
    With ``use_previous``, ``previous`` goes to the first parameter it fits.
    """
    properties: dict[str, dict[str, Any]] = parameters.get("properties", {})
    required = set(parameters.get("required", list(properties)))
    found = _scan(text)
    out = Extraction()
    pending = dict(properties)
    if use_previous and previous is not None and pending:
        target = _previous_target(pending, previous)
        if target is not None:
            out.arguments[target] = _coerce(previous, pending.pop(target))
            out.handoff = target
    # Pass 1: parameters whose names or descriptions say what they want.
    for name, schema in list(pending.items()):
        value = _by_hint(name, schema, found)
        if value is not None:
            out.arguments[name] = _coerce(value, schema)
            del pending[name]
    # Pass 2: the remaining values, by type and order.
    for name, schema in list(pending.items()):
        value = _by_type(name, schema, found, tool_words)
        if value is not None:
            out.arguments[name] = _coerce(value, schema)
            del pending[name]
        elif "default" in schema:
            del pending[name]
    out.missing = [name for name in pending if name in required]
    return out


def _previous_target(pending: dict[str, dict[str, Any]], previous: JsonValue) -> str | None:
    for name, schema in pending.items():
        kind = _type_of(schema)
        if kind in {"string", "any"}:
            return name
        if kind in {"number", "integer"} and isinstance(previous, int | float):
            return name
        if kind == "array" and isinstance(previous, list):
            return name
    return None


def _by_hint(name: str, schema: dict[str, Any], found: _Found) -> JsonValue | None:
    hints = _hints(name, schema)
    kind = _type_of(schema)
    if kind in {"number", "integer"} and ("percent" in name or "%" in hints):
        for i, (value, is_percent) in enumerate(found.numbers):
            if is_percent:
                del found.numbers[i]
                return value
    if kind == "string" and ("date" in hints or "yyyy" in hints) and found.dates:
        return found.dates.pop(0)
    if kind == "string" and ("unit" in name) and found.units:
        first, second = found.units[0]
        if name.startswith(("from", "source")) or "from" in name:
            return first.split()[-1]
        if name.startswith(("to", "target")) or "to_" in name:
            found.units.pop(0)
            return second
    if kind == "string" and ("json" in hints or "document" in name) and found.objects:
        return found.objects.pop(0)
    return None


def _by_type(
    name: str, schema: dict[str, Any], found: _Found, tool_words: frozenset[str]
) -> JsonValue | None:
    kind = _type_of(schema)
    if kind in {"number", "integer"} and found.numbers:
        return found.numbers.pop(0)[0]
    if kind == "array":
        if found.arrays:
            return found.arrays.pop(0)
        if found.numbers:
            numbers: list[JsonValue] = [n for n, _ in found.numbers]
            found.numbers.clear()
            return numbers
    if kind == "enum":
        for option in schema.get("enum", []):
            if isinstance(option, str) and re.search(rf"\b{re.escape(option)}\b", found.rest, re.I):
                return option
    if kind in {"string", "any"}:
        if found.quoted:
            return found.quoted.pop(0)
        if found.objects:
            return found.objects.pop(0)
        if found.dates:
            return found.dates.pop(0)
        words = [w for w in _words(found.rest) if w.lower() not in _STOP | tool_words]
        if words:
            found.rest = ""
            return " ".join(words)
    if kind == "boolean":
        return None
    return None


def parse_date(text: str) -> str | None:
    """An ISO date from the first date a text mentions, if any."""
    found = _scan(text)
    return found.dates[0] if found.dates else None


def now_iso() -> str:
    """Today's date (used only by callers that say "today")."""
    return datetime.now().date().isoformat()


def template(text: str, arguments: dict[str, JsonValue]) -> str:
    """The text with each argument's value replaced by ``{name}``: the wording without the
    values, which is what a tool learns to be asked by ("reverse the string {text}")."""
    out = text
    for name, value in arguments.items():
        candidates: list[str] = []
        if isinstance(value, str) and value.strip():
            candidates.append(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
            if number.is_integer():
                candidates += [f"{int(number):,}", str(int(number))]
            candidates.append(repr(number))
        for candidate in candidates:
            at = out.lower().find(candidate.lower())
            if at >= 0:
                out = out[:at] + "{" + name + "}" + out[at + len(candidate) :]
                break
    return _NUMBER_ONLY.sub("#", out)
