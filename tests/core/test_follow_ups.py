"""Follow-ups written out in full from the previous request of their session."""

import pytest

from selfeng.core.follow_ups import continued, made_into, restate


@pytest.mark.parametrize(
    ("text", "earlier", "arguments", "full"),
    [
        ("what about 20 km?", "convert 10 km to miles", {}, "convert 20 km to miles"),
        ("and 30?", "convert 10 km to miles", {}, "convert 30 km to miles"),
        ("and 25%?", "What is 15% of 200", {}, "What is 25% of 200"),
        ("how about 10 and 20?", "Add 3 and 4", {}, "Add 10 and 20"),
        (
            "And the median?",
            "the average of 4, 8, 12",
            {"numbers": [4, 8, 12]},
            "And the median of 4, 8, 12",
        ),
        (
            "and the word count?",
            "uppercase hello",
            {"text": "hello"},
            'and the word count of "hello"',
        ),
    ],
)
def test_restated(text: str, earlier: str, arguments: dict[str, object], full: str) -> None:
    assert restate(text, earlier, arguments) == full  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "earlier", "arguments"),
    [
        ("what about 5?", "Add 3 and 4", {}),  # which of the two?
        ("what about in feet?", "convert 10 km to miles", {}),  # a new word: a new question
        ("what about 20 km?", "", {}),  # no earlier request
        ("And the median?", "What is 15% of 200", {"percent": 15, "value": 200}),  # no list
        ("And the median?", "x", {"a": [1, 2], "b": [3, 4]}),  # two lists: which?
        ("What is the weather like in Paris tomorrow and next week?", "x", {"a": [1, 2]}),
    ],
)
def test_not_restated(text: str, earlier: str, arguments: dict[str, object]) -> None:
    assert restate(text, earlier, arguments) is None  # type: ignore[arg-type]


def test_a_leading_operator_continues_from_the_answer() -> None:
    assert continued("minus 10") == "it minus 10"
    assert continued("divided by 4") == "it divided by 4"
    assert continued("* 3") == "it * 3"
    assert continued("-10") is None  # a number
    assert continued("overall, what is 2 plus 2") is None


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("make that 25%", "25%"),
        ("ok, change it to 30 km", "30 km"),
        ("make it 13 instead", "13 instead"),
        ("make it uppercase", None),
        ("make 25% of that", None),
        ("make it 10 times bigger", None),  # what to do with the answer
    ],
)
def test_made_into(text: str, values: str | None) -> None:
    assert made_into(text, "convert 10 km to miles") == values


def test_the_previous_words_in_another_order_ask_another_question() -> None:
    """ "what about 0 c to f" after "convert 100 f to c" gave -17.78 (0 F in C)."""
    assert restate("what about 0 c to f", "convert 100 f to c", {}) is None
    assert restate("what about 0 f to c", "convert 100 f to c", {}) == "convert 0 f to c"
