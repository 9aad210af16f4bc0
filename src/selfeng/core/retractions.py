"""Requests that take back part of what they ask.

People correct themselves as they type: "what's 5 times 3, sorry, 5 times 4", "2+2, just
kidding, 3+3", "uppercase cat no sorry dog". Answered part by part, such a request gets an
answer to what it took back, or one to the correction glued to the words before it ("add 3
and 4, actually 3 and 5" was answered as "add 3 actually 3 and 5": 11). Which part stands
is a guess, so the request is declined with the words that took something back: asking
again costs one line, and a wrong answer costs more.

A marker counts only between two things asked: "sorry, what's 5 times 4" apologises and
takes nothing back, and a text in quotes is the value, not the asker's words. "I mean",
"sorry" and "actually" correct only after a comma ("reverse hello, I mean world"); inside a
sentence they explain ("by promising I mean the price is above 300").
"""

from __future__ import annotations

import re

from selfeng.core.scanning import scan

_MARKERS = re.compile(
    r"\b(?:just\s+kidding|no\s+wait|wait\s*,?\s+no|never\s*mind|scratch\s+that|"
    r"oops|whoops|my\s+bad|no\s+sorry|sorry\s+no)\b|\bcorrection\s*:|"
    r",\s*(?:sorry|actually|i\s+mean)\b|,\s*no\s*,",
    re.IGNORECASE,
)
_CONTENT = re.compile(r"\w")


def taken_back(text: str) -> str | None:
    """The words by which ``text`` takes back something it asked before them and asks
    something else after them ("sorry" in "5 times 3, sorry, 5 times 4"), or None."""
    unquoted = list(text)
    for token in scan(text).tokens:
        if token.kind == "quoted":  # a text given as a value: its words are not the asker's
            unquoted[token.start : token.end] = " " * (token.end - token.start)
    bare = "".join(unquoted)
    for found in _MARKERS.finditer(bare):
        if _CONTENT.search(bare, 0, found.start()) and _CONTENT.search(bare, found.end()):
            return found.group(0).strip(" ,")
    return None
