"""Square roots."""

import math


def square_root(x: float) -> float:
    """The square root (sqrt) of a number.

    Args:
        x: the number (zero or more).
    """
    if x < 0:
        raise ValueError("no real square root of a negative number")
    return math.sqrt(x)


def test_perfect_square() -> None:
    assert square_root(144) == 12


def test_negative_is_refused() -> None:
    try:
        square_root(-1)
    except ValueError:
        pass
    else:
        raise AssertionError("negative numbers have no real square root")
