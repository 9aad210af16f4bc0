"""The request path end to end: real plans, real search, real sandbox runs, real events."""

from __future__ import annotations

import pytest

from selfeng.agent import Agent
from selfeng.app import Selfeng
from selfeng.core.policies import POLICIES
from selfeng.core.tooldef import parse_tool
from selfeng.schemas import (
    CacheHit,
    RequestCompleted,
    RequestReceived,
    ResponseSynthesized,
    ToolExecuted,
    ToolSearched,
    ToolSynthesisRequested,
)


def types(answer_events: tuple[object, ...]) -> list[str]:
    return [type(e).__name__ for e in answer_events]


@pytest.mark.parametrize(
    ("prompt", "text", "tools"),
    [
        ("What is 25% of 100?", "25", ("percent_of@1",)),
        ("Reverse the string hello", "olleh", ("reverse_string@1",)),
        ("Calculate 25% of 100 and reverse the result", "52", ("percent_of@1", "reverse_string@1")),
        ("convert 10 km to miles", "6.21371192237334", ("convert_length@1",)),
        ("average of 1, 2, 3 and 4", "2.5", ("mean@1",)),
        ("How many days between 2024-02-01 and 2024-03-01?", "29", ("days_between@1",)),
    ],
)
def test_the_seed_examples_are_answered(
    seeded: Selfeng, prompt: str, text: str, tools: tuple[str, ...]
) -> None:
    answer = Agent(seeded).ask(prompt)
    assert answer.ok, answer.text
    assert answer.text == text
    assert answer.tools == tools


def test_every_step_is_an_event_of_the_request(seeded: Selfeng) -> None:
    answer = Agent(seeded).ask("Reverse the string selfeng")
    assert types(answer.events)[:2] == ["RequestReceived", "ToolSearched"]
    assert set(types(answer.events)) >= {
        "ArgumentsExtracted",
        "ResponseSynthesized",
        "RequestCompleted",
    }
    received = answer.events[0]
    assert isinstance(received, RequestReceived)
    for event in answer.events[1:]:
        assert event.key == received.key
        assert event.correlation_id == received.event_id
    executed = next(e for e in answer.events if isinstance(e, ToolExecuted | CacheHit))
    assert executed.tool == "reverse_string"
    logged = [r.type for r in seeded.log.stream(received.key)]
    assert logged == types(answer.events)


def test_a_repeat_is_answered_from_the_cache(seeded: Selfeng) -> None:
    agent = Agent(seeded)
    first = agent.ask("What is 12% of 50?")
    second = agent.ask("What is 12% of 50?")
    assert not first.cached
    assert second.cached
    assert second.text == first.text == "6"
    assert "CacheHit" in types(second.events)
    assert "ToolExecuted" not in types(second.events)


def test_no_fitting_tool_asks_for_one_and_says_so(seeded: Selfeng) -> None:
    answer = Agent(seeded).ask("Translate good morning into French")
    assert not answer.ok
    assert "no tool for that yet" in answer.text
    synthesis = [e for e in answer.events if isinstance(e, ToolSynthesisRequested)]
    assert synthesis[0].need == "Translate good morning into French"
    assert synthesis[0].request_id == answer.request_id


def test_a_long_request_is_not_echoed_back_whole(seeded: Selfeng) -> None:
    prompt = "zorble" + " flim blat" * 400  # resembles no tool: the message quotes it
    answer = Agent(seeded).ask(prompt)
    assert not answer.ok
    assert len(answer.text) < 600
    assert f"({len(prompt):,} characters)" in answer.text
    synthesis = next(e for e in answer.events if isinstance(e, ToolSynthesisRequested))
    assert synthesis.need == prompt  # the event keeps it whole


def test_a_missing_value_is_named(seeded: Selfeng) -> None:
    answer = Agent(seeded).ask("What is 25% of?")
    assert not answer.ok
    assert "could not find a value for value" in answer.text
    searched = next(e for e in answer.events if isinstance(e, ToolSearched))
    weighed = next(e for e in searched.evidence if e.tool == "percent_of")
    assert weighed.missing == ("value",)
    assert not weighed.accepted
    assert not any(isinstance(e, ToolExecuted | ToolSynthesisRequested) for e in answer.events)


