"""The evidence that a tool answers a request: every part accounted for, or no answer."""

import pytest

from selfeng.core.arguments import extract
from selfeng.core.evidence import Assessment, assess
from selfeng.core.language import stem
from selfeng.core.policies import default_values, policy_float
from selfeng.core.scanning import scan
from selfeng.core.tooldef import parse_tool
from selfeng.core.wording import generic_stems, tool_wording
from selfeng.seed_tools import seed_sources

SPECS = {
    name: parse_tool(source, name).spec.model_dump(mode="json")
    for name, source in seed_sources().items()
}
WORDINGS = {name: tool_wording(name, spec) for name, spec in SPECS.items()}
GENERIC = generic_stems(WORDINGS.values())


def judge(tool: str, text: str) -> Assessment:
    read = scan(text)
    found = extract(read, SPECS[tool]["parameters"], WORDINGS[tool])
    return assess(read, found, WORDINGS[tool], generic=GENERIC)


def best(text: str) -> tuple[str, float]:
    scores = sorted(((judge(t, text).confidence, t) for t in SPECS), reverse=True)
    return scores[0][1], scores[0][0]


@pytest.mark.parametrize(
    ("text", "tool"),
    [
        ("Subtract 19 from 100", "subtract_numbers"),
        ("Make this uppercase: the quick brown fox", "to_uppercase"),
        ("What is 1/3 rounded to 2 decimal places?", "round_number"),
        ("Convert 100 F to Celsius", "convert_temperature"),
        ("How many ounces in 2 kg?", "convert_weight"),
        ("How many days from 2025-03-01 to 2025-12-25?", "days_between"),
        ("what's 15% of 80", "percent_of"),
        ("biggest of 3, 9, 2", "largest_number"),
        ("pls reverse banana", "reverse_string"),
        ("(5 + 3) / 2", "evaluate_expression"),
    ],
)
def test_a_request_the_tool_accounts_for_is_answered_with_confidence(text: str, tool: str) -> None:
    assessment = judge(tool, text)
    assert assessment.confidence == 1.0, assessment.reason
    assert assessment.intent


@pytest.mark.parametrize(
    "text",
    [
        "What is the capital of France?",
        "Translate hello into Spanish",
        "Who wrote Hamlet?",
        "What is the factorial of 5?",
        "What is the smallest of 4, 8, 2?",
        "convert 3 liters to gallons",
        "Convert 5 dollars to euros",
        "Is 17 a prime number?",
        "What day of the week is 2024-07-04?",
        "hi",
        "thanks!",
        "Sort these numbers: 5, 3, 9, 1",
    ],
)
def test_no_starter_tool_is_confident_about_what_none_of_them_does(text: str) -> None:
    tool, confidence = best(text)
    assert confidence < 0.75, (tool, judge(tool, text).reason)


def test_nothing_asking_for_the_tool_means_no_answer() -> None:
    assessment = judge("to_uppercase", "What is the capital of France?")
    assert assessment.confidence == 0.0
    assert not assessment.intent
    assert "nothing in the request asks for what to_uppercase does" in assessment.reason


def test_a_value_the_tool_does_not_use_means_no_answer() -> None:
    assessment = judge("percent_of", "What is 20% of 50 plus 10?")
    assert assessment.confidence == 0.0
    assert assessment.unused == ("plus", "10")  # an operation it does not do, and its value
    assert "does not take" in assessment.reason


def test_unexplained_words_lower_the_confidence() -> None:
    assessment = judge("mean", "average of 3, 4 and 8 for the homework")
    assert assessment.unexplained == ("homework",)
    assert 0.0 < assessment.confidence < 1.0


def test_the_askers_own_things_say_what_the_data_is() -> None:
    assert judge("mean", "average of 3, 4 and 8 for my homework").confidence == 1.0
    assert judge("median", "the median of my test scores 32, 28, 45").confidence == 1.0
    assert (
        judge("count_words", "Count the words in my essay opening: It was cold.").confidence == 1.0
    )
    # a word narrowing what is asked is never the asker's thing
    assert judge("largest_number", "my lowest score among 3, 5, 1").confidence == 0.0
    # and the asker's thing is no text given
    for tool, text in [
        ("reverse_string", "Reverse my name"),
        ("count_characters", "Count the characters in my password"),
    ]:
        assessment = judge(tool, text)
        assert assessment.confidence == 0.0
        assert "no value" in assessment.reason


def test_the_askers_thing_ends_with_its_sentence() -> None:
    """In "Where is my analysis? *Locate* ...", the next sentence's verb is not part of the
    asker's thing, so it must be accounted for."""
    text = "Where is my analysis? Locate any text with analysis in it."
    assessment = judge("reverse_string", text)
    assert "Locate" in assessment.unexplained
    assert assessment.confidence < 0.75
    assert "Reverse" not in judge("reverse_string", "Where is my name? Reverse it.").unexplained


def test_a_noun_pointing_at_a_value_does_not_ask_for_a_tool() -> None:
    assert judge("count_words", "What's another word for happy?").confidence == 0.0
    assert judge("count_words", "How many words are in 'to be or not'?").confidence == 1.0


def test_a_decimal_asked_as_the_answers_form_is_what_a_number_is() -> None:
    text = "what is 7 divided by 8 as a decimal"
    read = scan(text)
    spec = SPECS["divide_numbers"]
    found = extract(read, spec["parameters"], WORDINGS["divide_numbers"])
    assessment = assess(read, found, WORDINGS["divide_numbers"], returns=spec["returns"])
    assert assessment.confidence == 1.0, assessment.reason
    # a tool that gives text does not give a decimal
    spec = SPECS["reverse_string"]
    found = extract(read, spec["parameters"], WORDINGS["reverse_string"])
    assert assess(read, found, WORDINGS["reverse_string"], returns=spec["returns"]).confidence == 0


def test_words_of_a_parameter_left_to_its_default_are_not_accounted_for() -> None:
    # round_number keeps 0 decimal places by default: "as a decimal" asks for more
    assert judge("round_number", "What is 3/8 as a decimal?").confidence < 0.75
    assert judge("round_number", "Round 3.14159 to 2 decimal places").confidence == 1.0
    # the tool's own name is its own, not its parameter's
    assert judge("count_characters", "how many characters in 'hello world'").confidence == 1.0


def test_words_that_say_what_the_values_are_of_are_accounted_for() -> None:
    assert judge("mean", "average rainfall of 3, 4 and 8").confidence == 1.0
    assert judge("largest_number", "Highest score among 88, 92, 79 and 95").confidence == 1.0
    assert judge("multiply_numbers", "6 boxes times 7").confidence == 1.0
    # but never a word that asks for something else, nor one that is counted
    assert judge("largest_number", "What is the smallest of 4, 8, 2?").confidence == 0.0
    assert judge("count_words", "count the sentences in 'Hi. Bye.'").confidence < 0.75


@pytest.mark.parametrize(
    ("tool", "text"),
    [
        ("count_words", "Count the vowels in banana"),
        ("count_words", "count the vowels in hello world"),
        ("count_characters", "Count the syllables in elephant"),
    ],
)
def test_the_thing_counted_is_never_part_of_the_text_it_is_counted_in(tool: str, text: str) -> None:
    counted = text.split()[2]
    assessment = judge(tool, text)
    assert assessment.confidence < 0.75  # below any threshold a policy may set
    assert counted in assessment.unexplained
    assert "does not count" in assessment.reason


def test_a_counted_noun_the_tool_names_leaves_the_text_after_it() -> None:
    assert judge("count_words", "Count the words in the quick brown fox").confidence == 1.0
    found = extract(
        scan("Count the words in the quick brown fox"),
        SPECS["count_words"]["parameters"],
        WORDINGS["count_words"],
    )
    assert found.arguments == {"text": "the quick brown fox"}


def test_a_missing_or_unclear_value_means_no_answer() -> None:
    assert judge("divide_numbers", "divide 50").reason == "no value for b"
    unclear = judge("days_between", "days from 03/04/2024 to 2024-05-01")
    assert unclear.confidence == 0.0
    assert unclear.unclear


def test_words_every_tool_uses_do_not_show_which_is_wanted() -> None:
    assert "convert" in GENERIC
    assert judge("convert_length", "Convert 50 dollars to euros").confidence == 0.0


@pytest.mark.parametrize(
    ("tool", "text"),
    [
        ("to_uppercase", "Capitalize the first letter of each word: the lord of the rings"),
        ("count_words", "What is the longest word in 'a bb ccc'?"),
        ("count_words", "count the unique words in 'a a b'"),
        ("largest_number", "the second largest of 3, 9, 2"),
        # what to do it to one by one: the tool does it once, to the whole
        ("reverse_string", 'Reverse each word in "hello world"'),
        ("count_words", "count the words in each sentence: a b. c d."),
    ],
)
def test_a_word_narrowing_what_is_asked_must_be_accounted_for(tool: str, text: str) -> None:
    assert judge(tool, text).confidence == 0.0


