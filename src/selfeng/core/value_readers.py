"""Readers of the values a request carries, each taking the character spans it reads.

Readers run in order (JSON objects and arrays, quoted text, dates, numbers, then words and
arithmetic symbols), each skipping spans an earlier one took, so ``"2024-01-05"`` is quoted
text and ``2024-01-05`` a date, never three numbers. Numbers come with their signs,
thousands separators, decimals, fractions and percentages. A date that could be read two
ways or is impossible, and a fraction over zero, are ``unclear`` tokens.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from pydantic import JsonValue

from selfeng.core.language import SYMBOL_WORDS
from selfeng.core.request_tokens import TokenKind

_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4,
    "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9, "october": 10, "oct": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}  # fmt: skip
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_ORD = r"(?:st|nd|rd|th)?"
_DATE_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?<![\d/.-])(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?![\d/-]|\.\d)"), "ymd"),
    (
        re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}}){_ORD},?\s+(\d{{4}})\b", re.IGNORECASE),
        "mdy",
    ),
    (
        re.compile(
            rf"\b(\d{{1,2}}){_ORD}\s+(?:of\s+)?({_MONTH})\.?,?\s+(\d{{4}})\b", re.IGNORECASE
        ),
        "dmy",
    ),
    (re.compile(r"(?<![\d/.-])(\d{1,2})([/.-])(\d{1,2})\2(\d{4})(?![\d/-]|\.\d)"), "numeric"),
]
_NUMBER = re.compile(
    r"(?P<sign>[-+\u2212])?(?P<cur>[$€£¥])?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?:/(?P<den>\d+(?:\.\d+)?)(?![\d/]))?"
    r"(?P<ord>st|nd|rd|th)?"
    r"(?P<pct>\s*%|\s*percent\b|\s*per\s?cent\b)?",
    re.IGNORECASE,
)
_UNIT_AFTER = re.compile(r"[^\W\d_]{1,3}(?![\w'\u2019-])")
"""One to three letters glued after a number and ending the word: a unit ("20C", "5kg")."""
_SYMBOL = re.compile(r"\*\*|[+\-\u2212*/\u00d7÷^()=%]")
_MIXED_WORD = re.compile(r"\w+(?:['\u2019-]\w+)*(?:\.\w+)*", re.UNICODE)
"""A run of word characters: taken as one word where it mixes letters with digits or
underscores, a code, a name or an identifier ("abc123", "h2o", "ba123", "user_id"), and
the number reader left it alone. (Every part is optional after the first, so the pattern
never backtracks: a 20,000-character run is read in linear time.)"""
_TIMES_GLUED = re.compile(r"[xX]\d")
"""An "x" glued between two numbers: "3x4" multiplies."""
_WORD = re.compile(r"°?[^\W\d_]+(?:['\u2019-][^\W\d_]+)*(?:\.[\w]+)*", re.UNICODE)
"""A word of letters (dotted parts may hold digits: "v2.0"); an identifier with digits or
underscores is read whole before (``_MIXED_WORD``)."""
_QUOTES = [
    re.compile(r"\"([^\"\n]*)\""),
    re.compile(r"“([^”\n]*)”"),
    re.compile(r"‘([^’\n]*)’"),  # noqa: RUF001
    re.compile(r"`([^`\n]*)`"),
    re.compile(r"(?<![\w'])'(?=\S)([^'\n]*?\S)'(?![\w])"),
    re.compile(r"(?<![\w'])''(?![\w'])"),
]


class Spans:
    """Character spans already read, so later readers skip them: one flag per character, so
    a check costs the span's length, not the number of spans read (a 20,000-character
    request of 10,000 tokens took 6 s to read when each check went over every span)."""

    def __init__(self, length: int) -> None:
        self._taken = bytearray(length)

    def free(self, start: int, end: int) -> bool:
        return self._taken.find(1, start, end) < 0

    def take(self, start: int, end: int) -> None:
        self._taken[start:end] = b"\x01" * (end - start)


def _balanced(text: str, start: int, open_: str, close: str) -> int | None:
    """The index after the bracket closing the one at ``start`` (JSON strings respected)."""
    depth = 0
    in_string = False
    escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == open_:
            depth += 1
        elif ch == close:
            depth -= 1
            if depth == 0:
                return i + 1
    return None


@dataclass
class RawToken:
    """A token as a reader finds it, before its place among the tokens is known."""

    kind: TokenKind
    start: int
    end: int
    value: JsonValue = None
    percent: bool = False
    word: str = ""
    integer: bool = False
    note: str = ""


def numeric(value: JsonValue) -> float:
    """A number token's value as a float (0.0 for a value that is no number)."""
    return float(value) if isinstance(value, int | float) else 0.0


