"""Misspelt words read as the tools' own, and only those."""

import pytest

from selfeng.core.spelling import Spelling, one_slip

WORDS = Spelling(
    ["convert", "temperature", "fahrenheit", "celsius", "divided", "characters", "lower",
     "power", "reverse", "multiply", "subtract"]
)  # fmt: skip


@pytest.mark.parametrize(
    ("written", "word"),
    [("farenheit", "fahrenheit"), ("celcius", "celsius"), ("devided", "divided"),
     ("charachters", "characters"), ("mulitply", "multiply"), ("substract", "subtract")],
)  # fmt: skip
def test_a_word_one_slip_away_from_a_tools_word_is_read_as_it(written: str, word: str) -> None:
    assert one_slip(written, word)
    assert WORDS.reading(written) == word


@pytest.mark.parametrize("written", ["lover", "tower", "reversed", "fahrenheit", "teachers"])
def test_short_known_inflected_or_distant_words_are_left_alone(written: str) -> None:
    assert WORDS.reading(written) is None


def test_values_are_left_as_written() -> None:
    text, fixes = WORDS.respelled("convert 100 farenheit to celcius")
    assert text == "convert 100 fahrenheit to celsius"
    assert fixes == [("farenheit", "fahrenheit"), ("celcius", "celsius")]
    assert WORDS.respelled("reverse 'devided'")[0] == "reverse 'devided'"
    assert WORDS.respelled("uppercase this: devided")[0] == "uppercase this: devided"
