"""Lower case."""


def to_lowercase(text: str) -> str:
    """Convert text to lower case (small letters).

    Args:
        text: the text to convert.
    """
    return text.lower()


def test_lowercases() -> None:
    assert to_lowercase("Hello WORLD") == "hello world"
