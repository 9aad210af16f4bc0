"""Reading a request into tokens."""

import pytest

from selfeng.core.language import stem
from selfeng.core.scanning import scan


def kinds(text: str) -> list[tuple[str, object]]:
    return [(t.kind, t.value if t.kind != "word" else t.word) for t in scan(text).tokens]


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("1,250", [1250.0]),
        ("1,250.50 and .5", [1250.5, 0.5]),
        ("$45.50 each", [45.5]),
        ("add -5 and 3", [-5.0, 3.0]),
        ("negative 45", [-45.0]),
        ("negative twenty plus 5", [-20.0, 5.0]),  # was 20: a sign before number words
        ("convert minus forty celsius", [-40.0]),
        ("minus 5 plus 2", [-5.0, 2.0]),
        ("1/3", [1 / 3]),
        ("twenty-five", [25.0]),
        ("one hundred and five", [105.0]),
        ("a dozen eggs", [12.0]),
        ("two dozen eggs", [24.0]),  # was 14: "dozen" added, not multiplied
        ("two thousand three hundred and forty-five", [2345.0]),  # was 2300 and 45
        ("two hundred and twenty five", [225.0]),
        ("twelve hundred", [1200.0]),
        ("one hundred and one hundred", [100.0, 100.0]),  # was 10,100
        ("twenty thirty", [20.0, 30.0]),  # was 50: a tens word after a tens word
        ("one two three", [1.0, 2.0, 3.0]),  # was 6
        ("a thousand thousand", [1000.0, 1000.0]),  # scales only fall in one number
        ("one million two hundred thousand", [1_200_000.0]),
        ("the 3rd of 4", [3.0, 4.0]),
        # "round twelve point seven" rounded 12 to 7 places: a decimal read out
        ("round twelve point seven", [12.7]),
        ("three point one four times 2", [3.14, 2.0]),
        ("one point oh five", [1.05]),
        ("the point is five", [5.0]),
    ],
)
def test_numbers(text: str, values: list[float]) -> None:
    assert [t.value for t in scan(text).tokens if t.kind == "number"] == values


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("uppercase abc123", ["uppercase", "abc123"]),
        ("the code x7y9", ["the", "code", "x7y9"]),
        ("h2o and mp3", ["h2o", "and", "mp3"]),
        ("user_id of ba123", ["user_id", "of", "ba123"]),
    ],
)
def test_letters_and_digits_glued_are_one_word(text: str, words: list[str]) -> None:
    """Nothing of a code or an identifier is dropped: its digits are no number of their
    own, and they stay in the word (so a text taken from it is whole)."""
    assert kinds(text) == [("word", w) for w in words]


def test_an_x_glued_between_numbers_multiplies() -> None:
    assert kinds("3x4") == [("number", 3.0), ("symbol", None), ("number", 4.0)]
    assert scan("3x4").tokens[1].word == "times"


def test_a_minus_between_numbers_is_an_operator() -> None:
    assert kinds("10-5") == [("number", 10.0), ("symbol", None), ("number", 5.0)]
    assert [t.word for t in scan("10 - 5").tokens] == ["", "minus", ""]
    assert [t.value for t in scan("10 minus 3").tokens if t.kind == "number"] == [10.0, 3.0]


def test_percentages_and_powers() -> None:
    tokens = scan("25% of 80 and 12 percent").tokens
    assert [(t.value, t.percent) for t in tokens if t.kind == "number"] == [
        (25.0, True),
        (80.0, False),
        (12.0, True),
    ]
    assert [t.value for t in scan("5 squared").tokens] == [5.0, 2.0]
    assert [t.value for t in scan("square it").tokens][:1] == [2.0]
    assert [t.kind for t in scan("square root of 9").tokens][:2] == ["word", "word"]
    assert [t.kind for t in scan("196 square meters").tokens] == ["number", "word", "word"]


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2024-03-01", "2024-03-01"),
        ("2024/3/1", "2024-03-01"),
        ("March 1, 2024", "2024-03-01"),
        ("1 March 2024", "2024-03-01"),
        ("1st of March 2024", "2024-03-01"),
        ("Mar. 1 2024", "2024-03-01"),
        ("25/12/2024", "2024-12-25"),
        ("12/25/2024", "2024-12-25"),
        ("2024-03-01.", "2024-03-01"),  # the end of a sentence
        ("25/12/2024.", "2024-12-25"),
    ],
)
def test_dates(text: str, iso: str) -> None:
    assert kinds(text) == [("date", iso)]