def test_a_number_saying_how_many_values_there_are_is_no_value() -> None:
    for tool in ("add_numbers", "sum_numbers"):
        assert judge(tool, "add two numbers").confidence == 0.0
    assessment = judge("mean", "What is the mean of 3 values: 4, 5, 6")
    assert assessment.confidence == 1.0
    found = extract(scan("the mean of 3 values: 4, 5, 6"), SPECS["mean"]["parameters"])
    assert found.arguments == {"numbers": [4.0, 5.0, 6.0]}
    assert judge("multiply_numbers", "multiply two by three").confidence == 1.0
    # "the average of one number 5" gave 3, the mean of 1 and 5: one before the values'
    # noun counts them too, while "add 1 number to 5" adds the 1
    found = extract(scan("the average of one number 5"), SPECS["mean"]["parameters"])
    assert found.arguments.get("numbers") != [1.0, 5.0]
    assert judge("add_numbers", "add 1 number to 5").confidence == 1.0


def test_a_possessed_thing_before_an_instruction_word_is_no_text() -> None:
    assert judge("to_uppercase", "Turn my grocery list into uppercase").confidence == 0.0
    assert judge("to_uppercase", "Turn 'grocery list' into uppercase").confidence == 1.0


def test_a_negated_word_does_not_ask_for_its_tool() -> None:
    assert judge("to_uppercase", "turn off the caps on this: I AM SO LOUD").confidence == 0.0
    assert judge("to_uppercase", "put this in caps: i am so loud").confidence == 1.0


@pytest.mark.parametrize("text", ["round 3.7 down", "round 3.2 up"])
def test_a_direction_after_a_number_is_an_operation_the_tool_must_say_it_does(text: str) -> None:
    """ "round 3.7 down" is 3, not the nearest whole number 4."""
    assessment = judge("round_number", text)
    assert assessment.confidence < policy_float(default_values(), "answer.min_confidence")
    assert judge("round_number", "round 3.7").confidence == 1.0
    assert judge("sum_numbers", "add up 5, 10, 15, 20").confidence == 1.0


def test_off_after_a_number_is_a_discount_the_tool_must_say_it_does() -> None:
    """ "15% off of 200" is 170: a tool for "15% of 200" does not answer it ("off" stems to
    "of"), the expression tool, whose description says "off", does."""
    off = judge("percent_of", "whats 15% off of 200")
    assert off.confidence < policy_float(default_values(), "answer.min_confidence")
    assert "off" in off.unexplained
    assert judge("evaluate_expression", "whats 15% off of 200").confidence == 1.0
    assert judge("percent_of", "whats 15% of 200").confidence == 1.0


@pytest.mark.parametrize(
    ("tool", "text"),
    [
        ("standard_deviation", "weighted standard deviation of 2, 4, 4, 4, 5, 5, 7, 9"),
        ("mean", "geometric mean of 2 and 8"),
        ("count_letters", "how many capital letters are in 'Hello World'"),
    ],
)
def test_a_word_naming_a_kind_of_what_the_tool_does_means_no_answer(tool: str, text: str) -> None:
    """ "*weighted* standard deviation" is another computation than the tool's: it must not
    answer with its own (a sample's, which the tool names as a kind it computes, once gave
    the population's 2.0 for 2.138)."""
    assessment = judge(tool, text)
    assert assessment.confidence == 0.0
    assert "a kind of it" in assessment.reason
    plain = text.replace("weighted ", "").replace("geometric ", "").replace("capital ", "")
    assert judge(tool, plain).confidence == 1.0
    assert judge("reverse_string", "quickly reverse 'abc'").confidence == 1.0


@pytest.mark.parametrize(
    ("tool", "text", "word"),
    [
        ("standard_deviation", "standard error of 1, 2, 3", "error"),
        ("standard_deviation", "what is the standard score of 5 in 1, 2, 3", "score"),
        ("square_root", "the square footage of 12", "footage"),
    ],
)
def test_a_word_the_tool_only_writes_before_another_goes_on_to_another_thing(
    tool: str, text: str, word: str
) -> None:
    """ "standard *error* of 1, 2, 3" is not the standard deviation: "error" read as the
    values' label was accounted for, and the spread was given. It is a word not accounted
    for now, not a gate: "percentage *growth*" and "percentage *raise*" still go to
    percentage_change when the rest of the request is its (and so, for now, does "percentage
    *points* from 40 to 45")."""
    assessment = judge(tool, text)
    assert assessment.confidence < policy_float(default_values(), "answer.min_confidence")
    assert word in assessment.unexplained


@pytest.mark.parametrize(
    ("tool", "text"),
    [
        ("standard_deviation", "standard deviation of 1, 2, 3"),
        ("standard_deviation", "std dev of 1, 2, 3"),  # short forms of the name's words
        ("percentage_change", "percentage increase from 50 to 75"),  # its description's
        ("largest_number", "the largest score among 88, 92"),  # "number" binds nothing
        ("count_words", "count the words in 'a b c'"),
    ],
)
def test_the_name_as_written_or_with_its_own_words_still_answers(tool: str, text: str) -> None:
    assert judge(tool, text).confidence == 1.0


def test_the_options_a_parameter_chooses_from_are_not_what_the_tool_does() -> None:
    spec = {
        "description": "The spread of numbers, as a whole population or as a sample.",
        "parameters": {
            "type": "object",
            "properties": {
                "numbers": {"type": "array"},
                "kind": {"enum": ["population", "sample"]},
            },
        },
    }
    wording = tool_wording("spread", spec)
    assert stem("sample") not in wording.does
    assert stem("sample") in wording.takes  # it accounts for the word, as a value
    assert stem("spread") in wording.does


@pytest.mark.parametrize(
    ("name", "description", "bound"),
    [
        ("standard_deviation", "The standard deviation of numbers.", {"standard": "deviation"}),
        ("standard_deviation", "The standard deviation, a standard measure.", {}),  # alone
        ("largest_number", "The largest number of a list.", {}),  # "number" is neutral
        ("count_words", "Count the words in a text.", {}),
        ("square_root", "The square root of x (its root).", {"square": "root"}),
        ("square_root", "The square root of x (the side of a square).", {}),
    ],
)
def test_a_name_word_is_bound_when_never_written_alone(
    name: str, description: str, bound: dict[str, str]
) -> None:
    wording = tool_wording(name, {"description": description})
    assert dict(wording.bound) == {stem(k): stem(v) for k, v in bound.items()}


def test_letters_are_counted_by_the_letter_counter_and_characters_by_the_other() -> None:
    letters, characters = "how many letters are in 'hello world'", "how many characters in 'ab'"
    assert judge("count_letters", letters).confidence == 1.0
    assert judge("count_characters", letters).confidence == 0.0
    assert judge("count_characters", characters).confidence == 1.0
    assert judge("count_letters", characters).confidence == 0.0
    # neither counts spaces ("a b c" has 2): the letter counter's own words must not say so
    for tool in ("count_letters", "count_characters", "count_words"):
        assert judge(tool, "how many spaces are in 'a b c'").confidence == 0.0, tool


def test_a_title_is_no_text_given() -> None:
    assessment = judge("count_words", "How many words are in the Gettysburg Address?")
    assert assessment.confidence == 0.0
    assert judge("count_words", "Count the words in War and Peace").confidence == 0.0
    assert judge("count_words", "Count the words in 'War and Peace'").confidence == 1.0
    assert judge("reverse_string", "REVERSE HELLO WORLD").confidence == 1.0
    assert judge("count_words", "How many words are in 'the Gettysburg Address'?").confidence == 1.0
    # a text written all in capitals is a text, not a name ("the" is capitalised with it)
    assert judge("to_lowercase", "lowercase THE QUICK BROWN FOX").confidence == 1.0
    assert judge("count_words", "how many words in THE QUICK BROWN FOX").confidence == 1.0
    assert judge("count_words", "how many words in the NASA charter").confidence == 0.0


