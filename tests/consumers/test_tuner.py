"""The auto-tuner: candidates, the counterfactual round and the experiment it starts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from selfeng.agent import Agent, Answer
from selfeng.app import Selfeng
from selfeng.consumers.tuner import Counterfactual, candidates
from selfeng.core.policies import default_values
from selfeng.learnt import summary
from selfeng.schemas import ExperimentStarted, PolicyChanged, RequestCompleted
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


def test_the_search_weights_are_candidates_tried_on_an_index_of_their_own(app: Selfeng) -> None:
    proposed = candidates(default_values())
    assert {"retrieval.nearest_use": 0.8} in proposed
    assert {"retrieval.use_weight": 0.75} in proposed
    assert app.replay_handler({"retrieval.threshold": 0.3}).search is app.handler.search
    assert app.replay_handler({"retrieval.nearest_use": 0.5}).search is not app.handler.search
    assert isinstance(app.ports, Counterfactual)
    main_index = app.handler.search.index
    (simulation,) = app.ports.counterfactual([{"retrieval.nearest_use": 0.5}], 10)
    assert simulation.recorded.requests > 0
    assert (main_index.use_weight, main_index.nearest_use) == (0.5, 0.9)  # main's untouched


def test_when_no_candidate_improves_answers_a_looser_composite_policy_is_tried() -> None:
    with seeded_app() as fresh:
        fresh.append(
            [
                PolicyChanged(name="tuning.every_requests", value=3),
                PolicyChanged(name="tuning.window", value=10),
            ]
        )
        agent = Agent(fresh, seed=False)
        first = agent.ask("Calculate 25% of 100 and reverse the result")
        second = agent.ask("Calculate 10% of 90 and reverse the result")
        assert (first.text, second.text) == ("52", "9")  # two runs: below the 3 in force
        third = agent.ask("Reverse the string tuning")
        started = [e for e in third.events if isinstance(e, ExperimentStarted)]
        assert [e.experiment for e in started] == ["tune-1"], [e.reason for e in started]
        (experiment,) = started
        assert experiment.policies == {"candidate": {"composite.min_frequency": 2}}
        assert experiment.metric == "latency_ms"
        assert set(experiment.guardrails) == {"wrong_rate", "success_rate"}
        evidence = experiment.evidence["composite.min_frequency=2"]
        assert isinstance(evidence, dict)
        assert evidence["composed"] == 2
        assert isinstance(evidence["saved_ms"], float)
        assert evidence["saved_ms"] > 0
        # the looser success rate and confidence promote nothing more: no saving
        loose_rate = experiment.evidence["composite.min_success_rate=0.7"]
        assert isinstance(loose_rate, dict)
        assert loose_rate["gain"] == 0.0
        # the candidate's arm promotes by its criteria; main keeps answering step by step
        agent.ask("Calculate 20% of 60 and reverse the result", arm="tune-1.candidate")
        in_arm = agent.ask("Calculate 30% of 70 and reverse the result", arm="tune-1.candidate")
        in_main = agent.ask("Calculate 40% of 80 and reverse the result", arm="main")
        assert (in_arm.text, in_main.text) == ("12", "23")
        assert tools(in_arm) == ["percent_of_then_reverse_string"]
        assert tools(in_main) == ["percent_of", "reverse_string"]


def tools(answer: Answer) -> list[str]:
    """The tools that answered, as the request's completion records them."""
    (done,) = [e for e in answer.events if isinstance(e, RequestCompleted)]
    return [step.tool for step in done.steps]
