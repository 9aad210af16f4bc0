"""What percent one number is of another, beside the other percentage tools: right, or no
answer (the real handler, the starter library, a subprocess sandbox)."""

from __future__ import annotations

import pytest

from selfeng.agent import Agent
from selfeng.app import Selfeng


@pytest.mark.parametrize(
    ("prompt", "value", "tool"),
    [
        ("what percent is 30 of 120", 25, "percent_ratio"),
        ("what percent of 40 is 10", 25, "percent_ratio"),  # the whole first
        ("15 out of 60 is what percent", 25, "percent_ratio"),
        ("50 is what % of 200", 25, "percent_ratio"),  # the sign alone
        ("what percentage is 45 out of 180", 25, "percent_ratio"),
        ("what's fifteen percent of two hundred", 30, "percent_of"),  # in words: 15%
        ("what is 25% of 100", 25, "percent_of"),
        ("by what percent did 80 rise to 100", 25, "percentage_change"),
        ("percentage change from 50 to 75", 50, "percentage_change"),
        ("what is a 15% tip on 64.50", 9.675, "percent_of"),
    ],
)
def test_each_percentage_question_goes_to_its_tool(
    seeded: Selfeng, prompt: str, value: float, tool: str
) -> None:
    answer = Agent(seeded).ask(prompt)
    assert answer.ok, answer.text
    assert answer.value == value
    assert answer.tools == (f"{tool}@1",)


@pytest.mark.parametrize(
    "prompt",
    [
        # "of 30 in 120": 30 is the part here, not the whole "of" marks (it gave 400)
        "what's the percentage of 30 in 120",
    ],
)
def test_a_relation_the_tool_does_not_describe_is_declined(seeded: Selfeng, prompt: str) -> None:
    answer = Agent(seeded).ask(prompt)
    assert not answer.ok, answer.text


def test_a_value_tied_to_another_by_to_is_no_whole(seeded: Selfeng) -> None:
    # "to" ties 100 to 80: a change, not a part of a whole (percent_ratio gave 80); the
    # change's tool may answer it (25), or it is declined, as the search ranks them
    answer = Agent(seeded).ask("80 went up to 100, by what percent")
    assert not answer.ok or (answer.value, answer.tools) == (25, ("percentage_change@1",))


def test_values_in_the_order_written_are_no_relation_the_request_never_says(
    seeded: Selfeng,
) -> None:
    # percent_ratio took 80 and 100 in the order written and gave 80 (no "of" names a
    # whole); the change is what is asked
    answer = Agent(seeded).ask("if 80 becomes 100 what percent is that")
    assert not answer.ok or (answer.value, answer.tools) == (25, ("percentage_change@1",))
    # a difference names its relation: the distance between the two
    assert Agent(seeded).ask("What's the difference between 1200 and 450?").value == 750


def test_another_tools_name_said_in_two_words_is_not_a_label(seeded: Selfeng) -> None:
    # "lower case" before the colon labelled the text for to_uppercase, which tied with
    # to_lowercase
    answer = Agent(seeded).ask("make this lower case please: ThIs Is WeIrD")
    assert answer.ok, answer.text
    assert answer.value == "this is weird"


def test_a_conversion_follow_up_keeps_every_digit(seeded: Selfeng) -> None:
    # the miles were rounded to 6 places and converted again: 10000.000125 m
    agent = Agent(seeded)
    first = agent.ask("convert 10 km to miles", session_id="digits")
    assert first.value == 6.21371192237334
    again = agent.ask("what about in meters", session_id="digits")
    assert again.ok, again.text
    assert again.value == 10000


def test_a_small_result_is_not_rounded_to_zero(seeded: Selfeng) -> None:
    assert Agent(seeded).ask("convert 1 millisecond to hours").value == 2.77777777777778e-07
    assert Agent(seeded).ask("convert 1 mm to miles").value == 6.21371192237334e-07
