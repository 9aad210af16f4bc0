"""Where the offline planner is not confident, the LLM plans with tool calls; what it decided
is distilled into a learnt plan that answers the same shape of request offline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from selfeng.agent import Agent
from selfeng.app import Selfeng
from selfeng.core.backends import open_sandbox
from selfeng.core.settings import Settings
from selfeng.infra.log.memory import MemoryLog
from selfeng.infra.store.memory import MemoryStore
from selfeng.projections.base import MAIN
from selfeng.projections.catalog import default_projections
from selfeng.projections.replay import rebuild
from selfeng.schemas import (
    ArgumentsExtracted,
    LLMCalled,
    PolicyChanged,
    RequestCompleted,
    ToolSearched,
    ToolSynthesisRequested,
)
from tests.llm_server import Reply, ScriptedLLMServer

APPLES = "I have 6 boxes with 7 apples in each box, how many apples do I have"
PEARS = "I have 9 boxes with 3 apples in each box, how many apples do I have"


@pytest.fixture
def app(llm_server: ScriptedLLMServer) -> Iterator[Selfeng]:
    opened = Selfeng(
        MemoryLog(),
        MemoryStore(),
        settings=Settings.resolve(env={}),
        sandbox=open_sandbox("subprocess://"),
        llm=llm_server.llm(),
        learners=lambda _: [],
    )
    opened.seed_tools()
    yield opened
    opened.close()


def calls(*made: tuple[str, dict[str, object]]) -> Reply:
    return Reply(None, tool_calls=list(made))


def test_the_llm_plans_what_the_offline_planner_cannot(
    app: Selfeng, llm_server: ScriptedLLMServer
) -> None:
    llm_server.script(calls(("multiply_numbers", {"a": 6, "b": 7})))
    answer = Agent(app).ask(APPLES)
    assert answer.ok, answer.text
    assert answer.value == 42
    offered = {t["function"]["name"] for t in llm_server.requests[0]["tools"]}
    assert "multiply_numbers" in offered
    assert len(offered) <= 32  # llm.max_tools
    called = [e for e in app.engine.main.log.stream(answer.request_id) if e.type == "LLMCalled"]
    assert len(called) == 1
    extracted = next(e for e in answer.events if isinstance(e, ArgumentsExtracted))
    assert extracted.extractor == "llm:scripted-model"
    assert extracted.arguments == {"a": 6.0, "b": 7.0}
    completed = answer.events[-1]
    assert isinstance(completed, RequestCompleted)
    assert completed.steps[0].planner == "llm:scripted-model"
    assert completed.steps[0].confident  # learnt unless a user rejects it


def test_the_same_shape_of_request_is_answered_offline_next_time(
    app: Selfeng, llm_server: ScriptedLLMServer
) -> None:
    llm_server.script(calls(("multiply_numbers", {"a": 6, "b": 7})))
    agent = Agent(app)
    assert agent.ask(APPLES).value == 42
    again = agent.ask(PEARS)
    assert again.ok, again.text
    assert again.value == 27
    assert len(llm_server.requests) == 1  # no second LLM call
    searched = next(e for e in again.events if isinstance(e, ToolSearched))
    assert "a learnt plan" in searched.evidence[0].reason
    extracted = next(e for e in again.events if isinstance(e, ArgumentsExtracted))
    assert extracted.extractor == "template"
    rebuilt = rebuild(app.log, default_projections, MAIN)
    assert rebuilt.state("plans") == app.state("plans")


def test_a_plan_rated_bad_is_not_reused(app: Selfeng, llm_server: ScriptedLLMServer) -> None:
    llm_server.script(
        calls(("add_numbers", {"a": 6, "b": 7})), calls(("multiply_numbers", {"a": 9, "b": 3}))
    )
    with Selfeng(app.log, app.store, sandbox=app.sandbox, llm=llm_server.llm()) as learning:
        agent = Agent(learning, seed=False)
        wrong = agent.ask(APPLES)
        assert wrong.value == 13
        assert agent.feedback(wrong.request_id, "bad").applied is not None
        right = agent.ask(PEARS)
    assert right.value == 27
    assert len(llm_server.requests) == 2  # asked again: the learnt plan was rejected


def test_no_call_from_the_llm_means_an_honest_abstention(
    app: Selfeng, llm_server: ScriptedLLMServer
) -> None:
    llm_server.script("None of these functions gives the weather.")
    answer = Agent(app).ask("What will the weather be like in Oslo tomorrow?")
    assert not answer.ok
    [asked] = [e for e in answer.events if isinstance(e, ToolSynthesisRequested)]
    assert "gives the weather" in asked.reason


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (calls(("multiply_numbers", {"a": 6})), "does not fit: no value for b"),
        (calls(("multiply_numbers", {"a": "six", "b": 7})), "does not fit"),
        (calls(("launch_rockets", {"n": 1})), "LLM failed"),  # not offered: the port refuses it
        (Reply("the model is down", status=500), "LLM failed"),
    ],
)
def test_a_plan_that_does_not_fit_is_not_run(
    app: Selfeng, llm_server: ScriptedLLMServer, reply: Reply, why: str
) -> None:
    llm_server.script(reply)
    answer = Agent(app).ask(APPLES)
    assert not answer.ok
    assert why in answer.text
    assert not any(e.type == "ToolExecuted" for e in answer.events)


def test_planning_stays_within_the_request_budget(
    app: Selfeng, llm_server: ScriptedLLMServer
) -> None:
    app.append([PolicyChanged(name="cost.max_tokens_per_request", value=300)])
    answer = Agent(app).ask(APPLES)
    assert not answer.ok
    assert "cost limit" in answer.text
    assert llm_server.requests == []
    assert not any(isinstance(e, LLMCalled) for e in answer.events)


def test_without_an_llm_nothing_is_planned() -> None:
    with Selfeng(
        MemoryLog(),
        MemoryStore(),
        settings=Settings.resolve(env={}),
        sandbox=open_sandbox("subprocess://"),
        llm=None,
    ) as app:
        app.seed_tools()
        answer = Agent(app).ask(APPLES)
    assert not answer.ok
    assert "no tool for that yet" in answer.text
    assert "LLM" not in answer.text
