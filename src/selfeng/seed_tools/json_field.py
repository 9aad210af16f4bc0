"""JSON field extraction."""

import json
from typing import Any


def json_field(document: str, path: str) -> Any:
    """Extract a field from a JSON document by its dotted path (a.b.0.c).

    Args:
        document: the JSON text.
        path: the field's path: keys and list indexes separated by dots.
    """
    value: Any = json.loads(document)
    for part in path.split("."):
        if isinstance(value, list):
            value = value[int(part)]
        elif isinstance(value, dict):
            if part not in value:
                raise KeyError(f"no field {part!r} in the JSON (it has {', '.join(value)})")
            value = value[part]
        else:
            raise KeyError(f"cannot look up {part!r} in a {type(value).__name__}")
    return value


def test_nested_field() -> None:
    assert json_field('{"user": {"name": "Ada", "langs": ["en", "fr"]}}', "user.langs.1") == "fr"


def test_missing_field() -> None:
    try:
        json_field('{"a": 1}', "b")
    except KeyError as exc:
        assert "no field 'b'" in str(exc)
    else:
        raise AssertionError("a missing field must fail")
