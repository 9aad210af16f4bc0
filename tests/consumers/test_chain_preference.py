"""The handler prefers, among near-equal candidates, the tool that has worked after the last."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from selfeng.app import Selfeng
from selfeng.core.tooldef import parse_tool
from selfeng.schemas import (
    RequestCompleted,
    RequestReceived,
    Step,
    ToolSearched,
    uuid7,
)
from tests.consumers.conftest import seeded_app

MIRROR = '''"""Mirroring."""


def {name}(text: str) -> str:
    """Mirror a text: the text followed by itself reversed.

    Args:
        text: the text to mirror.
    """
    return text + text[::-1]


def test_mirrors() -> None:
    assert {name}("ab") == "abba"
'''

PROMPT = "Calculate 25% of 100 and mirror the result"


@pytest.fixture
def app() -> Iterator[Selfeng]:
    opened = seeded_app(learners=lambda _: [])
    for name in ("mirror_one", "mirror_two"):
        opened.add_tool(parse_tool(MIRROR.format(name=name), name))
    yield opened
    opened.close()


def ask(app: Selfeng) -> list[str]:
    received = RequestReceived(prompt=PROMPT, answered_inline=True)
    app.append([received])
    events = app.handle(received)
    searched = [e for e in events if isinstance(e, ToolSearched)]
    assert abs(searched[1].candidates[0].score - searched[1].candidates[1].score) < 0.1
    completed = next(e for e in events if isinstance(e, RequestCompleted))
    # the tools that answered (a tool tied with one of them runs too, to agree: no step)
    return [tool.split("@")[0] for tool in completed.tools]


def past_request(first: str, second: str, ok: bool) -> RequestCompleted:
    """A completed request in which ``second`` took ``first``'s output (no phrasing to learn)."""
    return RequestCompleted(
        key=str(uuid7()),
        ok=ok,
        answer="",
        steps=(
            Step(query="", tool=first, version=1, ok=True, confident=True),
            Step(query="", tool=second, version=1, ok=ok, handoff="text", confident=True),
        ),
    )


def test_without_evidence_the_best_score_wins(app: Selfeng) -> None:
    assert ask(app) == ["percent_of", "mirror_one"]  # the same documents: a tie, by name


def test_a_hand_off_that_worked_is_preferred(app: Selfeng) -> None:
    app.append([past_request("percent_of", "mirror_two", ok=True)])
    assert ask(app) == ["percent_of", "mirror_two"]  # not the tie's mirror_one


def test_failed_hand_offs_weigh_against_a_tool(app: Selfeng) -> None:
    app.append([past_request("percent_of", "mirror_one", ok=True)])
    app.append([past_request("percent_of", "mirror_two", ok=True) for _ in range(2)])
    app.append([past_request("percent_of", "mirror_two", ok=False) for _ in range(3)])
    # mirror_two: 2 / (1 + 3) = 0.5 < mirror_one: 1 / (1 + 0) = 1 (not counting the
    # failures, mirror_two would win with 2)
    assert ask(app) == ["percent_of", "mirror_one"]


def test_an_answer_not_confirmed_is_no_evidence_for_a_hand_off(app: Selfeng) -> None:
    unsure = past_request("percent_of", "mirror_two", ok=True)
    unconfirmed = unsure.model_copy(
        update={"steps": tuple(s.model_copy(update={"confident": False}) for s in unsure.steps)}
    )
    app.append([unconfirmed for _ in range(3)])
    assert ask(app) == ["percent_of", "mirror_one"]
