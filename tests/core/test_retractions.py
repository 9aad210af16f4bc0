"""Requests that take back part of what they ask."""

import pytest

from selfeng.core.retractions import taken_back


@pytest.mark.parametrize(
    ("text", "marker"),
    [
        ("2+2, just kidding, 3+3", "just kidding"),
        ("what's 5 times 3, sorry, 5 times 4", "sorry"),
        ("add 3 and 4, actually 3 and 5", "actually"),
        ("reverse hello, I mean world", "I mean"),
        ("convert 10 km to miles, no wait, 20 km", "no wait"),
        ("uppercase cat no sorry dog", "no sorry"),
        ("what is 9 squared, never mind, 8 squared", "never mind"),
    ],
)
def test_a_correction_between_two_things_asked_is_found(text: str, marker: str) -> None:
    assert taken_back(text) == marker


@pytest.mark.parametrize(
    "text",
    [
        "sorry, what's 5 times 4",  # an apology before the question takes nothing back
        "what's 5 times 4, actually",  # nothing asked after it
        "what is actually 5 times 4",
        "By promising I mean the price is larger than 300",  # explains, inside a sentence
        "I might have bought more shares than I meant to",
        "uppercase 'no wait, I mean it'",  # the words of a text given in quotes
        "uppercase no kidding",
        "what's the mean of 3 and 5",
    ],
)
def test_words_that_take_nothing_back(text: str) -> None:
    assert taken_back(text) is None
