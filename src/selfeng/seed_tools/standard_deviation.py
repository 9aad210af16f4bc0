"""Spread."""

import math
import statistics
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
    # the statistics module sums exactly: huge values (1e308) neither overflow nor lose
    # the spread of values that differ only in their last digits
    return statistics.stdev(numbers) if kind == "sample" else statistics.pstdev(numbers)


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


def test_huge_values() -> None:
    assert standard_deviation([1e308] * 50) == 0
    assert math.isclose(standard_deviation([1e308, -1e308], "sample"), math.sqrt(2) * 1e308)


def test_constant_list() -> None:
    assert standard_deviation([5, 5, 5]) == 0
