"""Reading a request into tokens: the values it carries and the words around them.

A request is read once, left to right, into typed tokens with their places in the text:
JSON objects and arrays, quoted text, dates, numbers (signs, thousands separators, decimals,
fractions, percentages, number words), arithmetic symbols and words. Text after an
instruction's colon ("Make this uppercase: the quick brown fox") is remembered as a span
that a text parameter may take whole, stop words included.

Nothing here knows about tools; the argument extractor binds tokens to a tool's parameters
and the evidence check accounts for every token that no parameter took.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property, lru_cache
from typing import Literal

import orjson
from pydantic import JsonValue

from selfeng.core.language import POINTING_STEMS, SYMBOL_WORDS, stem

TokenKind = Literal["word", "number", "date", "quoted", "json", "array", "symbol", "unclear"]
"""What a token is. ``unclear``: a value that cannot be read safely (an ambiguous or
impossible date); it can never be taken as an argument, so a request holding one is not
answered by guesswork."""


@dataclass(frozen=True)
class Token:
    """One token of a request."""

    index: int
    """Its place among the request's tokens."""
    kind: TokenKind
    """What it is."""
    text: str
    """As written."""
    start: int
    """Offset of its first character in the request."""
    end: int
    """Offset after its last character."""
    value: JsonValue = None
    """The value: a number, an ISO date, the quoted text, a JSON document's text, a list."""
    percent: bool = False
    """A number written as a percentage (``25%``, ``25 percent``)."""
    word: str = ""
    """Lower-case word it reads as: the word itself, a symbol's word (``+`` -> plus), a
    percentage's ``percent``, a number word (``squared``)."""
    integer: bool = False
    """A number written without a fractional part."""
    note: str = ""
    """Why an ``unclear`` token is unclear."""

    @property
    def stem(self) -> str:
        """The stem of ``word`` (see ``selfeng.core.language.stem``)."""
        return stem(self.word) if self.word else ""


@dataclass(frozen=True)
class Scan:
    """A request read into tokens."""

    text: str
    """The request as given."""
    tokens: tuple[Token, ...]
    """Its tokens, in order."""
    colon: tuple[int, int] | None = None
    """The character span of text after an instruction's colon, if any."""
    colon_tokens: frozenset[int] = field(default_factory=frozenset)
    """Indexes of the tokens inside that span."""

    def between(self, first: int, last: int) -> str:
        """The request's text from token ``first`` to token ``last``, as written."""
        return self.text[self.tokens[first].start : self.tokens[last].end]

    @cached_property
    def value_counts(self) -> frozenset[int]:
        """Numbers that say how many values there are, not what they are: "add *two*
        numbers", "the mean of *3* values: 4, 5, 6" (a number right before a plural noun
        that points at values)."""
        out: set[int] = set()
        for t, nxt in zip(self.tokens, self.tokens[1:], strict=False):
            if (
                t.kind == "number"
                and not t.percent
                and nxt.kind == "word"
                and nxt.word.endswith("s")
                and nxt.stem in POINTING_STEMS
            ):
                out.add(t.index)
        return frozenset(out)

    def colon_text(self) -> str | None:
        """The text after the instruction's colon, as written (trailing ?!. removed)."""
        if self.colon is None:
            return None
        return _trim_end(self.text[self.colon[0] : self.colon[1]])


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
_SYMBOL = re.compile(r"\*\*|[+\-\u2212*/\u00d7÷^()=]")
_WORD = re.compile(
    r"°?[^\W\d_]+(?:['\u2019-][^\W\d_]+)*(?:\.[\w]+)*|[A-Za-z_]\w*(?:\.\w+)+", re.UNICODE
)
_QUOTES = [
    re.compile(r"\"([^\"\n]*)\""),
    re.compile(r"“([^”\n]*)”"),
    re.compile(r"‘([^’\n]*)’"),  # noqa: RUF001
    re.compile(r"`([^`\n]*)`"),
    re.compile(r"(?<![\w'])'(?=\S)([^'\n]*?\S)'(?![\w])"),
    re.compile(r"(?<![\w'])''(?![\w'])"),
]
_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "dozen": 12,
}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_POWER_WORDS = {"squared": 2, "cubed": 3}
_POWER_VERBS = {"square": 2, "cube": 3}
_MULTIPLES = {"double": 2.0, "twice": 2.0, "triple": 3.0, "thrice": 3.0, "half": 0.5}
_POWER_VERB_WORDS = {"square": "squared", "cube": "cubed"}
_NOT_A_NUMBER_BEFORE_ONE = frozenset(
    {"which", "this", "that", "the", "each", "every", "any", "no", "another", "other", "last"}
)


