"""Learning from confirmed answers only, and unlearning from a bad rating."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from selfeng.agent import Agent
from selfeng.app import Selfeng
from selfeng.core.tooldef import parse_tool
from selfeng.projections.base import MAIN
from selfeng.projections.cache import cache_key
from selfeng.projections.catalog import default_projections
from selfeng.projections.registry import live
from selfeng.projections.replay import rebuild
from selfeng.schemas import FeedbackApplied, ToolExecuted, ToolSearched
from tests.consumers.conftest import seeded_app

# A tool that is confidently wrong: it says what it does, and does something else.
CAPITAL = '''"""Capitals."""


def capital_city(country: str) -> str:
    """The capital city of a country.

    Args:
        country: the country.
    """
    return country.upper()


def test_runs() -> None:
    assert capital_city("x") == "X"
'''


@pytest.fixture
def app() -> Iterator[Selfeng]:
    opened = seeded_app()
    opened.add_tool(parse_tool(CAPITAL, "capital_city"))
    yield opened
    opened.close()


def test_a_bad_rating_takes_back_what_the_answer_taught(app: Selfeng) -> None:
    agent = Agent(app)
    wrong = agent.ask("What is the capital city of Spain?")
    assert wrong.ok
    assert wrong.text == "SPAIN"  # confident, and wrong
    registry = app.registry()
    assert "what is the capital city of {country}" in registry["phrases"]["capital_city"]
    executed = next(e for e in wrong.events if isinstance(e, ToolExecuted))
    key = cache_key("capital_city", 1, dict(executed.arguments))
    assert key in app.state("cache")["entries"]

    result = agent.feedback(wrong.request_id, "bad")

    assert result.applied is not None
    assert result.applied.before == ("learnt",)
    assert result.applied.after == ("rejected",)
    assert "took back" in result.changed
    assert "will not answer" in result.changed
    registry = app.registry()
    assert "what is the capital city of {country}" not in live(registry["phrases"]["capital_city"])
    assert "what is the capital city of {country}" in live(registry["rejected"]["capital_city"])
    assert registry["stats"]["capital_city@1"]["rejected"] == 1
    assert registry["stats"]["capital_city@1"]["confirmed"] == 0
    assert key not in app.state("cache")["entries"]


def test_the_same_request_is_not_answered_the_same_way_again(app: Selfeng) -> None:
    agent = Agent(app)
    first = agent.ask("What is the capital city of Spain?")
    agent.feedback(first.request_id, "bad")
    again = agent.ask("What is the capital city of Spain?")
    assert not again.ok
    assert again.text != first.text
    searched = next(e for e in again.events if isinstance(e, ToolSearched))
    weighed = next(e for e in searched.evidence if e.tool == "capital_city")
    assert not weighed.accepted
    assert weighed.rejected_uses == 1
    assert "rated" in weighed.reason
    assert "bad" in weighed.reason
    # the same kind of request too
    assert not agent.ask("What is the capital city of Peru?").ok


def test_good_after_bad_restores_and_replay_equals_live(app: Selfeng) -> None:
    agent = Agent(app)
    first = agent.ask("What is the capital city of Spain?")
    agent.feedback(first.request_id, "bad")
    changed = agent.feedback(first.request_id, "good")
    assert changed.applied is not None
    assert changed.applied.before == ("rejected",)
    assert changed.applied.after == ("confirmed",)
    registry = app.registry()
    phrase = "what is the capital city of {country}"
    assert registry["phrases"]["capital_city"][phrase][2] == 1  # confirmed by a user
    assert phrase not in live(registry["rejected"].get("capital_city"))
    assert agent.ask("What is the capital city of Peru?").ok
    rebuilt = rebuild(app.log, default_projections, MAIN)
    for name in ("registry", "cache", "patterns", "skill_graph", "sessions"):
        assert rebuilt.state(name) == app.state(name), name


def test_an_answer_not_confident_enough_is_learnt_only_when_rated_good(app: Selfeng) -> None:
    agent = Agent(app)
    answer = agent.ask("Round 3.14159 to 2 decimal places for the homework")
    assert answer.ok
    assert answer.value == 3.14
    assert 0.75 <= answer.confidence < 0.95
    phrases = app.registry()["phrases"].get("round_number", {})
    assert not any("homework" in p for p in phrases)
    result = agent.feedback(answer, "good")  # the answer itself, or its request id
    assert result.request_id == answer.request_id
    assert result.applied is not None
    assert result.applied.after == ("confirmed",)
    assert "learnt" in result.changed
    phrases = app.registry()["phrases"]["round_number"]
    assert any("homework" in p for p in phrases)


def test_a_rating_of_a_request_without_an_answer_changes_nothing(app: Selfeng) -> None:
    agent = Agent(app)
    unanswered = agent.ask("Who wrote Hamlet?")
    assert not unanswered.ok
    result = agent.feedback(unanswered.request_id, "bad")
    assert result.applied is not None
    assert result.applied.steps == ()
    assert "nothing changed" in result.changed


def test_feedback_is_applied_once_however_often_the_learner_reacts(app: Selfeng) -> None:
    agent = Agent(app)
    answer = agent.ask("What is the capital city of Spain?")
    result = agent.feedback(answer.request_id, "bad")
    again = app.learn([result.given])  # a second reaction to the same FeedbackGiven
    assert [e.event_id for e in again if isinstance(e, FeedbackApplied)] == [
        result.applied.event_id  # type: ignore[union-attr]
    ]
    applied = [r for r in app.log.stream(answer.request_id) if r.type == "FeedbackApplied"]
    assert len(applied) == 1
    assert app.registry()["stats"]["capital_city@1"]["rejected"] == 1


def test_a_wrong_routing_does_not_spread_to_other_requests(app: Selfeng) -> None:
    """What count_characters learns from "How many characters in ..." must not make it
    answer other "how many ..." requests (the failure the issue measured)."""
    agent = Agent(app)
    for word in ["hello world", "banana", "the quick brown fox", "selfeng", "ab"]:
        assert agent.ask(f"How many characters in {word}").ok
    expected = {
        "Convert 3 meters to feet": "convert_length@1",
        "How many ounces in 2 kg?": "convert_weight@1",
        "Convert 100 F to Celsius": "convert_temperature@1",
        "How many days from 2025-03-01 to 2025-12-25?": "days_between@1",
    }
    for prompt, tool in expected.items():
        answer = agent.ask(prompt)
        assert answer.tools == (tool,), (prompt, answer.text)
    assert not agent.ask("How many moons does Mars have?").ok
    assert not agent.ask("How many people live in Paris?").ok


def test_a_bad_rating_of_one_request_of_a_confirmed_phrasing_blocks_that_request_only(
    app: Selfeng,
) -> None:
    agent = Agent(app)
    good = agent.ask("How many words are in 'one two three'?")
    assert good.value == 3
    agent.feedback(good.request_id, "good")
    bad = agent.ask("How many words are in 'four five'?")
    assert bad.value == 2
    agent.feedback(bad.request_id, "bad")  # about this request, not about the phrasing
    again = agent.ask("How many words are in 'four five'?")
    assert not again.ok
    other = agent.ask("How many words are in 'six seven eight nine'?")
    assert other.ok
    assert other.value == 4
    rebuilt = rebuild(app.log, default_projections, MAIN)
    assert rebuilt.state("registry") == app.state("registry")


def test_a_bad_rating_of_a_phrasing_of_nothing_but_values_blocks_that_request_only(
    app: Selfeng,
) -> None:
    """ "what's {expression}" says nothing but "what's": a bad rating of "what's 1/4 of 20"
    is about that request, not about every expression asked with "what's"."""
    agent = Agent(app)
    rated = agent.ask("what's 1/4 of 20")
    assert rated.tools == ("evaluate_expression@1",)
    result = agent.feedback(rated.request_id, "bad")
    assert "will not answer this request again" in result.changed
    assert not agent.ask("what's 1/4 of 20").ok
    other = agent.ask("what's 2 + 3 * 4")
    assert other.tools == ("evaluate_expression@1",)
    assert other.value == 14
    rebuilt = rebuild(app.log, default_projections, MAIN)
    assert rebuilt.state("registry") == app.state("registry")


def test_an_answer_rated_bad_is_not_given_to_that_request_again_by_another_tool(
    app: Selfeng,
) -> None:
    """Blocking the tool that answered is not enough: the next candidate may give the same
    answer ("what's 40% of 90": percent_of, then the expression tool, both 36)."""
    agent = Agent(app)
    rated = agent.ask("what's 40% of 90")
    assert rated.text == "36"
    result = agent.feedback(rated.request_id, "bad")
    assert "“36” will not be given to this request again" in result.changed
    assert result.applied is not None
    assert (result.applied.prompt, result.applied.answer) == ("what's 40% of 90", "36")
    again = agent.ask("what's 40% of 90")
    assert not again.ok
    assert again.value is None
    assert "“36”, is one you rated bad for this request" in (again.text or "")
    assert agent.ask("What's 40% of  90").ok is False  # the same request, written as it was
    assert agent.ask("what's 40% of 80").value == 32  # another request is not touched
    # a good rating of the rated answer takes the block back
    undone = agent.feedback(rated.request_id, "good")
    assert "“36” may be given to this request again" in undone.changed
    assert agent.ask("what's 40% of 90").text == "36"
    rebuilt = rebuild(app.log, default_projections, MAIN)
    assert rebuilt.state("registry") == app.state("registry")


def test_a_confirmed_phrasing_does_not_teach_how_it_pointed_at_its_value(seeded: Selfeng) -> None:
    """Confirming "reverse the word 'desserts'" teaches reverse_string its phrasing, not
    that "word" is what it does: "Reverse the order of the words in ..." asks for words
    reversed, and must still not be answered by reversing characters."""
    agent = Agent(seeded)
    confirmed = agent.ask("reverse the word 'desserts'")
    assert confirmed.text == "stressed"
    agent.feedback(confirmed.request_id, "good")
    written = agent.ask("Write 'racecar level' backwards")
    assert written.text == "level racecar"
    agent.feedback(written.request_id, "good")
    answer = agent.ask("Reverse the order of the words in 'one two three'")
    assert not answer.ok, answer.text
    # nor that "write" asks for reverse_string
    assert not agent.ask("write 'hello'").ok


def test_a_rating_other_than_good_or_bad_is_refused(app: Selfeng) -> None:
    agent = Agent(app)
    answer = agent.ask("what is 2 plus 2")
    with pytest.raises(ValueError, match="'good' or 'bad'"):
        agent.feedback(answer, "great")  # type: ignore[arg-type]
