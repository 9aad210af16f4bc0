"""BFCL v4 multi-turn as selfeng tools and ground truth (for ``bench_llm_planning.py``).

- ``functions()``: every function described in ``func_doc/*.json`` (153 distinct names; the
  three memory APIs describe nine functions under the same names, the first file in name
  order wins).
- ``tool_source(fn)``: a selfeng tool file for one function: one typed public function with
  a Google-style docstring built from the JSON description, whose body only returns a record
  of the call (``{"function": name, "arguments": {...}}``), and one ``test_*`` function.
  Tool names must be lower_snake_case, so camelCase names are written in snake case
  (``pressBrakePedal`` -> ``press_brake_pedal``) and mapped back when calls are compared.
- ``entries()``: the 200 entries, each with its user turns and the ground-truth calls of each
  turn, parsed with ``ast`` (positional arguments bound to the parameters in order).
- ``same_calls(made, expected)``: whether two call sequences are equal after light
  normalisation (omitted optional arguments take their defaults; numbers compare as floats).
"""

from __future__ import annotations

import ast
import json
import keyword
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "bfcl_multi_turn"

_TYPES = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "float": "float",
    "boolean": "bool",
    "array": "list",
    "dict": "dict",
    "object": "dict",
}


@dataclass(frozen=True)
class Param:
    """One parameter of a BFCL function."""

    name: str
    annotation: str
    description: str
    required: bool
    default: Any  # the tool's default (None where BFCL writes 'None' or gives none)


@dataclass(frozen=True)
class Function:
    """One BFCL function and the selfeng tool that stands for it."""

    name: str  # as BFCL spells it
    tool: str  # as selfeng registers it (lower_snake_case)
    api: str  # the func_doc file it comes from
    description: str
    params: tuple[Param, ...]

    def defaults(self) -> dict[str, Any]:
        """The optional parameters' defaults."""
        return {p.name: p.default for p in self.params if not p.required}


@dataclass(frozen=True)
class Call:
    """One function call: BFCL's name and its arguments."""

    name: str
    arguments: dict[str, Any]

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.arguments.items())
        return f"{self.name}({args})"


@dataclass(frozen=True)
class Turn:
    """One user turn of an entry and the calls that answer it."""

    entry: str  # the entry's id
    index: int  # the turn's position in the entry
    text: str
    calls: tuple[Call, ...]


_QUOTED = re.compile(r"'([^'\n]+)'|\"([^\"\n]+)\"")


def with_new_values(turn: Turn) -> Turn:
    """The same request with other values: every quoted text the ground truth takes as an
    argument gets another value, in the text and in the calls alike ('report.pdf' ->
    'report_2.pdf'). The shape stays, the values change: what a learnt plan is for."""
    strings = {v for c in turn.calls for v in c.arguments.values() if isinstance(v, str)}
    mapping: dict[str, str] = {}
    for m in _QUOTED.finditer(turn.text):
        value = m.group(1) or m.group(2)
        if value in strings and value not in mapping:
            stem, dot, ext = value.rpartition(".")
            mapping[value] = f"{stem}_2.{ext}" if dot and stem else f"{value}_2"

    def swap(value: Any) -> Any:
        if isinstance(value, str):
            return mapping.get(value, value)
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    text = _QUOTED.sub(
        lambda m: m.group(0).replace(m.group(1) or m.group(2), swap(m.group(1) or m.group(2))),
        turn.text,
    )
    calls = tuple(Call(c.name, {k: swap(v) for k, v in c.arguments.items()}) for c in turn.calls)
    return Turn(entry=f"{turn.entry}~2", index=turn.index, text=text, calls=calls)