def _trim_end(text: str) -> str:
    return text.strip().rstrip("?!.").strip()


class _Spans:
    """Character spans already read, so later readers skip them."""

    def __init__(self) -> None:
        self.taken: list[tuple[int, int]] = []

    def free(self, start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in self.taken)

    def take(self, start: int, end: int) -> None:
        self.taken.append((start, end))


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
class _Raw:
    kind: TokenKind
    start: int
    end: int
    value: JsonValue = None
    percent: bool = False
    word: str = ""
    integer: bool = False
    note: str = ""


def scan(text: str) -> Scan:
    """Read a request into tokens (a request is read several times on its way: planned,
    searched, weighed per candidate, so recent readings are kept; a reading holding a list,
    whose value a caller could change, is never shared)."""
    read = _scan_cached(text)
    if any(t.kind == "array" for t in read.tokens):
        return _read(text)  # the kept reading stays as read; this caller gets its own
    return read


@lru_cache(maxsize=1024)
def _scan_cached(text: str) -> Scan:
    return _read(text)


def _read(text: str) -> Scan:
    spans = _Spans()
    raw: list[_Raw] = []
    _read_json(text, spans, raw)
    _read_quotes(text, spans, raw)
    _read_dates(text, spans, raw)
    _read_numbers(text, spans, raw)
    _read_words_and_symbols(text, spans, raw)
    raw.sort(key=lambda r: r.start)
    raw = _number_words(text, raw)
    tokens = tuple(
        Token(
            index=i,
            kind=r.kind,
            text=text[r.start : r.end],
            start=r.start,
            end=r.end,
            value=r.value,
            percent=r.percent,
            word=r.word,
            integer=r.integer,
            note=r.note,
        )
        for i, r in enumerate(raw)
    )
    colon = _colon_span(text, tokens)
    inside = (
        frozenset(t.index for t in tokens if colon[0] <= t.start < colon[1])
        if colon
        else frozenset()
    )
    return Scan(text=text, tokens=tokens, colon=colon, colon_tokens=inside)


def _read_json(text: str, spans: _Spans, raw: list[_Raw]) -> None:
    for open_, close in (("{", "}"), ("[", "]")):
        at = text.find(open_)
        while at >= 0:
            end = _balanced(text, at, open_, close)
            if end is not None and spans.free(at, end):
                try:
                    value = orjson.loads(text[at:end])
                except orjson.JSONDecodeError:
                    value = None
                if open_ == "{" and isinstance(value, dict):
                    raw.append(_Raw("json", at, end, value=text[at:end]))
                    spans.take(at, end)
                elif open_ == "[" and isinstance(value, list):
                    raw.append(_Raw("array", at, end, value=value))
                    spans.take(at, end)
            at = text.find(open_, at + 1)


def _read_quotes(text: str, spans: _Spans, raw: list[_Raw]) -> None:
    for pattern in _QUOTES:
        for m in pattern.finditer(text):
            if spans.free(m.start(), m.end()):
                inner = m.group(1) if m.groups() else ""
                raw.append(_Raw("quoted", m.start(), m.end(), value=inner or ""))
                spans.take(m.start(), m.end())


def _read_dates(text: str, spans: _Spans, raw: list[_Raw]) -> None:
    for pattern, form in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            if not spans.free(m.start(), m.end()):
                continue
            token = _date_token(m, form)
            raw.append(token)
            spans.take(m.start(), m.end())


