"""The offline planner: split a request into steps, and see which steps use the one before.

"Calculate 25% of 100 and reverse the result" is two steps, the second working on the
first's output; "What is the sum of 3 and 4" is one. A request is split at "then", ";" and
at "and" when what follows starts like an instruction (an action verb, or a word of a
registered tool's name); a step that says "the result", "it", "that" ... works on the
previous step's output. Deterministic: the same words always give the same plan.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

ACTION_VERBS = frozenset(
    [
        "add",
        "subtract",
        "multiply",
        "divide",
        "calculate",
        "compute",
        "convert",
        "reverse",
        "count",
        "uppercase",
        "lowercase",
        "capitalize",
        "capitalise",
        "round",
        "find",
        "get",
        "extract",
        "make",
        "turn",
        "square",
        "sum",
        "average",
        "take",
        "tell",
        "give",
        "show",
        "return",
        "translate",
        "double",
        "halve",
        "negate",
        "sort",
        "format",
        "raise",
        "compare",
        "check",
        "what",
        "how",
    ]
)
"""Words that start an instruction."""

_REFERENCE = re.compile(
    r"\b(the (result|answer|output|value|number|sum|total|product|outcome)|it|that|this|them)\b",
    re.IGNORECASE,
)
_THEN = re.compile(r"\s*(?:;|,?\s+and\s+then\s+|,?\s+then\s+|,\s*then\s+)\s*", re.IGNORECASE)
_AND = re.compile(r",?\s+and\s+", re.IGNORECASE)
_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class PlanStep:
    """One step of a plan."""

    text: str
    """The words of the step."""
    uses_previous: bool
    """Whether it works on the previous step's output."""


def _starts_instruction(text: str, vocabulary: Collection[str]) -> bool:
    words = _WORD.findall(text.lower())
    return bool(words) and (words[0] in ACTION_VERBS or words[0] in vocabulary)


def plan(request: str, vocabulary: Collection[str] = ()) -> list[PlanStep]:
    """The steps of a request, in order (one step when it does not split)."""
    text = request.strip().rstrip("?.!")
    parts: list[str] = []
    for chunk in _THEN.split(text):
        pieces = _AND.split(chunk)
        current = pieces[0]
        for piece in pieces[1:]:
            if _starts_instruction(piece, vocabulary):
                parts.append(current)
                current = piece
            else:
                current = f"{current} and {piece}"
        parts.append(current)
    parts = [p.strip() for p in parts if p.strip()]
    if not parts:
        return [PlanStep(request.strip(), False)]
    return [
        PlanStep(part, uses_previous=i > 0 and bool(_REFERENCE.search(part)))
        for i, part in enumerate(parts)
    ]


def tool_vocabulary(tool_names: Collection[str]) -> frozenset[str]:
    """The words of tool names (``reverse_string`` -> reverse, string), for splitting."""
    return frozenset(w for name in tool_names for w in name.lower().split("_") if len(w) > 2)
