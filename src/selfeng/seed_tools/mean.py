"""Arithmetic mean."""


def mean(numbers: list[float]) -> float:
    """The mean (average) of a list of numbers.

    Args:
        numbers: the numbers to average (at least one).
    """
    if not numbers:
        raise ValueError("the mean of no numbers is undefined")
    return sum(numbers) / len(numbers)


def test_average() -> None:
    assert mean([1, 2, 3, 4]) == 2.5


def test_empty_is_refused() -> None:
    try:
        mean([])
    except ValueError:
        pass
    else:
        raise AssertionError("an empty list has no mean")
