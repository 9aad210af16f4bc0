"""Spread."""

import math


def standard_deviation(numbers: list[float]) -> float:
    """The population standard deviation (spread) of a list of numbers.

    Args:
        numbers: the numbers (at least one).
    """
    if not numbers:
        raise ValueError("the standard deviation of no numbers is undefined")
    average = sum(numbers) / len(numbers)
    return math.sqrt(sum((x - average) ** 2 for x in numbers) / len(numbers))


def test_known_value() -> None:
    assert standard_deviation([2, 4, 4, 4, 5, 5, 7, 9]) == 2


def test_constant_list() -> None:
    assert standard_deviation([5, 5, 5]) == 0
