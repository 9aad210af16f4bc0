"""Totals."""


def sum_numbers(numbers: list[float]) -> float:
    """The sum (total) of a list of numbers: all of them added up.

    Args:
        numbers: the numbers to add up.
    """
    return float(sum(numbers))


def test_total() -> None:
    assert sum_numbers([1, 2, 3.5]) == 6.5


def test_empty_total() -> None:
    assert sum_numbers([]) == 0
