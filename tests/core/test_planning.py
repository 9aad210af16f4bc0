import pytest

from selfeng.core.planning import PlanStep, plan
from selfeng.core.step_text import search_text, tool_vocabulary, with_earlier_values


@pytest.mark.parametrize(
    ("request_text", "steps"),
    [
        ("What is 25% of 100?", [("What is 25% of 100", False)]),
        ("Reverse the string hello", [("Reverse the string hello", False)]),
        ("What is the sum of 3 and 4?", [("What is the sum of 3 and 4", False)]),
        (
            "Calculate 25% of 100 and reverse the result",
            [("Calculate 25% of 100", False), ("reverse the result", True)],
        ),
        (
            "convert 10 km to miles, then round it to 1 digits",
            [("convert 10 km to miles", False), ("round it to 1 digits", True)],
        ),
        ("add 2 and 3; multiply that by 4", [("add 2 and 3", False), ("multiply that by 4", True)]),
        ("", [("", False)]),
    ],
)
def test_requests_split_into_steps(request_text: str, steps: list[tuple[str, bool]]) -> None:
    assert plan(request_text) == [PlanStep(text, uses) for text, uses in steps]


def test_a_step_asked_as_well_as_the_one_before_is_marked() -> None:
    """After "also" the step before is an answer too, even when this one works on it."""
    steps = plan("convert 5 km to miles and also to feet", VOCABULARY)
    assert [(s.text, s.uses_previous, s.also) for s in steps] == [
        ("convert 5 km to miles", False, False),
        ("convert it to feet", True, True),
    ]
    assert [s.also for s in plan("convert 5 km to miles, then to feet", VOCABULARY)] == [
        False,
        False,
    ]
    assert [s.also for s in plan("average of 4 and 6, and also double it", VOCABULARY)] == [
        False,
        True,
    ]


def test_tool_names_count_as_instructions() -> None:
    vocabulary = tool_vocabulary(["shout_text"])
    assert [s.text for s in plan("take hello and shout it", vocabulary)] == [
        "take hello",
        "shout it",
    ]
    assert len(plan("take hello and shout it")) == 1


VOCABULARY = tool_vocabulary(
    ["reverse_string", "convert_length", "add_numbers", "median", "mean", "count_words",
     "round_number", "square_root", "multiply_numbers", "divide_numbers"]
)  # fmt: skip


def texts(request: str) -> list[str]:
    return [s.text for s in plan(request, VOCABULARY)]


def test_independent_questions_are_steps_of_their_own() -> None:
    steps = plan("Calculate 20% of 100 and also find the square root of 64", VOCABULARY)
    assert [(s.text, s.uses_previous) for s in steps] == [
        ("Calculate 20% of 100", False),
        ("find the square root of 64", False),
    ]
    assert texts("What is 5+3 and what is 10/2") == ["What is 5+3", "what is 10/2"]
    assert texts("divide 84 by 7, and separately multiply 13 by 6") == [
        "divide 84 by 7",
        "separately multiply 13 by 6",
    ]
    # an instruction of its own is no repeat of the one before, whatever its shape ("add 2
    # multiply 4 and 5" answered 11)
    assert texts("add 2 and 3, multiply 4 and 5, divide 10 by 2") == [
        "add 2 and 3",
        "multiply 4 and 5",
        "divide 10 by 2",
    ]


def test_a_repeated_shape_repeats_the_instruction() -> None:
    assert texts("Convert 10 km to miles and 30 C to F") == [
        "Convert 10 km to miles",
        "Convert 30 C to F",
    ]
    assert texts("What is 15% of 80 and 20% of 50") == ["What is 15% of 80", "What is 20% of 50"]
    assert texts("Add 3 and 4") == ["Add 3 and 4"]  # a list of values is not a second step
    assert texts("how many inches is 2 feet and 3 feet") == [
        "how many inches is 2 feet",
        "how many inches is 3 feet",
    ]


def test_a_percentage_ending_a_list_is_an_item_not_an_instruction() -> None:
    """ "percent" is a word of a tool's name, so "and 100 percent" started a step of its own,
    which took the mean of 80 and 90 as its base: "mean of 80, 90 and 100 percent" gave 85."""
    vocabulary = {"percent", "mean", "sum"}
    for request in ("mean of 80, 90 and 100 percent", "sum of 10, 20 and 5 percent"):
        assert [s.text for s in plan(request, vocabulary)] == [request]
    assert [s.text for s in plan("what is 10% of 50 and 20 percent of 80", vocabulary)] == [
        "what is 10% of 50",
        "20 percent of 80",
    ]


