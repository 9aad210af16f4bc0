"""Words people shorten ("avg", "std dev", "chars", "pct"), read as the tools' own words.

A comparative is read as the superlative the wording has ("larger" as largest). A short word
abbreviates a longer one when it is its beginning ("dev" -> deviation, "chars"
-> characters, a plural "s" aside) or its first letter and then only consonants found in it
in order ("std" -> standard, "avg" -> average, "pct" -> percent). Only content words of three
to five letters count, and the long word must be at least three letters longer: "per" is a
word of its own, not "percent", and "met" is not "meter"; nor is a word that an ending
makes the long one of ("back" is not "backwards"). The long words are the tools' own
wording, so nothing here is a table of abbreviations: a new tool's words are abbreviated the
same way.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable

from selfeng.core.language import FUNCTION_WORDS, NEUTRAL

_VOWELS = frozenset("aeiouy")
_SHORT = re.compile(r"[a-z]{3,5}")
_LONGER_BY = 3
_MAX_READINGS = 3


_DERIVING = frozenset(
    {"wards", "ward", "ness", "ment", "ments", "ful", "less", "ing", "ings", "ship", "hood",
     "able", "ible", "ish", "ance", "ence", "ly"}
)  # fmt: skip
"""Endings that make a word of a word ("back" -> back*wards*, "kind" -> kind*ness*): a word
that begins a longer one so is a word of its own, not a shortening of it."""


def abbreviates(short: str, long: str) -> bool:
    """Whether ``short`` (lower case, as written) is a shortening of ``long``."""
    if not _SHORT.fullmatch(short) or short in FUNCTION_WORDS or short in NEUTRAL:
        return False
    if len(long) < len(short) + _LONGER_BY or short[0] != long[0]:
        return False
    if long.startswith(short) and long[len(short) :] in _DERIVING:
        return False  # "and back?" after a conversion: the way back, not backwards
    if short.endswith("s") and long.startswith(short[:-1]):
        return True
    return _shortens(short, long)


class Abbreviations:
    """The long words of a wording, by first letter, to read short words against."""

    def __init__(self, words: Iterable[str]) -> None:
        ordered = [w.lower() for w in words]
        self.known = frozenset(ordered)
        self._by_first: dict[str, list[str]] = defaultdict(list)
        for word in sorted(self.known):
            if len(word) >= 3 + _LONGER_BY and word.isalpha():
                self._by_first[word[0]].append(word)
        # two words in a row, for a blend of their beginnings ("stdev": standard deviation)
        self._pairs: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for first, second in itertools.pairwise(ordered):
            if _blendable(first) and _blendable(second):
                self._pairs[first[0]].add((first, second))

    def readings(self, short: str) -> list[str]:
        """The long words ``short`` may stand for (none for a word the wording has), and the
        superlative a comparative stands for ("larger" -> largest, "bigger" -> biggest)."""
        short = short.lower()
        if short in self.known:
            return []
        if len(short) >= 5 and short.endswith("er") and f"{short[:-2]}est" in self.known:
            return [f"{short[:-2]}est"]  # "which is larger": the largest of those given
        found = [w for w in self._by_first.get(short[:1], ()) if abbreviates(short, w)]
        if not found:
            found = self._blend(short)
        return found if len(found) <= _MAX_READINGS else []

    def _blend(self, short: str) -> list[str]:
        """The two words in a row whose shortenings ``short`` joins ("stdev": *st*andard
        *dev*iation, "stddev": *std* *dev*), each part two letters or more; none when
        several pairs fit."""
        if not _BLEND.fullmatch(short) or short in FUNCTION_WORDS or short in NEUTRAL:
            return []
        fits = {
            (first, second)
            for k in range(2, len(short) - 1)
            for first, second in self._pairs.get(short[0], ())
            if _shortens(short[:k], first) and _shortens(short[k:], second)
        }
        return list(next(iter(fits))) if len(fits) == 1 else []

    def expand(self, text: str) -> str:
        """``text`` with the long words its short words stand for added after it."""
        extra = [w for short in _WORDS.findall(text) for w in self.readings(short)]
        return f"{text} {' '.join(dict.fromkeys(extra))}" if extra else text


_WORDS = re.compile(r"(?<![\w'])[A-Za-z]{3,}(?![\w'])")
_BLEND = re.compile(r"[a-z]{4,7}")
_BLEND_PART = 5
"""Letters a word needs at least to be part of a blend ("standard", "deviation")."""


def _shortens(part: str, word: str) -> bool:
    """Whether ``part`` is ``word``'s beginning, or its first letter and then consonants of
    it in order ("std" of standard)."""
    if word.startswith(part):
        return True
    if part[0] != word[0] or any(c in _VOWELS for c in part[1:]):
        return False
    rest = iter(word[1:])
    return all(c in rest for c in part[1:])  # in order: each found after the one before


def _blendable(word: str) -> bool:
    return len(word) >= _BLEND_PART and word.isalpha() and word not in NEUTRAL
