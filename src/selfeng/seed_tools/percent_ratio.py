"""One number as a percentage of another."""


def percent_ratio(part: float, whole: float) -> float:
    """What percent (what percentage) a part makes up of a whole: 30 is 25% of 120.

    Args:
        part: the amount that makes up some percent of the whole, e.g. 30.
        whole: the whole amount, e.g. 120 (not zero).
    """
    if whole == 0:
        raise ValueError("the whole must not be zero")
    ratio = part / whole * 100
    if ratio in (float("inf"), float("-inf")) or ratio != ratio:
        raise ValueError("the result is too large")
    return float(f"{ratio:.15g}")


def test_a_quarter() -> None:
    assert percent_ratio(30, 120) == 25


def test_more_than_the_whole() -> None:
    assert percent_ratio(150, 100) == 150


def test_a_third() -> None:
    assert percent_ratio(1, 3) == 33.3333333333333


def test_a_whole_of_zero_or_a_result_too_large_is_refused() -> None:
    for part, whole in ((5, 0), (1e308, 1e-308)):
        try:
            percent_ratio(part, whole)
        except ValueError:
            continue
        raise AssertionError(f"{part} of {whole} has no percentage")
