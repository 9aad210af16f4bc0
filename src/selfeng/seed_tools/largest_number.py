"""Maximum."""


def largest_number(numbers: list[float]) -> float:
    """The largest (maximum, biggest, highest) number in a list.

    Args:
        numbers: the numbers (at least one).
    """
    if not numbers:
        raise ValueError("an empty list has no largest number")
    return float(max(numbers))


def test_largest() -> None:
    assert largest_number([3, 9, -2]) == 9