@pytest.mark.parametrize("text", ["03/04/2024", "2024-02-30", "31/31/2024"])
def test_dates_that_cannot_be_read_safely_are_unclear(text: str) -> None:
    (token,) = scan(text).tokens
    assert token.kind == "unclear"
    assert token.note


def test_quotes_json_and_colons() -> None:
    read = scan("""reverse 'to be' and "or not" in {"a": [1, 2]} and [3, 4]""")
    assert [t.kind for t in read.tokens if t.kind != "word"] == [
        "quoted",
        "quoted",
        "json",
        "array",
    ]
    read = scan("Make this uppercase: the end. Really")
    assert read.colon_text() == "the end. Really"
    assert scan("meet at 10:30 today").colon is None
    assert scan("it's Anna's 'book'").tokens[-1].value == "book"


def test_nothing_is_lost_in_odd_text() -> None:
    for text in [
        "",
        "   ",
        "🙂🙂",
        "((((",
        "'",
        '"unclosed',
        "{not json}",
        "1/0",
        "€",
        "x" * 10_000,
    ]:
        read = scan(text)
        assert all(0 <= t.start < t.end <= len(text) for t in read.tokens)
    assert scan("1/0").tokens[0].kind == "unclear"


@pytest.mark.parametrize(
    ("a", "b"),
    [("reversed", "reverse"), ("reverses", "reversing"), ("added", "add"), ("summed", "sum"),
     ("letters", "letter"), ("multiplied", "multiply"), ("inches", "inch"), ("feet", "foot")],
)  # fmt: skip
def test_the_light_stemmer_folds_inflections(a: str, b: str) -> None:
    assert stem(a) == stem(b)


@pytest.mark.parametrize(("a", "b"), [("capital", "capitalize"), ("count", "counter")])
def test_the_light_stemmer_keeps_derivations_apart(a: str, b: str) -> None:
    assert stem(a) != stem(b)


def test_a_percent_sign_between_two_numbers_is_unclear() -> None:
    """ "7 % 3" may be 7 percent of 3 or the remainder of 7 by 3: not read as either."""
    kinds = [t.kind for t in scan("what's 7 % 3").tokens]
    assert "unclear" in kinds
    assert [t.percent for t in scan("what's 15% of 80").tokens if t.kind == "number"] == [
        True,
        False,
    ]


def test_two_operators_in_a_row_are_unclear() -> None:
    """ "9 - - 1" gave 8 and "7 // 2" gave 3.5: the second operator was taken for the first
    again. Minus a negative number, floor division or a typo: not read as any."""
    for text in ("what's 9 - - 1", "what is 7 // 2", "5 + * 2"):
        assert [t.kind for t in scan(text).tokens].count("unclear") == 1, text
    # a sign glued to its number, a power and brackets are no second operator
    for text in ("9 - -1", "3 * -2", "2 ** 3", "(2+3)*(4+5)", "2 * (3 + 4)"):
        assert "unclear" not in [t.kind for t in scan(text).tokens], text


@pytest.mark.parametrize(
    ("text", "value"),
    [("a quarter of 80", 0.25), ("two thirds of 60", 2 / 3), ("3 fifths of 10", 0.6)],
)
def test_a_share_in_words_before_of_is_a_multiple(text: str, value: float) -> None:
    first = scan(text).tokens[0]
    assert first.kind == "number"
    assert first.value == pytest.approx(value)
    assert first.word == "times"


def test_an_ordinal_after_the_names_a_place_not_a_share() -> None:
    assert not any(t.kind == "number" for t in scan("the third of May").tokens)


