"""Whether JSON values fit Python types: a call's arguments against the function's
annotations, and what about a returned value JSON cannot carry.

Loaded inside the sandbox under the name ``selfeng_sandbox_json_types`` (see
``selfeng.infra.sandbox.launch``): stdlib only, Python 3.9 or newer. ``typing`` is looked up
in ``sys.modules``, never imported: a tool whose annotations use it has imported it.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def check_arguments(
    function: Any, arguments: dict[str, Any], namespace: dict[str, Any]
) -> str | None:
    """Why the JSON arguments do not fit the function's annotations, or None.

    Lists passed for ``tuple`` parameters become tuples in ``arguments``.
    """
    annotations = getattr(function, "__annotations__", None)
    if not isinstance(annotations, dict):
        return None
    for name, value in list(arguments.items()):
        annotation = annotations.get(name)
        if annotation is None:
            continue
        if isinstance(annotation, str):  # from __future__ import annotations
            try:
                annotation = eval(annotation, namespace)
            except Exception:
                continue
        problem = type_problem(value, annotation)
        if problem is not None:
            return f"argument {name!r} {problem}"
        tuple_type = annotation is tuple or getattr(annotation, "__origin__", None) is tuple
        if tuple_type and isinstance(value, list):
            arguments[name] = tuple(value)
    return None


def type_problem(value: Any, annotation: Any, depth: int = 0) -> str | None:
    """Why a JSON value is not of an annotated type, or None (unknown types pass)."""
    if depth > 20:
        return None
    typing = sys.modules.get("typing")
    origin = getattr(annotation, "__origin__", None)
    args: tuple[Any, ...] = tuple(getattr(annotation, "__args__", ()) or ())
    if typing is not None and annotation is typing.Any:
        return None
    if type(annotation).__name__ == "UnionType" or (typing is not None and origin is typing.Union):
        if any(type_problem(value, option, depth + 1) is None for option in args):
            return None
        return f"must be {_type_name(annotation)}, not {_value_name(value)}"
    if typing is not None and origin is typing.Literal:
        if value in args:
            return None
        return f"must be one of {', '.join(repr(a) for a in args)}, not {value!r}"
    if annotation is None or annotation is type(None):
        return None if value is None else _must("null", value)
    simple = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    if annotation in simple:
        if annotation is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif annotation is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, annotation)
        return None if ok else _must(simple[annotation], value)
    container = origin if origin is not None else annotation
    if container in (list, tuple, set, frozenset):
        if not isinstance(value, list):
            return _must("a list", value)
        if container is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                return f"must be a list of {len(args)} items, not {len(value)}"
            pairs = [(args[i], value[i]) for i in range(len(args))]
        else:
            pairs = [(args[0], item) for item in value] if args else []
        for item_type, item in pairs:
            problem = type_problem(item, item_type, depth + 1)
            if problem is not None:
                return "item " + problem
        return None
    if container is dict:
        if not isinstance(value, dict):
            return _must("an object", value)
        for item in value.values() if len(args) == 2 else ():
            problem = type_problem(item, args[1], depth + 1)
            if problem is not None:
                return "value " + problem
    return None


def _must(what: str, value: Any) -> str:
    return f"must be {what}, not {_value_name(value)}"


def _value_name(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    names.update({list: "a list", dict: "an object", type(None): "null"})
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{names.get(type(value), type(value).__name__)} {text}"


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return repr(annotation).replace("typing.", "")


def not_json(value: Any) -> str:
    """``returned a set, not JSON``: what about a value JSON cannot carry."""
    top = _a(type(value).__name__)
    try:
        inner = _first_non_json(value, 0)
    except RecursionError:
        inner = "a structure nested too deep"
    if inner is None or inner.startswith(top):
        return f"returned {inner or top}, not JSON"
    return f"returned {top} containing {inner}, not JSON"


def _a(noun: str) -> str:
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def _first_non_json(value: Any, depth: int) -> str | None:
    if depth > 200:
        return "a structure nested too deep (or circular)"
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        return None if value == value and abs(value) != float("inf") else f"a float {value!r}"
    if isinstance(value, (list, tuple)):
        for item in value:
            found = _first_non_json(item, depth + 1)
            if found is not None:
                return found
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not (key is None or isinstance(key, (str, int, float, bool))):
                return _a(type(key).__name__) + " key"
            found = _first_non_json(item, depth + 1)
            if found is not None:
                return found
        return None
    return _a(type(value).__name__)