def test_a_quantity_in_two_units_is_one_value_not_two() -> None:
    """One length written in two units: repeating the question for "3 inches" answered 24
    and 3 where 27 was asked (the tool that takes one value then declines)."""
    for request in (
        "how many inches is 2 feet and 3 inches",
        "how many cm is 5 feet and 11 inches",
        "how many minutes is 1 hour and 30 minutes",
        "how many grams is 2 kg and 300 g",
    ):
        assert texts(request) == [request]


def test_two_questions_about_the_same_values_share_them() -> None:
    assert texts("Tell me the mean and the median of 3, 7, 8") == [
        "Tell me the mean of 3, 7, 8",
        "the median of 3, 7, 8",
    ]
    assert texts("How many words and how many characters are in 'see you'") == [
        "How many words are in 'see you'",
        "how many characters are in 'see you'",
    ]
    # the values first, then a second question without its own: the same values
    assert texts("how many words are in 'a b c' and how many characters") == [
        "how many words are in 'a b c'",
        "how many characters are in 'a b c'",
    ]
    assert texts("what's the mean of 2, 4, 9 and what's the median") == [
        "what's the mean of 2, 4, 9",
        "what's the median of 2, 4, 9",
    ]
    # operands of the first question's own operation are not what the next is of
    assert texts("what is 5 plus 3 and what is the square root") == [
        "what is 5 plus 3",
        "what is the square root",
    ]


def test_statements_are_the_context_of_the_question() -> None:
    request = "I spent 23.40 on groceries and 15.85 on gas. How much did I spend in total?"
    assert texts(request) == [request.rstrip("?")]
    assert texts("What is 2+2? And reverse it.") == ["What is 2+2", "reverse it"]


def test_a_participle_after_a_comma_continues_the_chain() -> None:
    assert texts("What is 17.5% of 230, rounded to the nearest dollar?") == [
        "What is 17.5% of 230",
        "rounded to the nearest dollar",
    ]
    # the request's last word, after a conversion or a value: a step on what came before
    assert texts("convert 72 F to C rounded") == ["convert 72 F to C", "rounded"]
    assert texts("what's 10 divided by 3 rounded") == ["what's 10 divided by 3", "rounded"]


def test_values_and_lists_are_never_split() -> None:
    assert texts("Make this uppercase: salt and pepper and more") == [
        "Make this uppercase: salt and pepper and more"
    ]
    assert texts('Count the words in "find and replace"') == [
        'Count the words in "find and replace"'
    ]
    assert texts("stock prices of Apple and Google") == ["stock prices of Apple and Google"]
    assert texts("days between March 1, 2024 and April 1, 2024") == [
        "days between March 1, 2024 and April 1, 2024"
    ]


def test_a_clause_set_off_by_commas_stays_in_its_question() -> None:
    request = "How many characters, not counting spaces, are in 'good morning sunshine'"
    assert len(texts(request)) == 1
    assert texts("Is 7 prime, and is 9 prime") == ["Is 7 prime", "is 9 prime"]
    # a participle saying how, with no value of its own, belongs to its question
    assert texts("how many characters is that, counting the space") == [
        "how many characters is that, counting the space"
    ]
    assert len(texts("what is 2/3, rounding the result to 2 places")) == 2


def test_only_the_first_word_of_a_tool_name_starts_a_step() -> None:
    assert tool_vocabulary(["get_stock_info", "convert_length"]) == {"get", "convert"}


def test_search_text_reads_symbols_as_words_and_leaves_values_out() -> None:
    assert search_text("What is 2+2") == "What is 2 plus 2"
    assert search_text('Can you uppercase "happy birthday"?') == "Can you uppercase ?"
    assert search_text("Make this uppercase: the rain in spain") == "Make this uppercase:"
    assert search_text('which gate? {"gate": "B42"}') == "which gate? json"


def test_a_number_written_with_commas_is_never_split() -> None:
    assert texts("What's 2 to the power of 10, and 1,000 divided by 8") == [
        "What's 2 to the power of 10",
        "1,000 divided by 8",
    ]


def test_the_rest_of_an_instruction_repeats_it_on_the_result() -> None:
    steps = plan("multiply 3.5 by 4 and then by 2", ["multiply"])
    assert [(s.text, s.uses_previous) for s in steps] == [
        ("multiply 3.5 by 4", False),
        ("multiply it by 2", True),
    ]
    assert texts("convert 5 km to miles, then to feet")[1] == "convert it to feet"
    assert texts("what is 3 times 4, then by 2")[1] == "by 2"  # a question is no verb


def test_a_label_before_a_colon_that_asks_for_nothing_is_punctuation() -> None:
    assert texts("For my finance homework: multiply 1.05 by 10") == ["multiply 1.05 by 10"]
    # an instruction before the colon keeps the text after it whole
    assert texts("Make this uppercase: add salt and pepper") == [
        "Make this uppercase: add salt and pepper"
    ]


