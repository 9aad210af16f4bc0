"""Character counts."""


def count_characters(text: str, include_spaces: bool = True) -> int:
    """Count the characters in a text, every one of them: the length of a string.

    Args:
        text: the text whose characters are counted.
        include_spaces: whether spaces count as characters.
    """
    return len(text) if include_spaces else len(text.replace(" ", ""))


def test_counts_characters() -> None:
    assert count_characters("hello world") == 11


def test_without_spaces() -> None:
    assert count_characters("hello world", include_spaces=False) == 10
