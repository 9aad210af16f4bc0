"""Values in a parameter's type: how a result reads as text, and how a value is coerced."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import JsonValue


def type_of(schema: Mapping[str, Any]) -> str:
    """The JSON Schema type of a parameter (its first non-null one; ``enum`` or ``any`` when
    it names none)."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return kind
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        return str(kinds[0]) if kinds else "any"
    if "anyOf" in schema:
        kinds = [type_of(s) for s in schema["anyOf"] if s.get("type") != "null"]
        return kinds[0] if kinds else "any"
    if "enum" in schema:
        return "enum"
    return "any"


def format_value(value: JsonValue) -> str:
    """A value as text: 25.0 reads "25", other numbers as Python writes them to 15
    significant digits (a float's last bits are binary noise: 64 ** (1/3) reads "4", not
    "3.9999999999999996", as on a calculator), lists and objects as compact JSON (the same
    as a composite tool's hand-off). A float of 10**15 or more reads in scientific notation
    ("1e+100", "9.999999998e+19"): written out whole, its digits past the fifteenth would be
    binary noise, not the number."""
    if isinstance(value, float) and math.isfinite(value):
        value = float(f"{value:.15g}")
        if abs(value) >= 1e15:
            return f"{value:.15g}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    return orjson.dumps(value).decode()


def number_lists(arguments: object) -> list[list[float]]:
    """The lists of two numbers or more among a step's ``arguments`` (a dict; anything else
    has none): the values an aggregate was given."""
    if not isinstance(arguments, Mapping):
        return []
    return [
        [float(x) for x in v]
        for v in arguments.values()
        if isinstance(v, list)
        and len(v) > 1
        and all(isinstance(x, int | float) and not isinstance(x, bool) for x in v)
    ]


def shown(text: str, limit: int = 120) -> str:
    """``text`` as a message quotes it: whole when short, else its start and end around an
    ellipsis, with its length (a pasted page is not echoed back whole)."""
    if len(text) <= limit:
        return text
    head, tail = text[: limit * 2 // 3].rstrip(), text[-(limit // 4) :].lstrip()
    return f"{head} … {tail} ({len(text):,} characters)"


def coerce(value: JsonValue, schema: Mapping[str, Any]) -> tuple[JsonValue, str | None]:
    """The value in the parameter's type, and why it does not fit (None when it does).

    The value is what ``selfeng.core.composition``'s hand-off gives, so a composite feeds
    its members exactly as the handler feeds the steps it replaces."""
    kind = type_of(schema)
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


_CODE_NAME = re.compile(
    r"(^|_)(id|ids|uuid|guid|sku|isbn|symbol|ticker|hash|ip|email|url|uri)$|_code$", re.IGNORECASE
)
_CODE_DESCRIPTION = re.compile(r"\b(?:symbol|ticker|identifier|uuid|isbn|sku)s?\b", re.IGNORECASE)


def spaced_code(name: str, schema: Mapping[str, Any], value: JsonValue) -> str | None:
    """Why a text with spaces cannot be the value of a parameter that holds a code (an id, a
    ticker symbol, an email address: named so, or so described), or None. A company's name
    is not its ticker ("Zeta Corp" for ``symbol``): the value must be asked for, not guessed.
    """
    if not isinstance(value, str) or not any(c.isspace() for c in value.strip()):
        return None
    description = str(schema.get("description", "")) if isinstance(schema, Mapping) else ""
    if _CODE_NAME.search(name) or _CODE_DESCRIPTION.search(description) or " ID" in description:
        return f"{value!r} has spaces, and {name} holds a code"
    return None


def json_type(value: object) -> str:
    """The JSON Schema type of a value ("array" for a list, "null" for None)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list | tuple) else "object"