def test_naming_a_field_of_the_document_given_asks_for_it() -> None:
    gate = judge("json_field", 'which gate? {"flight": {"number": "BA117", "gate": "B42"}}')
    assert gate.confidence == 1.0
    found = extract(
        scan('which gate? {"flight": {"gate": "B42"}}'), SPECS["json_field"]["parameters"]
    )
    assert found.arguments["path"] == "flight.gate"
    assert judge("json_field", 'In {"w": {"temp": 21.5}}, what is w.temp?').confidence == 1.0
    # a name of several fields is no path, fields of objects in lists included ("get id
    # from" this gave 1, the only id it saw)
    assert judge("json_field", 'the name? {"a": {"name": 1}, "b": {"name": 2}}').confidence == 0.0
    assert judge("json_field", 'get id from {"a": {"id": 1}, "b": [{"id": 2}]}').confidence == 0.0
    found = extract(
        scan('get name from {"users": [{"name": "A"}]}'), SPECS["json_field"]["parameters"]
    )
    assert found.arguments["path"] == "users.0.name"
    # past ten thousand named fields no name is searched for (a dotted path still resolves)
    big = '{"name": "A", "rows": [' + ", ".join(['{"x": 1}'] * 12_000) + "]}"
    assert judge("json_field", f"get name from {big}").confidence == 0.0
    assert judge("json_field", f"get rows.0.x from {big}").confidence == 1.0
    # an ordinal picks an item of a list; one past its end picks nothing
    for text, path in [
        ('the second tag in {"tags": ["a", "b"]}', "tags.1"),
        ('the last tag of {"tags": ["a", "b", "c"]}', "tags.-1"),
        ('the 1st ingredient in {"r": {"ingredients": ["flour"]}}', "r.ingredients.0"),
    ]:
        assert judge("json_field", text).confidence == 1.0, text
        found = extract(scan(text), SPECS["json_field"]["parameters"])
        assert found.arguments["path"] == path
    assert judge("json_field", 'the 5th tag of {"tags": ["a", "b"]}').confidence == 0.0


def test_an_operator_in_an_expression_asks_for_the_evaluator() -> None:
    assert judge("evaluate_expression", "calculate 17 mod 5").confidence == 1.0


@pytest.mark.parametrize(
    ("text", "expression"),
    [
        ("increase 200 by 15%", "increase 200 by 15%"),
        ("reduce 80 by 25 percent", "reduce 80 by 25 percent"),
        ("what's 7 percent more than 200?", "7 percent more than 200"),
        ("what is the remainder of 17 divided by 5", "remainder of 17 divided by 5"),
    ],
)
def test_a_change_by_a_percentage_is_an_expression(text: str, expression: str) -> None:
    found = extract(
        scan(text), SPECS["evaluate_expression"]["parameters"], WORDINGS["evaluate_expression"]
    )
    assert found.arguments == {"expression": expression}
    assert judge("evaluate_expression", text).confidence == 1.0


def test_the_remainder_of_a_division_is_not_the_division() -> None:
    assert judge("divide_numbers", "what is the remainder of 17 divided by 5").confidence == 0.0


@pytest.mark.parametrize(
    "text",
    [
        "What's 1/4 as a percentage?",
        "what is 3 divided by 4, written as a percentage",
        "12 divided by 5 as a fraction",
        # a numeral system: "2 plus 2 in binary" was 4 (100)
        "what's 12 divided by 3 in binary",
        "12 divided by 4 in hex please",
        "what's 12 divided by 2 in roman numerals",
    ],
)
def test_a_percentage_asked_as_the_answers_form_is_given_only_by_a_percentage_tool(
    text: str,
) -> None:
    """ "1/4 as a percentage" is 25, not the 0.25 an expression or a division gives."""
    for tool in ("evaluate_expression", "divide_numbers"):
        assert judge(tool, text).confidence == 0.0, tool
    assert (
        judge("percentage_change", "what is the change in percent from 40 to 50").confidence == 1.0
    )
    assert judge("percent_of", "What's 15 percent of 80?").confidence == 1.0


def test_the_words_naming_the_text_after_a_colon_say_what_it_is() -> None:
    text = "How many words does this recipe step have: Preheat the oven and grease the pan."
    assert judge("count_words", text).confidence == 1.0
    # never a word that narrows what is asked, nor one outside a phrase a pointer opens
    assert judge("count_words", "Count the words in this longest line: a b c").confidence == 0.0
    assert judge("to_uppercase", "What is the capital of this: France").confidence == 0.0


def test_words_that_only_say_when_are_context() -> None:
    assert (
        judge("mean", "My runs this week were 5, 3 and 4 km. What's my average?").confidence == 1.0
    )
    assert judge("add_numbers", "what is 5 + 3 today").confidence == 1.0
    # a period that is counted is what is asked
    assert judge("days_between", "How many weeks from 2024-01-01 to 2024-03-04?").confidence < 0.75
    assert (
        judge("days_between", "How many years between 2000-01-01 and 2024-01-01").confidence < 0.75
    )


def test_the_first_word_before_a_value_is_the_instruction_not_its_label() -> None:
    increase = judge("percent_of", "Increase 80 by 25%")
    assert increase.confidence < 0.75
    assert "Increase" in increase.unexplained
    # a label linked by a colon still only says what the values are of
    assert judge("mean", "Sales: 120, 135, 150. What is the average?").confidence == 1.0


def test_a_preposition_tying_a_number_to_the_tool_by_another_relation_is_no_role() -> None:
    # "of 80" is not the change *from* an old value, and "off" is not "of" (one stem)
    assert judge("percent_of", "What is 30% off 200?").confidence == 0.0
    assert judge("percentage_change", "What percentage of 80 is 20?").confidence == 0.0
    assert judge("percentage_change", "percentage change from 50 to 75").confidence == 1.0
    # a preposition tying the number to something else leaves it to its order
    assert (
        judge("percent_of", "My bill came to $64.50. How much is a 20 percent tip?").confidence
        == 1.0
    )


def test_a_participle_after_a_value_says_what_is_done_to_it() -> None:
    increased = judge("percent_of", "What is 50 increased by 10%?")
    assert increased.confidence < 0.75
    assert "increased" in increased.unexplained


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("How many days until 2026-12-25 from 2026-12-06?", "2026-12-06", "2026-12-25"),
        ("How many days to 2024-03-01 from 2024-01-01?", "2024-01-01", "2024-03-01"),
        ("days between 2024-01-01 and 2024-03-01", "2024-01-01", "2024-03-01"),
    ],
)
def test_dates_go_by_the_prepositions_the_tool_puts_before_them(
    text: str, start: str, end: str
) -> None:
    found = extract(scan(text), SPECS["days_between"]["parameters"], WORDINGS["days_between"])
    assert found.arguments == {"start": start, "end": end}


@pytest.mark.parametrize(
    ("text", "arguments"),
    [
        ("How many grams in a pound?", {"value": 1.0, "from_unit": "pound", "to_unit": "grams"}),
        ("how many ounces are there in a kilogram", None),
    ],
)
def test_a_unit_asked_about_with_an_article_is_one_of_it(
    text: str, arguments: dict[str, object] | None
) -> None:
    found = extract(scan(text), SPECS["convert_weight"]["parameters"], WORDINGS["convert_weight"])
    assert found.arguments["value"] == 1.0
    if arguments is not None:
        assert found.arguments == arguments
    assert judge("convert_weight", text).confidence == 1.0


def test_an_article_counts_nothing_outside_such_a_question() -> None:
    # a description of a text ("a sentence") is no text, and "a" is no amount here
    assert judge("count_words", "How many words in a sentence?").confidence == 0.0
    assert not any(t.kind == "number" for t in scan("how many words in a sentence: hi").tokens)
    assert not any(t.kind == "number" for t in scan("reverse a word").tokens)


def test_a_list_of_numbers_is_no_text() -> None:
    for text in ["Reverse the list 10, 20, 30", "reverse: 10, 20, 30"]:
        assert judge("reverse_string", text).confidence < 0.75
        assert best(text)[1] < 0.75
    assert judge("count_characters", "count the characters in 1 2 3").confidence < 0.75
    # a text of digits is one number, or quoted
    assert judge("reverse_string", "reverse 12345").confidence == 1.0
    assert judge("reverse_string", "reverse '10, 20'").confidence == 1.0


@pytest.mark.parametrize(
    ("text", "tool"),
    [
        ("avg of 1, 2, 3", "mean"),
        ("std dev of 2, 4, 4, 4, 5, 5, 7, 9", "standard_deviation"),
        ("count chars in hello", "count_characters"),
        ("med of 1, 5, 9", "median"),
        ("pct change from 10 to 15", "percentage_change"),
    ],
)
def test_short_words_read_as_the_tools_own(text: str, tool: str) -> None:
    assert best(text) == (tool, 1.0)


def test_numbers_written_with_scale_words_and_ordinal_exponents() -> None:
    values = [
        t.value for t in scan("1 million divided by 2.5 thousand").tokens if t.kind == "number"
    ]
    assert values == [1_000_000.0, 2_500.0]
    assert [t.value for t in scan("5 to the third power").tokens if t.kind == "number"] == [
        5.0,
        3.0,
    ]
    assert not any(t.kind == "number" for t in scan("the third word").tokens)
    found = extract(
        scan("what is twenty plus 1 million"),
        SPECS["evaluate_expression"]["parameters"],
        WORDINGS["evaluate_expression"],
    )
    assert found.arguments == {"expression": "20 plus 1000000"}


