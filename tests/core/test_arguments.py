"""The offline argument extractor: values reach the parameters a person means."""

import pytest
from pydantic import JsonValue

from selfeng.core.arguments import extract, template
from selfeng.core.scanning import scan
from selfeng.core.token_pool import PREVIOUS
from selfeng.core.tooldef import parse_tool
from selfeng.core.values import format_value, shown
from selfeng.core.wording import tool_wording
from selfeng.seed_tools import seed_sources

TOOLS = {name: parse_tool(source, name) for name, source in seed_sources().items()}


def fill(tool: str, text: str, **kwargs: object) -> tuple[dict[str, JsonValue], list[str]]:
    spec = TOOLS[tool].spec.model_dump(mode="json")
    found = extract(text, spec["parameters"], tool_wording(tool, spec), **kwargs)  # type: ignore[arg-type]
    return found.arguments, found.missing


@pytest.mark.parametrize(
    ("tool", "text", "arguments"),
    [
        ("percent_of", "What is 25% of 100?", {"percent": 25.0, "value": 100.0}),
        ("percent_of", "what's 12.5 percent of 80", {"percent": 12.5, "value": 80.0}),
        ("reverse_string", "Reverse the string hello", {"text": "hello"}),
        ("reverse_string", 'reverse "Hello, World"', {"text": "Hello, World"}),
        (
            "convert_length",
            "convert 10 km to miles",
            {"value": 10.0, "from_unit": "km", "to_unit": "miles"},
        ),
        (
            "convert_temperature",
            "100 degrees celsius in fahrenheit",
            {"value": 100.0, "from_unit": "celsius", "to_unit": "fahrenheit"},
        ),
        ("mean", "average of 1, 2, 3 and 4", {"numbers": [1.0, 2.0, 3.0, 4.0]}),
        ("mean", "mean of [1, 2.5, 3]", {"numbers": [1, 2.5, 3]}),
        (
            "days_between",
            "days between 2024-01-01 and March 1, 2024",
            {"start": "2024-01-01", "end": "2024-03-01"},
        ),
        (
            "json_field",
            'get user.name from {"user": {"name": "Ada"}}',
            {"document": '{"user": {"name": "Ada"}}', "path": "user.name"},
        ),
        ("add_numbers", "What is the sum of 3 and 4", {"a": 3.0, "b": 4.0}),
        ("divide_numbers", "divide 1,000 by 8", {"a": 1000.0, "b": 8.0}),
        ("round_number", "round 3.14159 to 2 digits", {"x": 3.14159, "digits": 2}),
        (
            "count_words",
            "count the words in 'the quick brown fox'",
            {"text": "the quick brown fox"},
        ),
    ],
)
def test_values_reach_the_right_parameters(
    tool: str, text: str, arguments: dict[str, object]
) -> None:
    found, missing = fill(tool, text)
    assert missing == []
    assert found == arguments


@pytest.mark.parametrize(
    ("tool", "text", "arguments"),
    [
        ("subtract_numbers", "Subtract 19 from 100", {"a": 100.0, "b": 19.0}),
        ("subtract_numbers", "Take 7 away from 50", {"a": 50.0, "b": 7.0}),
        ("subtract_numbers", "what is 100 minus 19", {"a": 100.0, "b": 19.0}),
        ("subtract_numbers", "How much is 3.5 less than 10?", {"a": 10.0, "b": 3.5}),
        ("divide_numbers", "divide 84 by 7", {"a": 84.0, "b": 7.0}),
        ("divide_numbers", "What is 12 over 4", {"a": 12.0, "b": 4.0}),
        ("percentage_change", "percentage change from 50 to 75", {"old": 50.0, "new": 75.0}),
        (
            "percentage_change",
            "by what percent did the price change when it went to 75 from 50",
            {"old": 50.0, "new": 75.0},
        ),
        ("power", "2 to the power of 10", {"base": 2.0, "exponent": 10.0}),
        ("power", "what is 7 squared", {"base": 7.0, "exponent": 2.0}),
        ("power", "square 9", {"base": 9.0, "exponent": 2.0}),
        ("round_number", "1/3 rounded to 2 decimal places", {"x": 1 / 3, "digits": 2}),
        # "b less than a" in the wording; "a less b" is the other relation
        ("subtract_numbers", "what is 500 less 120", {"a": 500.0, "b": 120.0}),
        ("subtract_numbers", "what is 120 less than 500", {"a": 500.0, "b": 120.0}),
        # an exponent said as an ordinal, with no "power" after it
        ("power", "Raise 2 to the 8th", {"base": 2.0, "exponent": 8.0}),
        ("power", "what is 3 to the fifth", {"base": 3.0, "exponent": 5.0}),
        ("power", "10 to the 2nd power", {"base": 10.0, "exponent": 2.0}),
    ],
)
def test_operands_go_where_the_wording_puts_them(
    tool: str, text: str, arguments: dict[str, object]
) -> None:
    """The roles come from the tool's own description ("Subtract b from a"), not a table."""
    found, missing = fill(tool, text)
    assert missing == []
    assert found == arguments


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Make this uppercase: the quick brown fox", "the quick brown fox"),
        ("uppercase this: to be or not to be", "to be or not to be"),
        ("make 'the end of the road' uppercase", "the end of the road"),
        ("convert “a and the” to upper case", "a and the"),
        ("uppercase hello world please", "hello world"),
        ("put hello world in upper case", "hello world"),
        # a verb giving the answer a form starts the request, and is not the text
        ("print hello in uppercase", "hello"),
        ("type hello world in all caps", "hello world"),
        # a dash set apart stands as a colon ("- URGENT MEETING" was the answer)
        ("make this all caps - urgent meeting", "urgent meeting"),
        ("uppercase -hello", "-hello"),
    ],
)
def test_text_after_a_colon_or_in_quotes_is_kept_whole(text: str, expected: str) -> None:
    found, missing = fill("to_uppercase", text)
    assert missing == []
    assert found == {"text": expected}


