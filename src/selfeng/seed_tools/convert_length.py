"""Length units."""

_METRES = {
    "mm": 0.001, "millimeter": 0.001, "millimetre": 0.001,
    "cm": 0.01, "centimeter": 0.01, "centimetre": 0.01,
    "m": 1.0, "meter": 1.0, "metre": 1.0,
    "km": 1000.0, "kilometer": 1000.0, "kilometre": 1000.0,
    "in": 0.0254, "inch": 0.0254,
    "ft": 0.3048, "foot": 0.3048, "feet": 0.3048,
    "yd": 0.9144, "yard": 0.9144,
    "mi": 1609.344, "mile": 1609.344,
}  # fmt: skip


def _unit(name: str) -> float:
    key = name.strip().lower()
    if key not in _METRES:
        key = {"inches": "inch", "feet": "foot"}.get(key, key.removesuffix("s"))
    if key not in _METRES:
        raise ValueError(f"unknown length unit {name!r}; known: {', '.join(sorted(_METRES))}")
    return _METRES[key]


def convert_length(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a length or distance between units: kilometres or kilometers (km), metres or
    meters (m), centimetres (cm), millimetres (mm), miles (mi), feet (ft), inches (in), yards (yd).

    Args:
        value: the length to convert.
        from_unit: the unit it is in, e.g. km.
        to_unit: the unit to convert to, e.g. miles.
    """
    # 15 significant digits: a float's last bits are noise; decimal places would turn a
    # small result into 0 (a millisecond in hours) and lose digits a next step reads
    return float(f"{value * _unit(from_unit) / _unit(to_unit):.15g}")


def test_kilometres_to_miles() -> None:
    assert round(convert_length(10, "km", "miles"), 6) == 6.213712


def test_a_small_length_keeps_its_digits() -> None:
    assert convert_length(1, "mm", "miles") == 6.21371192237334e-07
    assert convert_length(1, "inch", "km") == 2.54e-05


def test_feet_to_inches() -> None:
    assert convert_length(2, "feet", "inches") == 24


def test_unknown_unit() -> None:
    try:
        convert_length(1, "parsec", "m")
    except ValueError as exc:
        assert "unknown length unit" in str(exc)
    else:
        raise AssertionError("parsecs are not a length unit here")
