"""Misspelt words, read as the tools' own ("farenheit" -> fahrenheit, "devided" -> divided).

A word of six letters or more that the tools' wording does not have, whose stem is none of
theirs either, is read as the one word of their wording it is a single slip away from: a
letter left out, added, changed, or two letters swapped. Only when exactly one such word
exists, and it starts with the same letter. The words are the tools' own names and
descriptions, so nothing here is a list of misspellings: a new tool's words are read the same
way. Short words are left alone ("lover" is no "lower", "tower" no "power").
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection

from selfeng.core.language import NEUTRAL, stem
from selfeng.core.scanning import scan

_MIN_LENGTH = 6
_WORD = re.compile(r"(?<![\w'])[A-Za-z]{6,}(?![\w'])")


def one_slip(written: str, word: str) -> bool:
    """Whether ``written`` is ``word`` with one letter left out, added or changed, or two
    neighbouring letters swapped (lower case both)."""
    if written == word or abs(len(written) - len(word)) > 1:
        return False
    if len(written) == len(word):
        diff = [i for i, (a, b) in enumerate(zip(written, word, strict=True)) if a != b]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and written[diff[0]] == word[diff[1]]
            and written[diff[1]] == word[diff[0]]
        )
    shorter, longer = (written, word) if len(written) < len(word) else (word, written)
    i = 0
    while i < len(shorter) and shorter[i] == longer[i]:
        i += 1
    return shorter[i:] == longer[i + 1 :]


class Spelling:
    """The tools' words, to read misspelt words of a request against."""

    def __init__(self, known: Collection[str]) -> None:
        self.known = frozenset(w.lower() for w in known)
        self._stems = frozenset(stem(w) for w in self.known)
        self._by_first: dict[str, list[str]] = defaultdict(list)
        for word in sorted(self.known):
            if len(word) >= _MIN_LENGTH - 1 and word.isalpha():
                self._by_first[word[0]].append(word)

    def reading(self, written: str) -> str | None:
        """The one word of the tools' wording ``written`` is a slip away from, or None."""
        low = written.lower()
        if len(low) < _MIN_LENGTH or low in self.known or low in NEUTRAL:
            return None
        if stem(low) in self._stems:
            return None  # an inflection of a word the tools have ("reversed")
        found = [w for w in self._by_first.get(low[0], ()) if one_slip(low, w)]
        return found[0] if len(found) == 1 else None

    def respelled(self, text: str) -> tuple[str, list[tuple[str, str]]]:
        """``text`` with its misspelt words read as the tools', and the (written, read)
        pairs. Values are left as written: quoted text, documents, the text after an
        instruction's colon."""
        read = scan(text)
        given = [(t.start, t.end) for t in read.tokens if t.kind in {"quoted", "json", "array"}]
        if read.colon is not None:
            given.append(read.colon)
        fixes: list[tuple[str, str]] = []

        def fix(match: re.Match[str]) -> str:
            if any(start <= match.start() < end for start, end in given):
                return match.group(0)
            reading = self.reading(match.group(0))
            if reading is None:
                return match.group(0)
            fixes.append((match.group(0), reading))
            return reading

        return _WORD.sub(fix, text), fixes
