"""Events as folds read them: msgspec mirrors equal to the pydantic events, or pydantic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import orjson
import pytest
from pydantic import BaseModel

from selfeng.core.fold_views import fold_event, mirrored_types
from selfeng.core.mapper import DecodeError, from_record, to_record
from selfeng.core.records import StoredRecord
from selfeng.schemas import (
    ArgumentsExtracted,
    CacheHit,
    Candidate,
    Event,
    Evidence,
    FeedbackApplied,
    FeedbackGiven,
    PolicyChanged,
    RequestCompleted,
    RequestReceived,
    ResponseSynthesized,
    Step,
    ToolExecuted,
    ToolSearched,
)
from selfeng.schemas.requests import RequestEvent

STEP = Step(query="reverse hello", template="reverse {text}", tool="t", version=1, ok=True,
            arguments={"text": "hello", "n": [1, 2.5, None]}, confident=True)  # fmt: skip
SAMPLES: list[Event] = [
    ToolSearched(
        key="r",
        query="q",
        threshold=0.2,
        candidates=(Candidate(tool="t", version=1, score=0.9, similarity=1),),
        evidence=(Evidence(tool="t", version=1, intent=("a",), arguments={"x": {"y": 1}}),),
    ),
    ArgumentsExtracted(key="r", tool="t", version=1, arguments={"a": 1}, missing=("b",)),
    ToolExecuted(
        key="r",
        tool="t",
        version=2,
        arguments={"a": 1},
        ok=True,
        result={"k": [1]},
        duration_ms=1,
        sandbox="s",
        error_kind=None,
    ),
    ToolExecuted(
        key="r",
        tool="t",
        version=2,
        ok=False,
        error="boom",
        error_kind="timeout",
        duration_ms=3.5,
        sandbox="s",
    ),
    CacheHit(key="r", tool="t", version=1, cache_key="k", result=2.5),
    ResponseSynthesized(key="r", text="x", value=None),
    RequestCompleted(
        key="r",
        ok=True,
        answer="olleh",
        value="olleh",
        tools=("t@1",),
        steps=(STEP, STEP),
        session_id="s",
        confidence=0.9,
    ),
    FeedbackGiven(key="r", rating="bad", comment="no"),
    RequestCompleted(
        key="r",
        ok=False,
        answer="I have no tool",
        producer="synthesizer",
        occurred_at=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    ),
    RequestCompleted(
        key="r",
        ok=False,
        answer="no",
        occurred_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5))),
    ),
    FeedbackApplied(
        key="r",
        rating="good",
        feedback_id="f",
        answer_id="a",
        steps=(STEP,),
        before=("learnt",),
        after=("confirmed",),
        cache_keys=("c",),
    ),
]


def stored(event: Event, data: bytes | None = None, key: str | None = None) -> StoredRecord:
    record = to_record(event)
    return StoredRecord(
        record.event_id,
        record.topic,
        record.key if key is None else key,
        record.type,
        record.version,
        record.data if data is None else data,
        record.timestamp_ms,
        0,
        7,
    )


def plain(value: Any) -> Any:
    """A mirror or a model as nested plain data, field by field."""
    if isinstance(value, msgspec.Struct) and type(value) is not value.__class__:
        return {f: plain(getattr(value, f)) for f in value.__struct_fields__}
    if isinstance(value, BaseModel):
        return {f: plain(getattr(value, f)) for f in type(value).model_fields}
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, datetime):  # as folds keep it (pydantic's and msgspec's tzinfo differ)
        return ("datetime", value.isoformat(), value.timestamp())
    return (type(value), value)


def test_the_request_family_is_mirrored_and_the_rest_is_not() -> None:
    assert {type(e).__name__ for e in SAMPLES} <= mirrored_types()
    # a validator (RequestReceived's prompt mends lone surrogates) or a rare type: pydantic
    assert "RequestReceived" not in mirrored_types()
    assert "PolicyChanged" not in mirrored_types()
    received = RequestReceived(key="r", prompt="hi")
    assert type(fold_event(stored(received))) is RequestReceived


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_a_mirror_holds_what_the_event_holds(event: Event) -> None:
    view = fold_event(stored(event))
    assert type(view) is not type(event)  # a mirror, not the model
    assert plain(view) == plain(event)  # every field, of the same type, nested ones too


def test_a_mirror_matches_its_models_patterns() -> None:
    view = fold_event(stored(SAMPLES[2]))
    assert isinstance(view, ToolExecuted)
    assert isinstance(view, RequestEvent)
    assert not isinstance(view, CacheHit)
    assert view.request_id == "r"  # a property of the model
    match view:
        case CacheHit():
            pytest.fail("matched another type")
        case ToolExecuted(tool=name, version=version, ok=ok):
            assert (name, version, ok) == ("t", 2, True)
        case _:
            pytest.fail("no match")
    steps = fold_event(stored(SAMPLES[6])).steps  # type: ignore[attr-defined]
    assert isinstance(steps[0], Step)
    assert steps[0].template == "reverse {text}"


def test_what_pydantic_would_coerce_or_refuse_pydantic_decides() -> None:
    event = SAMPLES[2]
    body = orjson.loads(to_record(event).data)
    # lax: pydantic reads "2" as 2, msgspec refuses it, so the model is what folds get
    lax = fold_event(stored(event, orjson.dumps({**body, "version": "2"})))
    assert type(lax) is ToolExecuted
    assert lax.version == 2
    # refused by both: the same DecodeError from_record gives (a dead letter)
    for bad in (
        orjson.dumps({**body, "ok": None}),
        orjson.dumps({k: v for k, v in body.items() if k != "duration_ms"}),
        b"{not json",
    ):
        with pytest.raises(DecodeError):
            fold_event(stored(event, bad))
    # a record whose key is not its body's is refused, as from_record refuses it
    with pytest.raises(DecodeError):
        fold_event(stored(event, key="other"))


def test_an_event_of_a_policy_arm_is_the_model() -> None:
    """The folds that hold an arm's events keep them as pydantic's JSON."""
    armed = ToolExecuted(key="r", tool="t", version=1, ok=True, duration_ms=1, sandbox="s",
                         policy_arm="lenient")  # fmt: skip
    view = fold_event(stored(armed))
    assert type(view) is ToolExecuted
    assert view == from_record(stored(armed))


def test_a_body_without_event_id_takes_the_records_through_pydantic() -> None:
    event = SAMPLES[4]
    body = orjson.loads(to_record(event).data)
    del body["event_id"]
    view = fold_event(stored(event, orjson.dumps(body)))
    assert type(view) is CacheHit
    assert view.event_id == event.event_id


def test_other_types_are_left_to_pydantic() -> None:
    changed = PolicyChanged(name="retrieval.threshold", value=0.3)
    assert type(fold_event(stored(changed))) is PolicyChanged
