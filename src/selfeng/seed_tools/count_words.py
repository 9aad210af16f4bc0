"""Word counts."""


def count_words(text: str) -> int:
    """Count the words in a text.

    Args:
        text: the text whose words are counted.
    """
    return len(text.split())


def test_counts_words() -> None:
    assert count_words("the quick brown fox") == 4


def test_whitespace_only() -> None:
    assert count_words("   ") == 0
