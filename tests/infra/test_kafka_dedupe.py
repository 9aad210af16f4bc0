"""The process-wide dedupe of a Kafka log: the first copy of an event in a partition wins,
whatever copy this process appended or read first."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from selfeng.core.records import StoredRecord
from selfeng.infra.log.kafka_dedupe import DedupeWindow, KnownIds, Location

EVENT = b"e" * 16


def record(offset: int, partition: int = 0) -> tuple[bytes, StoredRecord]:
    return EVENT, StoredRecord(
        event_id=EVENT,
        topic="selfeng.requests",
        key="k",
        type="RequestReceived",
        version=1,
        data=b"{}",
        timestamp_ms=0,
        partition=partition,
        offset=offset,
    )


def known_ids() -> KnownIds:
    clients: Any = SimpleNamespace(settings=SimpleNamespace(dedupe_window=100))
    return KnownIds(clients)


def test_a_later_copy_of_a_known_event_is_skipped() -> None:
    known = known_ids()
    assert [r.offset for r in known.fresh([record(5)], DedupeWindow[Location](100))] == [5]
    reader = DedupeWindow[Location](100)
    assert [r.offset for r in known.fresh([record(5), record(9)], reader)] == [5]
    assert [r.offset for r in known.fresh([record(9)], DedupeWindow[Location](100))] == []


def test_the_first_copy_wins_when_a_later_one_was_known_first() -> None:
    """This process appended (or read) the copy at offset 9 first; a replay reading from the
    start meets the copy at 5 first, as every other process does: 5 is delivered, 9 not."""
    known = known_ids()
    known.known.add(EVENT, ("selfeng.requests", 0, 9))
    replay = DedupeWindow[Location](100)
    assert [r.offset for r in known.fresh([record(5), record(9)], replay)] == [5]
    assert known.known.get(EVENT) == ("selfeng.requests", 0, 5)
    # and a reader that starts after 5 no longer delivers the copy at 9
    assert [r.offset for r in known.fresh([record(9)], DedupeWindow[Location](100))] == []
