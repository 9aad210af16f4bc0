"""The tokens a request is read into: what each is, where it stands, the value it carries.

:mod:`selfeng.core.scanning` reads a request into a :class:`Scan`; the argument extractor
and the evidence check work on its tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from pydantic import JsonValue

from selfeng.core.language import POINTING_STEMS, REFERENCE_STEMS, is_plural, stem

_SENTENCE_END = re.compile(r"[.?!;]")

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
    def sentences(self) -> tuple[tuple[Token, ...], ...]:
        """The tokens of each sentence, in order (a ".", "?", "!" or ";" ends one)."""
        out: list[list[Token]] = []
        for t in self.tokens:
            if not out or _SENTENCE_END.search(self.text[out[-1][-1].end : t.start]):
                out.append([])
            out[-1].append(t)
        return tuple(tuple(sentence) for sentence in out)

    @cached_property
    def value_counts(self) -> frozenset[int]:
        """Numbers that say how many values there are, not what they are: "add *two*
        numbers", "the mean of *3* values: 4, 5, 6", "add those *two* results" (a number right
        before a plural noun that points at values or at earlier answers), a one before such
        a noun in the singular that the values follow ("the average of *one* number 5"), and
        a number before any plural noun that as many numbers follow ("my *three* kids are 4,
        7 and 12") or, written in words, come before ("72, 88 and 95 in *three* tests")."""
        out: set[int] = set()
        for t, nxt in zip(self.tokens, self.tokens[1:], strict=False):
            if t.kind != "number" or t.percent or nxt.kind != "word":
                continue
            if (
                (nxt.stem in POINTING_STEMS or nxt.stem in REFERENCE_STEMS)
                and (nxt.word.endswith("s") or (t.value == 1 and self._values_follow(nxt.index)))
            ) or (is_plural(nxt.word) and self._as_many_follow(t, nxt.index)):
                out.add(t.index)
        return frozenset(out)

    def _as_many_follow(self, count: Token, index: int) -> bool:
        """Whether as many numbers as ``count`` says (two or more) come after token
        ``index``, or came before it and none after, for a count written in words or linked
        by a preposition ("I scored 72, 88 and 95 in *three* tests", "... *in 3* tests")."""
        if not isinstance(count.value, int | float) or count.value < 2:
            return False
        after = sum(1 for t in self.tokens[index + 1 :] if t.kind == "number")
        if after == count.value:
            return True
        before = sum(1 for t in self.tokens[: count.index] if t.kind == "number")
        linked = count.index > 0 and self.tokens[count.index - 1].word in _COUNT_LINKS
        return after == 0 and before == count.value and (count.text.isalpha() or linked)

    def _values_follow(self, index: int) -> bool:
        """Whether the token after token ``index`` is a number (punctuation is no token)."""
        return index + 1 < len(self.tokens) and self.tokens[index + 1].kind == "number"

    def colon_text(self) -> str | None:
        """The text after the instruction's colon, as written (a trailing "?" or "." removed:
        the request's own; a "!" is the text's, "this tweet: ... 10k run!")."""
        if self.colon is None:
            return None
        return _trim_end(self.text[self.colon[0] : self.colon[1]])


_COUNT_LINKS = frozenset({"in", "over", "across", "from", "for", "on", "during"})
"""Prepositions before the count of values given earlier ("72, 88 and 95 *in* 3 tests")."""


def _trim_end(text: str) -> str:
    return text.strip().rstrip("?.").strip()
