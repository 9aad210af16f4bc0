"""Starter tools asked for a kind or a unit their descriptions name: the sample standard
deviation beside the population's (it was declined as a kind the tool did not say, or given
the population's when "sample" came after the noun), stone, micrograms, microseconds and
nanoseconds (each failed inside its tool as an unknown unit). The real handler, the starter
library, a subprocess sandbox."""

from __future__ import annotations

import math

import pytest

from selfeng.agent import Agent
from selfeng.app import Selfeng


@pytest.mark.parametrize(
    ("prompt", "value", "tool"),
    [
        ("What is the standard deviation of 2, 4, 4, 4, 5, 5, 7, 9?", 2, "standard_deviation"),
        ("sample standard deviation of 2, 4, 6", 2, "standard_deviation"),
        ("standard deviation of the sample 1, 2, 3, 4", math.sqrt(5 / 3), "standard_deviation"),
        ("population standard deviation of 1, 2, 3, 4", math.sqrt(1.25), "standard_deviation"),
        ("Convert 2 stone to kg", 12.70058636, "convert_weight"),
        ("how many pounds in 3 stone", 42, "convert_weight"),
        ("convert 250 mcg to mg", 0.25, "convert_weight"),
        ("1 microsecond in seconds", 1e-06, "convert_duration"),
        ("convert 500 nanoseconds to milliseconds", 0.0005, "convert_duration"),
    ],
)
def test_a_kind_or_unit_the_tool_names_is_answered(
    seeded: Selfeng, prompt: str, value: float, tool: str
) -> None:
    answer = Agent(seeded).ask(prompt)
    assert answer.ok, answer.text
    assert isinstance(answer.value, float | int)
    assert math.isclose(answer.value, value, rel_tol=1e-12)
    assert answer.tools == (f"{tool}@1",)


@pytest.mark.parametrize(
    "prompt",
    [
        "what is 10 divided by 0",  # the division fails; no other tool's words fit
        "sample standard deviation of 5",  # one number has no sample spread
        "sample and population standard deviation of 1, 2, 3",  # two kinds: which?
        # "sample", an option of the tool's kind, is no word of what it does: "variance"
        # and "size" were read as the values' labels, and a spread was given
        "sample variance of 2, 4, 6",
        "sample size of 10, 20, 30",
        "what is the whole number part of 7.9",  # 7, not 7.9 rounded (it gave 8)
    ],
)
def test_what_no_starter_tool_answers_is_declined(seeded: Selfeng, prompt: str) -> None:
    answer = Agent(seeded).ask(prompt)
    assert not answer.ok, answer.text


def test_a_second_thing_asked_before_the_kind_is_not_left_out(seeded: Selfeng) -> None:
    # "the mean and sample standard deviation of ...": both are asked; the spread alone
    # was given (the option word, taken as the kind, hid "mean and" from the rule for a
    # second thing asked)
    answer = Agent(seeded).ask("what's the mean and sample standard deviation of 2, 4, 6")
    assert not answer.ok or answer.tools == ("mean@1", "standard_deviation@1"), answer.text
