"""Division."""


def divide_numbers(a: float, b: float) -> float:
    """Divide a by b: the quotient of a divided by b (a over b).

    Args:
        a: the dividend.
        b: the divisor (not zero).
    """
    if b == 0:
        raise ValueError("cannot divide by zero")
    return a / b


def test_divides() -> None:
    assert divide_numbers(10, 4) == 2.5


def test_refuses_zero() -> None:
    try:
        divide_numbers(1, 0)
    except ValueError as exc:
        assert "zero" in str(exc)
    else:
        raise AssertionError("dividing by zero must fail")