def test_a_comparison_or_a_question_for_an_operand_is_not_the_tools_answer() -> None:
    more = judge("percent_of", "What is 10 percent more than 50?")
    assert more.confidence < 0.75
    assert "more" in more.unexplained
    asked = judge("percent_of", "10 percent of what is 5?")
    assert asked.confidence < 0.75
    assert "what" in asked.unexplained
    # an operator word is the tool's own, and a question word before the values asks for it
    assert judge("subtract_numbers", "How much is 63 less than 100?").confidence == 1.0
    assert (
        judge("percentage_change", "By what percent did it drop from 500 to 400?").confidence == 1.0
    )


def test_counting_up_to_a_number_counts_nothing_in_it() -> None:
    assert best("Count to 10")[1] < 0.75
    assert judge("count_words", "count the words in hello world").confidence == 1.0


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [("Convert 20C to F", 20.0, "C"), ("100km in miles", 100.0, "km"), ("5kg to lb", 5.0, "kg")],
)
def test_a_unit_glued_to_its_number(text: str, value: float, unit: str) -> None:
    tokens = scan(text).tokens
    number = next(t for t in tokens if t.kind == "number")
    assert number.value == value
    assert tokens[number.index + 1].text == unit
    # an identifier stays one: letters before, or more than a unit's letters after
    assert not any(t.kind == "number" for t in scan("abc123 and v2beta").tokens)


def judge_returning(tool: str, text: str) -> Assessment:
    """``judge``, with what the tool says it returns (a number, a text)."""
    read = scan(text)
    found = extract(read, SPECS[tool]["parameters"], WORDINGS[tool])
    return assess(read, found, WORDINGS[tool], generic=GENERIC, returns=SPECS[tool]["returns"])


def test_the_subject_of_a_sentence_giving_one_value_names_it() -> None:
    """ "*A marathon* is 26.2 miles" says what the value is of, as "12 *eggs*" does."""
    assessment = judge_returning(
        "convert_length", "A marathon is 26.2 miles. Convert it to kilometers"
    )
    assert assessment.confidence == 1.0, assessment.reason
    assert (
        judge_returning(
            "convert_length", "The room is 12 feet wide. How wide is it in meters?"
        ).unexplained
        == ()
    )
    # a comparison says more than what one value is: its subject must be accounted for
    compared = judge_returning(
        "percentage_change",
        "Sales are 1,150 units this year versus 920 last year. What's the percent change?",
    )
    assert "Sales" in compared.unexplained
    # a question has no subject naming a value
    assert "long" not in judge("convert_length", "How long is 5 km in miles?").intent


def test_an_adjective_of_measure_asks_for_a_number() -> None:
    """ "How *long* is 5 km in miles": the quantity asked for, which a tool giving a number
    accounts for; a tool giving text does not."""
    assert judge_returning("convert_length", "How long is 5 km in miles?").confidence == 1.0
    assert "long" in judge("convert_length", "How long is 5 km in miles?").unexplained
    assert "long" in judge_returning("to_uppercase", "how long is 'abc' in upper case").unexplained


def test_a_verb_giving_the_answer_a_form_needs_no_tool() -> None:
    """ "*Write* 'racecar level' backwards": how to give the answer, unless the tool's own
    wording says the verb (a tool that writes files)."""
    assert judge("reverse_string", "Write 'racecar level' backwards").confidence == 1.0
    assert judge("reverse_string", "spell banana backwards").confidence == 1.0
    assert judge("reverse_string", "what's 'stressed' spelled backwards").confidence == 1.0
    source = '''
def write_file(path: str, content: str) -> str:
    """Write content to a file.

    Args:
        path: the file to write.
        content: the text to write.
    """
    return path


def test_writes() -> None:
    assert write_file("a.txt", "hi") == "a.txt"
'''
    spec = parse_tool(source, "write_file").spec.model_dump(mode="json")
    wording = tool_wording("write_file", spec)
    read = scan("write 'hi' to notes.txt")
    found = extract(read, spec["parameters"], wording)
    assert "write" in assess(read, found, wording).intent


def test_the_parts_of_a_text_must_be_what_the_tool_acts_on() -> None:
    """ "Reverse the order of the *words* in 'one two three'" asks for the words reversed;
    reverse_string reverses characters, so it does not fit. A tool that says the part does."""
    assessment = judge("reverse_string", "Reverse the order of the words in 'one two three'")
    assert assessment.confidence == 0.0
    assert "words" in assessment.unused
    assert judge("count_words", "How many words are in 'to be or not'").confidence == 1.0
    # the word that points at one value is no part of it
    assert judge("reverse_string", "reverse the word 'banana'").confidence == 1.0
    # unquoted, and "word order": "reverse the order of words in hello world" was "dlrow olleh"
    for text in (
        "reverse the order of words in hello world",
        "reverse the words in hello world",
        "reverse the word order of hello world",
        "reverse the words hello world",  # a plural right before the text: its words
        "reverse the words 'one two three'",
    ):
        assert judge("reverse_string", text).confidence == 0.0, text
    assert judge("count_words", "count the words in hello world").confidence == 1.0
    assert judge("count_words", "count the words hello world").confidence == 1.0
    assert judge("reverse_string", "reverse the word banana").confidence == 1.0
    assert judge("reverse_string", "reverse the sentence 'I am here'").confidence == 1.0
    assert judge("reverse_string", "reverse the characters in hello").confidence == 1.0
    # a plural whose stem is not the word itself: "sentences", "lines"
    for text in ('Reverse the order of the sentences in "a b. c d."', 'reverse the lines in "a b"'):
        assert judge("reverse_string", text).confidence == 0.0, text


def test_a_number_outside_the_list_given_is_left_over() -> None:
    assessment = judge("sum_numbers", "Add 5 to the list 1, 2, 3")
    assert assessment.confidence == 0.0
    assert assessment.unused == ("5",)


def test_brackets_around_a_value_are_how_a_call_is_written() -> None:
    assert judge("square_root", "sqrt(81)").confidence == 1.0
    assert judge("reverse_string", "reverse(hello)").confidence == 1.0


def test_a_second_value_for_a_parameter_that_took_one_is_left_over() -> None:
    """ "6 feet in meters *and inches*" asks for two conversions; convert_length gives one."""
    assessment = judge("convert_length", "What is 6 feet in meters and inches?")
    assert assessment.confidence == 0.0
    assert assessment.unused == ("inches",)
    assert judge("convert_length", "What is 6 feet in meters?").confidence == 1.0
    # the link said again, the value before the one taken, a short form the parameters list:
    # "convert 5 km to miles and to feet" gave the feet alone
    for tool, text in (
        ("convert_length", "convert 5 km to miles and to feet"),
        ("convert_length", "5 km in miles and in feet"),
        ("convert_temperature", "convert 100 f to c or k"),
        ("convert_temperature", "convert 100 f to c and to k"),
        # a preposition that ends the request governs nothing: "in" is inches ("convert 5 m
        # to ft and in" gave the feet alone)
        ("convert_length", "convert 5 m to ft and in"),
        ("convert_length", "convert 2 m to ft or in"),
    ):
        assert judge(tool, text).confidence == 0.0, text
    assert judge("convert_temperature", "convert 100 f to c").confidence == 1.0


def test_values_in_different_units_are_not_added() -> None:
    """ "3 kg plus 500 g" is no sum of 3 and 500; multiplying or dividing unlike quantities
    is (a speed, a price)."""
    assessment = judge("add_numbers", "what is 3 kg plus 500 g")
    assert assessment.confidence == 0.0
    assert "different units" in assessment.reason
    assert judge("add_numbers", "what is 3 kg plus 5 kg").confidence == 1.0