@pytest.mark.parametrize(
    ("text", "earlier", "restated"),
    [
        ("the total of those numbers", {"numbers": [5.0, 19.0, 3.0]}, "the total of 5, 19, 3"),
        ("the median of all of these values", {"values": [1.5, 2]}, "the median of 1.5, 2"),
        ("the total of those numbers", {"number": 5.0}, None),  # no list: no guess
        ("the total of those numbers", {"a": [1, 2], "b": [3, 4]}, None),  # which one?
        ("the total of those numbers and 4", {"numbers": [1, 2]}, None),  # values of its own
        ("reverse the result", {"numbers": [1, 2]}, None),  # the output, not the inputs
        ("sort them", {"numbers": [1, 2]}, None),  # "them" could be the result: not guessed
    ],
)
def test_a_phrase_pointing_at_earlier_values_takes_them(
    text: str, earlier: dict[str, object], restated: str | None
) -> None:
    assert with_earlier_values(text, earlier) == restated  # type: ignore[arg-type]


def test_two_whole_calculations_are_two_steps() -> None:
    assert [s.text for s in plan("2 to the 10th power, and 1,000 divided by 8")] == [
        "2 to the 10th power",
        "1,000 divided by 8",
    ]
    assert [s.text for s in plan("3 plus 4 and 5 times 6")] == ["3 plus 4", "5 times 6"]
    # one value more is a list, not a calculation of its own
    assert [s.text for s in plan("sum of 3, 4 and 5")] == ["sum of 3, 4 and 5"]
    assert len(plan("what's 2 plus 3 and 4")) == 1


def test_an_exclamation_mark_after_a_colon_is_the_texts_own() -> None:
    tweet = "Count the characters in this tweet: Just finished my first 10k run!"
    assert plan(tweet)[0].text == tweet
    assert plan("What is 2 plus 2!")[0].text == "What is 2 plus 2"
    assert plan("Uppercase this: wow?")[0].text == "Uppercase this: wow"


def test_a_question_restated_with_words_left_out_takes_the_words_it_left_out() -> None:
    """ "... and how many in 'horse'?" asks how many *characters*, as the first question."""
    steps = plan("How many characters in 'cat' and how many in 'horse'?", ["count"])
    assert [s.text for s in steps] == [
        "How many characters in 'cat'",
        "How many characters in 'horse'",
    ]
    # another question that shares its first words is not a restatement
    other = plan("What is 9 times 9 and what is the square root of 81?", [])
    assert [s.text for s in other] == ["What is 9 times 9", "what is the square root of 81"]


def test_a_participle_after_a_conversion_is_a_step_of_its_own() -> None:
    """ "4 feet in meters *rounded* to two decimals": convert, then round what it gave."""
    steps = plan("what is 4 feet in meters rounded to two decimals", ["convert", "round"])
    assert [s.text for s in steps] == ["what is 4 feet in meters", "rounded to two decimals"]
    # a value rounded is still one step
    assert len(plan("what is 1/3 rounded to 2 decimal places", ["round"])) == 1


def test_a_part_with_its_own_instruction_is_not_given_the_one_before() -> None:
    """ "... and then from the result subtract 3": the part says what to do itself."""
    steps = plan("subtract 5 from 20 and then from the result subtract 3", ["subtract"])
    assert [s.text for s in steps] == ["subtract 5 from 20", "from the result subtract 3"]
    # a part that is only the rest of an instruction still repeats it
    assert plan("multiply 3.5 by 4, then by 2", ["multiply"])[1].text == "multiply it by 2"


def test_an_operation_after_a_comma_works_on_the_result_before_it() -> None:
    """ "3 plus 4, times 2" is 14: the comma closes the sum (not "3 times 2" again)."""
    assert texts("what's 3 plus 4, times 2") == ["what's 3 plus 4", "times 2"]
    assert texts("add 3 and 4, times 2") == ["add 3 and 4", "times 2"]
    assert texts("Convert 10 km to miles, 30 C to F") == [
        "Convert 10 km to miles",
        "Convert 30 C to F",
    ]


def test_a_part_that_points_at_the_answer_is_no_repeat_of_the_instruction() -> None:
    """ "round 3.14159 to 2 decimals and double it" was read as two roundings ("round
    3.14159 to double it"): "double" reads as a value, so the part had the shape of the
    instruction's end. "it" points at the answer."""
    steps = plan("round 3.14159 to 2 decimals and double it")
    assert [s.text for s in steps] == ["round 3.14159 to 2 decimals", "double it"]
    assert steps[1].uses_previous
    assert [s.text for s in plan("convert 10 km to miles and 30 C to F")] == [
        "convert 10 km to miles",
        "convert 30 C to F",
    ]
