"""Kafka messages read back as records: the fast path for this adapter's own messages must
place a record exactly as the general decoder does, and anything else must take the
general decoder (never be dropped, never crash a reader)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from kafka.consumer.fetcher import ConsumerRecord

from selfeng.infra.log.kafka_records import decode, dedupe_key, keyed_records

EVENT_ID = uuid.uuid4().bytes


def message(headers: Any, *, key: bytes | None = b"request-1", offset: int = 7) -> Any:
    return ConsumerRecord(
        topic="ns.selfeng.requests",
        partition=3,
        leader_epoch=0,
        offset=offset,
        timestamp=1_700_000_000_000,
        timestamp_type=0,
        key=key,
        value=b'{"type": "FromBody", "schema_version": 2, "key": "body-key"}',
        headers=headers,
        checksum=None,
        serialized_key_size=-1,
        serialized_value_size=-1,
        serialized_header_size=-1,
    )


def logical(topic: str) -> str:
    return topic.removeprefix("ns.")


def general(m: Any) -> tuple[bytes, Any]:
    record = decode(logical(m.topic), m)
    return dedupe_key(m, record), record


OWN = [("type", b"RequestReceived"), ("schema_version", b"1"), ("event_id", EVENT_ID)]


def test_the_adapters_own_message_is_placed_as_the_general_decoder_places_it() -> None:
    m = message(OWN)
    [(key, record)] = keyed_records([m], logical, None)
    assert (key, record) == general(m)
    assert (record.type, record.version, record.event_id, record.key) == (
        "RequestReceived",
        1,
        EVENT_ID,
        "request-1",
    )
    assert record.topic == "selfeng.requests"
    assert (record.partition, record.offset) == (3, 7)


@pytest.mark.parametrize(
    ("headers", "key"),
    [
        ([("type", None), ("schema_version", b"1"), ("event_id", EVENT_ID)], b"k"),
        ([("type", b"\xff\xfe"), ("schema_version", b"1"), ("event_id", EVENT_ID)], b"k"),
        ([("type", b"T"), ("schema_version", b"one"), ("event_id", EVENT_ID)], b"k"),
        ([("type", b"T"), ("schema_version", None), ("event_id", EVENT_ID)], b"k"),
        ([("type", b"T"), ("schema_version", b"1"), ("event_id", EVENT_ID[:15])], b"k"),
        ([("type", b"T"), ("schema_version", b"1"), ("event_id", None)], b"k"),
        ([("schema_version", b"1"), ("type", b"T"), ("event_id", EVENT_ID)], b"k"),
        ([*OWN, ("extra", b"x")], b"k"),
        (OWN, None),
        ([], b"k"),
        (None, b"k"),
    ],
)
def test_any_other_message_takes_the_general_decoder(headers: Any, key: bytes | None) -> None:
    m = message(headers, key=key)
    assert keyed_records([m], logical, None) == [general(m)]


def test_a_type_filter_keeps_only_those_types_on_both_paths() -> None:
    own, foreign = message(OWN, offset=1), message(None, offset=2)
    assert [r.offset for _, r in keyed_records([own, foreign], logical, {"FromBody"})] == [2]
    assert [r.offset for _, r in keyed_records([own, foreign], logical, {"RequestReceived"})] == [1]