def test_an_answer_asked_in_another_unit_is_not_given() -> None:
    """ "3 feet plus 2 feet in inches" gave 5: the answer is asked in a unit the values are
    not in. In their own unit, in total, or a quantity named ("in weight") it is given."""
    for tool, text in (
        ("add_numbers", "what's 3 feet plus 2 feet in inches"),
        ("add_numbers", "how much is 2 lbs plus 3 lbs in ounces"),
        ("multiply_numbers", "what is 5 meters times 2 in cm"),
        ("add_numbers", "what is 20 dollars plus 5 dollars in euros"),
    ):
        assessment = judge(tool, text)
        assert assessment.confidence == 0.0, text
        assert "asks for the answer in" in assessment.reason, text
    for tool, text in (
        ("add_numbers", "what's 3 feet plus 2 feet in feet"),
        ("add_numbers", "what's 5 apples plus 3 apples in total"),
        ("add_numbers", "3 eggs plus 4 eggs in all"),
        ("percentage_change", "I went from 90 kg to 81 kg, what's my percentage change in weight?"),
    ):
        assert judge(tool, text).confidence > 0.0, text
    # what a request counts is the unit of its answer too: "how many days ... in weeks" gave 21
    weeks = judge("days_between", "how many days between 2024-03-10 and 2024-03-31 in weeks")
    assert weeks.confidence == 0.0
    assert "asks for the answer in" in weeks.reason
    days = judge("days_between", "how many days between 2024-03-10 and 2024-03-31 in days")
    assert days.confidence > 0.0
    assert judge("add_numbers", "what is 3 kg + 500 g").confidence == 0.0  # "+" adds too
    assert judge("divide_numbers", "divide 100 km by 2 hours").confidence > 0.0


def test_squared_asks_for_a_power_not_a_root() -> None:
    squared = judge("square_root", "What is 12 inches squared in square centimeters?")
    assert "squared" not in squared.intent
    assert squared.confidence < 0.75
    assert "squared" in judge("square_root", "what is 7 squared").unexplained
    assert judge("power", "what is 7 squared").confidence == 1.0


def test_a_yes_or_no_question_is_not_answered_by_a_tool_giving_a_value() -> None:
    assessment = judge_returning("to_uppercase", "Is 'Hello' in uppercase?")
    assert assessment.confidence == 0.0
    assert "yes-or-no" in assessment.reason
    assert judge_returning("sum_numbers", "Is the sum of 2 and 3 equal to 5?").confidence == 0.0
    # a polite request is no such question
    assert judge_returning("reverse_string", "Is it possible to reverse hello?").confidence == 1.0


def test_how_many_of_a_unit_long_counts_the_text_after_it() -> None:
    assert (
        judge_returning("count_characters", "how many characters long is 'abc123!'").confidence
        == 1.0
    )
    # the asker's own thing is still no text given
    assert (
        judge_returning(
            "count_characters", "how many characters long is my password abc123!?"
        ).confidence
        == 0.0
    )


def test_a_statement_giving_the_value_a_question_points_back_at_sets_the_scene() -> None:
    """ "*Water freezes at* 32 F. What is that in C?": the statement's words say what the
    value is, as a label does; an instruction or a question is no such statement."""
    scene = judge_returning("convert_temperature", "Water freezes at 32 F. What is that in C?")
    assert scene.confidence == 1.0, scene.reason
    # without a question pointing back, the words must be accounted for
    assert judge_returning("convert_temperature", "Water freezes at 32 F in C").confidence < 1.0
    # a long statement says more than what one measurement is
    long = (
        "As part of my latest photography project, I need to gather the files I made in 2024."
        " Could you reverse those?"
    )
    assert judge_returning("reverse_string", long).confidence < 0.75


def test_a_fraction_to_work_out_asks_for_the_evaluator() -> None:
    """ "What is 7/2?": a fraction written with a slash is a division of its own."""
    assert judge("evaluate_expression", "What is 7/2?").confidence == 1.0
    # one value is still no calculation for a tool that takes two
    assert judge("divide_numbers", "What is 7/2?").confidence == 0.0


def test_an_operation_left_over_means_no_answer() -> None:
    """ "... and I want it *doubled*": add_numbers adds, and does not double."""
    assessment = judge("add_numbers", "what is 5 plus 3 and I want it doubled")
    assert assessment.confidence == 0.0
    assert "doubled" in assessment.unused


def test_a_confirmed_phrasing_does_not_teach_what_its_values_were() -> None:
    """Confirming "My test scores were 88, 92 and 79. What's my average?" teaches mean its
    phrasing, not that "test" or "score" ask for it: "I scored 45 out of 60 on a test. What
    percentage is that?" must not be averaged."""
    learnt = tool_wording(
        "mean", SPECS["mean"], ["my test scores were {numbers}. what's my average"]
    )
    assert "test" not in learnt.does
    read = scan("I scored 45 out of 60 on a test. What percentage is that?")
    found = extract(read, SPECS["mean"]["parameters"], learnt)
    assert assess(read, found, learnt, generic=GENERIC).confidence < 0.75


def test_a_confirmed_phrasing_does_not_teach_the_things_its_numbers_count() -> None:
    """Confirming "add 10 to my 2 apples" taught add_numbers "apples": in the second pass
    "I bought 3 apples at $2 each, how much" was answered 5 (3 + 2)."""
    learnt = tool_wording("add_numbers", SPECS["add_numbers"], ["add {a} to my {b} apples"])
    assert stem("apples") not in learnt.does
    assert stem("add") in learnt.does
    read = scan("I bought 3 apples at $2 each, how much")
    found = extract(read, SPECS["add_numbers"]["parameters"], learnt)
    assert assess(read, found, learnt, generic=GENERIC).confidence < 0.75


def test_each_thing_a_request_counts_must_be_what_the_tool_counts() -> None:
    """ "how many characters *and words*": count_characters counts the one, not the other."""
    assessment = judge("count_characters", "how many characters and words are in 'hello big world'")
    assert assessment.confidence == 0.0
    assert "does not count" in assessment.reason


def test_an_amount_with_a_percentage_applied_is_no_share_of_it() -> None:
    """ "80 after a 30% discount" is the price left (56), not the discount (24)."""
    for text in (
        "what's 80 after a 30% discount",
        "what's 200 with a 15% tip",
        "what's 50 including 8% tax",
    ):
        assert judge("percent_of", text).confidence == 0.0, text
    assert judge("percent_of", "what's a 30% discount on 80").confidence == 1.0
    assert judge("round_number", "round 3.14159 with 2 decimals").confidence > 0.0


def test_a_letter_glued_to_a_number_that_may_multiply_it_is_unclear() -> None:
    """ "10k" is ten thousand (or a unit), never the 10 it reads as."""
    for tool, text in (
        ("divide_numbers", "what's 10k divided by 4"),
        ("add_numbers", "what's 2.5m plus 1"),
    ):
        assessment = judge(tool, text)
        assert assessment.confidence == 0.0, text
        assert assessment.unclear, text
    assert judge("convert_length", "5m in feet").confidence == 1.0
    assert judge("convert_temperature", "300K in C").confidence == 1.0


def test_a_word_the_description_scopes_needs_a_scope_in_the_request() -> None:
    """to_uppercase capitalizes *every letter*: "capitalize 'new york'" may mean the first."""
    assert judge("to_uppercase", "capitalize 'new york'").confidence == 0.0
    for text in ("capitalize every letter of hello", "capitalize everything in 'shout this'"):
        assert judge("to_uppercase", text).confidence == 1.0, text
    assert WORDINGS["to_uppercase"].scoped == {stem("capitalize"): frozenset({"letter"})}


def test_two_numbers_joined_by_to_span_a_range_unless_added() -> None:
    """ "sum 1 to 10" is the numbers from 1 to 10, not 1 + 10; "add 5 to 10" is 15."""
    for text in ("sum 1 to 10", "what is the sum of 1 to 100", "add 5 through 10"):
        assert judge("add_numbers", text).confidence == 0.0, text
    assert judge("add_numbers", "add 5 to 10").confidence == 1.0
    assert judge("round_number", "round 3.14159 to 2 decimals").confidence == 1.0
    assert judge("percentage_change", "change from 50 to 65 in percent").confidence > 0.0


def test_a_noun_before_count_is_what_is_counted() -> None:
    """ "the word count of ..." counts words: count_letters does not answer it."""
    text = "give me the word count of: It was the best of times"
    assert judge("count_letters", text).confidence == 0.0
    assert judge("count_words", text).confidence == 1.0


def test_halve_is_a_multiple_not_a_rounding() -> None:
    """round_number's description once said "halves round away from zero": "halve 90" was
    read as asking for it. It says "a tie" now, and "halve" is a multiple of 0.5."""
    assert judge("round_number", "halve 90").confidence == 0.0
    assessment = judge("multiply_numbers", "halve 90")
    assert assessment.confidence == 1.0
    read = scan("halve 90")
    found = extract(read, SPECS["multiply_numbers"]["parameters"], WORDINGS["multiply_numbers"])
    assert sorted(found.arguments.values()) == [0.5, 90.0]  # type: ignore[type-var]


def test_a_signed_number_to_an_even_power_is_unclear() -> None:
    """(-3)² is 9 and -(3²) is -9: "-3 squared" is a guess either way; "-2 cubed" is not."""
    for tool, text in (("power", "what's -3 squared"), ("power", "-3^2")):
        assessment = judge(tool, text)
        assert assessment.confidence == 0.0, text
        assert assessment.unclear, text
    assert judge("power", "-2 cubed").confidence == 1.0
    bracketed = judge("power", "what's (-3) squared")  # the bracket says which
    assert bracketed.confidence == 1.0, bracketed.reason
    assert judge("add_numbers", "what's -5 plus 3").confidence == 1.0


