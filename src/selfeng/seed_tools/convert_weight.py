"""Mass units."""

_GRAMS = {
    "mcg": 0.000001, "µg": 0.000001, "microgram": 0.000001,
    "mg": 0.001, "milligram": 0.001,
    "g": 1.0, "gram": 1.0,
    "kg": 1000.0, "kilogram": 1000.0, "kilo": 1000.0,
    "oz": 28.349523125, "ounce": 28.349523125,
    "lb": 453.59237, "lbs": 453.59237, "pound": 453.59237,
    "st": 6350.29318, "stone": 6350.29318,
    "t": 1_000_000.0, "tonne": 1_000_000.0,
}  # fmt: skip


def _unit(name: str) -> float:
    key = name.strip().lower()
    if key not in _GRAMS and key.endswith("s"):
        key = key[:-1]
    if key not in _GRAMS:
        raise ValueError(f"unknown weight unit {name!r}; known: {', '.join(sorted(_GRAMS))}")
    return _GRAMS[key]


def convert_weight(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a weight or mass between units: kilograms (kg), grams (g), pounds (lb, lbs),
    ounces (oz), stone (st), tonnes (t), milligrams (mg), micrograms (mcg).

    Args:
        value: the weight to convert.
        from_unit: the unit it is in, e.g. kg.
        to_unit: the unit to convert to, e.g. pounds.
    """
    # 15 significant digits: a float's last bits are noise; decimal places would turn a
    # small result into 0 (a millisecond in hours) and lose digits a next step reads
    return float(f"{value * _unit(from_unit) / _unit(to_unit):.15g}")


def test_kilograms_to_pounds() -> None:
    assert round(convert_weight(1, "kg", "pounds"), 6) == 2.204623


def test_a_small_weight_keeps_its_digits() -> None:
    assert convert_weight(1, "mg", "kg") == 1e-06
    assert round(convert_weight(1, "gram", "pounds"), 8) == 0.00220462


def test_stone() -> None:
    assert convert_weight(2, "stone", "kg") == 12.70058636
    assert convert_weight(14, "lbs", "st") == 1


def test_grams_to_kilograms() -> None:
    assert convert_weight(2500, "grams", "kg") == 2.5
