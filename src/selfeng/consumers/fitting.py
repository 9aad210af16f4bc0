"""Does a tool written for a request answer that request? Checked before it is registered.

A tool that passes its own tests may still answer another question: a vowel counter
written for "Translate hello into Spanish" passes its tests, and answers "Translate goodbye
into German" with 8. Before the synthesizer registers a tool it wrote, the tool must fit the
request it was written for:

1. **The acceptance answer, written first.** Before any code, the LLM states what a correct
   tool must answer to the request (``LLMCalled``, purpose ``acceptance``), or that the
   answer cannot be known without running code. It is kept apart from the tool's own tests.
2. **The evidence, offline.** The tool is weighed against the request like any candidate
   (``selfeng.core.evidence``): its arguments must be found in the request, and the request
   must ask for what its spec says it does.
3. **The run.** The tool runs in the sandbox on the arguments found; when the acceptance
   answer is known, the result must equal it.

A tool that fails any of these is rejected with the reason (``ToolRejected``), and the next
attempt is told why.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import JsonValue

from selfeng.consumers.deciding import refers_back
from selfeng.core.arguments import extract
from selfeng.core.evidence import assess
from selfeng.core.sandbox import Limits, Sandbox, SandboxUnavailable
from selfeng.core.scanning import scan
from selfeng.core.values import format_value
from selfeng.core.wording import ToolWording, tool_wording
from selfeng.schemas import ChatMessage, ToolProposed

ACCEPTANCE = """Before a tool is written for a user's request, state the answer a correct \
tool must give to it. Answer with one JSON object and nothing else: {"answer": <the value, \
a number, text, list or true/false>} when it can be worked out from the request alone, or \
{"answer": null, "why": "<why not>"} when it cannot (it depends on the world, the time, or \
data the request does not give)."""


@dataclass(frozen=True)
class Acceptance:
    """The answer a tool for the request must give, stated before its code was written."""

    known: bool
    """Whether the answer can be known from the request alone."""
    answer: JsonValue = None
    """The answer, when known."""
    why: str = ""
    """Why it cannot be known, when not."""


def acceptance_prompt(request: str, need: str) -> list[ChatMessage]:
    """The messages asking for the acceptance answer of a request (or of its part ``need``,
    the step no tool answered)."""
    text = f"The request: “{request.strip()}”"
    if need.strip() != request.strip().rstrip("?!."):
        text += f"\nThe part of it the tool must answer: “{need.strip()}”"
    return [ChatMessage(role="system", content=ACCEPTANCE), ChatMessage(role="user", content=text)]


def read_acceptance(text: str) -> Acceptance | None:
    """The acceptance answer in a model's reply, or None when the reply is not one."""
    found = re.search(r"\{.*\}", text, re.DOTALL)
    if found is None:
        return None
    try:
        data = orjson.loads(found.group(0))
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or "answer" not in data:
        return None
    if data["answer"] is None:
        return Acceptance(known=False, why=str(data.get("why", "")))
    return Acceptance(known=True, answer=data["answer"])


def _as_float(value: JsonValue) -> float:
    """A number, or a number written as text with thousands separators ("1,000")."""
    if isinstance(value, str):
        return float(value.replace(",", ""))
    if isinstance(value, int | float):
        return float(value)
    raise TypeError(f"not a number: {type(value).__name__}")


def same_answer(value: JsonValue, expected: JsonValue) -> bool:
    """Whether a tool's result is the expected answer (numbers to 1e-6 relative, text without
    regard to case and surrounding space or punctuation)."""
    if isinstance(expected, bool) or isinstance(value, bool):
        return value == expected
    if isinstance(expected, int | float) or isinstance(value, int | float):
        try:
            a, b = _as_float(value), _as_float(expected)
        except (TypeError, ValueError):
            return False
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(expected, list) and isinstance(value, list):
        return len(value) == len(expected) and all(
            same_answer(v, e) for v, e in zip(value, expected, strict=True)
        )
    return _text(format_value(value)) == _text(format_value(expected))


def _stand_in(parameters: Any) -> JsonValue:
    """A stand-in for an earlier step's output, of the type the tool's first parameter takes."""
    for schema in (parameters.get("properties", {}) or {}).values():
        kind = schema.get("type") if isinstance(schema, dict) else None
        return 1.0 if kind in {"number", "integer"} else [1.0] if kind == "array" else "text"
    return "text"


def _text(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().strip(".!?\"'").casefold()


def misfit(
    proposed: ToolProposed,
    need: str,
    acceptance: Acceptance | None,
    sandbox: Sandbox,
    *,
    generic: frozenset[str] = frozenset(),
    min_confidence: float = 0.75,
    limits: Limits | None = None,
) -> str | None:
    """Why a proposed tool does not answer ``need`` (the request, or its step that had no
    tool); None when it does."""
    spec: dict[str, Any] = proposed.spec.model_dump(mode="json")
    wording: ToolWording = tool_wording(proposed.tool, spec)
    read = scan(need)
    parameters = spec.get("parameters", {}) or {}
    follows = refers_back(need) is not None  # works on an earlier step's output
    found = extract(
        read, parameters, wording, previous=_stand_in(parameters) if follows else None,
        use_previous=follows,
    )  # fmt: skip
    judged = assess(read, found, wording, generic=generic)
    if not judged.intent:
        return f"it does not do what the request asks ({judged.reason})"
    if found.missing or found.mistyped:
        return f"it needs values the request does not give ({judged.reason})"
    if judged.confidence < min_confidence:
        return f"it does not account for the whole request ({judged.reason})"
    if acceptance is None or not acceptance.known or follows:
        return None  # nothing to compare with (the output of an earlier step is not known)
    try:
        run = sandbox.run(proposed.code, proposed.tool, found.arguments, limits)
    except SandboxUnavailable as exc:
        return f"it could not be run on the request: {exc}"
    if not run.ok:
        return f"it fails on the request's values ({found.arguments}): {run.error}"
    if not same_answer(run.value, acceptance.answer):
        return (
            f"for the request it answers {format_value(run.value)}, where the answer stated "
            f"before its code was written is {format_value(acceptance.answer)}"
        )
    return None
