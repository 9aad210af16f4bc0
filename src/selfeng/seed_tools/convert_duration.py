"""Durations (not dates) between units: weeks to milliseconds."""

_SECONDS = {
    "ns": 1e-9, "nanosecond": 1e-9,
    "µs": 1e-6, "microsecond": 1e-6,
    "ms": 0.001, "millisecond": 0.001,
    "s": 1.0, "sec": 1.0, "second": 1.0,
    "min": 60.0, "minute": 60.0,
    "h": 3600.0, "hr": 3600.0, "hour": 3600.0,
    "day": 86400.0,
    "wk": 604800.0, "week": 604800.0,
}  # fmt: skip


def _unit(name: str) -> float:
    key = name.strip().lower()
    if key not in _SECONDS:
        key = key.removesuffix("s")
    if key not in _SECONDS:
        raise ValueError(
            f"unknown unit {name!r} (months and years have no fixed length); "
            f"known: {', '.join(sorted(_SECONDS))}"
        )
    return _SECONDS[key]


def convert_duration(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a duration between units: weeks, days, hours (h), minutes (min), seconds (s),
    milliseconds (ms), microseconds (µs), nanoseconds (ns).

    Args:
        value: the duration to convert.
        from_unit: the unit it is in, e.g. hours.
        to_unit: the unit to convert to, e.g. minutes.
    """
    # 15 significant digits: a float's last bits are noise; decimal places would turn a
    # small result into 0 (a millisecond in hours) and lose digits a next step reads
    return float(f"{value * _unit(from_unit) / _unit(to_unit):.15g}")


def test_hours_to_seconds() -> None:
    assert convert_duration(2, "hours", "seconds") == 7200


def test_minutes_to_hours() -> None:
    assert convert_duration(90, "min", "h") == 1.5


def test_weeks_to_days() -> None:
    assert convert_duration(3, "weeks", "days") == 21


def test_a_short_duration_is_not_rounded_away() -> None:
    assert convert_duration(1, "millisecond", "hours") == 2.77777777777778e-07


def test_microseconds_and_nanoseconds() -> None:
    assert convert_duration(1, "microsecond", "seconds") == 1e-06
    assert convert_duration(500, "nanoseconds", "ms") == 0.0005


def test_months_are_refused() -> None:
    try:
        convert_duration(1, "month", "days")
    except ValueError as exc:
        assert "no fixed length" in str(exc)
    else:
        raise AssertionError("a month has no fixed length")
