"""Date differences."""

from datetime import date


def days_between(start: str, end: str) -> int:
    """How many days between two dates: the number of days from a start date to an end date,
    that is end minus start.

    Args:
        start: the first date (ISO format, YYYY-MM-DD), e.g. 2024-01-01.
        end: the second date (ISO format, YYYY-MM-DD), e.g. 2024-03-01.
    """
    return (date.fromisoformat(end) - date.fromisoformat(start)).days


def test_leap_year() -> None:
    assert days_between("2024-02-01", "2024-03-01") == 29


def test_end_minus_start() -> None:
    assert days_between("2024-11-28", "2024-12-25") == 27


def test_backwards_is_negative() -> None:
    assert days_between("2024-01-10", "2024-01-01") == -9