@pytest.mark.parametrize("unit", ["_", "1", "a1", "a.", "a-", "x_", "1-", "'a"])
def test_a_long_run_of_one_shape_is_read(unit: str) -> None:
    """Prompts are read whole, up to 20,000 characters: no pattern backtracks over a run
    (an identifier pattern took 5 s over 20,000 underscores, a mixed-word one 11 s)."""
    text = unit * (20_000 // len(unit))
    tokens = scan(text).tokens
    assert all(t.start < t.end for t in tokens)
    assert "".join(text[t.start : t.end] for t in tokens) in text


def test_number_words_without_end_are_read_without_overflow() -> None:
    """ "one hundred and one hundred and ..." multiplied without bound: 1,200 of them raised
    OverflowError (a number past a float's range) and stopped the request."""
    tokens = scan("what is " + "one hundred and " * 1_200 + "one").tokens
    assert {t.value for t in tokens if t.kind == "number"} == {100.0, 101.0}  # the last: 101


@pytest.mark.parametrize("text", ["round 17 to the nearest ten", "round 17 to the nearest 10"])
def test_the_unit_a_value_is_rounded_to_is_named_not_counted(text: str) -> None:
    """ "the nearest ten" is no count of decimal places (round_number gave 17 for it)."""
    nearest = [t for t in scan(text).tokens if t.kind == "number"][-1]
    assert nearest.value == 10.0
    assert nearest.word == "nearest"


def test_digits_grouped_by_underscores_are_one_number() -> None:
    """ "what is 1_000 plus 1" gave 2: "_000" was dropped without a word."""
    numbers = [t for t in scan("what is 1_000 plus 1").tokens if t.kind == "number"]
    assert [t.value for t in numbers] == [1000.0, 1.0]
    assert [t.value for t in scan("1_000_000.5").tokens] == [1000000.5]
    # digits and underscores that are no number are unclear, never dropped
    for text in ("2.5_0", "1__000", "_5", "5_"):
        assert [t.kind for t in scan(f"what is {text} plus 1").tokens if t.kind != "word"] == [
            "unclear",
            "number",
        ], text
    assert [t.kind for t in scan("uppercase user_id").tokens] == ["word", "word"]


def test_a_hexadecimal_literal_is_no_product() -> None:
    """ "what is 0x10 plus 1" gave 1 (0 times 10, plus 1)."""
    tokens = scan("what is 0x10 plus 1").tokens
    assert [t.kind for t in tokens] == ["word", "word", "unclear", "word", "number"]
    assert [t.value for t in scan("5x3").tokens if t.kind == "number"] == [5.0, 3.0]


@pytest.mark.parametrize("text", ["sum of 1, 2, 3, ..., 10", "sum of 1 … 10", "1, 2, etc., 10"])
def test_values_left_out_between_numbers_are_unclear(text: str) -> None:
    """ "sum of 1, 2, 3, ..., 10" gave 16: the dots were dropped, and 10 summed with 1, 2, 3."""
    assert "unclear" in [t.kind for t in scan(text).tokens]


def test_dots_after_one_number_leave_nothing_out() -> None:
    assert [t.kind for t in scan("what is 3... plus 2").tokens].count("unclear") == 0


def test_numbers_joined_by_slashes_in_a_row_are_unclear() -> None:
    """ "sum of 1/2/3" gave 1.67: 1, then the fraction 2/3."""
    assert [t.kind for t in scan("sum of 1/2/3").tokens] == ["word", "word", "unclear"]
    assert [t.value for t in scan("what is 7/2").tokens if t.kind == "number"] == [3.5]
    assert [t.kind for t in scan("2024/01/15").tokens] == ["date"]


def test_a_number_in_scientific_notation_is_one_number() -> None:
    """ "largest of 1e2, 50, 75" gave 75: "1e2" was read as a word, then as a label."""
    numbers = [t.value for t in scan("largest of 1e2, 50, 2.5E-3").tokens if t.kind == "number"]
    assert numbers == [100.0, 50.0, 0.0025]
    assert [t.value for t in scan("5-1e2").tokens if t.kind == "number"] == [5.0, 100.0]
    assert scan("multiply 1e400 by 2").tokens[1].kind == "unclear"
    assert all(t.kind == "word" for t in scan("uppercase abc1e5").tokens)


def test_a_number_in_words_before_percent_is_a_percentage() -> None:
    # "fifteen percent of two hundred" was two plain numbers: a tool taking a part and a
    # whole read 15 of 200 as 7.5%, where 15% of 200 (30) was asked
    for text, value in (
        ("fifteen percent of two hundred", 15.0),
        ("ten per cent of five hundred", 10.0),
        ("twenty five percent of 80", 25.0),
    ):
        first = scan(text).tokens[0]
        assert (first.kind, first.value, first.percent) == ("number", value, True)


def test_a_percent_sign_alone_reads_as_percent() -> None:
    # "what % of 80 is 20": the sign asks what percentage, and was dropped unread
    tokens = scan("what % of 80 is 20").tokens
    assert [(t.kind, t.word) for t in tokens[:2]] == [("word", "what"), ("symbol", "percent")]
    assert scan("25% of 80").tokens[0].percent  # glued to a number it is that number's
