import uuid

import orjson
import pytest

from selfeng.core.mapper import (
    DecodeError,
    dead_letter_for_record,
    decode,
    encoded,
    from_record,
    to_record,
)
from selfeng.core.records import StoredRecord
from selfeng.schemas import DeadLetter, RequestReceived, ToolRegistered


def stored(
    data: bytes,
    type_: str = "RequestReceived",
    version: int = 1,
    *,
    event_id: bytes | None = None,
    key: str | None = None,
) -> StoredRecord:
    """A record as a log would store it: its id and key those of its body when it has them
    (as the writer's headers would say), else made up."""
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        body = {}
    body = body if isinstance(body, dict) else {}
    if event_id is None:
        event_id = uuid.UUID(body["event_id"]).bytes if "event_id" in body else b"\x01" * 16
    if key is None:
        key = body.get("key", "")
    return StoredRecord(event_id, "selfeng.requests", key, type_, version, data, 0, 2, 17)


def test_an_event_round_trips_through_its_record() -> None:
    event = RequestReceived(prompt="What is 25% of 100?", client="test")
    record = to_record(event)
    assert (record.topic, record.key, record.type, record.version) == (
        "selfeng.requests",
        event.key,
        "RequestReceived",
        1,
    )
    assert record.event_id == event.event_id.bytes
    assert record.timestamp_ms == int(event.occurred_at.timestamp() * 1000)
    back = from_record(stored(record.data))
    assert back == event


def test_an_arms_event_is_encoded_once_and_every_reader_gets_the_same_bytes() -> None:
    served = RequestReceived(prompt="hello", policy_arm="e1.lenient")
    data = to_record(served).data
    assert encoded(served) is data  # remembered: the folds that hold it back reuse it
    assert decode(data) == served
    plain = RequestReceived(prompt="hello")
    assert encoded(plain) == to_record(plain).data
    assert encoded(plain) is not encoded(plain)  # the main line's are not kept


@pytest.mark.parametrize(
    ("data", "error", "words"),
    [
        (b'{"type": "RequestReceived", "prompt": "trunc', "invalid_json", "not JSON"),
        (b"\x00\xff\xfe", "invalid_json", "not JSON"),
        (b"[1, 2]", "not_an_object", "JSON object"),
        (b'{"type": "Teleported", "key": "k"}', "unknown_type", "unknown event type 'Teleported'"),
        (b'{"key": "k"}', "unknown_type", "unknown event type None"),
        (b'{"type": "RequestReceived", "key": "k", "prompt": 42}', "validation", "prompt"),
        (
            b'{"type": "ToolRegistered", "key": "k", "tool": "t", "version": "two"}',
            "validation",
            "version",
        ),
        (
            b'{"type": "RequestReceived", "schema_version": 7, "key": "k", "prompt": "p"}',
            "newer_version",
            "newer than this selfeng knows",
        ),
    ],
)
def test_bad_bytes_give_a_clear_decode_error(data: bytes, error: str, words: str) -> None:
    with pytest.raises(DecodeError) as info:
        from_record(stored(data))
    assert info.value.error == error
    assert words in info.value.reason


def test_a_dead_letter_keeps_the_raw_bytes_and_has_a_stable_id() -> None:
    record = stored(b'{"type": "RequestReceived", "prompt": "trunc')
    with pytest.raises(DecodeError) as info:
        from_record(record)
    letter = dead_letter_for_record(record, info.value)
    assert isinstance(letter, DeadLetter)
    assert letter.raw == record.data
    assert letter.source == "selfeng.requests/2@17"
    assert letter.key == letter.source
    assert letter.claimed_type == "RequestReceived"
    assert dead_letter_for_record(record, info.value).event_id == letter.event_id


def test_strict_decoding_refuses_unknown_fields_and_fills_the_key() -> None:
    with pytest.raises(DecodeError, match="has no field"):
        decode(b'{"type": "RequestReceived", "promt": "typo", "prompt": "x"}', strict=True)
    event = decode(b'{"type": "ToolRegistered", "tool": "percent", "version": 1}', strict=True)
    assert isinstance(event, ToolRegistered)
    assert event.key == "percent"
    lenient = decode(b'{"type": "RequestReceived", "key": "k", "prompt": "x", "extra": 1}')
    assert isinstance(lenient, RequestReceived)


def test_a_record_whose_type_column_lies_is_judged_by_its_data() -> None:
    data = orjson.dumps({"type": "ToolRegistered", "key": "t", "tool": "t", "version": 1})
    event = from_record(stored(data, type_="RequestReceived"))
    assert isinstance(event, ToolRegistered)


def test_strict_decoding_refuses_a_key_that_contradicts_the_entity() -> None:
    with pytest.raises(DecodeError, match="differs from its name"):
        decode(b'{"type": "PolicyChanged", "key": "a", "name": "b", "value": 1}', strict=True)


def test_an_event_sent_without_an_id_takes_its_records_for_every_reader() -> None:
    body = b'{"type": "RequestReceived", "prompt": "hi", "client": "raw"}'
    record = stored(body, event_id=uuid.uuid5(uuid.NAMESPACE_URL, "place").bytes)
    first, again = from_record(record), from_record(record)
    assert first.event_id.bytes == record.event_id
    assert again.event_id == first.event_id
    # nor a key: the request id is the record's id, not a fresh one per reader
    assert first.key == again.key == str(uuid.UUID(bytes=record.event_id))
    keyed = from_record(stored(body[:-1] + b', "key": "mine"}', event_id=record.event_id))
    assert keyed.key == "mine"


@pytest.mark.parametrize(
    ("event_id", "key", "words"),
    [
        (b"\x02" * 16, None, "event_id"),  # a body claiming another record's id
        (None, "someone-else", "message key"),
    ],
)
def test_a_record_whose_body_says_otherwise_is_refused(
    event_id: bytes | None, key: str | None, words: str
) -> None:
    event = RequestReceived(prompt="hi", client="raw")
    record = stored(to_record(event).data, event_id=event_id, key=key)
    with pytest.raises(DecodeError) as raised:
        from_record(record)
    assert raised.value.error == "mismatch"
    assert words in raised.value.reason
