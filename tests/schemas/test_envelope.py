import uuid

import pytest
from pydantic import ValidationError

from selfeng.schemas import (
    PolicyChanged,
    RequestReceived,
    ToolExecuted,
    ToolRegistered,
    ToolSearched,
)


def test_the_key_comes_from_the_key_field() -> None:
    assert ToolRegistered(tool="percent", version=1).key == "percent"
    assert PolicyChanged(name="cache.ttl_seconds", value=10).key == "cache.ttl_seconds"


def test_a_request_gets_a_new_request_id_as_its_key() -> None:
    a, b = RequestReceived(prompt="x"), RequestReceived(prompt="x")
    assert a.key != b.key
    assert uuid.UUID(a.key).version == 7
    assert RequestReceived(key="mine", prompt="x").request_id == "mine"


def test_an_event_without_a_key_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a key"):
        ToolSearched(query="q", threshold=0.4)


def test_following_an_event_keeps_the_request_and_points_at_the_cause() -> None:
    received = RequestReceived(prompt="What is 25% of 100?")
    searched = ToolSearched.following(received, query=received.prompt, threshold=0.4)
    executed = ToolExecuted.following(
        searched,
        tool="percent",
        version=1,
        ok=True,
        result=25.0,
        duration_ms=1.0,
        sandbox="subprocess",
    )
    assert searched.key == executed.key == received.key
    assert searched.correlation_id == executed.correlation_id == received.event_id
    assert searched.causation_id == received.event_id
    assert executed.causation_id == searched.event_id


def test_events_are_frozen() -> None:
    event = ToolRegistered(tool="percent", version=1)
    with pytest.raises(ValidationError):
        event.version = 2  # type: ignore[misc]


def test_the_topic_follows_the_family() -> None:
    assert RequestReceived.topic() == "selfeng.requests"
    assert ToolRegistered.topic() == "selfeng.tools"
    assert PolicyChanged.topic() == "selfeng.policy"


def test_a_key_that_contradicts_the_key_field_is_refused() -> None:
    with pytest.raises(ValueError, match="differs from its tool"):
        ToolRegistered(key="other", tool="percent", version=1)
    assert ToolRegistered(key="percent", tool="percent", version=1).key == "percent"
