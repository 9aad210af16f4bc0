"""Follow-ups in a session, and requests with several questions."""

from __future__ import annotations

from selfeng.agent import Agent, Answer
from selfeng.app import Selfeng
from selfeng.projections.sessions import SessionsProjection, previous_answer
from selfeng.schemas import (
    FeedbackApplied,
    RequestCompleted,
    Step,
    ToolExecuted,
    ToolSynthesisRequested,
)


def asked_back(agent: Agent, follow_up: str, session: str) -> Answer:
    """Ask ``follow_up`` in ``session`` and check it is asked back, not answered."""
    answer = agent.ask(follow_up, session_id=session)
    assert not answer.ok
    assert "which one?" in answer.text
    return answer


def test_a_follow_up_uses_the_previous_answer_of_its_session(seeded: Selfeng) -> None:
    agent = Agent(seeded)
    first = agent.ask("What is 25% of 80?", session_id="s-follow")
    assert first.value == 20
    reversed_ = agent.ask("Now reverse the result", session_id="s-follow")
    assert reversed_.ok
    assert reversed_.text == "02"
    tripled = agent.ask("Multiply it by 3", session_id="s-follow")
    assert not tripled.ok or tripled.value == 6  # "02" reads as the number 2 again
    other = agent.ask("Multiply it by 3", session_id="s-other")
    assert not other.ok
    assert "refers to an earlier answer" in other.text


def test_a_conversion_follow_up_continues_from_the_previous_unit(seeded: Selfeng) -> None:
    agent = Agent(seeded)
    assert agent.ask("Convert 77 F to C", session_id="s-temp").value == 25
    kelvin = agent.ask("and what is that in kelvin?", session_id="s-temp")
    assert kelvin.ok, kelvin.text
    assert kelvin.value == 298.15


def test_a_follow_up_with_a_modifier_is_one_step(seeded: Selfeng) -> None:
    agent = Agent(seeded)
    assert agent.ask('Make "race car" uppercase', session_id="s-mod").text == "RACE CAR"
    counted = agent.ask("how many characters is that, counting the space?", session_id="s-mod")
    assert counted.ok, counted.text
    assert counted.value == 8


def test_one_number_is_never_a_list_to_aggregate(seeded: Selfeng) -> None:
    # "then the mean" has no values of its own; the median (one number) is no list
    answer = Agent(seeded).ask("For 3, 7, 8, 12, 20 give me the median and then the mean.")
    assert answer.value != 8
    assert not answer.ok or answer.value == [8, 10]


def test_a_follow_up_that_leaves_out_the_question_asks_it_again(seeded: Selfeng) -> None:
    agent = Agent(seeded)
    assert agent.ask("convert 10 km to miles", session_id="s-again").ok
    again = agent.ask("what about 20 km?", session_id="s-again")
    assert again.ok, again.text
    assert round(float(again.value), 3) == 12.427  # type: ignore[arg-type]
    assert agent.ask("What is 15% of 200?", session_id="s-pct").value == 30
    # a new percentage of the same amount, not of the answer 30
    assert agent.ask("and 25%?", session_id="s-pct").value == 50
    # which of two values a lone new one replaces cannot be told: no answer
    assert agent.ask("Add 3 and 4", session_id="s-two").value == 7
    assert not agent.ask("what about 5?", session_id="s-two").ok


def test_a_follow_up_without_values_takes_the_previous_ones(seeded: Selfeng) -> None:
    agent = Agent(seeded)
    assert agent.ask("What's the average of 4, 8, 12?", session_id="s-vals").value == 8
    median = agent.ask("And the median?", session_id="s-vals")
    assert median.ok, median.text
    assert median.value == 8
    assert agent.ask("and the largest?", session_id="s-vals").value == 12
    total = agent.ask("and the sum", session_id="s-vals")  # an operation's noun, as well
    assert total.value == 24, total.text
    # one number is no list: nothing to take
    assert agent.ask("What is 15% of 200?", session_id="s-one").value == 30
    assert not agent.ask("And the median?", session_id="s-one").ok


def test_the_question_asked_again_another_way_is_not_asked_of_the_answer(
    seeded: Selfeng,
) -> None:
    """ "and cubed?" after "what's 3 squared" gave 729 (9 cubed): it asks 3 cubed, and the
    previous answer or the previous values could be meant, so it is declined; a follow-up
    for another tool ("and rounded?" after a division) continues from the answer."""
    agent = Agent(seeded)
    assert agent.ask("what's 3 squared", session_id="s-again").value == 9
    again = agent.ask("and cubed?", session_id="s-again")
    assert not again.ok
    assert "again another way" in again.text
    assert agent.ask("round 3.14159", session_id="s-round").value == 3
    assert not agent.ask("to 2 decimals", session_id="s-round").ok
    assert agent.ask("what is 10 divided by 4", session_id="s-on").value == 2.5
    rounded = agent.ask("and rounded?", session_id="s-on")
    assert rounded.ok, rounded.text
    assert rounded.value == 3
    assert agent.ask("what's 4 squared", session_id="s-it").value == 16
    assert agent.ask("square it again", session_id="s-it").value == 256  # "it": the answer
    # a conversion goes on from the unit its answer is in: the same quantity either way
    assert agent.ask("convert 40 celsius to fahrenheit", session_id="s-k").value == 104
    kelvin = agent.ask("what about in kelvin", session_id="s-k")
    assert kelvin.ok, kelvin.text
    assert kelvin.value == 313.15