def test_unquoted_text_keeps_its_own_small_words() -> None:
    found, _ = fill("count_words", "how many words in i am going to the store to buy milk")
    assert found == {"text": "i am going to the store to buy milk"}
    assert fill("reverse_string", "reverse the word banana")[0] == {"text": "banana"}
    assert fill("to_lowercase", "lowercase THIS IS LOUD")[0] == {"text": "THIS IS LOUD"}
    assert fill("count_characters", "How many characters are in hello")[0] == {"text": "hello"}


def test_a_phrase_led_by_an_article_is_the_text_whole() -> None:
    """ "quick" is a word of asking ("a quick question: ..."), but after an article and before
    a noun it is part of the phrase: "the quick brown fox in uppercase" was "BROWN FOX"."""
    assert fill("to_uppercase", "the quick brown fox in uppercase")[0] == {
        "text": "the quick brown fox"
    }
    assert fill("to_lowercase", "THE QUICK BROWN FOX in lowercase please")[0] == {
        "text": "THE QUICK BROWN FOX"
    }
    assert fill("to_lowercase", "lowercase THE QUICK BROWN FOX")[0] == {
        "text": "THE QUICK BROWN FOX"
    }
    assert fill("to_uppercase", "the big apple in uppercase")[0] == {"text": "the big apple"}
    assert fill("to_uppercase", "a b c in uppercase")[0] == {"text": "a b c"}  # was "b c"
    assert fill("to_uppercase", "make the quick brown fox uppercase")[0] == {
        "text": "the quick brown fox"
    }
    # the article before a word that points at the value still frames it
    assert fill("to_uppercase", "the word hello in uppercase")[0] == {"text": "hello"}
    assert fill("to_uppercase", "the given text hello world in uppercase")[0] == {
        "text": "hello world"
    }
    assert fill("reverse_string", "reverse the simple text abc")[0] == {"text": "abc"}


def test_how_many_after_a_counting_verb_is_the_question_not_a_text() -> None:
    """ "count how many words are in my essay" counted "how many" (2): the essay is not given."""
    assert fill("count_words", "count how many words are in my essay") == ({}, ["text"])
    found = fill("count_words", "count how many words are in hello big world")[0]
    assert found == {"text": "hello big world"}


def test_thanks_at_the_end_and_where_a_text_is_are_not_the_text() -> None:
    """ "uppercase hello please and thank you" gave "HELLO PLEASE AND THANK YOU", and
    "uppercase the text below" gave "BELOW"."""
    assert fill("to_uppercase", "uppercase hello please and thank you")[0] == {"text": "hello"}
    assert fill("to_uppercase", "uppercase hello thank you")[0] == {"text": "hello"}
    assert fill("to_uppercase", "uppercase the text below") == ({}, ["text"])
    assert fill("to_uppercase", "uppercase rock and roll")[0] == {"text": "rock and roll"}
    assert fill("to_uppercase", "uppercase thank you")[0] == {"text": "thank you"}
    assert fill("reverse_string", "Reverse the string ok")[0] == {"text": "ok"}


