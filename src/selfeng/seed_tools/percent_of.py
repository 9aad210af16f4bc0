"""Percentages of an amount."""


def percent_of(percent: float, value: float) -> float:
    """Calculate a percentage of a number: what percent % of value is (25% of 100 is 25).

    Args:
        percent: the percentage, e.g. 25 for 25%.
        value: the whole amount the percentage is taken of.
    """
    return percent * value / 100


def test_quarter_of_a_hundred() -> None:
    assert percent_of(25, 100) == 25


def test_fractional() -> None:
    assert percent_of(12.5, 80) == 10
