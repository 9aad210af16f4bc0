"""Reversal."""


def reverse_string(text: str) -> str:
    """Reverse a string or text: its characters in reverse order, backwards ("hello" to
    "olleh").

    Args:
        text: the text to reverse.
    """
    return text[::-1]


def test_reverses() -> None:
    assert reverse_string("hello") == "olleh"


def test_empty_and_unicode() -> None:
    assert reverse_string("") == ""
    assert reverse_string("añb") == "bña"