def test_a_run_that_says_which_part_to_act_on_is_no_text() -> None:
    """ "uppercase only the vowels in hello" gave "ONLY THE VOWELS IN HELLO", "lowercase all but
    the first letter of HELLO" gave "all but the first", "uppercase the word after hello in
    hello world" gave "HELLO IN HELLO WORLD" and "uppercase a word of advice" "ADVICE"."""
    for tool, text in (
        ("to_uppercase", "uppercase only the vowels in hello"),
        ("to_uppercase", "uppercase the word after hello in hello world"),
        ("to_uppercase", "uppercase a word of advice"),
    ):
        assert "text" not in fill(tool, text)[0], text
    # the instruction's own words are not the text (HELLO is; "first" is left to the evidence)
    found = fill("to_lowercase", "lowercase all but the first letter of HELLO")[0]
    assert found.get("text") != "all but the first"
    # the letters of a text are the text; a text may hold "in"
    assert fill("to_uppercase", "uppercase the letters in hello")[0] == {"text": "hello"}
    found = fill("count_words", "how many words in i live in paris")[0]
    assert found == {"text": "i live in paris"}


def test_two_values_joined_are_not_one_text() -> None:
    """ "reverse both hello and world" gave "dlrow dna olleh htob", and "how many characters in
    hello and in world" 18: each asks for two answers, not one for the words joined."""
    assert fill("reverse_string", "reverse both hello and world") == ({}, ["text"])
    assert fill("count_characters", "how many characters in hello and in world") == ({}, ["text"])
    # a text that holds a conjunction is still one text
    assert fill("reverse_string", "reverse salt and pepper")[0] == {"text": "salt and pepper"}
    found = fill("count_words", "how many words in i live in paris and london")[0]
    assert found == {"text": "i live in paris and london"}


def test_a_phrase_asked_about_is_no_text_given() -> None:
    """ "what is the capital of France in uppercase" wants PARIS: after a question word a
    phrase led by an article names a thing asked about (it was "CAPITAL OF FRANCE")."""
    for text in (
        "what is the capital of france in uppercase",
        "what's the big apple in uppercase",
    ):
        found, missing = fill("to_uppercase", text)
        assert missing == ["text"], (text, found)
    assert fill("to_uppercase", "what is hello world in uppercase")[0] == {"text": "hello world"}


def test_an_unquoted_text_keeps_the_emoji_around_its_words() -> None:
    """No token holds an emoji: the text from the first word to the last dropped those at
    its ends ("uppercase 🙂 hi" was "HI")."""
    assert fill("to_uppercase", "uppercase 🙂 hi")[0] == {"text": "🙂 hi"}
    assert fill("reverse_string", "reverse 🎉 party time 🎉")[0] == {"text": "🎉 party time 🎉"}
    assert fill("to_uppercase", "uppercase i ❤️ nyc")[0] == {"text": "i ❤️ nyc"}
    assert fill("to_uppercase", "uppercase hello world, please")[0] == {"text": "hello world"}


def test_a_request_does_not_start_with_an_unquoted_value() -> None:
    """Its first word is what it asks: never swallowed into a text argument."""
    assert fill("reverse_string", "Sort 5, 2, 8, 1 in ascending order")[1] == ["text"]
    assert fill("to_uppercase", "What is hello in upper case")[0] == {"text": "hello"}


@pytest.mark.parametrize(
    ("tool", "text", "arguments"),
    [
        ("add_numbers", "add 1,250 and 375", {"a": 1250.0, "b": 375.0}),
        ("add_numbers", "add -5 and 3", {"a": -5.0, "b": 3.0}),
        ("divide_numbers", "negative 45 divided by 9", {"a": -45.0, "b": 9.0}),
        ("multiply_numbers", "seven times eight", {"a": 7.0, "b": 8.0}),
        ("multiply_numbers", "twenty-five times 4", {"a": 25.0, "b": 4.0}),
        ("multiply_numbers", "what is 250 x 4", {"a": 250.0, "b": 4.0}),
        ("add_numbers", "what is $12.50 plus $3", {"a": 12.5, "b": 3.0}),
        ("square_root", "square root of 1/4", {"x": 0.25}),
    ],
)
def test_numbers_as_people_write_them(tool: str, text: str, arguments: dict[str, object]) -> None:
    found, missing = fill(tool, text)
    assert missing == []
    assert found == arguments


@pytest.mark.parametrize(
    ("tool", "text", "units"),
    [
        ("convert_temperature", "Convert 100 F to C", ("f", "c")),
        ("convert_temperature", "what is -40 C in F", ("c", "f")),
        ("convert_temperature", "300 K to celsius", ("k", "celsius")),
        ("convert_weight", "How many ounces in 2 kg?", ("kg", "ounces")),
        ("convert_weight", "5 lb in g", ("lb", "g")),
        ("convert_weight", "convert 16 oz to lbs", ("oz", "lbs")),
        ("convert_length", "12 in to cm", ("in", "cm")),
        ("convert_length", "how many feet in 3 mi", ("mi", "feet")),
        ("convert_length", "100 m in ft", ("m", "ft")),
        ("convert_length", "Convert 3 meters to feet", ("meters", "feet")),
    ],
)
def test_unit_abbreviations(tool: str, text: str, units: tuple[str, str]) -> None:
    found, missing = fill(tool, text)
    assert missing == []
    assert (found["from_unit"], found["to_unit"]) == units


