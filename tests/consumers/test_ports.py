"""Learners against ``LearnerPorts`` built over a log and a projection engine, without the
runtime: what a learner reads and appends goes through the ports, and the synthesizer asks
the request side to answer again instead of running the handler itself."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import JsonValue

import selfeng.consumers
from selfeng.app import Selfeng
from selfeng.consumers.executing import HandlerState
from selfeng.consumers.feedback import FeedbackLearner
from selfeng.consumers.ports import LearnerPorts, decoded_history
from selfeng.consumers.synthesizer import Synthesizer
from selfeng.core.backends import open_sandbox
from selfeng.core.llm import LLM, Completion
from selfeng.core.mapper import append_events, from_record
from selfeng.core.sandbox import Sandbox, SandboxUnavailable
from selfeng.core.settings import Settings
from selfeng.infra.log.memory import MemoryLog
from selfeng.infra.store.memory import MemoryStore
from selfeng.projections.base import MAIN
from selfeng.projections.catalog import default_projections
from selfeng.projections.engine import ProjectionEngine
from selfeng.projections.policies import policy_values
from selfeng.projections.registry import RegistryState, active_tools
from selfeng.schemas import (
    ChatMessage,
    Event,
    FeedbackApplied,
    FeedbackGiven,
    RequestCompleted,
    RequestReceived,
    Step,
    ToolRegistered,
    ToolSynthesisRequested,
)
from tests.consumers.test_synthesizer import PROMPT, VOWELS, fenced


class TablePorts:
    """``LearnerPorts`` over a log and its projections; the request side is a stand-in that
    records what it was asked to answer."""

    def __init__(self, *, sandbox: Sandbox | None = None, llm: LLM | None = None) -> None:
        self.log = MemoryLog()
        self.engine = ProjectionEngine(self.log, MemoryStore(), default_projections)
        self._sandbox = sandbox
        self._llm = llm
        self.answered: list[tuple[str, dict[str, str], str]] = []

    def registry(self) -> RegistryState:
        state: RegistryState = self.state("registry")
        return state

    def policies(self, arm: str | None = None) -> dict[str, JsonValue]:
        return policy_values(self.state("policies", arm))

    def state(self, projection: str, arm: str | None = None) -> Any:
        runner = self.engine.runner(self.engine.fork(arm or MAIN.name))
        runner.catch_up()
        return runner.state(projection)

    def handler_state(self, arm: str | None = None) -> HandlerState:
        return HandlerState(
            policies=self.policies(arm), registry=self.registry(), cache=self.state("cache")
        )

    def nearest_tools(self, text: str, k: int, arm: str | None = None) -> list[str]:
        return sorted(active_tools(self.registry()))[:k]

    def history(self, key: str) -> list[Event]:
        return decoded_history(self.log, key)

    def key_version(self, key: str) -> int:
        return self.log.key_version(key)

    def record(
        self, events: Sequence[Event], *, expected_versions: Mapping[str, int] | None = None
    ) -> list[Event]:
        expected = dict(expected_versions) if expected_versions is not None else None
        stored = append_events(self.log, list(events), expected_versions=expected)
        return [from_record(record) for record in stored]

    @property
    def sandbox(self) -> Sandbox:
        if self._sandbox is None:
            raise SandboxUnavailable("this test has no sandbox")
        return self._sandbox

    @property
    def llm(self) -> LLM | None:
        return self._llm

    def answer_again(
        self, received: RequestReceived, *, pinned: Mapping[str, str], attempt: str
    ) -> list[Event]:
        self.answered.append((received.key, dict(pinned), attempt))
        tool = next(iter(pinned.values()))
        completed = RequestCompleted.following(
            received, ok=True, answer=f"answered with {tool}", tools=(f"{tool}@1",)
        )
        return self.record([completed])


class Scripted(LLM):
    """A model that gives its answers in order."""

    model = "scripted"

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)

    def complete(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, **kwargs: object
    ) -> Completion:
        return Completion(self.answers.pop(0), self.model, 10, 10, 1.0)


def test_no_consumer_imports_the_runtime() -> None:
    consumers = Path(selfeng.consumers.__file__).parent
    for module in sorted(consumers.glob("*.py")):
        source = module.read_text(encoding="utf-8")
        assert "selfeng.app" not in source, module.name
        assert "from selfeng import app" not in source, module.name


def test_the_runtime_gives_its_learners_ports_not_itself() -> None:
    with Selfeng(MemoryLog(), MemoryStore(), settings=Settings.resolve(env={}), llm=None) as app:
        assert app.learners
        assert all(learner.ports is app.ports for learner in app.learners)
        assert not isinstance(app.ports, Selfeng)
    ports: LearnerPorts = TablePorts()  # the protocol, met without a runtime (mypy checks)
    assert ports.llm is None


def test_the_feedback_learner_reads_and_appends_through_the_ports() -> None:
    ports = TablePorts()
    received = RequestReceived(prompt="What is 25% of 80?")
    step = Step(query="25% of 80", tool="percent_of", version=1, ok=True, confident=True)
    completed = RequestCompleted.following(
        received, ok=True, answer="20", value=20, tools=("percent_of@1",), steps=(step,)
    )
    rated = FeedbackGiven.following(completed, rating="bad")
    ports.record([received, completed, rated])
    learner = FeedbackLearner(ports)

    [applied] = learner.react(rated)

    assert isinstance(applied, FeedbackApplied)
    assert applied.answer_id == str(completed.event_id)
    assert ports.history(received.key)[-1] == applied
    head = ports.log.head()
    assert learner.react(rated) == [applied]  # its id derives from the rating: stored once
    assert ports.log.head() == head


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    opened = open_sandbox("subprocess://")
    yield opened
    opened.close()


def test_the_synthesizer_asks_the_request_side_to_answer_once_the_tool_registers(
    sandbox: Sandbox,
) -> None:
    ports = TablePorts(sandbox=sandbox, llm=Scripted('{"answer": 3}', fenced(VOWELS)))
    received = RequestReceived(prompt=PROMPT)
    asked = ToolSynthesisRequested.following(received, request_id=received.key, need=PROMPT)
    ports.record([received, asked])

    events = Synthesizer(ports).react(asked)

    names = [type(e).__name__ for e in events]
    assert names[:2] == ["LLMCalled", "LLMCalled"]
    assert names.index("ToolRegistered") < names.index("RequestCompleted")
    assert ports.answered == [(received.key, {PROMPT: "count_vowels"}, "synthesis:count_vowels@1")]
    assert isinstance(events[-1], RequestCompleted)
    assert events[-1].ok
    assert any(isinstance(e, ToolRegistered) for e in ports.history("count_vowels"))
    # answered already: a second reaction neither calls the model nor answers again
    head = ports.log.head()
    assert Synthesizer(ports).react(asked) == []
    assert ports.log.head() == head
    assert len(ports.answered) == 1
