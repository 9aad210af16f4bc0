"""Letter counts."""


def count_letters(text: str) -> int:
    """Count the letters in a text (of any alphabet).

    Args:
        text: the text whose letters are counted.
    """
    return sum(1 for ch in text if ch.isalpha())


def test_counts_letters_only() -> None:
    assert count_letters("hello world") == 10
    assert count_letters("don't stop, 2 go!") == 10


def test_any_alphabet() -> None:
    assert count_letters("Ñandú") == 5