def test_the_link_after_a_unit_filler_is_no_unit() -> None:
    """ "what's 20 degrees in fahrenheit" ran the tool with the unit "in" (and failed): after
    "degrees" nothing says which scale, so no source unit is taken, and the request says so."""
    found, missing = fill("convert_temperature", "what's 20 degrees in fahrenheit")
    assert missing == ["from_unit"]
    assert found["to_unit"] == "fahrenheit"
    found, missing = fill("convert_temperature", "what's 20 degrees c in fahrenheit")
    assert missing == []
    assert (found["from_unit"], found["to_unit"]) == ("c", "fahrenheit")


def test_an_expression_does_not_run_across_and() -> None:
    """The expression tool reads no "and": "what is 20% of 50 and 30 percent" gave it
    "20% of 50 and 30 percent", and it failed; the expression is the run before "and", and
    what follows is left for the evidence to weigh."""
    found, _ = fill("evaluate_expression", "what is 20% of 50 and 30 percent")
    assert found["expression"] == "20% of 50"
    found, _ = fill("evaluate_expression", "what is 50 plus 10% and 20%")
    assert found["expression"] == "50 plus 10%"


@pytest.mark.parametrize(
    "text",
    [
        "days from 2024-03-01 to 2024-12-25",
        "days from March 1, 2024 to December 25, 2024",
        "days from 1 March 2024 to 25 December 2024",
        "days from Mar 1st 2024 to Dec. 25, 2024",
        "days from 2024/03/01 to 25/12/2024",
    ],
)
def test_dates_in_several_forms(text: str) -> None:
    found, missing = fill("days_between", text)
    assert missing == []
    assert found == {"start": "2024-03-01", "end": "2024-12-25"}


def test_an_ambiguous_date_is_never_guessed() -> None:
    found, missing = fill("days_between", "days from 03/04/2024 to 2024-12-25")
    assert found == {"start": "2024-12-25"}
    assert missing == ["end"]
    assert [t.kind for t in scan("03/04/2024").tokens] == ["unclear"]


def test_the_previous_output_feeds_the_next_step() -> None:
    found, missing = fill("reverse_string", "reverse the result", previous=25.0, use_previous=True)
    assert found == {"text": "25"}
    assert missing == []
    found, _ = fill("multiply_numbers", "multiply it by 4", previous=5, use_previous=True)
    assert found == {"a": 5, "b": 4.0}
    found, _ = fill(
        "subtract_numbers", "subtract the result from 10", previous=4.0, use_previous=True
    )
    assert found == {"a": 10.0, "b": 4.0}


def test_a_conversion_continues_in_the_unit_the_previous_ended_in() -> None:
    spec = TOOLS["convert_temperature"].spec.model_dump(mode="json")
    found = extract(
        "convert that to kelvin",
        spec["parameters"],
        tool_wording("convert_temperature", spec),
        previous=37.5,
        use_previous=True,
        context={"value": 99.5, "from_unit": "f", "to_unit": "celsius"},
    )
    assert found.arguments == {"value": 37.5, "to_unit": "kelvin", "from_unit": "celsius"}
    assert found.took["value"] == (PREVIOUS,)


def test_missing_values_are_named() -> None:
    found, missing = fill("percent_of", "what is a percentage of something")
    assert missing == ["percent", "value"]
    assert found == {}
    _, missing = fill("divide_numbers", "divide 10")
    assert missing == ["b"]
    # a percentage parameter takes only a number written as one
    assert fill("percent_of", "what percentage is 20 of 80")[1] == ["percent"]


def test_other_languages_and_odd_text_do_not_break_it() -> None:
    found, missing = fill("reverse_string", "Inverse la chaîne «bonjour» s'il vous plaît")
    assert missing == ["text"]  # no value a person marked as the text: nothing is guessed
    assert found == {}
    assert fill("add_numbers", "🙂 " * 50)[1] == ["a", "b"]
    assert fill("add_numbers", "x" * 5000)[1] == ["a", "b"]


def test_apostrophes_are_not_quotes() -> None:
    read = scan("I'm at Vancouver's West End, what's 2 + 2")
    assert not [t for t in read.tokens if t.kind == "quoted"]
    spec = TOOLS["reverse_string"].spec.model_dump(mode="json")
    read = scan("reverse Vancouver's")
    found = extract(read, spec["parameters"], tool_wording("reverse_string", spec))
    assert found.arguments == {"text": "Vancouver's"}
    assert template(read, found) == "reverse {text}"


