"""Rounding."""

from decimal import ROUND_HALF_UP, Decimal, localcontext


def round_number(x: float, digits: int = 0) -> float:
    """Round a number to a number of decimal places (digits after the point); to the
    nearest whole number by default. 2.5 rounds to 3, and 2.675 to 2.68.

    Args:
        x: the number to round.
        digits: how many decimal places to keep.
    """
    # the decimal as written (repr), not the binary float: 2.675 is 2.67499999... in binary
    exact = Decimal(repr(float(x)))
    with localcontext() as context:
        context.prec = 400 + max(digits, 0)  # room for any float's digits, whatever its size
        return float(exact.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def test_rounds() -> None:
    assert round_number(3.14159, 2) == 3.14


def test_default_whole() -> None:
    assert round_number(2.6) == 3


def test_halves_round_away_from_zero_as_written() -> None:
    assert round_number(2.5) == 3
    assert round_number(-2.5) == -3
    assert round_number(2.675, 2) == 2.68
    assert round_number(0.125, 2) == 0.13
    assert round_number(99.995, 2) == 100


def test_negative_digits_round_to_tens() -> None:
    assert round_number(1234.5, -2) == 1200


def test_large_numbers_keep_their_size() -> None:
    assert round_number(1e30, 2) == 1e30
