"""Addition."""


def add_numbers(a: float, b: float) -> float:
    """Add two numbers: the sum of a plus b (a and b added together).

    Args:
        a: the first number.
        b: the second number.
    """
    return a + b


def test_adds() -> None:
    assert add_numbers(2, 3) == 5


def test_negative_and_fractions() -> None:
    assert add_numbers(-1.5, 0.5) == -1.0