def test_the_template_is_the_wording_without_the_values() -> None:
    spec = TOOLS["subtract_numbers"].spec.model_dump(mode="json")
    read = scan("Subtract 19 from 100")
    found = extract(read, spec["parameters"], tool_wording("subtract_numbers", spec))
    assert template(read, found) == "Subtract {b} from {a}"


def test_a_long_text_is_quoted_by_its_ends() -> None:
    assert shown("short") == "short"
    long = "count the words in " + "lorem ipsum " * 1000 + "the end"
    quoted = shown(long)
    assert len(quoted) < 150
    assert quoted.startswith("count the words in lorem")
    assert quoted.endswith(f"the end ({len(long):,} characters)")


def test_values_read_as_text() -> None:
    assert format_value(25.0) == "25"
    assert format_value(2.5) == "2.5"
    assert format_value(64 ** (1 / 3)) == "4"  # binary noise past 15 digits is not shown
    assert format_value(0.1 + 0.2) == "0.3"
    assert format_value(1 / 3) == "0.333333333333333"
    assert format_value(float("inf")) == "inf"
    # past 10**15 a float's whole digits are noise: 1e100 is not 1000...0159028911...
    assert format_value(10.0**100) == "1e+100"
    assert format_value(9999999999.0 * 9999999999.0) == "9.999999998e+19"
    assert format_value(-(2.0**60)) == "-1.15292150460685e+18"
    assert format_value(123456789012345.0) == "123456789012345"
    assert format_value(2**70) == str(2**70)  # an int is exact
    assert format_value([1, 2]) == "[1,2]"
    assert format_value("x") == "x"
    assert format_value(True) == "true"


NAVIGATION = '''"""Navigation."""

from typing import Literal


def set_navigation(destination: str) -> str:
    """Set the navigation system's destination.

    Args:
        destination: where to go.
    """
    return destination


def start_engine(mode: Literal["START", "STOP"]) -> str:
    """Start the engine of the vehicle.

    Args:
        mode: the ignition mode.
    """
    return mode


def test_runs() -> None:
    assert set_navigation("x") == "x"
'''


def custom(name: str, text: str) -> tuple[dict[str, JsonValue], list[str], dict[str, str]]:
    spec = parse_tool(NAVIGATION, name).spec.model_dump(mode="json")
    found = extract(text, spec["parameters"], tool_wording(name, spec))
    return found.arguments, found.missing, found.mistyped


def test_a_closed_set_of_values_takes_only_its_own() -> None:
    assert custom("start_engine", "start the engine, ignition mode START")[0] == {"mode": "START"}
    arguments, missing, _ = custom("start_engine", "With the car secured, fire up the engine")
    assert arguments == {}
    assert missing == ["mode"]


def test_free_text_ends_where_its_clause_ends() -> None:
    # how ("directly"), a clause of the request ("and share ..."), another sentence
    assert custom("set_navigation", "Set navigation directly to Lisbon")[0] == {
        "destination": "Lisbon"
    }
    arguments, _, _ = custom("set_navigation", "Set navigation and share what's on the radar")
    assert arguments == {}
    arguments, _, _ = custom("set_navigation", "Set navigation to Oslo. We are tired.")
    assert arguments == {"destination": "Oslo"}
    assert fill("reverse_string", "Reverse any word with banana in it")[0] == {"text": "banana"}


@pytest.mark.parametrize(
    ("text", "include"),
    [
        ('How many characters are in "hello there", spaces included?', True),
        ('characters in "a b", spaces not counted', False),
        ('characters in "a b" with spaces excluded', False),
        ('characters in "a b", the spaces are included', True),
        ('characters in "a b" without spaces', False),
    ],
)
def test_a_yes_or_no_said_after_its_noun(text: str, include: bool) -> None:
    assert fill("count_characters", text)[0]["include_spaces"] is include


@pytest.mark.parametrize(
    "text",
    [
        "What is 2024-12-25 minus 2024-11-28 in days?",
        "days: 25 December 2024 minus 28 November 2024",
    ],
)
def test_a_date_difference_written_as_a_subtraction_takes_the_first_as_the_end(text: str) -> None:
    found, missing = fill("days_between", text)
    assert missing == []
    assert found == {"start": "2024-11-28", "end": "2024-12-25"}


@pytest.mark.parametrize("text", ["what's 10 power 3", "10 to the power of 3", "10 ^ 3"])
def test_a_word_between_two_numbers_is_their_operation_not_a_name_of_one(text: str) -> None:
    """ "10 *power* 3" is 10 cubed: "power" sits between the numbers, unlike "2 *decimal*
    places", where the word after a number names what it is."""
    assert fill("power", text) == ({"base": 10.0, "exponent": 3.0}, [])