_MAX_FAILED_BRACKETS = 64
"""Brackets tried as the start of a JSON document that is not one, at most (per kind): each
try walks to the matching bracket, so without a bound, ten thousand nested brackets that
are no JSON took seconds to read."""


def read_json(text: str, spans: Spans, raw: list[RawToken]) -> None:
    for open_, close in (("{", "}"), ("[", "]")):
        at = text.find(open_)
        failed = 0
        while at >= 0 and failed < _MAX_FAILED_BRACKETS:
            if not spans.free(at, at + 1):  # inside a document read already
                at = text.find(open_, at + 1)
                continue
            end = _balanced(text, at, open_, close)
            value: Any = None
            if end is not None and spans.free(at, end):
                try:
                    value = orjson.loads(text[at:end])
                except orjson.JSONDecodeError:
                    value = None
            if end is not None and open_ == "{" and isinstance(value, dict):
                raw.append(RawToken("json", at, end, value=text[at:end]))
                spans.take(at, end)
            elif end is not None and open_ == "[" and isinstance(value, list):
                raw.append(RawToken("array", at, end, value=value))
                spans.take(at, end)
            else:
                failed += 1
            at = text.find(open_, at + 1)


def read_quotes(text: str, spans: Spans, raw: list[RawToken]) -> None:
    for pattern in _QUOTES:
        for m in pattern.finditer(text):
            if spans.free(m.start(), m.end()):
                inner = m.group(1) if m.groups() else ""
                raw.append(RawToken("quoted", m.start(), m.end(), value=inner or ""))
                spans.take(m.start(), m.end())


def read_dates(text: str, spans: Spans, raw: list[RawToken]) -> None:
    for pattern, form in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            if not spans.free(m.start(), m.end()):
                continue
            token = _date_token(m, form)
            raw.append(token)
            spans.take(m.start(), m.end())


def _date_token(m: re.Match[str], form: str) -> RawToken:
    if form == "ymd":
        parts = (int(m.group(1)), int(m.group(3)), int(m.group(4)))
    elif form == "mdy":
        parts = (int(m.group(3)), _MONTHS[m.group(1).lower()], int(m.group(2)))
    elif form == "dmy":
        parts = (int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1)))
    else:
        first, second, year = int(m.group(1)), int(m.group(3)), int(m.group(4))
        if first > 12 >= second:
            parts = (year, second, first)
        elif second > 12 >= first or first == second:
            parts = (year, first, second)
        else:
            return RawToken(
                "unclear",
                m.start(),
                m.end(),
                note=f"“{m.group(0)}” could be day/month or month/day",
            )
    try:
        return RawToken("date", m.start(), m.end(), value=date(*parts).isoformat(), word="date")
    except ValueError:
        return RawToken("unclear", m.start(), m.end(), note=f"“{m.group(0)}” is not a date")