def test_an_answer_asked_in_two_units_is_left_over() -> None:
    """ "how many feet is 3 meters in inches" gave 118.1 (inches): the count asks for feet,
    "in" for inches, and the tool converts to one."""
    for tool, text in (
        ("convert_length", "how many feet is 3 meters in inches"),
        ("convert_weight", "how many ounces is 2 kg in grams"),
    ):
        assert judge_among_all(tool, text).confidence == 0.0, text
    for tool, text in (
        ("convert_length", "how many inches in 5 feet"),
        ("convert_length", "how many feet is 3 meters"),
        ("convert_weight", "how many grams in a pound"),
    ):
        assert judge_among_all(tool, text).confidence == 1.0, text


def test_a_percentage_over_a_number_is_unclear() -> None:
    """ "what's 10% over 50" gave 0.002, 10% divided by 50, where 55 is likelier meant: a
    percentage "over" an amount is above it, or a fraction; asked back."""
    for text in ("what's 10% over 50", "what's 20% over 80"):
        judged = judge_among_all("evaluate_expression", text)
        assert judged.confidence == 0.0, text
        assert any("more than" in u for u in judged.unclear), text
    assert judge_among_all("evaluate_expression", "what's 20 over 4 plus 1").confidence == 1.0
    assert judge_among_all("divide_numbers", "what is 5 over 2").confidence == 1.0


def test_a_number_signed_in_words_to_an_even_power_is_unclear() -> None:
    """ "what is minus 3 squared" gave -9 and "negative 2 to the power of 2" 4: a sign
    written as a word is as much a guess as "-3 squared"."""
    for tool, text in (
        ("evaluate_expression", "what is minus 3 squared"),
        ("power", "what's negative 2 to the power of 2"),
    ):
        assessment = judge_among_all(tool, text)
        assert assessment.confidence == 0.0, text
        assert any("minus (3 to it)" in u or "minus (2 to it)" in u for u in assessment.unclear)
    assert judge_among_all("evaluate_expression", "what is minus 3 cubed").confidence == 1.0
    assert judge_among_all("multiply_numbers", "negative 4 times negative 2").confidence == 1.0


def test_a_word_after_a_percentage_that_says_what_another_tool_does_is_no_label() -> None:
    """ "a 15% *tip* on 60" is 9, the tip; "a 20% *increase* on 50" asks for the increase or
    for the amount it leads to (10 or 60?), and "increase" is what another tool does."""
    foreign = frozenset({stem("increase"), stem("change")})
    read = scan("what's a 20% increase on 50")
    found = extract(read, SPECS["percent_of"]["parameters"], WORDINGS["percent_of"])
    assert assess(read, found, WORDINGS["percent_of"], foreign=foreign).confidence < 1.0
    tip = scan("what's a 15% tip on 60")
    found = extract(tip, SPECS["percent_of"]["parameters"], WORDINGS["percent_of"])
    assert assess(tip, found, WORDINGS["percent_of"], foreign=foreign).confidence == 1.0


def test_a_greeting_that_opens_the_request_asks_for_nothing() -> None:
    """ "Hey, can you reverse "stressed" for me?" was declined: "Hey" was unexplained."""
    assert judge("reverse_string", 'Hey, can you reverse "stressed" for me?').confidence == 1.0
    assert judge("reverse_string", 'Hi! reverse "abc"').confidence == 1.0
    # a greeting anywhere else is a word like another, and a text may start with one
    assert judge("reverse_string", "hey").confidence == 0.0


def test_a_number_asked_for_in_words_is_not_given_as_digits() -> None:
    """ "what is 99 + 1 in words" gave 100."""
    for text in ("what is 99 + 1 in words", "what is 99 + 1 as text"):
        assert judge_returning("add_numbers", text).confidence == 0.0, text
    assert judge_returning("add_numbers", "what is 99 + 1").confidence == 1.0
    assert judge("count_words", "count the words in hello world").confidence == 1.0


def judge_among_all(tool: str, text: str) -> Assessment:
    """``judge_returning``, with what the other starter tools do (as the handler weighs)."""
    read = scan(text)
    found = extract(read, SPECS[tool]["parameters"], WORDINGS[tool])
    vocabulary = frozenset(s for w in WORDINGS.values() for s in w.does) - GENERIC
    verbs = frozenset(stem(name.split("_")[0]) for name in WORDINGS) - GENERIC
    return assess(
        read,
        found,
        WORDINGS[tool],
        generic=GENERIC,
        returns=SPECS[tool]["returns"],
        foreign=vocabulary - WORDINGS[tool].does,
        commands=verbs - WORDINGS[tool].does,
    )


def test_what_another_tool_does_to_the_result_is_not_left_undone() -> None:
    """ "what is 10 divided by 3 rounded up" gave 3.33333333333333, "what's 7 divided by 2
    as a whole number" 3.5, "the sum of squares of 1, 2, 3" 6 and "sum of squares of 3 and
    4" 7 (one word left over of four was within the confidence asked)."""
    for tool, text in (
        ("divide_numbers", "what is 10 divided by 3 rounded up"),
        ("divide_numbers", "what's 7 divided by 2 as a whole number"),
        ("add_numbers", "sum of squares of 3 and 4"),
        # "the percentage *difference*" is another measure than the change (it gave -20)
        ("percentage_change", "what's the percentage difference between 40 and 50"),
    ):
        assert judge_among_all(tool, text).confidence == 0.0, text
    # "squares" names what is done to each value, not what they are, as "scores" would
    squares = judge_among_all("sum_numbers", "what's the sum of squares of 1, 2, 3")
    assert "squares" in squares.unexplained
    minimum = policy_float(default_values(), "answer.min_confidence")
    assert squares.confidence < minimum
    # what other tools' words say as context or a unit is no operation left undone
    for tool, text in (
        ("subtract_numbers", "what's the difference between 45 and 17"),
        ("percentage_change", "The population grew from 1200 to 1500, percentage increase?"),
        ("sum_numbers", "the total of 4 and 5"),
        ("mean", "what is the average of the scores of 88, 92"),
        ("divide_numbers", "what's 10 divided by 2"),
    ):
        assert judge_among_all(tool, text).confidence > 0.0, text


def test_rounding_up_or_down_is_not_rounding_to_the_nearest() -> None:
    """ "11 divided by 3, rounded down" gave 4: its second step, "rounded down", was read as
    rounding to the nearest ("down" was a neutral word)."""
    wording, parameters = WORDINGS["round_number"], SPECS["round_number"]["parameters"]
    for text in ("rounded down", "round it up", "rounded up to 2 decimals"):
        read = scan(text)
        found = extract(read, parameters, wording, previous=3.667, use_previous=True)
        assert found.arguments.get("x") == 3.667, text
        assert assess(read, found, wording, generic=GENERIC).confidence == 0.0, text
    read = scan("rounded")
    found = extract(read, parameters, wording, previous=3.667, use_previous=True)
    assert assess(read, found, wording, generic=GENERIC).confidence == 1.0
    assert judge("round_number", "round 3.7 down").confidence == 0.0
    assert judge("round_number", "round 3.7").confidence == 1.0
    assert judge("sum_numbers", "add up 5, 10, 15 and 20").confidence == 1.0


def test_a_value_left_out_of_the_others_is_not_taken_with_them() -> None:
    """ "sum of 1, 2, 3 without 3" gave 9 and "the mean of 1, 2, 3 excluding 3" 2.25: the
    word leaving a value out was read as a label of it ("electricity 92")."""
    for tool, text in (
        ("sum_numbers", "sum of 1, 2, 3 without 3"),
        ("sum_numbers", "sum of 1, 2, 3 apart from 3"),
        ("sum_numbers", "sum of 1, 2, 3 other than 3"),
        ("mean", "what is the mean of 1, 2, 3 excluding 3"),
        ("median", "median of 4, 8, 9 except 9"),
    ):
        assessment = judge(tool, text)
        assert assessment.confidence == 0.0, text
        assert assessment.unused, text
    assert judge("sum_numbers", "sum of 1, 2, 3").confidence == 1.0
    # what to leave out of a text, a parameter says: no value follows the word
    spaces = judge("count_characters", "count the characters in 'a b' without spaces")
    assert spaces.confidence == 1.0


