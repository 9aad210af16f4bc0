"""Neutral words: the words that say nothing about which tool is wanted."""

from __future__ import annotations

import pytest

from selfeng.core.language import is_neutral


@pytest.mark.parametrize("word", ["please", "thanks", "numbers", "the", "what", "mine", "OK"])
def test_neutral_words_and_their_forms(word: str) -> None:
    assert is_neutral(word)


@pytest.mark.parametrize("word", ["min", "com", "reverse", "sum", "max"])
def test_a_word_that_is_its_own_stem_is_neutral_only_as_itself(word: str) -> None:
    """ "min" has the stem of "mine": read as neutral, "min and max of 3, 9, 1" was answered
    with the max."""
    assert not is_neutral(word)
