"""The text of a plan's steps: what a step is searched by, the first words of tool names
that start a step, and the values a step that points back ("the total of *those numbers*")
takes from an earlier one."""

from __future__ import annotations

import re
from collections.abc import Collection

from pydantic import JsonValue

from selfeng.core.language import camel_words
from selfeng.core.scanning import scan
from selfeng.core.values import number_lists

_EARLIER_VALUES = re.compile(
    r"\b(?:(?:all|both)\s+(?:of\s+)?)?(?:those|these|the same|the above)\s+([a-z]+s)\b",
    re.IGNORECASE,
)
"""A plural noun phrase pointing at values given earlier: "those numbers", "the same values"."""


def with_earlier_values(text: str, earlier: JsonValue | None) -> str | None:
    """``text`` with a phrase that points at the values an earlier step was given ("the
    total of those numbers", after "the biggest of 5, 19, 3") replaced by those values; None
    when it has no such phrase, has values of its own, or ``earlier`` holds not exactly one
    list of numbers (what "those" means would be a guess)."""
    found = _EARLIER_VALUES.search(text)
    if found is None or any(t.kind == "number" for t in scan(text).tokens):
        return None
    lists = number_lists(earlier)
    if len(lists) != 1:
        return None
    values = ", ".join(_number_text(x) for x in lists[0])
    return text[: found.start()] + values + text[found.end() :]


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def search_text(text: str, *, with_colon_text: bool = False) -> str:
    """The text a step is searched by: without the values it carries (quoted text, JSON, the
    text after an instruction's colon: they are arguments, not what is asked for), with
    arithmetic symbols read as words ("2+2" -> "2 plus 2"), percentages as "percent" and a
    JSON document as "json", so tools described in words are found. ``with_colon_text``
    keeps the text after a colon (when what comes before it finds nothing: "quick q: 19 +
    23?")."""
    read = scan(text)
    colon = None if with_colon_text else read.colon
    out: list[str] = []
    at = 0
    for t in read.tokens:
        if colon is not None and t.start >= colon[0]:
            break
        if t.kind in {"quoted", "json", "array"}:
            out.append(text[at : t.start])
            out.append(" json " if t.kind == "json" else " ")  # a document given: JSON
            at = t.end
        elif t.kind == "symbol" and t.word.isalpha():
            out.append(text[at : t.start])
            out.append(f" {t.word} ")
            at = t.end
        elif t.kind == "number" and (t.percent or t.word):
            out.append(text[at : t.end])
            out.append(f" {t.word or 'percent'} ")  # "25%" percent, "double" times
            at = t.end
        elif t.kind == "number" and "/" in t.text:
            out.append(text[at : t.end])
            out.append(" divided ")  # "7/2": a fraction to work out is a division
            at = t.end
    end = colon[0] if colon is not None else len(text)
    out.append(text[at:end] if at < end else "")
    return re.sub(r"\s+", " ", "".join(out)).strip() or text


def tool_vocabulary(tool_names: Collection[str]) -> frozenset[str]:
    """The first words of tool names (``reverse_string`` -> reverse): tool names start with
    their verb, so "and reverse ..." starts a new step while "Apple and Google" does not."""
    out: set[str] = set()
    for name in tool_names:
        words = [w.lower() for w in camel_words(name)]
        if words and len(words[0]) > 2:
            out.add(words[0])
    return frozenset(out)
