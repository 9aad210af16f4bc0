"""Exponentiation."""


def power(base: float, exponent: float) -> float:
    """Raise a number to a power: base to the power of exponent (squared, cubed, ...).

    Args:
        base: the number to raise.
        exponent: the power.
    """
    return float(base**exponent)


def test_square() -> None:
    assert power(3, 2) == 9


def test_negative_exponent() -> None:
    assert power(2, -1) == 0.5