def test_a_reference_to_no_earlier_answer_is_explained(seeded: Selfeng) -> None:
    answer = Agent(seeded).ask("What is 25% of it?")
    assert not answer.ok
    assert "refers to an earlier answer" in answer.text
    assert not any(isinstance(e, ToolExecuted) for e in answer.events)


@pytest.mark.parametrize(
    "prompt",
    [
        "email my boss that I'm running late",
        "whisper this: be quiet please",
        "what is the sum of the first 10 numbers",
    ],
)
def test_words_that_point_at_no_earlier_answer_are_not_read_as_one(
    seeded: Selfeng, prompt: str
) -> None:
    """ "that" joining a clause, and "this" before a colon (the text after it), point at no
    earlier answer: the answer must not say one is missing."""
    answer = Agent(seeded).ask(prompt)
    assert not answer.ok
    assert "earlier answer" not in answer.text


@pytest.mark.parametrize("prompt", ["", "   ", "x" * 30_000])
def test_empty_and_huge_prompts_get_a_clear_answer(seeded: Selfeng, prompt: str) -> None:
    answer = Agent(seeded).ask(prompt)
    assert not answer.ok
    assert answer.text
    assert isinstance(answer.events[-1], RequestCompleted)
    assert isinstance(answer.events[-2], ResponseSynthesized)


@pytest.mark.parametrize(
    "prompt",
    [
        "sum " + "1, " * 6_600,  # planning scanned the growing list once per number: 196 s
        "get field a from " + '{"a":' * 1_000 + "1" + "}" * 1_000,  # RecursionError
        "what is " + "{" * 9_000 + "}" * 9_000,  # every bracket walked to its match: 5 s
        "reverse " + "1-" * 9_000,  # every token checked against every span read: 6 s
    ],
    ids=["long list", "deep json", "nested brackets", "many tokens"],
)
def test_a_long_request_of_any_shape_is_answered_or_declined(seeded: Selfeng, prompt: str) -> None:
    """Up to 20,000 characters of any shape: read in about linear time (the comments say
    what each shape cost before), never an exception."""
    answer = Agent(seeded).ask(prompt)
    assert isinstance(answer.events[-1], RequestCompleted)
    assert answer.text


def test_a_prompt_in_another_language_is_answered_or_declined_cleanly(seeded: Selfeng) -> None:
    answer = Agent(seeded).ask("¿Cuál es el 25% de 100?")
    assert isinstance(answer.events[-1], RequestCompleted)
    assert answer.text


def test_a_tool_that_raises_becomes_a_failure_event(seeded: Selfeng) -> None:
    answer = Agent(seeded).ask("divide 10 by 0")
    assert not answer.ok
    failed = next(e for e in answer.events if isinstance(e, ToolExecuted))
    assert failed.ok is False
    assert failed.error_kind == "exception"
    assert "zero" in (failed.error or "")
    assert "divide_numbers failed" in answer.text
    assert Agent(seeded).ask("divide 10 by 4").text == "2.5"  # and it keeps serving


HANGS = '''
def spin_forever(seconds: float) -> float:
    """Spin (loop) forever; a hostile tool that never returns."""
    while True:
        seconds += 1


def test_spins() -> None:
    assert callable(spin_forever)
'''


def test_a_tool_that_hangs_times_out_and_the_system_keeps_serving(seeded: Selfeng) -> None:
    from selfeng.schemas import PolicyChanged

    events = seeded.add_tool(parse_tool(HANGS), origin="human")
    assert type(events[-1]).__name__ == "ToolRegistered"
    seeded.append([PolicyChanged(name="sandbox.timeout_seconds", value=1.5)])
    try:
        answer = Agent(seeded).ask("spin forever for 3 seconds")
    finally:
        seeded.append([PolicyChanged(name="sandbox.timeout_seconds", value=10)])
    failed = next(e for e in answer.events if isinstance(e, ToolExecuted))
    assert failed.error_kind == "timeout"
    assert not answer.ok
    assert Agent(seeded).ask("Reverse the string ok").text == "ko"


