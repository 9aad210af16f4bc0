"""Tools as source: read a tool file into its name, spec, code and tests, without running it.

A tool file defines one public function (the tool, named like the file unless only one public
function exists), with type hints and a docstring, and ``test_*`` functions that exercise it.
An optional module constant ``DETERMINISTIC = False`` marks a tool whose results must not be
cached. The JSON Schemas of the inputs and output are derived from the annotations by reading
the source (``ast``), never by importing it: tool code is untrusted until the sandbox has run
its tests.
"""

from __future__ import annotations

import ast
import re
import threading
from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue

from selfeng.schemas import ToolSpec

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")

# CPython 3.11 keeps the AST constructor's recursion depth in interpreter-wide state, so two
# threads parsing at once can fail with "SystemError: AST constructor recursion depth mismatch"
# (python/cpython#106905). Clients and workers in one process parse tool sources concurrently.
_PARSING = threading.Lock()


def parse_module(source: str) -> ast.Module:
    """``ast.parse(source)``, safe to call from several threads at once."""
    with _PARSING:
        return ast.parse(source)


def parse_expression(source: str) -> ast.Expression:
    """``ast.parse(source, mode="eval")``, safe to call from several threads at once."""
    with _PARSING:
        return ast.parse(source, mode="eval")


class ToolSourceError(ValueError):
    """The source is not a usable tool file; the message says what to change."""


@dataclass(frozen=True)
class ToolDefinition:
    """A tool read from source: what is proposed in a ToolProposed event."""

    name: str
    spec: ToolSpec
    code: str
    tests: str


_SCALARS: dict[str, dict[str, JsonValue]] = {
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "str": {"type": "string"},
    "bool": {"type": "boolean"},
    "None": {"type": "null"},
    "Any": {},
    "object": {},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
}


def annotation_schema(node: ast.expr | None, where: str) -> dict[str, JsonValue]:
    """The JSON Schema of a type annotation, read from its syntax."""
    if node is None:
        raise ToolSourceError(f"{where} has no type annotation; annotate it (e.g. `: float`)")
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return annotation_schema(parse_expression(node.value).body, where)
    if isinstance(node, ast.Constant) and node.value is None:
        return {"type": "null"}
    if isinstance(node, ast.Name | ast.Attribute):
        name = node.id if isinstance(node, ast.Name) else node.attr
        if name in _SCALARS:
            return dict(_SCALARS[name])
        if name in {"list", "List", "Sequence"}:
            return {"type": "array"}
        if name in {"dict", "Dict", "Mapping"}:
            return {"type": "object"}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union([node.left, node.right], where)
    if isinstance(node, ast.Subscript):
        base = (
            node.value.id if isinstance(node.value, ast.Name) else getattr(node.value, "attr", "")
        )
        args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        if base in {"list", "List", "Sequence", "tuple", "Tuple"}:
            items = [a for a in args if not (isinstance(a, ast.Constant) and a.value is ...)]
            schema: dict[str, JsonValue] = {"type": "array"}
            if len(items) == 1:
                schema["items"] = annotation_schema(items[0], where)
            return schema
        if base in {"dict", "Dict", "Mapping"} and len(args) == 2:
            return {"type": "object", "additionalProperties": annotation_schema(args[1], where)}
        if base == "Optional":
            return _union([args[0], ast.Constant(None)], where)
        if base == "Union":
            return _union(args, where)
        if base == "Literal":
            values: list[JsonValue] = []
            for a in args:
                if not isinstance(a, ast.Constant) or not isinstance(
                    a.value, str | int | float | bool | None
                ):
                    raise ToolSourceError(f"{where}: Literal takes str, int, float or bool")
                values.append(a.value)
            return {"enum": values}
    raise ToolSourceError(
        f"{where}: the type {ast.unparse(node)!r} is not supported; use int, float, str, bool, "
        "date, datetime, list[...], dict[str, ...], Literal[...] or X | None"
    )


def _union(parts: list[ast.expr], where: str) -> dict[str, JsonValue]:
    return {"anyOf": [annotation_schema(p, where) for p in parts]}