def _date_token(m: re.Match[str], form: str) -> _Raw:
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
            return _Raw(
                "unclear",
                m.start(),
                m.end(),
                note=f"“{m.group(0)}” could be day/month or month/day",
            )
    try:
        return _Raw("date", m.start(), m.end(), value=date(*parts).isoformat(), word="date")
    except ValueError:
        return _Raw("unclear", m.start(), m.end(), note=f"“{m.group(0)}” is not a date")


def _read_numbers(text: str, spans: _Spans, raw: list[_Raw]) -> None:
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
        glued = before.isalpha() or before == "_" or (after[:1].isalpha() and not m.group("ord"))
        if glued and not m.group("pct"):
            continue  # part of a word or identifier (abc123, 3rd-party, x2)
        number = float(m.group("num").replace(",", ""))
        integer = "." not in m.group("num")
        if m.group("den"):
            denominator = float(m.group("den"))
            if denominator == 0:
                raw.append(_Raw("unclear", start, end, note=f"“{m.group(0)}” divides by zero"))
                spans.take(start, end)
                continue
            number /= denominator
            integer = number.is_integer()
        if sign in {"-", "\u2212"}:
            number = -number
        percent = bool(m.group("pct"))
        raw.append(
            _Raw(
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


def _read_words_and_symbols(text: str, spans: _Spans, raw: list[_Raw]) -> None:
    for m in _WORD.finditer(text):
        if spans.free(m.start(), m.end()):
            word = m.group(0).lower().replace("\u2019", "'").lstrip("°")
            if word == "x" and _between_numbers(text, m.start(), m.end()):
                raw.append(_Raw("symbol", m.start(), m.end(), word="times"))
            else:
                raw.append(_Raw("word", m.start(), m.end(), word=word))
            spans.take(m.start(), m.end())
    for m in _SYMBOL.finditer(text):
        if spans.free(m.start(), m.end()):
            symbol = m.group(0)
            raw.append(_Raw("symbol", m.start(), m.end(), word=SYMBOL_WORDS.get(symbol, symbol)))
            spans.take(m.start(), m.end())


def _between_numbers(text: str, start: int, end: int) -> bool:
    before = text[:start].rstrip()
    after = text[end:].lstrip()
    return bool(before) and bool(after) and before[-1].isdigit() and after[0].isdigit()


def _number_words(text: str, raw: list[_Raw]) -> list[_Raw]:
    """Turn runs of number words into numbers ("twenty-five", "a hundred", "three
    thousand") and "squared"/"cubed" after a number into the power they name."""
    out: list[_Raw] = []
    i = 0
    while i < len(raw):
        r = raw[i]
        nxt = raw[i + 1] if i + 1 < len(raw) else None
        if (
            r.kind == "word"
            and nxt is not None
            and nxt.kind == "number"
            and not nxt.percent
            and (r.word == "negative" or (r.word == "minus" and not _operand_before(out)))
        ):
            out.append(_Raw("number", r.start, nxt.end, value=-float(nxt.value or 0.0),  # type: ignore[arg-type]
                            integer=nxt.integer))  # fmt: skip
            i += 2
            continue
        if r.kind == "word" and r.word in _MULTIPLES and _multiplies_what_follows(raw, i):
            out.append(_Raw("number", r.start, r.end, value=_MULTIPLES[r.word], word="times",
                            integer=float(_MULTIPLES[r.word]).is_integer()))  # fmt: skip
            i += 1
            continue
        if r.kind == "word" and r.word in _POWER_VERBS and _powers_what_follows(raw, i):
            out.append(_Raw("number", r.start, r.end, value=float(_POWER_VERBS[r.word]),
                            word=_POWER_VERB_WORDS[r.word], integer=True))  # fmt: skip
            i += 1
            continue
        if r.kind == "word" and r.word in _POWER_WORDS and out and out[-1].kind == "number":
            out.append(_Raw("number", r.start, r.end, value=float(_POWER_WORDS[r.word]),
                            word=r.word, integer=True))  # fmt: skip
            i += 1
            continue
        if r.kind == "word" and r.word in _SCALES and not (out and out[-1].word == "a"):
            # "the nearest hundred": a quantity named, not counted; only a parameter whose
            # role it fits may take it
            out.append(_Raw("number", r.start, r.end, value=float(_SCALES[r.word]),
                            word=r.word, integer=True))  # fmt: skip
            i += 1
            continue
        run_end, value = _number_word_run(text, raw, i)
        if run_end > i:
            previous = out[-1].word if out and out[-1].kind == "word" else ""
            lone_one = run_end == i + 1 and r.word == "one"
            if not (lone_one and previous in _NOT_A_NUMBER_BEFORE_ONE):
                out.append(_Raw("number", r.start, raw[run_end - 1].end, value=float(value),
                                integer=True))  # fmt: skip
                i = run_end
                continue
        out.append(r)
        i += 1
    return out


def _operand_before(out: list[_Raw]) -> bool:
    """Whether the token before could be the left operand of a binary "minus"."""
    return bool(out) and (out[-1].kind == "number" or out[-1].word == ")")


def _powers_what_follows(raw: list[_Raw], i: int) -> bool:
    """Whether "square"/"cube" at ``i`` is the verb or noun of a power ("square 5", "square
    it", "the square of 7"), not part of "square root" or of a unit ("square meters")."""
    nxt = raw[i + 1] if i + 1 < len(raw) else None
    if nxt is None:
        return False
    if nxt.kind == "number":
        return True
    return nxt.kind == "word" and nxt.word in {"it", "that", "this", "them", "the", "of", "its"}


def _multiplies_what_follows(raw: list[_Raw], i: int) -> bool:
    """Whether "double", "twice", "half" ... at ``i`` multiplies what follows ("double it",
    "twice 7", "half of 80"), rather than naming something ("a double room")."""
    nxt = raw[i + 1] if i + 1 < len(raw) else None
    if nxt is None:
        return False
    if nxt.kind == "number":
        return True
    return nxt.kind == "word" and nxt.word in {"it", "that", "this", "them", "the", "of", "its"}


def _number_word_run(text: str, raw: list[_Raw], i: int) -> tuple[int, int]:
    """The end of a run of number words starting at ``i`` and its value (``i`` if none)."""
    total = 0
    current = 0
    j = i
    seen = False
    while j < len(raw) and raw[j].kind == "word":
        word = raw[j].word
        parts = word.split("-")
        if all(p in _NUMBER_WORDS for p in parts):
            current += sum(_NUMBER_WORDS[p] for p in parts)
            seen = True
        elif word in _SCALES and (seen or (j > i and raw[j - 1].word == "a")):
            scale = _SCALES[word]
            if scale == 100:
                current = (current or 1) * 100
            else:
                total += (current or 1) * scale
                current = 0
            seen = True
        elif (
            word == "a"
            and j + 1 < len(raw)
            and raw[j + 1].word in {"hundred", "thousand", "dozen", "million"}
        ):
            current += 0  # "a hundred": the scale word follows
        elif word == "and" and seen and j + 1 < len(raw) and raw[j + 1].word in _NUMBER_WORDS:
            pass  # "one hundred and five"
        else:
            break
        j += 1
        gap = text[raw[j - 1].end : raw[j].start] if j < len(raw) else ""
        if gap.strip(" -"):
            break
    if not seen:
        return i, 0
    while j > i and raw[j - 1].word in {"a", "and"}:
        j -= 1
    return j, total + current


def _colon_span(text: str, tokens: tuple[Token, ...]) -> tuple[int, int] | None:
    """The text after the first colon that follows an instruction's words (not a time like
    10:30, not inside a value)."""
    for m in re.finditer(r":", text):
        at = m.start()
        if any(t.start <= at < t.end for t in tokens):
            continue
        if 0 < at < len(text) - 1 and text[at - 1].isdigit() and text[at + 1].isdigit():
            continue
        if not any(t.kind == "word" and t.end <= at for t in tokens):
            continue
        start = at + 1
        while start < len(text) and text[start] == " ":
            start += 1
        end = len(text.rstrip().rstrip("?!.").rstrip())
        if start < end:
            return (start, end)
    return None


def number_value(token: Token) -> float | None:
    """A number token's value."""
    return float(token.value) if token.kind == "number" and token.value is not None else None  # type: ignore[arg-type]
