"""Short words people type, read as a wording's long ones."""

import pytest

from selfeng.core.abbreviations import Abbreviations, abbreviates


@pytest.mark.parametrize(
    ("short", "long"),
    [
        ("avg", "average"),
        ("std", "standard"),
        ("dev", "deviation"),
        ("chars", "characters"),
        ("pct", "percent"),
        ("med", "median"),
        ("calc", "calculate"),
    ],
)
def test_shortenings(short: str, long: str) -> None:
    assert abbreviates(short, long)


@pytest.mark.parametrize(
    ("short", "long"),
    [
        ("per", "percent"),  # a word of its own
        ("met", "meter"),  # not shorter by enough
        ("sad", "standard"),  # a vowel after the first letter: no shortening of this kind
        ("the", "temperature"),
        ("avg", "vague"),  # another first letter
        ("ab", "absolute"),  # too short to say
        ("tsd", "standard"),
        # a word an ending makes the long one of: "and back?" after a conversion reversed
        # the answer's digits ("back" read as backwards)
        ("back", "backwards"),
        ("kind", "kindness"),
    ],
)
def test_not_shortenings(short: str, long: str) -> None:
    assert not abbreviates(short, long)


def test_readings_leave_known_and_ambiguous_words_alone() -> None:
    words = Abbreviations(["average", "of", "numbers", "standard", "deviation"])
    assert words.readings("avg") == ["average"]
    assert words.readings("numbers") == []  # a word the wording has
    assert words.expand("std dev of 1, 2") == "std dev of 1, 2 standard deviation"
    many = Abbreviations(["cabbage", "cabinet", "cabaret", "cabriolet"])
    assert many.readings("cab") == []  # four readings: none is meant


def test_a_comparative_is_read_as_the_superlative_the_wording_has() -> None:
    """ "Which is larger, 17 or 71?" asks for the largest of the two."""
    wording = Abbreviations(["largest", "biggest", "number", "list"])
    assert wording.readings("larger") == ["largest"]
    assert wording.readings("Bigger") == ["biggest"]
    assert wording.readings("greater") == []  # no "greatest" in this wording
    assert "largest" in wording.expand("Which is larger, 17 or 71?")


def test_a_blend_of_two_words_in_a_row_is_read_as_both() -> None:
    """ "stdev" and "stddev" join the beginnings of "standard deviation"."""
    words = Abbreviations(["the", "population", "standard", "deviation", "of", "numbers"])
    assert words.readings("stdev") == ["standard", "deviation"]
    assert words.readings("stddev") == ["standard", "deviation"]
    assert words.readings("devstd") == []  # not in the order the wording has them
    assert words.readings("popnum") == []  # "population" and "numbers" are not in a row
    assert "standard deviation" in words.expand("stdev of 1, 2")