def test_it_for_a_text_or_the_number_counted_in_it_is_asked_back(seeded: Selfeng) -> None:
    """ "reverse it" after "how many letters in 'apple'" gave 5, the count reversed, where
    the word may be meant; after a product, or for a number tool, "it" is the answer."""
    agent = Agent(seeded)
    assert agent.ask('how many letters in "apple"', session_id="s-text").value == 5
    assert not asked_back(agent, "reverse it", "s-text").text.endswith("?.")
    assert agent.ask('how many letters in "pear"', session_id="s-count").value == 4
    assert agent.ask("double it", session_id="s-count").value == 8
    assert agent.ask("what is 12 times 4", session_id="s-num").value == 48
    assert agent.ask("reverse it", session_id="s-num").value == "84"
    assert agent.ask('uppercase "good morning"', session_id="s-up").value == "GOOD MORNING"
    assert agent.ask("now lowercase it", session_id="s-up").value == "good morning"


def test_a_bare_number_for_one_of_two_kinds_of_values_is_asked_back(seeded: Selfeng) -> None:
    """ "and 20" after "now 15 percent" (of 250) gave 3, 15 percent of 20: the 20 may be the
    percentage as well. A percentage sign, or a word the previous request had, says which."""
    agent = Agent(seeded)
    assert agent.ask("what's 15 percent of 250", session_id="s-bare").value == 37.5
    asked_back(agent, "and 20", "s-bare")
    assert agent.ask("what's 15% of 200", session_id="s-pct").value == 30
    assert agent.ask("and 25%?", session_id="s-pct").value == 50
    assert agent.ask("what's 15% of 200", session_id="s-of").value == 30
    assert agent.ask("and of 300?", session_id="s-of").value == 45


def test_a_percentage_joined_to_the_answer_changes_it(seeded: Selfeng) -> None:
    """ "and with 10% tax?" after a total of 7.45 gave 0.745, the tax alone."""
    agent = Agent(seeded)
    assert agent.ask("what's 2.50 plus 4.95", session_id="s-tax").value == 7.45
    assert not agent.ask("and with 10% tax?", session_id="s-tax").ok


def test_a_follow_up_that_starts_with_an_operator_works_on_the_answer(seeded: Selfeng) -> None:
    agent = Agent(seeded)
    assert agent.ask("Add 3 and 4", session_id="s-op").value == 7
    assert agent.ask("minus 10", session_id="s-op").value == -3
    assert agent.ask("times 5", session_id="s-op").value == -15
    # without a session there is no answer to work on
    assert not agent.ask("minus 10").ok


def test_a_follow_up_without_a_session_abstains_and_says_why(seeded: Selfeng) -> None:
    answer = Agent(seeded).ask("Now reverse the result")
    assert not answer.ok
    assert "refers to an earlier answer" in answer.text
    assert not any(isinstance(e, ToolExecuted | ToolSynthesisRequested) for e in answer.events)


def test_several_questions_in_one_request_are_all_answered(seeded: Selfeng) -> None:
    answer = Agent(seeded).ask("Calculate 20% of 100 and also find the square root of 64")
    assert answer.ok
    assert answer.value == [20, 8]
    assert "20" in answer.text
    assert "8" in answer.text
    chained = Agent(seeded).ask("Calculate 25% of 100 and reverse the result")
    assert chained.value == "52"  # a chain answers with its last step only
    both = Agent(seeded).ask("Find the biggest of 5, 19, 3, 12 and also the total of those numbers")
    assert both.value == [19, 39]  # "those numbers": the values the first part was given
    also = Agent(seeded).ask("convert 5 km to miles and also to feet")
    # asked as well: both are the answer, the second from the first's digits, all of them
    assert also.value == [3.10685596118667, 16404.1994750656]
    assert "3.10685596118667" in also.text
    then = Agent(seeded).ask("average of 4 and 6, then double it")
    assert then.value == 10


def test_a_part_no_tool_answers_means_no_answer(seeded: Selfeng) -> None:
    answer = Agent(seeded).ask("Calculate 20% of 100 and also translate hello into French")
    assert not answer.ok
    assert "part 2" in answer.text
    assert not any(isinstance(e, ToolExecuted) for e in answer.events)


