"""Rounding."""


def round_number(x: float, digits: int = 0) -> float:
    """Round a number to a number of decimal places (digits after the point); to the
    nearest whole number by default.

    Args:
        x: the number to round.
        digits: how many decimal places to keep.
    """
    return round(x, digits)


def test_rounds() -> None:
    assert round_number(3.14159, 2) == 3.14


def test_default_whole() -> None:
    assert round_number(2.6) == 3