@pytest.mark.parametrize(
    ("text", "arguments"),
    [
        ("days between 2025-12-25 and 2025-07-04", {"start": "2025-07-04", "end": "2025-12-25"}),
        ("days between 2025-07-04 and 2025-12-25", {"start": "2025-07-04", "end": "2025-12-25"}),
        # "from ... to" gives an order, and keeps it
        ("days from 2025-12-25 to 2025-07-04", {"start": "2025-12-25", "end": "2025-07-04"}),
    ],
)
def test_dates_between_two_ends_go_as_a_span_the_earlier_first(
    text: str, arguments: dict[str, str]
) -> None:
    found, missing = fill("days_between", text)
    assert missing == []
    assert found == arguments


FIND = '''
def find(path: str = ".", name: str | None = None) -> list:
    """Find the files and directories under a path whose file name contains a name.

    Args:
        path: The directory path to start the search. Defaults to the current directory.
        name: The name of the file or directory to search for.
    """
    return []


def test_find() -> None:
    assert find() == []
'''


def test_a_quoted_value_goes_to_the_parameter_its_label_names() -> None:
    spec = parse_tool(FIND, "find").spec.model_dump(mode="json")
    wording = tool_wording("find", spec)
    for text in [
        "Find every file with the name 'notes.txt' in the current directory",
        "find files named 'notes.txt'",
    ]:
        found = extract(text, spec["parameters"], wording)
        assert found.arguments == {"name": "notes.txt"}, text
    # no label: in order, as before
    found = extract("find 'notes.txt'", spec["parameters"], wording)
    assert found.arguments == {"path": "notes.txt"}


def test_what_a_default_is_described_as_does_not_ask_for_another_value() -> None:
    spec = parse_tool(FIND, "find").spec.model_dump(mode="json")
    found = extract("find the name 'a.txt'", spec["parameters"], tool_wording("find", spec))
    assert "path" in found.defaults
    # "Defaults to the current directory": saying "current directory" asks for the default;
    # the rest of what the parameter is ("path", "start", "search") still asks for a value
    assert {"current"} & found.default_words == set()
    assert {"path", "start"} <= found.default_words


@pytest.mark.parametrize(
    ("tool", "text", "value"),
    [
        ("count_characters", "count the characters in Mississippi for me", "Mississippi"),
        ("to_uppercase", "uppercase london for my sign", "london"),
        ("reverse_string", "reverse Paris for a test", "Paris"),
        ("to_uppercase", "make this uppercase: time for a change", "time for a change"),
        ("to_uppercase", "uppercase 'time for a change'", "time for a change"),
    ],
)
def test_what_a_request_is_for_is_not_part_of_an_unquoted_text(
    tool: str, text: str, value: str
) -> None:
    arguments, _ = fill(tool, text)
    assert arguments == {"text": value}


WATCHLIST = parse_tool(
    '''
def remove_from_watchlist(symbol: str) -> str:
    """Remove a stock from the watchlist.

    Args:
        symbol: the stock to remove.
    """
    return symbol


def test_removes() -> None:
    assert remove_from_watchlist("ZETA") == "ZETA"
''',
    "remove_from_watchlist",
)


@pytest.mark.parametrize(
    ("name", "description", "text"),
    [
        ("symbol", "the stock to remove", "remove 'Zeta Corp' from my watchlist"),  # named so
        ("title", "the ticker symbol the note is about", "add a note about 'Zeta Corp'"),
    ],
)
def test_a_code_never_takes_a_text_with_spaces(name: str, description: str, text: str) -> None:
    """A company's name is not its ticker: a code (an id, a symbol) with spaces is no value
    for it, so the tool does not fit and nothing is guessed."""
    schema = {"type": "string", "description": description}
    parameters = {"type": "object", "properties": {name: schema}, "required": [name]}
    found = extract(text, parameters, None)
    assert name in found.mistyped
    assert "spaces" in found.mistyped[name]


def test_a_code_without_spaces_and_a_text_with_them_are_values() -> None:
    spec = WATCHLIST.spec.model_dump(mode="json")
    fitted = extract("remove 'ZETA' from my watchlist", spec["parameters"], None)
    assert fitted.arguments == {"symbol": "ZETA"}
    assert fill("reverse_string", "reverse 'Zeta Corp'")[0] == {"text": "Zeta Corp"}


