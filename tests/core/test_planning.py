import pytest

from selfeng.core.planning import PlanStep, plan, tool_vocabulary


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


def test_tool_names_count_as_instructions() -> None:
    vocabulary = tool_vocabulary(["shout_text"])
    assert [s.text for s in plan("take hello and shout it", vocabulary)] == [
        "take hello",
        "shout it",
    ]
    assert len(plan("take hello and shout it")) == 1
