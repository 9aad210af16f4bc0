"""LLMCaller with tool calling: the functions offered and the calls made are recorded in
LLMCalled, and a recorded call is reused; the real ``openai`` client against a local server."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from selfeng.app import Selfeng
from selfeng.consumers.learner import BudgetExhausted, LLMCaller
from selfeng.core.llm import LLM, Completion, FunctionSpec, ToolCall, estimate_prompt_tokens
from selfeng.core.mapper import from_record
from selfeng.core.settings import Settings
from selfeng.infra.log.memory import MemoryLog
from selfeng.infra.store.memory import MemoryStore
from selfeng.projections.llm_usage import usage_of
from selfeng.schemas import ChatMessage, Event, LLMCalled, PolicyChanged, RequestReceived
from tests.llm_server import Reply, ScriptedLLMServer

pytest.importorskip("openai", reason="the openai extra is not installed")

ADD = FunctionSpec(
    name="add_numbers",
    description="Add two numbers.",
    parameters={
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
        "required": ["a", "b"],
    },
)
ASK = (ChatMessage(role="user", content="What is 2 plus 3?"),)


@pytest.fixture
def app() -> Iterator[Selfeng]:
    """A selfeng on the in-memory log, without an LLM of its own."""
    with Selfeng(MemoryLog(), MemoryStore(), settings=Settings.resolve(env={}), llm=None) as opened:
        yield opened


def received(app: Selfeng) -> RequestReceived:
    """The request the calls serve, as the log holds it."""
    (event,) = app.record([RequestReceived(prompt="What is 2 plus 3?")])
    assert isinstance(event, RequestReceived)
    return event


def plan(caller: LLMCaller, cause: Event, **kwargs: object) -> LLMCalled:
    """A planning call for ``cause`` offering ``add_numbers``."""
    return caller.call(
        ASK,
        subject=cause.key,
        purpose="planning",
        attempt=1,
        cause=cause,
        tools=[ADD],
        **kwargs,  # type: ignore[arg-type]
    )


def logged(app: Selfeng, subject: str) -> list[LLMCalled]:
    """The LLMCalled events of a subject, read back from the log."""
    events = [from_record(r) for r in app.log.stream(subject)]
    return [e for e in events if isinstance(e, LLMCalled)]


def test_the_tools_offered_and_the_calls_made_are_recorded(
    app: Selfeng, llm_server: ScriptedLLMServer
) -> None:
    llm_server.script(Reply(None, tool_calls=[("add_numbers", {"a": 2, "b": 3})]))
    cause = received(app)
    called = plan(
        LLMCaller(app.ports, llm_server.llm(), producer="test"), cause, tool_choice="required"
    )
    assert called.ok
    assert called.purpose == "planning"
    assert called.tools == (ADD,)
    assert called.tool_choice == "required"
    assert called.tool_calls == (
        ToolCall(id="call_0", name="add_numbers", arguments={"a": 2, "b": 3}),
    )
    assert called.response == ""
    assert called.causation_id == cause.event_id
    (body,) = llm_server.requests
    assert body["tools"][0]["function"]["name"] == "add_numbers"
    assert body["tool_choice"] == "required"
    assert logged(app, cause.key) == [called]  # as the log holds it


def test_a_second_reaction_reuses_the_recorded_tool_calls(
    settings: Settings, llm_server: ScriptedLLMServer
) -> None:
    llm_server.script(Reply("Adding.", tool_calls=[("add_numbers", {"a": 2, "b": 3})]))
    with Selfeng.open(settings) as first:
        cause = received(first)
        made = plan(LLMCaller(first.ports, llm_server.llm(), producer="test"), cause)
    # a learner restarted after the call: a new process on the same SQLite log
    with Selfeng.open(settings) as second:
        again = plan(LLMCaller(second.ports, llm_server.llm(), producer="test"), cause)
        assert usage_of(second.state("llm_usage"), cause.key)["calls"] == 1
    assert len(llm_server.requests) == 1  # not paid for twice
    assert again == made
    assert again.response == "Adding."
    assert again.tool_calls == (
        ToolCall(id="call_0", name="add_numbers", arguments={"a": 2, "b": 3}),
    )


def test_an_unparsable_tool_call_is_a_failed_call(
    app: Selfeng, llm_server: ScriptedLLMServer
) -> None:
    llm_server.script(Reply(None, tool_calls=[("add_numbers", '{"a": 2, "b":')]))
    cause = received(app)
    caller = LLMCaller(app.ports, llm_server.llm(), producer="test")
    called = plan(caller, cause)
    assert not called.ok
    assert called.error is not None
    assert "the arguments of call 'call_0' to 'add_numbers' are not valid JSON" in called.error
    assert called.tools == (ADD,)
    assert called.tool_calls == ()
    usage = usage_of(app.state("llm_usage"), cause.key)
    assert (usage["calls"], usage["failed"]) == (1, 1)
    assert plan(caller, cause) == called  # the failure is recorded, not retried
    assert len(llm_server.requests) == 1


def test_a_text_answer_to_an_offer_of_tools_is_recorded(
    app: Selfeng, llm_server: ScriptedLLMServer
) -> None:
    llm_server.script("2 plus 3 is 5.")
    called = plan(LLMCaller(app.ports, llm_server.llm(), producer="test"), received(app))
    assert called.ok
    assert (called.response, called.tool_calls, called.tools) == ("2 plus 3 is 5.", (), (ADD,))


class OlderLLM(LLM):
    """A model written before tool calling: ``complete`` takes no tools."""

    model = "older"

    def __init__(self) -> None:
        self.asked: list[int] = []

    def complete(  # type: ignore[override]
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float = 0.0
    ) -> Completion:
        self.asked.append(max_tokens)
        return Completion("5", self.model, 3, 1, 1.0)


def test_a_call_without_tools_records_none_and_suits_an_older_llm(app: Selfeng) -> None:
    llm = OlderLLM()
    cause = received(app)
    called = LLMCaller(app.ports, llm, producer="test").call(
        ASK, subject=cause.key, purpose="other", attempt=1, cause=cause, tool_choice="required"
    )
    assert called.ok
    assert (called.response, called.tools, called.tool_choice, called.tool_calls) == (
        "5",
        (),
        None,  # no choice without something to choose
        (),
    )
    assert llm.asked == [2000]


def test_the_functions_offered_count_toward_the_token_budget(
    app: Selfeng, llm_server: ScriptedLLMServer
) -> None:
    app.append([PolicyChanged(name="cost.max_tokens_per_request", value=400)])
    cause = received(app)
    caller = LLMCaller(app.ports, llm_server.llm(), producer="test")
    wordy = FunctionSpec(name="wordy", description="word " * 200)
    with pytest.raises(BudgetExhausted, match=r"the next prompt is about 3\d\d$"):
        caller.call(
            ASK, subject=cause.key, purpose="planning", attempt=1, cause=cause, tools=[ADD, wordy]
        )
    assert llm_server.requests == []
    llm_server.script("5")
    assert plan(caller, cause).response == "5"  # without the wordy one it fits
    assert llm_server.requests[0]["max_tokens"] == 400 - estimate_prompt_tokens(ASK, [ADD])
