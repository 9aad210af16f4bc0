"""Reading a request into tokens: the values it carries and the words around them.

A request is read once, left to right, into typed tokens with their places in the text
(:mod:`selfeng.core.request_tokens`): JSON objects and arrays, quoted text, dates, numbers,
arithmetic symbols and words (:mod:`selfeng.core.value_readers`), then number words turned
into numbers (:mod:`selfeng.core.number_words`). Text after an instruction's colon ("Make
this uppercase: the quick brown fox") is remembered as a span that a text parameter may
take whole, stop words included.

Nothing here knows about tools; the argument extractor binds tokens to a tool's parameters
and the evidence check accounts for every token that no parameter took.
"""

from __future__ import annotations

import re
from functools import lru_cache

from selfeng.core.number_words import number_words
from selfeng.core.request_tokens import Scan, Token
from selfeng.core.value_readers import (
    RawToken,
    Spans,
    read_dates,
    read_json,
    read_numbers,
    read_quotes,
    read_words_and_symbols,
)

__all__ = ["Scan", "Token", "scan"]


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
    spans = Spans(len(text))
    raw: list[RawToken] = []
    read_json(text, spans, raw)
    read_quotes(text, spans, raw)
    read_dates(text, spans, raw)
    read_numbers(text, spans, raw)
    read_words_and_symbols(text, spans, raw)
    raw.sort(key=lambda r: r.start)
    raw = number_words(text, raw)
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
        end = len(text.rstrip().rstrip("?.").rstrip())  # a "!" is the text's own
        if start < end:
            return (start, end)
    return None