def test_which_ends_count_narrows_what_is_asked() -> None:
    """ "days between 2024-01-01 and 2024-03-01 inclusive" gave 60 (61 counts both ends)."""
    text = "days between 2024-01-01 and 2024-03-01 inclusive"
    assert judge("days_between", text).confidence == 0.0
    assert judge("days_between", "days between 2024-01-01 and 2024-03-01").confidence == 1.0


def test_a_word_that_multiplies_a_value_is_no_label_of_it() -> None:
    """ "what is half a dozen plus a dozen" gave 24: "half" was set aside as what the
    dozen is of, as "electricity 92" is."""
    assessment = judge("add_numbers", "what is half a dozen plus a dozen")
    assert "half" in assessment.unexplained
    assert assessment.confidence == 0.0
    assert judge("add_numbers", "what is a dozen plus a dozen").confidence == 1.0


def test_each_of_several_values_is_not_one_answer() -> None:
    """ "now add 10 to each" after "mean of 2, 4, 6" gave 14 (10 added to the mean), and
    "add 10 to each of 1, 2, 3" gave 16: an answer for each value is asked."""
    for tool, text in (
        ("add_numbers", "add 10 to each"),
        ("sum_numbers", "add 10 to each of 1, 2, 3"),
        ("multiply_numbers", "double each of them"),
    ):
        assert judge_returning(tool, text).confidence == 0.0, text
    for tool, text in (
        ("add_numbers", "add both numbers 4 and 5"),
        ("multiply_numbers", "tickets are 45.50 each and we need 3, what's the cost"),
    ):
        assert "each" not in judge_returning(tool, text).unused, text


def test_a_second_thing_joined_on_is_left_over() -> None:
    """ "convert 1 mile to km and back" gave 1.609344: "and back" asks for more."""
    assessment = judge("convert_length", "convert 1 mile to km and back")
    assert assessment.confidence == 0.0
    assert assessment.unused == ("back",)
    assert judge("convert_length", "convert 1 mile to km").confidence == 1.0
    assert judge("to_uppercase", "uppercase salt and pepper").confidence == 1.0
    separately = judge("convert_weight", "Convert 10 kg to pounds, and separately")
    assert "separately" not in separately.unused


def test_what_to_leave_out_or_how_often_ends_an_unquoted_text() -> None:
    """ "how many letters in hello world excluding spaces" gave 25 and "reverse the word
    banana twice" gave "eciwt ananab": the text ran on over them."""
    letters = judge("count_letters", "how many letters in hello world excluding spaces")
    assert letters.confidence < 1.0
    read = scan("how many letters in hello world excluding spaces")
    found = extract(read, SPECS["count_letters"]["parameters"], WORDINGS["count_letters"])
    assert found.arguments["text"] == "hello world"
    assert judge("reverse_string", "reverse the word banana twice").confidence == 0.0
    assert judge("reverse_string", "reverse the word banana").confidence == 1.0


def test_significant_figures_are_not_decimal_places() -> None:
    """ "round 3.14159 to 2 significant figures" gave 3.14 (3.1 has two)."""
    assert judge("round_number", "round 3.14159 to 2 significant figures").confidence == 0.0
    assert judge("round_number", "round 3.14159 to 2 decimal places").confidence == 1.0


def test_a_form_the_tool_says_it_gives_is_given() -> None:
    """ "round 3.7 to a whole number" gave 4, until the whole-number form was declined for
    every tool giving a number; round_number's wording says it rounds to whole numbers."""
    for text in ("round 3.7 to a whole number", "round 3.7 as a whole number"):
        assert judge_returning("round_number", text).confidence == 1.0, text
    divided = judge_returning("divide_numbers", "what's 7 divided by 2 as a whole number")
    assert divided.confidence == 0.0


def test_the_previous_answer_is_an_operand_of_an_expression_with_operators_of_its_own() -> None:
    """ "times that by itself" after 5 + 5 gave 10: the previous answer went whole into the
    expression, and "times ... by itself" was left undone."""
    parameters = SPECS["evaluate_expression"]["parameters"]
    wording = WORDINGS["evaluate_expression"]
    operated = extract(
        scan("it times that by itself"), parameters, wording, previous=10.0, use_previous=True
    )
    assert operated.handoff is None
    assert operated.arguments.get("expression") != "10"
    whole = extract(scan("evaluate it"), parameters, wording, previous="2 + 3", use_previous=True)
    assert whole.handoff == "expression"


def test_a_dash_set_apart_between_words_is_punctuation() -> None:
    assert judge_among_all("reverse_string", "reverse - abc").confidence == 1.0
    assert judge_among_all("subtract_numbers", "what is 10 - 3").confidence == 1.0


def test_an_operation_outside_the_expression_taken_is_left_undone() -> None:
    """ "what is 100 squared root" gave 10000 (the expression "100 squared")."""
    assert judge_among_all("evaluate_expression", "what is 100 squared root").confidence == 0.0
    assert judge_among_all("evaluate_expression", "what's 5 squared plus 3").confidence == 1.0


def test_a_place_to_round_to_named_by_an_ordinal_is_not_left_out() -> None:
    """ "what is 3.14159 rounded to the nearest hundredth" gave 3."""
    text = "what is 3.14159 rounded to the nearest hundredth"
    assert judge_among_all("round_number", text).confidence == 0.0


def test_a_request_that_starts_with_another_tools_instruction_asks_for_it() -> None:
    """ "round 22.7 degrees celsius to fahrenheit" gave 72.86, the conversion unrounded."""
    text = "round 22.7 degrees celsius to fahrenheit"
    assert judge_among_all("convert_temperature", text).confidence == 0.0
    assert (
        judge_among_all("convert_temperature", "convert 22.7 celsius to fahrenheit").confidence
        == 1.0
    )
    # a verb another tool's name ends with is no instruction of that tool's
    text = 'Change "NASA Launches New ROVER" to small letters'
    assert "Change" not in judge_among_all("to_lowercase", text).unused


def test_a_clause_that_starts_with_another_tools_instruction_asks_for_it() -> None:
    """ "My phone number is 555-1234, reverse it" gave -679: "reverse", past the comma, was
    read as a label of 1234 ("12 eggs")."""
    text = "My phone number is 555-1234, reverse it"
    assessment = judge_among_all("subtract_numbers", text)
    assert assessment.confidence == 0.0
    assert "reverse" in assessment.unused
    # past a comma, a word right before a number of its own labels that one
    bills = "Add up my monthly bills: rent 1,450, electricity 92, internet 60, phone 45"
    assert judge_among_all("sum_numbers", bills).confidence == 1.0


def test_a_number_as_many_values_follow_counts_them() -> None:
    """ "My three kids are 4, 7 and 12, what's their average age" gave 6.5, the mean of 3,
    4, 7 and 12."""
    found = extract(
        scan("My three kids are 4, 7 and 12, what's their average age"),
        SPECS["mean"]["parameters"],
        WORDINGS["mean"],
    )
    assert found.arguments == {"numbers": [4.0, 7.0, 12.0]}
    # a number that as many numbers do not follow is a value ("2 apples and 2 oranges")
    both = extract(scan("add 2 apples and 3 apples"), SPECS["add_numbers"]["parameters"])
    assert both.arguments == {"a": 2.0, "b": 3.0}


def test_a_second_thing_asked_of_the_same_values_is_left_over() -> None:
    """ "what's the mean, median and max of 4, 1, 7" answered its second part, "median and
    max of 4, 1, 7", with the median alone: "max" was read as what the values are."""
    assessment = judge_among_all("median", "median and max of 4, 1, 7")
    assert assessment.confidence == 0.0
    assert "max" in assessment.unused
    assert judge_among_all("median", "median and the max of 4, 1, 7").confidence == 0.0
    # two words for what the tool does are one thing asked
    assert judge_among_all("sum_numbers", "what's the sum and total of 3 and 4").confidence == 1.0
    # the other way round: "the sum and product of 3 and 4" gave 12, "min and max of 3, 9,
    # 1" gave 9 ("min" has the stem of "mine", and was taken for a neutral word)
    for tool, text, other in (
        ("multiply_numbers", "what's the sum and product of 3 and 4", "sum"),
        ("largest_number", "min and max of 3, 9, 1", "min"),
    ):
        assessment = judge_among_all(tool, text)
        assert assessment.confidence == 0.0, text
        assert other in assessment.unused, text
    assert judge_among_all("largest_number", "what's the max of 3, 9, 1").confidence == 1.0


def test_two_operations_offered_around_or_are_unclear() -> None:
    """ "what's 10 plus or minus 2" gave 8: "minus 2" was read as the number -2."""
    for text in ("what's 10 plus or minus 2", "10 times or divided by 2"):
        assessment = judge_among_all("add_numbers", text)
        assert assessment.confidence == 0.0
        assert assessment.unclear, text
    assert judge_among_all("subtract_numbers", "what's 5 minus minus 3").confidence == 1.0