def test_a_noun_pointing_at_numbers_says_which_are_the_list() -> None:
    """ "the list 1, 2, 3": those are the list; a number outside it is another operand."""
    found = extract(
        "Add 5 to the list 1, 2, 3",
        TOOLS["sum_numbers"].spec.model_dump(mode="json")["parameters"],
        None,
    )
    assert found.arguments == {"numbers": [1.0, 2.0, 3.0]}
    assert fill("sum_numbers", "sum of the numbers 1, 2 and 3")[0] == {"numbers": [1.0, 2.0, 3.0]}
    assert fill("sum_numbers", "total of 5, 10, 15 and 20")[0] == {
        "numbers": [5.0, 10.0, 15.0, 20.0]
    }


def test_brackets_written_as_a_call_are_not_the_text() -> None:
    assert fill("reverse_string", "reverse(hello)")[0] == {"text": "hello"}


def test_a_number_tied_to_the_tools_name_by_another_relation_takes_no_role() -> None:
    """ "*percent of* 50 that is 10" is no change *from* 50: the number is tied to (the
    beginning of) the tool's name by "of", which its wording does not mark the old value by."""
    found, missing = fill("percentage_change", "percent of 50 that is 10")
    assert "old" in missing or "new" in missing, found
    assert fill("percentage_change", "percent change from 80 to 60")[0] == {
        "old": 80.0,
        "new": 60.0,
    }


def test_a_list_is_two_or_more_like_values_the_request_gives() -> None:
    # a number a word names is an operation, not a value listed
    assert fill("sum_numbers", "What is the square of the sum of 2 and 3?")[0] == {
        "numbers": [2.0, 3.0]
    }
    # values of different kinds are no list; one number is none either
    assert fill("mean", "I drove 100 km in 2 hours. What was my average speed?")[1] == ["numbers"]
    assert fill("mean", "average of 10")[1] == ["numbers"]
    # a word before each value labels it, and is no unit of the value before
    bills = "Add up my monthly bills: rent 1,450, electricity 92, internet 60, phone 45"
    assert fill("sum_numbers", bills)[0] == {"numbers": [1450.0, 92.0, 60.0, 45.0]}


def test_the_questions_own_clause_is_no_text() -> None:
    assert fill("count_words", "how many words does the English language have")[1] == ["text"]
    assert fill("count_characters", "how many characters are in hello")[0] == {"text": "hello"}


def test_a_mixed_number_is_one_value() -> None:
    assert fill("multiply_numbers", "what's 3 and a half times 2")[0] == {"a": 3.5, "b": 2.0}
    assert fill("add_numbers", "what is 2 and a quarter plus 1")[0] == {"a": 2.25, "b": 1.0}


def test_a_number_counting_earlier_answers_is_no_value() -> None:
    """ "add those *two* results together": how many results, not the number 2."""
    for text in ("add those two results together", "add those two together"):
        found, missing = fill("add_numbers", text)
        assert 2.0 not in found.values(), text
        assert missing, text


def test_the_ends_of_a_range_are_no_list_of_two() -> None:
    assert fill("sum_numbers", "sum of all numbers from 1 to 100")[1] == ["numbers"]
    assert fill("sum_numbers", "add up 1 through 10")[1] == ["numbers"]
    assert fill("sum_numbers", "sum of 1 and 100")[0] == {"numbers": [1.0, 100.0]}
    assert fill("sum_numbers", "sum 1 to 10")[1] == ["numbers"]
    assert fill("sum_numbers", "add 5 to 10")[0] == {"numbers": [5.0, 10.0]}


def test_a_difference_between_two_numbers_is_their_distance() -> None:
    """ "between" gives no order: the difference between 3.5 and 10 is 6.5."""
    assert fill("subtract_numbers", "What is the difference between 3.5 and 10?")[0] == {
        "a": 10.0,
        "b": 3.5,
    }
    assert fill("subtract_numbers", "difference of 3 and 10")[0] == {"a": 10.0, "b": 3.0}
    assert fill("subtract_numbers", "subtract 10 from 3.5")[0] == {"a": 3.5, "b": 10.0}


def test_a_part_out_of_a_whole_is_no_change() -> None:
    """ "45 out of 60" is a share, not the change from 45 to 60."""
    found, missing = fill("percentage_change", "I scored 45 out of 60. What percentage is that?")
    assert missing, found


def test_an_operation_the_tool_does_not_do_is_left_over() -> None:
    found, _ = fill("add_numbers", "what is 5 plus 3 and I want it doubled")
    assert found == {"a": 5.0, "b": 3.0}


def test_deg_before_a_unit_is_a_filler_as_degrees_is() -> None:
    found = fill("convert_temperature", "what is 10 deg C in F")[0]
    assert found["value"] == 10.0
    assert str(found["from_unit"]).lower() == "c"
    assert str(found["to_unit"]).lower() == "f"