def snake(name: str) -> str:
    """A BFCL name as a tool name: ``pressBrakePedal`` -> ``press_brake_pedal``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


_ENUM = re.compile(r"\[Enum\]:\s*(\[[^\]]*\])")


def _annotation(schema: dict[str, Any]) -> str:
    base = _TYPES.get(str(schema.get("type")), "str")
    documented = _ENUM.search(str(schema.get("description", "")))
    if base == "str" and documented:
        try:
            options = json.loads(documented.group(1))
        except json.JSONDecodeError:
            options = None
        if options and all(isinstance(o, str) for o in options):
            # BFCL documents a closed set of values in the description: a Literal
            return f"Literal[{', '.join(repr(o) for o in options)}]"
    items = schema.get("items")
    if base == "list" and isinstance(items, dict) and items.get("type") in _TYPES:
        return f"list[{_TYPES[str(items['type'])]}]"
    return base


def functions(data: Path = DATA) -> dict[str, Function]:
    """Every described function, by BFCL name."""
    found: dict[str, Function] = {}
    for path in sorted((data / "func_doc").glob("*.json")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            doc = json.loads(line)
            if doc["name"] in found:
                continue
            schema = doc.get("parameters") or {}
            required = set(schema.get("required", []))
            params = []
            for pname, pschema in (schema.get("properties") or {}).items():
                annotation = _annotation(pschema)
                default = pschema.get("default")
                if default == "None":
                    default = None
                if pname not in required and default is None:
                    annotation += " | None"
                params.append(
                    Param(
                        name=pname,
                        annotation=annotation,
                        description=_one_line(pschema.get("description", "")) or pname,
                        required=pname in required,
                        default=default,
                    )
                )
            found[doc["name"]] = Function(
                name=doc["name"],
                tool=snake(doc["name"]),
                api=path.stem,
                description=_one_line(doc.get("description", "")) or doc["name"],
                params=tuple(params),
            )
    return found


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()


def _docstring_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


_SAMPLES = {
    "str": "'x'",
    "int": "1",
    "float": "1.5",
    "bool": "True",
    "list": "[]",
    "dict": "{}",
}


def _sample(annotation: str) -> str:
    if annotation.startswith("Literal["):
        return annotation[len("Literal[") :].split(",")[0].rstrip("]")
    return _SAMPLES[annotation.split("[")[0].split(" ")[0]]


def tool_source(fn: Function) -> str:
    """A selfeng tool file for ``fn``: running it only records the call."""
    assert fn.tool.isidentifier(), fn.tool
    assert not keyword.iskeyword(fn.tool), fn.tool
    ordered = [p for p in fn.params if p.required] + [p for p in fn.params if not p.required]
    signature = ", ".join(
        f"{p.name}: {p.annotation}" if p.required else f"{p.name}: {p.annotation} = {p.default!r}"
        for p in ordered
    )
    args_doc = "".join(f"\n        {p.name}: {_docstring_text(p.description)}" for p in fn.params)
    record = ", ".join(f"{p.name!r}: {p.name}" for p in fn.params)
    sample = ", ".join(f"{p.name}={_sample(p.annotation)}" for p in fn.params if p.required)
    lines = [
        f'"""BFCL function {fn.name} ({fn.api}), standing in for the real one."""',
        "",
        *(["from typing import Literal", ""] if "Literal[" in signature else []),
        "DETERMINISTIC = False  # the real function acts on its API's state",
        "",
        "",
        f"def {fn.tool}({signature}) -> dict:",
        f'    """{_docstring_text(fn.description)}',
    ]
    if fn.params:
        lines += ["", f"    Args:{args_doc}"]
    lines += [
        '    """',
        f"    return {{'function': {fn.name!r}, 'arguments': {{{record}}}}}",
        "",
        "",
        f"def test_{fn.tool}_records_the_call() -> None:",
        f"    record = {fn.tool}({sample})",
        f"    assert record['function'] == {fn.name!r}",
        f"    assert sorted(record['arguments']) == {sorted(p.name for p in fn.params)!r}",
        "",
    ]
    return "\n".join(lines)


def parse_call(text: str, known: dict[str, Function]) -> Call:
    """A ground-truth call such as ``mv(source='a', destination='b')``."""
    node = ast.parse(text.strip(), mode="eval").body
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise ValueError(f"not a call: {text!r}")
    fn = known[node.func.id]
    names = [p.name for p in fn.params]
    arguments: dict[str, Any] = {}
    for position, arg in enumerate(node.args):
        arguments[names[position]] = ast.literal_eval(arg)
    for keyword_arg in node.keywords:
        assert keyword_arg.arg is not None, text
        arguments[keyword_arg.arg] = ast.literal_eval(keyword_arg.value)
    return Call(fn.name, arguments)


def entries(data: Path = DATA, known: dict[str, Function] | None = None) -> list[list[Turn]]:
    """The entries in file order, each its turns with their ground-truth calls."""
    known = known if known is not None else functions(data)
    questions = [
        json.loads(line)
        for line in (data / "questions.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    answers = {
        row["id"]: row["ground_truth"]
        for row in (
            json.loads(line)
            for line in (data / "possible_answer.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()
        )
    }
    out: list[list[Turn]] = []
    for question in questions:
        truth = answers[question["id"]]
        turns = []
        for index, (messages, calls) in enumerate(zip(question["question"], truth, strict=True)):
            text = "\n".join(m["content"] for m in messages if m.get("role") == "user")
            turns.append(
                Turn(
                    entry=question["id"],
                    index=index,
                    text=text,
                    calls=tuple(parse_call(c, known) for c in calls),
                )
            )
        out.append(turns)
    return out


def _norm(value: Any) -> Any:
    """A value as calls are compared: numbers as floats, containers element by element."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list | tuple):
        return [_norm(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _norm(v) for k, v in value.items()}
    return value


def normalised(call: Call, known: dict[str, Function]) -> tuple[str, str]:
    """A call as compared: its name and its arguments with omitted defaults filled in."""
    fn = known.get(call.name)
    arguments = dict(fn.defaults()) if fn is not None else {}
    arguments.update(call.arguments)
    return call.name, json.dumps(_norm(arguments), sort_keys=True)


def same_calls(made: Sequence[Call], expected: Sequence[Call], known: dict[str, Function]) -> bool:
    """The same calls in the same order (after normalisation)."""
    return [normalised(c, known) for c in made] == [normalised(c, known) for c in expected]


def same_call_set(
    made: Sequence[Call], expected: Sequence[Call], known: dict[str, Function]
) -> bool:
    """The same calls in any order (a multiset, after normalisation)."""
    return sorted(normalised(c, known) for c in made) == sorted(
        normalised(c, known) for c in expected
    )
