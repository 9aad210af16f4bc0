"""The learners as consumer groups of their own: on SQLite and on Kafka, resumable, idempotent."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from selfeng.agent import Agent
from selfeng.app import Selfeng
from selfeng.consumers.learner import Learner
from selfeng.consumers.ports import LearnerPorts
from selfeng.consumers.worker import LEARNER_GROUP, Worker
from selfeng.core import backends
from selfeng.core.mapper import from_record
from selfeng.core.settings import Settings
from selfeng.schemas import Event, RequestCompleted, RequestReceived
from tests.consumers.conftest import wait_until
from tests.consumers.test_synthesizer import VOWELS, known_answers
from tests.llm_server import ScriptedLLMServer

SCENARIO = "Calculate 25% of 100 and reverse the result"


def count(app: Selfeng, kind: str) -> int:
    return sum(len(b.records) for b in app.log.read(types=[kind]))


def run_worker(app: Selfeng) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=Worker(app).run, args=(stop,), kwargs={"poll": 0.2})
    thread.start()
    return stop, thread


def scenario_through_workers(settings: Settings) -> None:
    worker_app = Selfeng.open(settings)
    client = Selfeng.open(settings)
    client.seed_tools()
    stop, thread = run_worker(worker_app)
    try:
        agent = Agent(client, worker=True)
        for _ in range(3):
            answer = agent.ask(SCENARIO, timeout=60)
            assert answer.ok
            assert answer.text == "52"
        assert wait_until(lambda: count(client, "CompositeRegistered") == 1)
        fourth = agent.ask(SCENARIO, timeout=60)
        assert fourth.tools == ("percent_of_then_reverse_string@1",)
        assert fourth.text == "52"
        assert count(client, "PatternDetected") == 1
    finally:
        stop.set()
        thread.join(30)
        worker_app.close()
        client.close()


def test_learners_run_as_their_own_consumer_groups_on_sqlite(tmp_path: Path) -> None:
    settings = Settings.resolve(home=tmp_path / "home", sandbox="subprocess://", env={})
    scenario_through_workers(settings)
    with Selfeng.open(settings) as app:
        groups = {LEARNER_GROUP.format(name=learner.name) for learner in app.learners}
        assert "selfeng.learner.composites" in groups


@pytest.mark.kafka
def test_learners_run_on_kafka(kafka_bootstrap: str) -> None:
    from tests.kafka_broker import unique_namespace

    url = f"kafka://{kafka_bootstrap}?namespace={unique_namespace()}&session_timeout_ms=6000"
    scenario_through_workers(
        Settings.resolve(log=url, store="memory://", sandbox="subprocess://", env={})
    )


@pytest.fixture
def taught(tmp_path: Path) -> Settings:
    """A log where three scenario requests were answered and nothing learnt yet."""
    settings = Settings.resolve(home=tmp_path / "home", sandbox="subprocess://", env={})
    with Selfeng.open(settings) as app:
        app.seed_tools()
        for _ in range(3):
            received = RequestReceived(prompt=SCENARIO, answered_inline=True)
            app.append([received])
            app.handle(received, learn=False)
        assert count(app, "PatternDetected") == 0
    return settings


def test_a_learner_that_crashed_resumes_without_emitting_twice(taught: Settings) -> None:
    # A learner reacts, then "crashes" before committing: the next run reacts again.
    with Selfeng.open(taught) as app:
        worker = Worker(app)
        records = [r for b in app.log.read(types=["RequestCompleted"]) for r in b.records]
        detector = next(lr for lr in app.learners if lr.name == "patterns")
        composer = next(lr for lr in app.learners if lr.name == "composites")
        first: list[Event] = []
        for record in records:
            first += worker.react(detector, record)
        for event in first:
            worker.react(composer, app.log.stream(event.key)[0])
        before = sum(len(b.records) for b in app.log.read())
    with Selfeng.open(taught) as app:  # a new process: nothing committed, all delivered again
        worker = Worker(app)
        detector = next(lr for lr in app.learners if lr.name == "patterns")
        composer = next(lr for lr in app.learners if lr.name == "composites")
        for record in records:
            worker.react(detector, record)
        for record in [r for b in app.log.read(types=["PatternDetected"]) for r in b.records]:
            worker.react(composer, record)
        assert sum(len(b.records) for b in app.log.read()) == before
        assert count(app, "PatternDetected") == 1
        assert count(app, "CompositeRegistered") == 1
        registered = [
            from_record(r) for b in app.log.read(types=["ToolRegistered"]) for r in b.records
        ]
        assert sum(1 for e in registered if e.key == "percent_of_then_reverse_string") == 1


def test_a_learner_failure_is_logged_not_raised(taught: Settings) -> None:
    with Selfeng.open(taught) as app:

        class Broken:
            name = "broken"
            reacts_to = frozenset({"RequestCompleted"})

            def wants(self, event: Event) -> bool:
                return True

            def react(self, event: Event) -> list[Event]:
                raise RuntimeError("boom")

        record = next(r for b in app.log.read(types=["RequestCompleted"]) for r in b.records)
        assert Worker(app).react(Broken(), record) == []  # type: ignore[arg-type]


def test_a_learners_only_worker_learns_from_requests_answered_elsewhere(taught: Settings) -> None:
    with Selfeng.open(taught) as worker_app, Selfeng.open(taught) as client:
        stop = threading.Event()
        worker = Worker(worker_app, requests=False)
        thread = threading.Thread(target=worker.run, args=(stop,), kwargs={"poll": 0.2})
        thread.start()
        try:
            assert wait_until(lambda: count(client, "CompositeRegistered") == 1)
            assert worker.handled == 0
            assert worker.learnt >= 5
        finally:
            stop.set()
            thread.join(30)


def test_a_worker_needs_something_to_consume(taught: Settings) -> None:
    with Selfeng.open(taught) as app, pytest.raises(ValueError, match="requests, learners"):
        Worker(app, requests=False, learners=False)


def test_the_worker_command_refuses_both_flags(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from selfeng.cli import main

    result = CliRunner().invoke(
        main, ["--home", str(tmp_path), "worker", "--no-learners", "--learners-only"]
    )
    assert result.exit_code == 2
    assert "exclude each other" in result.output


def test_a_client_of_a_worker_gets_the_answer_of_the_tool_written_for_it(
    tmp_path: Path, llm_server: ScriptedLLMServer
) -> None:
    llm_server.decline_planning()
    llm_server.accept(known_answers)
    llm_server.script(f"```python\n{VOWELS}```")
    env = llm_server.env()
    settings = Settings.resolve(home=tmp_path / "home", sandbox="subprocess://", env=env)
    with Selfeng.open(settings) as worker_app, Selfeng.open(settings) as client:
        client.seed_tools()
        stop, thread = run_worker(worker_app)
        try:
            answer = Agent(client, worker=True).ask("How many vowels are in banana?", timeout=60)
        finally:
            stop.set()
            thread.join(30)
    assert answer.ok, answer.text
    assert answer.text == "3"
    assert answer.tools == ("count_vowels@1",)
    first = next(e for e in answer.events if isinstance(e, RequestCompleted))
    assert first.awaiting_tool
    assert "I am writing one" in first.answer


def test_without_an_llm_the_answer_says_how_a_person_adds_the_tool(taught: Settings) -> None:
    with Selfeng.open(taught) as app:
        answer = Agent(app).ask("How many vowels are in banana?")
    assert not answer.ok
    assert f"selfeng tools add FILE.py --answer {answer.request_id}" in answer.text


class _Waiting(Learner):
    """A learner that takes as long as it is told to (an LLM that is slow to answer)."""

    name = "waiting"
    reacts_to = frozenset({"RequestCompleted"})

    def __init__(
        self, ports: LearnerPorts, reacting: threading.Event, done: threading.Event
    ) -> None:
        super().__init__(ports)
        self.reacting = reacting
        self.done = done

    def react(self, event: Event) -> list[Event]:
        self.reacting.set()
        self.done.wait(60)
        return []


def test_a_slow_learner_does_not_hold_up_answers(tmp_path: Path) -> None:
    settings = Settings.resolve(home=tmp_path / "home", sandbox="subprocess://", env={})
    reacting, done = threading.Event(), threading.Event()
    settings.home.mkdir(parents=True)
    worker_app = Selfeng(
        backends.open_log(settings.log_url),
        backends.open_store(settings.store_url),
        settings=settings,
        learners=lambda ports: [_Waiting(ports, reacting, done)],
    )
    client = Selfeng.open(settings)
    client.seed_tools()
    stop, thread = run_worker(worker_app)
    try:
        agent = Agent(client, worker=True)
        assert agent.ask("What is 6 times 7?", timeout=60).text == "42"
        assert reacting.wait(30)  # the learner is busy with the first answer ...
        started = time.monotonic()
        second = agent.ask("What is 5 plus 4?", timeout=60)  # ... and the worker still answers
        assert second.text == "9"
        assert not done.is_set()
        assert time.monotonic() - started < 30
    finally:
        done.set()
        stop.set()
        thread.join(30)
        worker_app.close()
        client.close()