def test_a_thing_pointed_at_but_not_given_is_no_text() -> None:
    """ "uppercase this file" points at a file elsewhere: no text to upper-case."""
    for tool, text in (
        ("to_uppercase", "uppercase this file"),
        ("reverse_string", "reverse image search this photo"),
        ("reverse_string", "reverse the order of these steps"),
        ("count_words", "count the words in this paragraph"),
        ("reverse_string", "reverse the charges on my card"),
    ):
        assert fill(tool, text)[1] == ["text"], text
    assert fill("to_uppercase", "uppercase i love this song")[0] == {"text": "i love this song"}
    assert fill("to_uppercase", "uppercase i love my dog")[0] == {"text": "i love my dog"}
    assert fill("reverse_string", "reverse this word banana")[0] == {"text": "banana"}


def test_a_verb_of_its_own_starts_a_text_and_is_no_link_to_it() -> None:
    """ "uppercase go to school" gave "SCHOOL": "go to" was read as the link of "are in"."""
    found, _ = fill("to_uppercase", "uppercase go to school")
    assert found.get("text") != "school"
    found, _ = fill("count_characters", "how many characters are in hello world")
    assert found == {"text": "hello world"}


def test_the_words_leading_to_the_form_asked_are_not_the_text() -> None:
    """ "write hello in capital letters" gave "HELLO IN CAPITAL"."""
    found, _ = fill("to_uppercase", "write hello in capital letters")
    assert found.get("text") != "hello in capital"


def test_a_text_the_tools_own_word_may_stand_in_is_not_cut_at_it() -> None:
    """ "reverse come back soon" gave "noos": "back" is reverse_string's word, so the text
    was taken from after it."""
    found, _ = fill("reverse_string", "reverse come back soon")
    assert found.get("text") != "soon"
    found, _ = fill("count_letters", "count the letters in banana")
    assert found == {"text": "banana"}


def test_an_instruction_verb_ends_the_framing_and_the_text_starts_after_it() -> None:
    """ "make go to bed uppercase" gave "BED" and "put i am in love in upper case" "LOVE": the
    text's own first words were trimmed as framing after "make" and "put"."""
    found, _ = fill("to_uppercase", "make go to bed uppercase")
    assert found.get("text") != "bed"
    found, _ = fill("to_uppercase", "put i am in love in upper case")
    assert found == {"text": "i am in love"}
    # the words before the tool's word are trimmed only right before it
    found, _ = fill("to_uppercase", "convert welcome to paris to uppercase")
    assert found == {"text": "welcome to paris"}


def test_words_for_the_whole_of_a_text_are_not_part_of_it() -> None:
    """ "capitalize everything in the cat sat" gave "EVERYTHING IN THE CAT SAT"."""
    assert fill("to_uppercase", "capitalize everything in the cat sat")[0] == {
        "text": "the cat sat"
    }
    assert fill("to_uppercase", "uppercase all of the cat sat")[0] == {"text": "the cat sat"}
    assert fill("reverse_string", "reverse everything in hello world")[0] == {"text": "hello world"}
    # "all" alone, or before another word, is the text's own
    assert fill("to_uppercase", "uppercase all in one go")[0] == {"text": "all in one go"}


def test_a_question_or_message_named_before_a_text_points_at_it() -> None:
    """ "uppercase the question what time is it" gave "THE QUESTION WHAT TIME IS IT"."""
    found, _ = fill("to_uppercase", "uppercase the question what time is it")
    assert found == {"text": "what time is it"}
    assert fill("to_uppercase", "uppercase the message meet at noon")[0] == {"text": "meet at noon"}


SPREAD = {
    "type": "object",
    "properties": {
        "numbers": {"type": "array", "items": {"type": "number"}},
        "kind": {"enum": ["population", "sample"], "default": "population"},
    },
    "required": ["numbers"],
}


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("sample standard deviation of 2, 4, 6", "sample"),
        ("standard deviation of the sample 2, 4, 6", "sample"),  # after the noun too
        ("population standard deviation of 2, 4, 6", "population"),
        ("standard deviation of 2, 4, 6", None),  # left to its default
    ],
)
def test_an_option_of_an_enum_the_request_names_is_its_value(text: str, kind: str | None) -> None:
    found = extract(text, SPREAD)
    assert found.arguments.get("kind") == kind
    assert found.arguments["numbers"] == [2.0, 4.0, 6.0]
    assert not found.mistyped


def test_two_options_of_one_enum_named_leave_it_undecided() -> None:
    # "the sample and population standard deviation": both asked, or one of them; either
    # way not the one the schema happens to list first (it gave the population's alone)
    found = extract("sample and population standard deviation of 1, 2, 3", SPREAD)
    assert "kind" not in found.arguments
    assert "“population” and “sample”" in found.mistyped["kind"]