def test_handling_the_same_request_twice_stores_its_answer_once(seeded: Selfeng) -> None:
    received = RequestReceived(prompt="What is 3% of 300?", client="test")
    seeded.append([received])
    first = seeded.handle(received)
    second = seeded.handle(received)  # a worker restarted before committing
    assert [e.event_id for e in first] == [e.event_id for e in second]
    stream = seeded.log.stream(received.key)
    assert len(stream) == 1 + len(first)


def test_searches_carry_the_policy_and_threshold(seeded: Selfeng) -> None:
    answer = Agent(seeded).ask("What is 25% of 100?")
    searched = next(e for e in answer.events if isinstance(e, ToolSearched))
    threshold = POLICIES["retrieval.threshold"].default
    assert searched.threshold == threshold
    assert searched.min_confidence == POLICIES["answer.min_confidence"].default
    assert searched.candidates[0].tool == "percent_of"
    assert searched.candidates[0].score >= threshold
    assert searched.chosen == "percent_of"
    assert all(
        a.score >= b.score
        for a, b in zip(searched.candidates, searched.candidates[1:], strict=False)
    )


def test_a_sandbox_that_cannot_start_is_a_clear_answer_and_a_failure_event(
    seeded: Selfeng,
) -> None:
    from selfeng.core.mapper import from_record
    from selfeng.core.settings import Settings
    from selfeng.infra.log.memory import MemoryLog
    from selfeng.infra.store.memory import MemoryStore
    from selfeng.schemas import ToolRejected

    settings = Settings.resolve(sandbox="docker://?workers=0", env={})  # no engine answers here
    with Selfeng(MemoryLog(), MemoryStore(), settings=settings) as app:
        rejected = app.add_tool(parse_tool(HANGS), origin="human")[-1]
        assert isinstance(rejected, ToolRejected)
        assert "the sandbox could not start" in rejected.reason
        # the starter library, registered elsewhere, copied into this log
        seed = [
            from_record(r) for b in seeded.log.read(topics={"selfeng.tools"}) for r in b.records
        ]
        app.append(seed)
        answer = Agent(app).ask("Reverse the string hello")
    assert not answer.ok
    assert "the sandbox could not start" in answer.text
    failed = next(e for e in answer.events if isinstance(e, ToolExecuted))
    assert failed.error_kind == "sandbox"


def test_the_candidate_that_accounts_for_more_of_the_request_answers(seeded: Selfeng) -> None:
    """Two count tools fit "Count the letters in the word banana"; count_words is closer in
    wording but leaves "letters" unexplained, count_letters accounts for every word."""
    answer = Agent(seeded).ask("Count the letters in the word banana")
    assert answer.ok, answer.text
    assert answer.tools == ("count_letters@1",)
    assert answer.text == "6"


def test_a_step_that_only_says_squared_raises_the_previous_result(seeded: Selfeng) -> None:
    answer = Agent(seeded).ask("What is 6 divided by 3 and then squared?")
    assert answer.ok, answer.text
    assert answer.text == "4"
    assert answer.tools == ("divide_numbers@1", "power@1")


@pytest.mark.parametrize(
    ("prompt", "text"), [("quick q: 19 + 23?", "42"), ("tip: 18% of 54.50", "9.81")]
)
def test_a_label_before_a_colon_that_asks_for_nothing_leaves_the_request_after_it(
    seeded: Selfeng, prompt: str, text: str
) -> None:
    answer = Agent(seeded).ask(prompt)
    assert answer.ok, answer.text
    assert answer.text == text


def test_a_request_asking_how_many_is_not_answered_with_something_else(seeded: Selfeng) -> None:
    answer = Agent(seeded).ask('how many items are in {"items": [1, 2, 3]}')
    assert not answer.ok
    assert "asks how many" in answer.text
    assert "a list" in answer.text


def test_misspelt_words_are_read_as_the_tools_own(seeded: Selfeng) -> None:
    answer = Agent(seeded).ask("convert 100 farenheit to celcius")
    assert answer.ok, answer.text
    assert answer.text == "37.7777777777778"
