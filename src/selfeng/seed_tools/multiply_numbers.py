"""Multiplication."""


def multiply_numbers(a: float, b: float) -> float:
    """Multiply two numbers: the product of a times b (a multiplied by b).

    Args:
        a: the first factor.
        b: the second factor.
    """
    return a * b


def test_multiplies() -> None:
    assert multiply_numbers(6, 7) == 42


def test_by_zero() -> None:
    assert multiply_numbers(3.5, 0) == 0