def test_the_session_projection_keeps_the_newest_answer_not_rated_bad() -> None:
    projection = SessionsProjection()
    state = projection.initial()
    ctx = None

    def done(key: str, value: object, at: str) -> RequestCompleted:
        step = Step(query="q", tool="t", version=1, ok=True, arguments={"x": 1})
        return RequestCompleted.model_validate(
            {
                "key": key, "ok": True, "answer": str(value), "value": value,
                "steps": [step.model_dump()], "session_id": "s", "occurred_at": at,
            }
        )  # fmt: skip

    later = done("r2", 2, "2026-01-01T00:00:02Z")
    earlier = done("r1", 1, "2026-01-01T00:00:01Z")
    for event in (later, earlier):  # arrival order does not matter
        state = projection.apply(state, event, ctx)  # type: ignore[arg-type]
    found = previous_answer(state, "s")
    assert found is not None
    assert (found["value"], found["arguments"]) == (2, {"x": 1})
    bad = FeedbackApplied(key="r2", rating="bad", feedback_id="f", answer_id="a", session_id="s")
    state = projection.apply(state, bad, ctx)  # type: ignore[arg-type]
    assert previous_answer(state, "s") is None  # the newest was rated bad: nothing to use
    assert previous_answer(state, "nope") is None


def test_a_follow_up_that_makes_a_value_another_asks_the_question_again(seeded: Selfeng) -> None:
    """ "make that 25%" after "what's 15% of 80" gave 3, 25% of the answer 12."""
    agent = Agent(seeded)
    assert agent.ask("what's 15% of 80", session_id="s-make").value == 12
    assert agent.ask("make that 25%", session_id="s-make").value == 20
    assert agent.ask("convert 10 km to miles", session_id="s-km").ok
    changed = agent.ask("change it to 30 km", session_id="s-km")
    assert round(float(changed.value), 3) == 18.641  # type: ignore[arg-type]
    # which of two values it replaces is asked back; a form, not a value, works on the answer
    assert agent.ask("what's 12 times 12", session_id="s-which").value == 144
    asked_back(agent, "make it 13", "s-which")
    assert agent.ask("reverse hello", session_id="s-up").ok
    assert agent.ask("make it uppercase", session_id="s-up").value == "OLLEH"
    # a word of its own says what to do with the answer: "25% bigger" is no 25% of it
    assert agent.ask("add 3 and 4", session_id="s-times").value == 7
    assert agent.ask("make it 10 times bigger", session_id="s-times").value == 70
    assert agent.ask("what's 15% of 80", session_id="s-bigger").value == 12
    assert agent.ask("make it 25% bigger", session_id="s-bigger").value != 3


def test_the_list_is_not_the_one_number_answered_before(seeded: Selfeng) -> None:
    """ "what if I add 100 to the list" after the median of 10, 20, 30 gave 120."""
    agent = Agent(seeded)
    assert agent.ask("average of 10, 20, 30", session_id="s-list").value == 20
    added = agent.ask("what if I add 100 to the list", session_id="s-list")
    assert added.value != 120
    assert not added.ok
    assert agent.ask("average of 10, 20, 30", session_id="s-add").value == 20
    assert agent.ask("and add 7", session_id="s-add").value == 27  # the answer, as it says


def test_a_request_that_corrects_itself_is_declined_and_says_why(seeded: Selfeng) -> None:
    """ "2+2, just kidding, 3+3" answered both parts, and "add 3 and 4, actually 3 and 5"
    gave 11 for "add 3 actually 3 and 5"."""
    agent = Agent(seeded)
    for text in ("2+2, just kidding, 3+3", "add 3 and 4, actually 3 and 5"):
        answer = agent.ask(text)
        assert not answer.ok
        assert "takes back" in answer.text
        assert not any(isinstance(e, ToolExecuted | ToolSynthesisRequested) for e in answer.events)
    assert agent.ask("sorry, what's 5 times 4").value == 20


def test_a_number_put_with_the_answer_of_an_aggregate_is_asked_back(seeded: Selfeng) -> None:
    """ "and with 12 added?" after "now the average" (of 3, 6, 9) gave 18, the answer plus
    12; the average of 3, 6, 9 and 12 may be meant."""
    agent = Agent(seeded)
    assert agent.ask("sum 3, 6, 9", session_id="s-with").value == 18
    assert agent.ask("now the average", session_id="s-with").value == 6
    asked_back(agent, "and with 12 added?", "s-with")
    # an instruction on the answer is one
    assert agent.ask("average of 3, 6, 9", session_id="s-add7").value == 6
    assert agent.ask("and add 7", session_id="s-add7").value == 13
