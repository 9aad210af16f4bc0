import re

import pytest
from pydantic import JsonValue

from selfeng.core.arguments import extract, format_value
from selfeng.core.tooldef import parse_tool
from selfeng.seed_tools import seed_sources

TOOLS = {name: parse_tool(source, name) for name, source in seed_sources().items()}


def fill(tool: str, text: str, **kwargs: object) -> tuple[dict[str, JsonValue], list[str]]:
    found = extract(
        text,
        TOOLS[tool].spec.parameters,
        tool_words=frozenset(tool.split("_")),
        **kwargs,  # type: ignore[arg-type]
    )
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


def test_the_previous_output_feeds_the_next_step() -> None:
    found, missing = fill("reverse_string", "reverse the result", previous=25.0, use_previous=True)
    assert found == {"text": "25"}
    assert missing == []
    found, _ = fill("multiply_numbers", "multiply it by 4", previous=5, use_previous=True)
    assert found == {"a": 5, "b": 4.0}


def test_missing_values_are_named() -> None:
    found, missing = fill("percent_of", "what is a percentage of something")
    assert missing == ["percent", "value"]
    assert found == {}
    _, missing = fill("divide_numbers", "divide 10")
    assert missing == ["b"]


def test_other_languages_and_odd_text_do_not_break_it() -> None:
    found, missing = fill("reverse_string", "Inverse la chaîne «bonjour» s'il vous plaît")
    assert missing == []
    assert isinstance(found["text"], str)
    assert re.search("bonjour", str(found["text"]))
    assert fill("add_numbers", "🙂 " * 50)[1] == ["a", "b"]


def test_values_read_as_text() -> None:
    assert format_value(25.0) == "25"
    assert format_value(2.5) == "2.5"
    assert format_value([1, 2]) == "[1,2]"
    assert format_value("x") == "x"
