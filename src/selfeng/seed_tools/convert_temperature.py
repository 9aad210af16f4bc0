"""Temperature units."""


def _to_celsius(value: float, unit: str) -> float:
    u = unit.strip().lower()
    if u in {"c", "celsius", "°c"}:
        return value
    if u in {"f", "fahrenheit", "°f"}:
        return (value - 32) * 5 / 9
    if u in {"k", "kelvin"}:
        return value - 273.15
    raise ValueError(f"unknown temperature unit {unit!r}; use celsius, fahrenheit or kelvin")


def convert_temperature(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a temperature between Celsius, Fahrenheit and Kelvin degrees.

    Args:
        value: the temperature.
        from_unit: celsius, fahrenheit or kelvin (or C, F, K).
        to_unit: celsius, fahrenheit or kelvin (or C, F, K).
    """
    celsius = _to_celsius(value, from_unit)
    u = to_unit.strip().lower()
    if u in {"c", "celsius", "°c"}:
        out = celsius
    elif u in {"f", "fahrenheit", "°f"}:
        out = celsius * 9 / 5 + 32
    elif u in {"k", "kelvin"}:
        out = celsius + 273.15
    else:
        raise ValueError(f"unknown temperature unit {to_unit!r}")
    # 15 significant digits: a float's last bits are noise; decimal places would lose
    # digits a next step reads (72 F in Celsius, then in Kelvin)
    return float(f"{out:.15g}")


def test_boiling_point() -> None:
    assert convert_temperature(100, "celsius", "fahrenheit") == 212


def test_kelvin() -> None:
    assert convert_temperature(0, "C", "K") == 273.15
