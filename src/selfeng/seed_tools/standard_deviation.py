"""Spread."""

import math
from typing import Literal


def standard_deviation(
    numbers: list[float], kind: Literal["population", "sample"] = "population"
) -> float:
    """The standard deviation (spread) of a list of numbers, as a whole population (the
    default) or as a sample.

    Args:
        numbers: the numbers (at least one, at least two for a sample).
        kind: population, or sample for the sample standard deviation (Bessel's correction).
    """
    if not numbers:
        raise ValueError("the standard deviation of no numbers is undefined")
    if kind == "sample" and len(numbers) < 2:
        raise ValueError("the standard deviation of a sample needs at least two numbers")
    average = sum(numbers) / len(numbers)
    squares = sum((x - average) ** 2 for x in numbers)
    return math.sqrt(squares / (len(numbers) - 1 if kind == "sample" else len(numbers)))


def test_known_value() -> None:
    assert standard_deviation([2, 4, 4, 4, 5, 5, 7, 9]) == 2


def test_sample() -> None:
    assert math.isclose(standard_deviation([1, 2, 3, 4], "sample"), math.sqrt(5 / 3))


def test_a_sample_of_one_is_refused() -> None:
    try:
        standard_deviation([3], "sample")
    except ValueError as exc:
        assert "two numbers" in str(exc)
    else:
        raise AssertionError("one number has no sample standard deviation")


def test_constant_list() -> None:
    assert standard_deviation([5, 5, 5]) == 0
