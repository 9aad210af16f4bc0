"""The experiment judge: its verdicts, its conclusion in the log, and assignment on the
real request path."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from selfeng.agent import Agent
from selfeng.app import Selfeng
from selfeng.consumers.judge import Judge, verdict
from selfeng.consumers.worker import Worker
from selfeng.core.settings import Settings
from selfeng.infra.log.memory import MemoryLog
from selfeng.infra.store.memory import MemoryStore
from selfeng.projections.base import MAIN, FoldContext
from selfeng.projections.experiments import Experiment, ExperimentsProjection
from selfeng.schemas import (
    Event,
    ExperimentConcluded,
    ExperimentStarted,
    FeedbackGiven,
    ForkCreated,
    PolicyChanged,
    RequestCompleted,
    RequestReceived,
)
from tests.consumers.conftest import running, wait_until


def design(name: str = "e1", **kwargs: object) -> list[Event]:
    """What `selfeng experiment start` appends for a control and a lenient arm."""
    forks = {"control": f"{name}.control", "lenient": f"{name}.lenient"}
    pins = {"lenient": {"retrieval.threshold": 0.3}}
    fields: dict[str, object] = {
        "experiment": name,
        "arms": forks,
        "split": {"control": 0.5, "lenient": 0.5},
        "guardrails": ("wrong_rate",),
        "policies": pins,
        "min_samples": 50,
        "max_samples": 5000,
        **kwargs,
    }
    return [
        ForkCreated(fork=forks["control"]),
        ForkCreated(fork=forks["lenient"], policies=pins["lenient"]),
        ExperimentStarted.model_validate(fields),
    ]


def outcomes(
    n: int, rates: dict[str, float], rnd: random.Random, *, wrong: dict[str, float] | None = None
) -> list[Event]:
    """``n`` completed requests per arm of experiment e1, answered with the given rates."""
    events: list[Event] = []
    for i in range(n):
        for arm, rate in rates.items():
            key = f"{arm}-{i}-{rnd.random()}"
            ok = rnd.random() < rate
            events.append(
                RequestCompleted(key=key, ok=ok, answer="a", policy_arm=f"e1.{arm}", duration_ms=1)
            )
            if ok and rnd.random() < (wrong or {}).get(arm, 0.0):
                events.append(FeedbackGiven(key=key, rating="bad"))
    return events


def experiment_after(events: list[Event]) -> Experiment:
    projection = ExperimentsProjection()
    state = projection.initial()
    ctx = FoldContext(MAIN, lambda name: None)
    for event in events:
        state = projection.apply(state, event, ctx)
    return state["experiments"]["e1"]


def test_a_clear_winner_wins() -> None:
    rnd = random.Random(1)
    ruling = verdict(
        experiment_after([*design(), *outcomes(600, {"control": 0.6, "lenient": 0.8}, rnd)])
    )
    assert ruling.final
    assert ruling.winner == "lenient"
    assert "significantly better on success_rate" in ruling.reason
    tests = ruling.stats["tests"]
    assert isinstance(tests, dict)
    assert tests["lenient"]["success_rate"]["significant"] is True  # type: ignore[index,call-overload]


def test_a_clear_loser_keeps_the_control() -> None:
    rnd = random.Random(2)
    ruling = verdict(
        experiment_after([*design(), *outcomes(600, {"control": 0.8, "lenient": 0.6}, rnd)])
    )
    assert (ruling.final, ruling.winner) == (True, "control")


def test_a_guardrail_stops_a_winner_that_is_confidently_wrong() -> None:
    rnd = random.Random(3)
    events = outcomes(
        800, {"control": 0.6, "lenient": 0.95}, rnd, wrong={"control": 0.0, "lenient": 0.15}
    )
    ruling = verdict(experiment_after([*design(metric="abstention_rate"), *events]))
    assert (ruling.final, ruling.winner) == (True, "control")
    assert "guardrail wrong_rate" in ruling.reason


def test_no_verdict_before_min_samples_and_none_after_max_samples() -> None:
    rnd = random.Random(4)
    early = verdict(
        experiment_after([*design(), *outcomes(30, {"control": 0.2, "lenient": 0.9}, rnd)])
    )
    assert not early.final
    assert "min_samples" in early.reason
    same = outcomes(120, {"control": 0.8, "lenient": 0.8}, rnd)
    ruling = verdict(experiment_after([*design(max_samples=100, min_samples=10), *same]))
    assert (ruling.final, ruling.winner) == (True, None)
    assert "max_samples" in ruling.reason


@pytest.fixture
def app() -> Iterator[Selfeng]:
    with Selfeng(MemoryLog(), MemoryStore(), settings=Settings.resolve(env={}), llm=None) as app:
        yield app


def test_the_judge_concludes_in_the_log_and_promotes_the_winner(app: Selfeng) -> None:
    app.append(design())
    rnd = random.Random(5)
    concluded: list[Event] = []
    for event in outcomes(900, {"control": 0.6, "lenient": 0.8}, rnd):
        app.append([event])
        concluded += app.learn([event])
        if concluded:
            break
    kinds = [e.type for e in concluded]
    assert kinds == ["ExperimentConcluded", "PolicyChanged", "ForkDropped", "ForkDropped"]
    conclusion = concluded[0]
    assert isinstance(conclusion, ExperimentConcluded)
    assert conclusion.winner == "lenient"
    assert conclusion.promoted == {"retrieval.threshold": 0.3}
    change = concluded[1]
    assert isinstance(change, PolicyChanged)
    assert change.changed_by == "experiment-judge"
    assert app.policies()["retrieval.threshold"] == 0.3
    assert app.engine.forks() == []
    state = app.state("experiments")
    assert state["running"] == []
    assert state["experiments"]["e1"]["status"] == "concluded"
    # a later outcome (or a second judge) concludes nothing again
    late = RequestCompleted(key="late", ok=True, answer="a", policy_arm="e1.lenient")
    app.append([late])
    assert Judge(app.ports).react(late) == []


def test_a_worker_judge_concludes_from_the_log(app: Selfeng) -> None:
    app.append(design(min_samples=30))
    rnd = random.Random(6)
    app.append(outcomes(400, {"control": 0.5, "lenient": 0.9}, rnd))
    with running(Worker(app, requests=False)):
        assert wait_until(lambda: app.state("experiments")["running"] == [], timeout=60)
    concluded = app.state("experiments")["experiments"]["e1"]["concluded"]
    assert concluded["winner"] == "lenient"
    assert concluded["decided_by"] == "experiment-judge"
    assert app.policies()["retrieval.threshold"] == 0.3


@pytest.fixture(scope="module")
def seeded_with_experiment(seeded: Selfeng) -> Selfeng:
    seeded.append(design("live", min_samples=1000))
    return seeded


def test_requests_are_assigned_by_session_and_carry_their_arm(
    seeded_with_experiment: Selfeng,
) -> None:
    agent = Agent(seeded_with_experiment, seed=False)
    arms = {}
    for i in range(12):
        answer = agent.ask(f"What is {i + 1}% of 200?", session_id=f"s{i}")
        assert answer.ok, answer.reason
        assert answer.arm in {"live.control", "live.lenient"}
        assert {e.__dict__.get("policy_arm") for e in answer.events} == {answer.arm}
        arms[f"s{i}"] = answer.arm
    assert set(arms.values()) == {"live.control", "live.lenient"}
    again = agent.ask("What is 50% of 10?", session_id="s3")
    assert again.arm == arms["s3"]  # sticky per session
    counted = seeded_with_experiment.state("experiments")["experiments"]["live"]["outcomes"]
    assert counted["control"]["n"] + counted["lenient"]["n"] == 13


def test_an_arm_can_be_named_and_an_unknown_one_is_answered_by_main(
    seeded_with_experiment: Selfeng,
) -> None:
    agent = Agent(seeded_with_experiment, seed=False)
    named = agent.ask("What is 10% of 30?", arm="live.lenient")
    assert named.arm == "live.lenient"
    assert named.ok
    unknown = agent.ask("What is 10% of 40?", arm="gone")
    assert unknown.ok
    assert unknown.arm is None
    assert "no fork 'gone'" in unknown.arm_note
    main = agent.ask("What is 10% of 50?", arm="main")
    assert main.arm == "main"
    assert main.arm_note == ""


def test_a_request_from_any_client_is_assigned_when_handled(
    seeded_with_experiment: Selfeng,
) -> None:
    received = RequestReceived(prompt="What is 20% of 50?", client="http", session_id="web-1")
    seeded_with_experiment.append([received])
    events = seeded_with_experiment.handle(received)
    done = [e for e in events if isinstance(e, RequestCompleted)]
    assert done
    assert done[-1].policy_arm in {"live.control", "live.lenient"}
