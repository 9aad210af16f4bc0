"""Upper case."""


def to_uppercase(text: str) -> str:
    """Convert text to upper case: capitalize every letter (ALL CAPS).

    Args:
        text: the text to convert.
    """
    return text.upper()


def test_uppercases() -> None:
    assert to_uppercase("Hello world") == "HELLO WORLD"
