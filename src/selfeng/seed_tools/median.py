"""Median."""


def median(numbers: list[float]) -> float:
    """The median (middle value) of a list of numbers.

    Args:
        numbers: the numbers (at least one).
    """
    if not numbers:
        raise ValueError("the median of no numbers is undefined")
    ordered = sorted(numbers)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2


def test_odd_count() -> None:
    assert median([3, 1, 2]) == 2


def test_even_count() -> None:
    assert median([4, 1, 3, 2]) == 2.5
