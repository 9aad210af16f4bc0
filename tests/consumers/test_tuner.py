"""The auto-tuner: candidates, the counterfactual round and the experiment it starts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from selfeng.agent import Agent
from selfeng.app import Selfeng
from selfeng.consumers.tuner import Counterfactual, candidates
from selfeng.core.policies import default_values
from selfeng.learnt import summary
from selfeng.schemas import ExperimentStarted, PolicyChanged
from tests.consumers.conftest import seeded_app


def test_candidates_move_one_policy_within_its_bounds() -> None:
    values = {**default_values(), "retrieval.threshold": 0.05}
    proposed = candidates(values)
    assert {"retrieval.threshold": 0.1} in proposed
    thresholds = [c["retrieval.threshold"] for c in proposed if "retrieval.threshold" in c]
    assert thresholds == [0.0, 0.1, 0.15]  # 0.05 - 0.1 is refused
    assert {"retrieval.threshold": -0.05} not in proposed
    assert all(len(c) == 1 for c in proposed)


@pytest.fixture(scope="module")
def app() -> Iterator[Selfeng]:
    with seeded_app() as app:
        yield app


def test_a_round_starts_an_experiment_for_the_best_candidate(app: Selfeng) -> None:
    assert isinstance(app.ports, Counterfactual)
    app.append(
        [
            PolicyChanged(name="retrieval.threshold", value=0.9, reason="too strict, on purpose"),
            PolicyChanged(name="tuning.every_requests", value=4),
            PolicyChanged(name="tuning.window", value=10),
        ]
    )
    agent = Agent(app, seed=False)
    answers = [
        agent.ask(prompt)
        for prompt in (
            "Convert 10 km to miles",
            "Reverse the string hello",
            "Convert 5 km to miles",
        )
    ]
    assert [a.ok for a in answers] == [False, True, False]  # 0.87 is below 0.9
    assert app.state("experiments")["experiments"] == {}
    fourth = agent.ask("Reverse the string world")
    started = [e for e in fourth.events if isinstance(e, ExperimentStarted)]
    assert [e.experiment for e in started] == ["tune-1"]
    assert started[0].started_by == "auto-tuner"
    assert started[0].policies == {"candidate": {"retrieval.threshold": 0.8}}
    assert "retrieval.threshold=0.8" in started[0].reason
    evidence = started[0].evidence["retrieval.threshold=0.8"]
    assert isinstance(evidence, dict)
    assert evidence["gain"] == 0.5
    state = app.state("experiments")
    assert state["running"] == ["tune-1"]
    (tuned,) = summary(app)["tuning"]  # what `selfeng learn` shows
    assert (tuned["experiment"], tuned["status"]) == ("tune-1", "running")
    assert tuned["candidate"] == {"candidate": {"retrieval.threshold": 0.8}}
    assert "retrieval.threshold=0.8" in tuned["reason"]
    # the next request is served by an arm; no second round before 8 completed requests
    fifth = agent.ask("Reverse the string again", session_id="tuned")
    assert fifth.arm in {"tune-1.control", "tune-1.candidate"}
    assert not any(isinstance(e, ExperimentStarted) for e in fifth.events)
