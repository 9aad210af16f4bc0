"""Arm isolation on the real request path: a request served by an experiment's arm teaches
that arm's fork, not main, until the experiment concludes for it."""

from __future__ import annotations

from selfeng.agent import Agent
from selfeng.app import Selfeng
from selfeng.schemas import ExperimentConcluded
from tests.consumers.test_judge import design


def test_an_arm_learns_from_its_requests_and_main_only_once_the_arm_is_kept(
    seeded: Selfeng,
) -> None:
    app = seeded
    app.append(design("iso"))
    engine = app.engine
    main_before = {name: engine.state(name) for name in ("registry", "cache", "sessions")}
    agent = Agent(app, seed=False)
    answers = [
        agent.ask(prompt, arm="iso.lenient", session_id="iso-session")
        for prompt in ("What is 15% of 80?", "Reverse the text: arms apart", "And 30% of 80?")
    ]
    assert all(a.ok and a.arm == "iso.lenient" for a in answers), [a.reason for a in answers]
    lenient = {name: engine.state(name, "iso.lenient") for name in main_before}
    for name, state in main_before.items():
        assert engine.state(name) == state, f"main's {name} learnt from an arm's request"
        assert lenient[name] != state, f"the arm's {name} learnt nothing"
    assert engine.state("cache", "iso.control") == main_before["cache"]
    # the follow-up in the arm's session read the arm's own session
    assert answers[2].value == 24, answers[2].text
    app.append([ExperimentConcluded(experiment="iso", winner="lenient", reason="test")])
    for name in main_before:
        assert engine.state(name) == lenient[name], f"main's {name} lacks the kept arm's lessons"
