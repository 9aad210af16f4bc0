"""Deterministic composition: one tool that runs a sequence of registered tools.

A composite embeds each member's registered source as it is and runs it in a namespace of
its own (members may define helpers of the same name), feeding each member's output to the
next member's hand-off parameter with the same conversion the request handler applies
(``selfeng.core.arguments``). Its tests are the recorded runs that formed the pattern: the
real arguments of each run and the real final result. No model is involved: the same members
and the same evidence always give the same source.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import JsonValue

from selfeng.schemas import CompositeMember, ToolSpec

MAX_NAME = 60
"""Longest composite name; longer ones are shortened with a hash of the full name."""


@dataclass(frozen=True)
class MemberTool:
    """A member as registered: name, version, spec and source."""

    tool: str
    version: int
    spec: Mapping[str, Any]
    code: str


@dataclass(frozen=True)
class RecordedRun:
    """One request's run of the member sequence: each member's arguments, the final result."""

    request_id: str
    arguments: tuple[Mapping[str, JsonValue], ...]
    """Arguments each member ran with, in order (hand-off parameters included)."""
    result: JsonValue
    """What the last member returned."""


@dataclass(frozen=True)
class Composite:
    """A composite tool ready to be proposed."""

    name: str
    spec: ToolSpec
    code: str
    tests: str


def composite_name(tools: Sequence[str]) -> str:
    """``percent_of_then_reverse_string``; shortened with a hash past ``MAX_NAME``."""
    name = "_then_".join(tools)
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{tools[0]}_then_{len(tools) - 1}_more_{digest}"[:MAX_NAME]


def _first_sentence(text: str) -> str:
    sentence = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0].rstrip(".!?")
    return sentence[:1].lower() + sentence[1:] if sentence else sentence


def plan_parameters(
    members: Sequence[MemberTool], handoffs: Sequence[str | None]
) -> tuple[list[CompositeMember], dict[str, Any], list[str]]:
    """Each member's feed, and the composite's parameter properties and required names.

    The first member's parameters keep their names; a later member's parameter takes its own
    name unless that is taken, then ``<tool>_<name>``. Hand-off parameters are not the
    composite's: the previous member's output feeds them.
    """
    properties: dict[str, Any] = {}
    required: list[str] = []
    feeds: list[CompositeMember] = []
    for member, handoff in zip(members, handoffs, strict=True):
        schema = member.spec.get("parameters", {}) or {}
        own_required = set(schema.get("required", list(schema.get("properties", {}))))
        mapping: dict[str, str] = {}
        for param, prop in (schema.get("properties", {}) or {}).items():
            if param == handoff:
                continue
            name = param if param not in properties else f"{member.tool}_{param}"
            properties[name] = prop
            mapping[param] = name
            if param in own_required:
                required.append(name)
        feeds.append(
            CompositeMember(
                tool=member.tool, version=member.version, arguments=mapping, handoff=handoff
            )
        )
    return feeds, properties, required


def build_composite(
    members: Sequence[MemberTool],
    handoffs: Sequence[str | None],
    runs: Sequence[RecordedRun],
    *,
    pattern_id: str,
) -> Composite:
    """The composite of ``members`` with tests from ``runs``.

    ``handoffs[i]`` is the parameter of member ``i`` that received member ``i - 1``'s output
    in the recorded runs (None when it did not: the member then takes all its arguments from
    the composite's). Raises ValueError when there is no run to test it with.
    """
    if len(members) < 2:
        raise ValueError("a composite needs at least two members")
    if not runs:
        raise ValueError("a composite needs at least one recorded run to be tested with")
    name = composite_name([m.tool for m in members])
    feeds, properties, required = plan_parameters(members, handoffs)
    parts = [str(m.spec.get("description", m.tool)) for m in members]
    description = ", then ".join(
        _first_sentence(p) if i else p.split(".")[0].strip() for i, p in enumerate(parts)
    )
    last_returns = members[-1].spec.get("returns", {}) or {}
    spec = ToolSpec(
        description=f"{description}. (Composite of {', '.join(m.tool for m in members)}.)",
        parameters={"type": "object", "properties": properties, "required": required},
        returns=last_returns,
        deterministic=all(bool(m.spec.get("deterministic", False)) for m in members),
        composition=tuple(feeds),
    )
    code = _source(name, members, feeds, properties, pattern_id, len(runs))
    tests = (
        "import json\n\n\n"
        + "\n\n".join(_test(name, i, feeds, run) for i, run in enumerate(runs, 1))
        + "\n"
    )
    return Composite(name=name, spec=spec, code=code, tests=tests)


def _kind(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, str):
        return kind
    for option in schema.get("anyOf", []) or []:
        if isinstance(option, dict) and option.get("type") not in (None, "null"):
            return str(option["type"])
    return "any"


_HANDOFF = '''
def _handoff(value: Any, kind: str) -> Any:
    """The previous member's output as the next one takes it (as the request handler does)."""
    if kind == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, bool) or value is None:
            return {True: "true", False: "false", None: "null"}[value]
        if isinstance(value, float) and value - value == 0:  # finite: as format_value reads it
            value = float(f"{value:.15g}")
            if abs(value) >= 1e15:
                return f"{value:.15g}"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if isinstance(value, int | float):
            return repr(value)
        import json  # only for lists and objects: an import costs every sandbox call

        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind in ("number", "integer") and isinstance(value, str):
        try:
            number = float(value.strip().replace(",", ""))
        except ValueError:
            return value
        return int(number) if kind == "integer" and number.is_integer() else number
    if kind == "array" and not isinstance(value, list):
        return [value]
    return value


