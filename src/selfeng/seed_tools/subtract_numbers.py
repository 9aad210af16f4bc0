"""Subtraction."""


def subtract_numbers(a: float, b: float) -> float:
    """Subtract b from a: the difference a minus b (b taken away from a, b less than a).

    Args:
        a: the number to subtract from.
        b: the number to subtract.
    """
    return a - b


def test_subtracts() -> None:
    assert subtract_numbers(10, 4) == 6


def test_goes_negative() -> None:
    assert subtract_numbers(1, 3) == -2
