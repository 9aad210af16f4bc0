"""Plan templates: a request's wording with its values taken out, and the calls it asked for.

When a plan answered a request (an LLM's, not rejected by the user), the request's shape is
kept: its text with every argument value the calls took from it replaced by a numbered slot,
and the calls with, per argument, the slot it comes from or the constant the plan used.
A later request that has exactly that shape, other values in the slots, is answered by the
same calls with its own values, offline ("distillation").

``Move 'a.pdf' to 'temp'`` with ``mv(source='a.pdf', destination='temp')`` becomes the
template ``Move '{0}' to '{1}'`` and ``mv(source={0}, destination={1})``. Matching is exact
apart from letter case, spacing and final punctuation: a different shape is not guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic import JsonValue

from selfeng.core.scanning import scan
from selfeng.core.values import format_value

_SLOT = re.compile(r"\{(\d+)\}")


@dataclass(frozen=True)
class TemplateCall:
    """One call of a learnt plan."""

    tool: str
    """The tool called."""
    version: int
    """Its version when the plan was learnt."""
    slots: Mapping[str, int]
    """Parameter -> the slot of the template its value comes from."""
    constants: Mapping[str, JsonValue]
    """Parameter -> the value the plan gave it that the request did not carry."""

    def as_json(self) -> dict[str, Any]:
        """The call as stored in a projection."""
        return {
            "tool": self.tool,
            "version": self.version,
            "slots": dict(self.slots),
            "constants": dict(self.constants),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TemplateCall:
        """A call from ``as_json``'s output."""
        return cls(
            tool=str(data["tool"]),
            version=int(data["version"]),
            slots={str(k): int(v) for k, v in data.get("slots", {}).items()},
            constants=dict(data.get("constants", {})),
        )


def normalise(text: str) -> str:
    """A request as templates compare it: single spaces, no final punctuation."""
    return re.sub(r"\s+", " ", text.strip()).rstrip("?!. ")


def plan_template(
    text: str, calls: Sequence[tuple[str, int, Mapping[str, JsonValue]]]
) -> tuple[str, list[TemplateCall]]:
    """The template of a request answered by ``calls`` (tool, version, arguments)."""
    text = normalise(text)
    read = scan(text)
    found: list[TemplateCall] = []
    slot_of: dict[tuple[int, int], int] = {}  # every span a slot covers -> its number
    count = 0
    for tool, version, arguments in calls:
        slots: dict[str, int] = {}
        constants: dict[str, JsonValue] = {}
        for param, value in arguments.items():
            found_spans = _locate(text, read, value, list(slot_of))
            if not found_spans:
                constants[param] = value
                continue
            number = next((slot_of[s] for s in found_spans if s in slot_of), None)
            if number is None:
                number = count
                count += 1
            for span in found_spans:
                slot_of.setdefault(span, number)
            slots[param] = number
        found.append(TemplateCall(tool, version, slots, constants))
    out = text
    for (start, end), number in sorted(slot_of.items(), key=lambda s: -s[0][0]):
        out = out[:start] + "{" + str(number) + "}" + out[end:]
    return out, found


def _locate(
    text: str, read: Any, value: JsonValue, taken: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Everywhere a value is written in the request: a quoted text's inside, a number's
    digits, a word run (every occurrence, so a value written twice is one slot)."""
    if isinstance(value, bool) or value is None or isinstance(value, list | dict):
        return []
    if isinstance(value, int | float):
        spans = []
        for t in read.tokens:
            if t.kind == "number" and t.value == float(value):
                digits = re.search(r"\d[\d.,/]*", t.text)
                if digits is not None:
                    spans.append((t.start + digits.start(), t.start + digits.end()))
        return spans[:1]
    wanted = format_value(value)
    if not wanted.strip():
        return []
    for t in read.tokens:
        if t.kind == "quoted" and t.value == wanted:
            return [(t.start + 1, t.end - 1)]
    spans = []
    for m in re.finditer(rf"(?<!\w){re.escape(wanted)}(?!\w)", text):  # as written: "START"
        # is no slot where the request says "start"
        span = (m.start(), m.end())
        if span in taken or all(m.end() <= s or m.start() >= e for s, e in taken):
            spans.append(span)
    return spans


@lru_cache(maxsize=4096)
def template_pattern(template: str) -> re.Pattern[str]:
    """The regular expression a request of this shape matches (one group per slot)."""
    pieces: list[str] = []
    at = 0
    for m in _SLOT.finditer(template):
        pieces.append(_literal(template[at : m.start()]))
        pieces.append(r"(.+?)")
        at = m.end()
    pieces.append(_literal(template[at:]))
    return re.compile("".join(pieces), re.IGNORECASE | re.DOTALL)


def _literal(text: str) -> str:
    return r"\s+".join(re.escape(part) for part in text.split(" "))


def match(template: str, text: str) -> dict[int, str] | None:
    """The slot values (by slot number) of a request of this template's shape, or None."""
    m = template_pattern(template).fullmatch(normalise(text))
    if m is None:
        return None
    values: dict[int, str] = {}
    for group, slot in enumerate(_SLOT.finditer(template), start=1):
        value = m.group(group)
        number = int(slot.group(1))
        if not value.strip() or values.get(number, value) != value:
            return None  # a slot used twice must hold the same value
        values[number] = value
    return values


def literal_words(template: str) -> frozenset[str]:
    """The lower-case words of a template outside its slots (to find candidates fast)."""
    return frozenset(re.findall(r"[^\W\d_]+", _SLOT.sub(" ", template).lower()))