def test_a_word_that_turns_a_value_into_another_is_no_label() -> None:
    """ "what's the negative of 10 plus 3" gave 13."""
    assessment = judge_among_all("add_numbers", "what's the negative of 10 plus 3")
    assert assessment.confidence == 0.0
    assert "negative" in assessment.unused
    assert judge_among_all("add_numbers", "what is negative five plus 3").confidence == 1.0


def test_a_number_asked_in_letters_is_no_count_of_letters_nor_a_case() -> None:
    """ "what's my grade in letters: 85" and "write 85 in letters" gave 0 (count_letters),
    then 85 (to_lowercase): "in letters" is the form the answer is asked in."""
    for tool in ("count_letters", "to_lowercase", "to_uppercase"):
        for text in ("what's my grade in letters: 85", "write 85 in letters"):
            assert judge_among_all(tool, text).confidence == 0.0, (tool, text)
    assert judge_among_all("to_lowercase", "convert HELLO to small letters").confidence == 1.0
    assert judge_among_all("count_letters", "how many letters in hello").confidence == 1.0


def test_an_answer_asked_in_another_form_at_the_end_is_declined() -> None:
    """ "what is 2 plus 2 in french" gave 4: with no unit on the values, a word left over
    after "in" at the request's end is the form the whole answer is asked in."""
    assert judge_among_all("add_numbers", "what is 2 plus 2 in french").confidence == 0.0
    assert judge_among_all("multiply_numbers", "what is 5 times 3 in total").confidence >= 0.75


def test_a_dash_set_apart_after_a_list_is_punctuation() -> None:
    text = "numbers: 4 8 12 - what's the median"
    assert judge_among_all("median", text).confidence == 1.0
    assert judge_among_all("subtract_numbers", "what is 10 - 3").confidence == 1.0


def test_one_letter_named_by_its_kind_is_not_every_letter() -> None:
    """ "count the letter a in banana" gave 9 (the letters of "a in banana"), "count the
    character x in xylophone" 14 and "count the number 7 in 1777" 2: each asks for one letter
    or digit, which no starter tool counts."""
    assert judge_among_all("count_letters", "count the letter a in banana").confidence == 0.0
    text = "count the character x in xylophone"
    assert judge_among_all("count_characters", text).confidence == 0.0
    for tool in ("count_letters", "count_characters", "count_words"):
        assert judge_among_all(tool, "count the number 7 in 1777").confidence == 0.0, tool
    # the word named is the text when nothing else is
    assert judge_among_all("count_characters", "how many characters in the word x").confidence
    assert judge_among_all("count_letters", "count the letters in banana").confidence == 1.0


def test_a_question_announced_is_framing() -> None:
    """ "quick question, what's 17% of 230?" was declined: "question" was left unexplained."""
    assert judge_among_all("percent_of", "quick question, what's 17% of 230?").confidence == 1.0


def test_two_values_after_the_preposition_that_marks_a_later_one_are_unclear() -> None:
    """ "power of 2 and 5" gave 25: "base to the power of exponent" marks the exponent with
    "of", which here governs both values."""
    judged = judge_among_all("power", "power of 2 and 5")
    assert judged.confidence == 0.0
    assert judged.unclear
    assert judge_among_all("power", "2 to the power of 5").confidence == 1.0
    # "of" marks the dividend, which the pair's first value is anyway
    assert judge_among_all("divide_numbers", "the quotient of 10 and 2").confidence == 1.0


def test_a_comparison_beside_another_operation_is_unclear() -> None:
    """ "what is 10 less than 45 times 2" gave 25 and "5 times 10 less than 45" 215: the
    tool reads a comparison as a sign in place (45 - 10 * 2), which is neither 10 less than
    90 nor 35 times 2. The same for "more than", a percentage "off", "increase ... by" and a
    power's verb ("square 2 plus 3" gave 7)."""
    for text in (
        "what is 10 less than 45 times 2",
        "5 times 10 less than 45",
        "what is 4 more than 9 times 2",
        "what's 20% more than 80 plus 5",
        "30% off 120 plus 5",
        "decrease 200 by 15% times 2",
        "what's 5 more than 3 squared",
        "square 2 plus 3",  # a power's verb: of 2, or of 5?
        "cube 2 plus 1",
    ):
        judged = judge_among_all("evaluate_expression", text)
        assert judged.confidence == 0.0, text
        assert any("which comes first" in u for u in judged.unclear), text
    for text in (
        "what's 10 less than 45",
        "what's 4 more than 9",
        "what's 20% more than 80",
        "30% off 120",
        "decrease 200 by 15%",
        "what is 3 plus 4 squared",
    ):
        assert judge_among_all("evaluate_expression", text).confidence == 1.0, text


def test_a_comparative_after_a_number_changes_it() -> None:
    """ "make 12 25% bigger" gave 3, 25% of 12: "bigger" was taken for a label."""
    assert judge_among_all("percent_of", "make 12 25% bigger").confidence == 0.0
    assert judge_among_all("percent_of", "what is 25% of 12").confidence == 1.0


def test_a_light_verb_confirmed_with_a_tool_is_not_learnt_as_what_it_does() -> None:
    """Confirming "take the square root of 16" taught square_root "take": in the second pass
    "how long does it take to walk 5 km" was answered 2.236, the square root of 5."""
    learnt = tool_wording("square_root", SPECS["square_root"], ["take the square root of {x}"])
    assert stem("take") not in learnt.does
    assert stem("root") in learnt.does


def test_a_count_after_the_values_counts_them() -> None:
    """ "I scored 72, 88 and 95 in three tests. What was my average score?" gave 64.5, the
    mean of 72, 88, 95 and 3: a count in words, or after a preposition, of as many values
    given before it."""
    for text in (
        "I scored 72, 88 and 95 in three tests. What was my average score?",
        "I scored 72, 88 and 95 in 3 tests, average?",
    ):
        found = extract(scan(text), SPECS["mean"]["parameters"], WORDINGS["mean"])
        assert found.arguments == {"numbers": [72.0, 88.0, 95.0]}, text
    # a number before a plural noun, with values before it, is still a value
    found = extract(scan("add 4 and 5 and 2 apples"), SPECS["sum_numbers"]["parameters"])
    assert found.arguments == {"numbers": [4.0, 5.0, 2.0]}


def _wording_of(source: str, name: str) -> tuple[dict[str, object], object]:
    spec = parse_tool(source, name).spec.model_dump(mode="json")
    return spec, tool_wording(name, spec)


_MORE_PERCENTAGES = [
    (
        f"def {name}(a: float, b: float) -> float:\n"
        f'    """{text}\n\n    Args:\n        a: one value.\n        b: another value.\n    """\n'
        "    return a - b\n\n\n"
        "def test_it() -> None:\n"
        f"    assert {name}(2, 1) == 1\n",
        name,
    )
    for name, text in (
        ("percent_points", "The difference of two percentages in percent points."),
        ("margin_rate", "A margin as a percent of the price."),
    )
]


def test_a_tools_own_name_still_shows_it_when_many_tools_share_the_word() -> None:
    # two more tools that mention percentages make "percent" generic (six tools): percent_of,
    # whose wording is nothing but "percent", must still be what "25% of 100" asks for
    extra = [_wording_of(source, name)[1] for source, name in _MORE_PERCENTAGES]
    generic = generic_stems([*WORDINGS.values(), *extra])  # type: ignore[list-item]
    assert stem("percent") in generic
    read = scan("what is 25% of 100")
    found = extract(read, SPECS["percent_of"]["parameters"], WORDINGS["percent_of"])
    judged = assess(read, found, WORDINGS["percent_of"], generic=generic)
    assert judged.confidence == 1.0, judged.reason


def test_another_tools_name_said_word_for_word_is_not_a_label() -> None:
    # "percentage *change* from 50 to 75": a label before a preposition and a value to
    # percent_ratio, which gave 66.7 (50 of 75) where the change, 50, was asked
    read = scan("percentage change from 50 and 75")
    found = extract(read, SPECS["percent_ratio"]["parameters"], WORDINGS["percent_ratio"])
    named = [("percentag", "chang")]
    judged = assess(read, found, WORDINGS["percent_ratio"], generic=GENERIC, named=named)
    assert judged.confidence == 0.0
    assert "change" in judged.unused
    # a tool's name word alone is often a label ("2 *days*"); split in two it is the name
    read = scan("make this lower case please: ThIs Is WeIrD")
    found = extract(read, SPECS["to_uppercase"]["parameters"], WORDINGS["to_uppercase"])
    judged = assess(read, found, WORDINGS["to_uppercase"], generic=GENERIC, named=[("lowercas",)])
    assert judged.confidence == 0.0