_GROUPED = re.compile(r"(?<![\w.])(\d+(?:_\d+)+)(\.\d+)?(?![\w.])")
"""Digits grouped by underscores, as code writes them ("1_000")."""
_SCIENTIFIC = re.compile(r"(?<![\w.])[-\u2212]?\d+(?:\.\d+)?[eE][-+\u2212]?\d+(?![\w.])")
"""A number in scientific notation ("1e2", "2.5E-3")."""
_HEX = re.compile(r"(?<![\w.])0[xX][0-9a-fA-F]+(?![\w.])")
"""A hexadecimal literal ("0x10"), which "x" between two numbers would multiply."""


_ELIDED = re.compile(r"(?<=\d)[\s,]*(?:\.{3,}|\u2026|\betc\b\.?)[\s,]*(?=[-\u2212]?\d)")
"""Values left out between two numbers ("1, 2, 3, ..., 10", "1 … 10")."""
_SLASHED = re.compile(r"(?<![\w./])\d+(?:\.\d+)?(?:/\d+(?:\.\d+)?){2,}(?![\w/])")
"""Numbers joined by two slashes or more ("1/2/3"), no date: a list, a date written short or
divisions in a row."""


def _read_whole(
    pattern: re.Pattern[str],
    text: str,
    spans: Spans,
    raw: list[RawToken],
    token: Callable[[re.Match[str]], RawToken],
) -> None:
    """Each free match of ``pattern`` as the one token ``token`` makes of it."""
    for m in pattern.finditer(text):
        if spans.free(m.start(), m.end()):
            raw.append(token(m))
            spans.take(m.start(), m.end())


def _elided(m: re.Match[str]) -> RawToken:
    note = f"“{m.group(0).strip(' ,')}” leaves values out: which ones?"
    return RawToken("unclear", m.start(), m.end(), note=note)


def _grouped(m: re.Match[str]) -> RawToken:
    value, integer = float(m.group(0).replace("_", "")), m.group(2) is None
    return RawToken("number", m.start(), m.end(), value=value, integer=integer)


def _scientific(m: re.Match[str]) -> RawToken:
    value = float(m.group(0).replace("\u2212", "-"))
    if not math.isfinite(value):
        return RawToken("unclear", m.start(), m.end(), note=f"“{m.group(0)}” is too large")
    return RawToken("number", m.start(), m.end(), value=value, integer=value.is_integer())


def _slashed(m: re.Match[str]) -> RawToken:
    note = f"“{m.group(0)}”: a list, a date or divisions in a row?"
    return RawToken("unclear", m.start(), m.end(), note=note)


def _hex(m: re.Match[str]) -> RawToken:
    note = f"“{m.group(0)}” is a hexadecimal number, or 0 times {m.group(0)[2:]}?"
    return RawToken("unclear", m.start(), m.end(), note=note)


def read_numbers(text: str, spans: Spans, raw: list[RawToken]) -> None:
    _read_whole(_ELIDED, text, spans, raw, _elided)
    _read_whole(_GROUPED, text, spans, raw, _grouped)
    _read_whole(_HEX, text, spans, raw, _hex)
    _read_whole(_SCIENTIFIC, text, spans, raw, _scientific)
    _read_whole(_SLASHED, text, spans, raw, _slashed)
    for m in _NUMBER.finditer(text):
        start, end = m.start(), m.end()
        if m.group("ord") and m.group("den"):
            continue
        sign = m.group("sign")
        if sign and not _is_sign(text, start):
            start += 1
            sign = None
        if not spans.free(start, end):
            continue
        before = text[start - 1] if start > 0 else " "
        after = text[m.end("num") :] if not m.group("den") else text[m.end("den") :]
        unit = _UNIT_AFTER.match(after) is not None  # "20C", "100km", "5kg": a unit glued on
        times_before = before in "xX" and start > 1 and text[start - 2].isdigit()
        glued = (
            (before.isalpha() and not times_before)
            or before == "_"
            or after[:1] == "_"
            or (
                after[:1].isalpha()
                and not m.group("ord")
                and not unit
                and not _TIMES_GLUED.match(after)
            )
        )
        if glued and not m.group("pct"):
            continue  # part of a word or identifier (abc123, 3rd-party, x2y)
        number = float(m.group("num").replace(",", ""))
        integer = "." not in m.group("num")
        if m.group("den"):
            denominator = float(m.group("den"))
            if denominator == 0:
                raw.append(RawToken("unclear", start, end, note=f"“{m.group(0)}” divides by zero"))
                spans.take(start, end)
                continue
            number /= denominator
            integer = number.is_integer()
        if sign in {"-", "\u2212"}:
            number = -number
        percent = bool(m.group("pct"))
        if percent and m.group("pct").strip() == "%" and re.match(r"\s*\d", text[end:]):
            # "7 % 3": between two numbers "%" may be a percentage or the remainder
            note = f"“{text[start:end]}” before a number: a percentage, or the remainder?"
            raw.append(RawToken("unclear", start, end, note=note))
            spans.take(start, end)
            continue
        raw.append(
            RawToken(
                "number",
                start,
                end,
                value=number,
                percent=percent,
                word="percent" if percent else "",
                integer=integer,
            )
        )
        spans.take(start, end)


