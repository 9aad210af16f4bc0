"""Counterfactual replay: past requests answered again under candidate policies, with the
real handler, appending nothing."""

from __future__ import annotations

from selfeng.agent import Agent
from selfeng.app import Selfeng
from selfeng.consumers.counterfactual import past_requests, simulate
from selfeng.consumers.request_handler import RequestHandler


def test_a_stricter_threshold_is_estimated_to_abstain_more(seeded: Selfeng) -> None:
    agent = Agent(seeded, seed=False)
    first = agent.ask("What is 15% of 80?")
    agent.feedback(first.request_id, "good")
    for prompt in ("Reverse the string hello", "What is 30% of 90?", "Tell me a joke"):
        agent.ask(prompt)
    past = past_requests(seeded.log, last=3)
    assert [p.received.prompt for p in past] == [
        "Reverse the string hello",
        "What is 30% of 90?",
        "Tell me a joke",
    ]
    assert past_requests(seeded.log, last=10)[0].rating == "good"
    head = seeded.log.head()
    handler = RequestHandler(lambda: seeded.sandbox, seeded.handler.search)
    with seeded.handling:
        same = simulate(handler, seeded.handler_state(), {}, past_requests(seeded.log, 10))
        strict = simulate(
            handler,
            seeded.handler_state(),
            {"retrieval.threshold": 1.0},
            past_requests(seeded.log, 10),
        )
    assert seeded.log.head() == head  # nothing appended
    assert same.changed == []
    assert same.estimate()["success_rate"]["change"] == 0
    estimate = strict.estimate()
    assert estimate["abstention_rate"]["change"] > 0
    assert estimate["success_rate"]["candidate"] < estimate["success_rate"]["recorded"]
    assert strict.candidate.wrong == 0  # abstaining is not being wrong
    assert all(c["candidate"] is None for c in strict.changed)
