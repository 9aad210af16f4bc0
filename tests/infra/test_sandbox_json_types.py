"""What a call's child decides about JSON, tested in-process: argument types, results."""

from __future__ import annotations

from typing import Literal, Optional

import pytest

from selfeng.infra.sandbox.json_types import check_arguments, not_json, type_problem


@pytest.mark.parametrize(
    ("value", "annotation"),
    [
        (1, int),
        (1, float),
        (1.5, float),
        ("a", str),
        (True, bool),
        (None, None),
        (None, Optional[int]),  # noqa: UP045 (the typing spelling must work too)
        (2, int | None),
        ([1, 2.5], list[float]),
        ({"a": [1]}, dict[str, list[int]]),
        ([1, "a"], tuple[int, str]),
        ([1, 2, 3], tuple[int, ...]),
        ("b", Literal["a", "b"]),
        ({"anything": object}, object),
        ("2024-01-01", "datetime.date"),  # an unknown annotation is not checked
    ],
)
def test_values_that_fit(value: object, annotation: object) -> None:
    assert type_problem(value, annotation) is None


@pytest.mark.parametrize(
    ("value", "annotation", "problem"),
    [
        ("1", int, "must be an integer, not a string '1'"),
        (True, int, "must be an integer, not a boolean True"),
        (1.5, int, "must be an integer, not a number 1.5"),
        ("x", float, "must be a number, not a string 'x'"),
        (1, str, "must be a string, not an integer 1"),
        ([1, "a"], list[int], "item must be an integer, not a string 'a'"),
        ({"a": "b"}, dict[str, int], "value must be an integer, not a string 'b'"),
        ([1], tuple[int, int], "must be a list of 2 items, not 1"),
        ("c", Literal["a", "b"], "must be one of 'a', 'b', not 'c'"),
        ("x", int | None, "must be int | None, not a string 'x'"),
    ],
)
def test_values_that_do_not(value: object, annotation: object, problem: str) -> None:
    assert type_problem(value, annotation) == problem


def test_string_annotations_are_resolved_and_tuples_made() -> None:
    def f(n: int, pair: tuple[int, int]) -> None: ...

    f.__annotations__ = {"n": "int", "pair": "tuple[int, int]"}
    arguments: dict[str, object] = {"n": 1, "pair": [1, 2]}
    assert check_arguments(f, arguments, {}) is None
    assert arguments["pair"] == (1, 2)
    assert check_arguments(f, {"n": "1"}, {}) == "argument 'n' must be an integer, not a string '1'"


def test_values_json_cannot_carry_are_named() -> None:
    assert not_json({1}) == "returned a set, not JSON"
    assert not_json(object()) == "returned an object, not JSON"
    assert not_json({"a": [1, b"x"]}) == "returned a dict containing a bytes, not JSON"
    assert not_json({(1, 2): 1}) == "returned a dict containing a tuple key, not JSON"
    assert not_json(float("inf")) == "returned a float inf, not JSON"