def _param_docs(docstring: str) -> dict[str, str]:
    """Parameter descriptions from a Google-style ``Args:`` section."""
    docs: dict[str, str] = {}
    in_args = False
    current = None
    for line in docstring.splitlines():
        stripped = line.strip()
        if stripped in {"Args:", "Arguments:", "Parameters:"}:
            in_args = True
            continue
        if in_args:
            match = re.match(r"^(\w+)\s*(\([^)]*\))?\s*:\s*(.*)$", stripped)
            if match:
                current = match.group(1)
                docs[current] = match.group(3)
            elif stripped and current and line.startswith((" " * 8, "\t\t")):
                docs[current] += " " + stripped
            elif not stripped or stripped.endswith(":"):
                in_args = stripped == "" and bool(docs)
                current = None
    return docs


def _summary(docstring: str) -> str:
    paragraphs = docstring.strip().split("\n\n")
    first = []
    for paragraph in paragraphs:
        if paragraph.strip().startswith(("Args:", "Arguments:", "Parameters:", "Returns:")):
            break
        first.append(" ".join(line.strip() for line in paragraph.splitlines()))
    return " ".join(first).strip()


def _literal_value(node: ast.expr) -> Any:
    return ast.literal_eval(node)


def parse_tool(source: str, name: str | None = None) -> ToolDefinition:
    """Read a tool file. ``name`` picks the function when the file defines several."""
    try:
        module = parse_module(source)
    except SyntaxError as exc:
        raise ToolSourceError(f"not valid Python: line {exc.lineno}: {exc.msg}") from exc
    functions = [
        n
        for n in module.body
        if isinstance(n, ast.FunctionDef) and not n.name.startswith(("_", "test_"))
    ]
    tests = [
        n for n in module.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")
    ]
    if name is not None:
        chosen = [f for f in functions if f.name == name]
        if not chosen:
            raise ToolSourceError(f"no public function named {name!r} in the file")
        function = chosen[0]
    elif len(functions) == 1:
        function = functions[0]
    else:
        found = ", ".join(f.name for f in functions) or "none"
        raise ToolSourceError(
            f"a tool file defines one public function (the tool); found {found}. "
            "Make helpers private (_name) or name the tool"
        )
    if not _IDENTIFIER.match(function.name):
        raise ToolSourceError(f"a tool name is lower_snake_case: {function.name!r}")
    docstring = ast.get_docstring(function) or ""
    description = _summary(docstring)
    if not description:
        raise ToolSourceError(f"{function.name} has no docstring: say what the tool does")
    if not tests:
        raise ToolSourceError(f"{function.name} has no tests: add test_* functions to the file")
    if function.args.vararg or function.args.kwarg or function.args.posonlyargs:
        raise ToolSourceError(f"{function.name}: use plain named parameters (no *args, **kwargs)")
    deterministic = True
    for node in module.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "DETERMINISTIC" for t in node.targets
        ):
            deterministic = bool(_literal_value(node.value))
    docs = _param_docs(docstring)
    properties: dict[str, JsonValue] = {}
    required: list[JsonValue] = []
    args = [*function.args.args, *function.args.kwonlyargs]
    defaults: list[ast.expr | None] = (
        [None] * (len(function.args.args) - len(function.args.defaults))
        + list(function.args.defaults)
        + list(function.args.kw_defaults)
    )
    for arg, default in zip(args, defaults, strict=True):
        schema = annotation_schema(arg.annotation, f"{function.name}({arg.arg})")
        if arg.arg in docs:
            schema["description"] = docs[arg.arg]
        if default is None:
            required.append(arg.arg)
        else:
            try:
                schema["default"] = _literal_value(default)
            except ValueError as exc:
                raise ToolSourceError(
                    f"{function.name}({arg.arg}): a default must be a constant"
                ) from exc
        properties[arg.arg] = schema
    returns = annotation_schema(function.returns, f"{function.name} (its return type)")
    spec = ToolSpec(
        description=description,
        parameters={"type": "object", "properties": properties, "required": required},
        returns=returns,
        deterministic=deterministic,
    )
    test_names = {t.name for t in tests}
    code_nodes = [
        n for n in module.body if not (isinstance(n, ast.FunctionDef) and n.name in test_names)
    ]
    imports = [n for n in module.body if isinstance(n, ast.Import | ast.ImportFrom)]
    code = ast.unparse(ast.Module(body=code_nodes, type_ignores=[])) + "\n"
    test_source = ast.unparse(ast.Module(body=[*imports, *tests], type_ignores=[])) + "\n"
    return ToolDefinition(name=function.name, spec=spec, code=code, tests=test_source)
