"""Relative change."""


def percentage_change(old: float, new: float) -> float:
    """The percentage change (percent increase or decrease) from an old value to a new value.

    Args:
        old: the value before (not zero).
        new: the value after.
    """
    if old == 0:
        raise ValueError("the old value must not be zero")
    return (new - old) / abs(old) * 100


def test_increase() -> None:
    assert percentage_change(50, 75) == 50


def test_decrease() -> None:
    assert percentage_change(200, 150) == -25