def _is_sign(text: str, at: int) -> bool:
    """Whether the +/- at ``at`` is a number's sign rather than an operator: it is when
    nothing it could operate on comes before it (start, an opening bracket, a word)."""
    i = at - 1
    while i >= 0 and text[i] == " ":
        i -= 1
    if i < 0:
        return True
    previous = text[i]
    return not (previous.isdigit() or previous in ")%" or (previous == "." and i > 0))


def read_words_and_symbols(text: str, spans: Spans, raw: list[RawToken]) -> None:
    for m in _MIXED_WORD.finditer(text):
        found = m.group(0)
        if not spans.free(m.start(), m.end()):
            continue
        if any(c.isdigit() or c == "_" for c in found) and any(c.isalpha() for c in found):
            raw.append(RawToken("word", m.start(), m.end(), word=_word(found)))
            spans.take(m.start(), m.end())
        elif "_" in found and any(c.isdigit() for c in found):
            # digits and underscores no reader took ("2.5_0"): never silently dropped
            note = f"“{found}” is not a number as written"
            raw.append(RawToken("unclear", m.start(), m.end(), note=note))
            spans.take(m.start(), m.end())
    for m in _WORD.finditer(text):
        if spans.free(m.start(), m.end()):
            word = _word(m.group(0))
            if word == "x" and _between_numbers(text, m.start(), m.end()):
                raw.append(RawToken("symbol", m.start(), m.end(), word="times"))
            else:
                raw.append(RawToken("word", m.start(), m.end(), word=word))
            spans.take(m.start(), m.end())
    previous: re.Match[str] | None = None
    for m in _SYMBOL.finditer(text):
        if spans.free(m.start(), m.end()):
            symbol = m.group(0)
            if (
                previous is not None
                and symbol in _OPERATOR_SYMBOLS
                and previous.group(0) in _OPERATOR_SYMBOLS
                and not text[previous.end() : m.start()].strip()
            ):
                # "9 - - 1" (minus a negative, or a typo?), "7 // 2" (floor division)
                shown = text[previous.start() : m.end()]
                note = f"“{shown}”: two operators in a row"
                raw.append(RawToken("unclear", m.start(), m.end(), note=note))
            else:
                word = SYMBOL_WORDS.get(symbol, symbol)
                raw.append(RawToken("symbol", m.start(), m.end(), word=word))
            spans.take(m.start(), m.end())
            previous = m


_OPERATOR_SYMBOLS = frozenset(SYMBOL_WORDS) - {"%", "x"}


def _word(text: str) -> str:
    return text.lower().replace("\u2019", "'").lstrip("°")


def _between_numbers(text: str, start: int, end: int) -> bool:
    before = text[:start].rstrip()
    after = text[end:].lstrip()
    return bool(before) and bool(after) and before[-1].isdigit() and after[0].isdigit()