def _member(name: str) -> Any:
    namespace: dict[str, Any] = {"__name__": "member_" + name}
    exec(compile(_MEMBERS[name], "<" + name + ">", "exec"), namespace)
    return namespace[name]
'''


def _source(
    name: str,
    members: Sequence[MemberTool],
    feeds: Sequence[CompositeMember],
    properties: Mapping[str, Any],
    pattern_id: str,
    evidence: int,
) -> str:
    sources = ",\n".join(f"    {m.tool!r}: {m.code!r}" for m in members)
    params = ", ".join(f"{p}: Any" for p in properties)
    args_doc = "\n".join(
        f"        {p}: {str(s.get('description', p)).strip() or p}" for p, s in properties.items()
    )
    body = []
    for member, feed in zip(members, feeds, strict=True):
        call_args = [f"{param}={own}" for param, own in feed.arguments.items()]
        if feed.handoff is not None:
            schema = (member.spec.get("parameters", {}) or {}).get("properties", {})
            kind = _kind(schema.get(feed.handoff, {}))
            call_args.insert(0, f"{feed.handoff}=_handoff(result, {kind!r})")
        body.append(f"    result = _member({member.tool!r})({', '.join(call_args)})")
    members_line = ", ".join(f"{m.tool} v{m.version}" for m in members)
    return (
        f'"""Composite tool {name}: {members_line}.\n\n'
        f"Built by selfeng's composite learner from pattern {pattern_id} ({evidence} recorded\n"
        'runs). Each member runs its registered source in a namespace of its own."""\n\n'
        "from __future__ import annotations\n\n"
        "from typing import Any\n\n"
        f"_MEMBERS = {{\n{sources},\n}}\n"
        f"{_HANDOFF}\n\n"
        f"def {name}({params}) -> Any:\n"
        f'    """{members_line}, in one call.\n\n'
        f"    Args:\n{args_doc}\n"
        '    """\n' + "\n".join(body) + "\n    return result\n"
    )


def _test(name: str, index: int, feeds: Sequence[CompositeMember], run: RecordedRun) -> str:
    arguments: dict[str, JsonValue] = {}
    for feed, recorded in zip(feeds, run.arguments, strict=True):
        for param, own in feed.arguments.items():
            if param in recorded:
                arguments[own] = recorded[param]
    call = ", ".join(f"{k}={_literal(v)}" for k, v in arguments.items())
    expected = _literal(run.result)
    return (
        f"def test_recorded_run_{index}() -> None:\n"
        f"    # request {run.request_id}\n"
        f"    result = {name}({call})\n"
        f"    assert json.loads(json.dumps(result)) == {expected}\n"
    )


def _literal(value: JsonValue) -> str:
    """A Python literal equal to the JSON value (true/false/null spelled as Python)."""
    return repr(orjson.loads(orjson.dumps(value)))
