"""The contract every EventLog adapter passes, unchanged.

Subclass ``LogContract`` once per backend and implement ``create_log``; every test here
then runs against that backend (see tests/infra/test_*_log.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import orjson
import pytest

from selfeng.core.log import ConcurrencyConflict, EventLog, RecordBatch
from selfeng.core.positions import position_from_json
from selfeng.core.records import NewRecord, StoredRecord
from selfeng.schemas import uuid7

REQUESTS = "selfeng.requests"
TOOLS = "selfeng.tools"


def rec(key: str, n: int = 0, *, type: str = "RequestReceived", topic: str = REQUESTS) -> NewRecord:
    """A record whose data says which key and number it is."""
    return NewRecord(
        event_id=uuid7().bytes,
        topic=topic,
        key=key,
        type=type,
        version=1,
        data=orjson.dumps({"key": key, "n": n}),
        timestamp_ms=int(time.time() * 1000),
    )


def payloads(records: list[StoredRecord]) -> list[tuple[str, int]]:
    """(key, n) of each record, in order."""
    out = []
    for r in records:
        d = orjson.loads(r.data)
        out.append((d["key"], d["n"]))
    return out


def read_all(log: EventLog, **kwargs: object) -> list[StoredRecord]:
    """Every record a read returns, flattened."""
    return [r for batch in log.read(**kwargs) for r in batch.records]  # type: ignore[arg-type]


def by_key(records: list[StoredRecord]) -> dict[str, list[int]]:
    """The numbers seen per key, in read order."""
    out: dict[str, list[int]] = {}
    for key, n in payloads(records):
        out.setdefault(key, []).append(n)
    return out


class LogContract:
    """Behaviour every log adapter must have."""

    def create_log(self) -> EventLog:
        """A new, empty log for one test."""
        raise NotImplementedError

    @pytest.fixture
    def log(self) -> Iterator[EventLog]:
        log = self.create_log()
        try:
            yield log
        finally:
            log.close()

    def test_empty_log_reads_nothing(self, log: EventLog) -> None:
        assert read_all(log) == []
        assert log.head().is_at_or_after(log.start())
        assert log.start().events_to(log.head()) == 0
        assert log.key_version("nobody") == 0
        assert log.stream("nobody") == []

    def test_append_then_read_returns_records_whole(self, log: EventLog) -> None:
        new = [rec("a", 0), rec("b", 0, type="ToolRegistered", topic=TOOLS), rec("a", 1)]
        stored = log.append(new)
        assert [s.event_id for s in stored] == [r.event_id for r in new]
        got = read_all(log)
        assert sorted(r.event_id for r in got) == sorted(r.event_id for r in new)
        for r in got:
            original = next(n for n in new if n.event_id == r.event_id)
            assert (r.topic, r.key, r.type, r.version, r.data, r.timestamp_ms) == (
                original.topic,
                original.key,
                original.type,
                original.version,
                original.data,
                original.timestamp_ms,
            )
        assert by_key(got) == {"a": [0, 1], "b": [0]}

    def test_positions_count_the_records_between_them(self, log: EventLog) -> None:
        log.append([rec("a", 0), rec("b", 0, type="ToolRegistered", topic=TOOLS), rec("a", 1)])
        assert log.start().events_to(log.head()) == 3

    def test_order_within_a_key_is_kept(self, log: EventLog) -> None:
        keys = [f"k{i}" for i in range(7)]
        for n in range(20):
            log.append([rec(k, n, topic=REQUESTS if i % 2 else TOOLS) for i, k in enumerate(keys)])
        seen = by_key(read_all(log))
        assert seen == {k: list(range(20)) for k in keys}
        for k in keys:
            assert [n for _, n in payloads(log.stream(k))] == list(range(20))
            assert log.key_version(k) == 20

    def test_read_after_a_position_resumes_there(self, log: EventLog) -> None:
        log.append([rec("a", n) for n in range(5)])
        position = None
        for batch in log.read():
            position = batch.position
        assert position is not None
        assert position.is_at_or_after(log.head())
        log.append([rec("a", n) for n in range(5, 8)])
        later = read_all(log, after=position)
        assert by_key(later) == {"a": [5, 6, 7]}
        assert read_all(log, after=log.head()) == []

    def test_batches_respect_batch_size_and_cover_their_records(self, log: EventLog) -> None:
        log.append([rec(f"k{n % 3}", n) for n in range(25)])
        batches = list(log.read(batch_size=4))
        assert all(len(b.records) <= 4 for b in batches)
        assert sum(len(b.records) for b in batches) == 25
        for b in batches:
            assert all(b.position.covers(r) for r in b.records)
        assert batches[-1].position.is_at_or_after(log.head())

    def test_append_is_idempotent_on_event_id(self, log: EventLog) -> None:
        batch = [rec("a", 0), rec("b", 0)]
        log.append(batch)
        log.append(batch)  # a retry of the same append
        log.append([batch[1], rec("a", 1)])  # partly seen before
        got = read_all(log)
        assert sorted(payloads(got)) == [("a", 0), ("a", 1), ("b", 0)]
        assert log.key_version("a") == 2
        assert log.key_version("b") == 1

    def test_duplicate_ids_within_one_batch_are_stored_once(self, log: EventLog) -> None:
        r = rec("a", 0)
        log.append([r, r])
        assert payloads(read_all(log)) == [("a", 0)]

    def test_expected_version_accepts_the_right_version(self, log: EventLog) -> None:
        log.append([rec("a", 0)], expected_versions={"a": 0})
        log.append([rec("a", 1), rec("a", 2)], expected_versions={"a": 1})
        assert log.key_version("a") == 3

    def test_expected_version_conflict_appends_nothing(self, log: EventLog) -> None:
        log.append([rec("a", 0), rec("a", 1)])
        with pytest.raises(ConcurrencyConflict) as info:
            log.append([rec("b", 0), rec("a", 2)], expected_versions={"a": 1})
        assert info.value.key == "a"
        assert info.value.expected == 1
        assert info.value.actual == 2
        assert "version 2" in str(info.value)
        assert by_key(read_all(log)) == {"a": [0, 1]}
        assert log.key_version("b") == 0

    def test_expected_version_of_a_new_key_is_zero(self, log: EventLog) -> None:
        log.append([rec("a", 0)])
        with pytest.raises(ConcurrencyConflict):
            log.append([rec("a", 1)], expected_versions={"a": 0})
        log.append([rec("new", 0)], expected_versions={"new": 0})
        assert log.key_version("new") == 1

    def test_retry_of_an_append_with_expected_version_is_not_a_conflict(
        self, log: EventLog
    ) -> None:
        batch = [rec("a", 0)]
        log.append(batch, expected_versions={"a": 0})
        log.append(batch, expected_versions={"a": 0})
        assert log.key_version("a") == 1

    def test_filters_by_type_and_topic(self, log: EventLog) -> None:
        log.append(
            [
                rec("a", 0, type="RequestReceived"),
                rec("t", 0, type="ToolRegistered", topic=TOOLS),
                rec("a", 1, type="RequestCompleted"),
                rec("t", 1, type="ToolDeprecated", topic=TOOLS),
            ]
        )
        got = read_all(log, types={"RequestCompleted", "ToolRegistered"})
        assert sorted(r.type for r in got) == ["RequestCompleted", "ToolRegistered"]
        got = read_all(log, topics={TOOLS})
        assert sorted(r.type for r in got) == ["ToolDeprecated", "ToolRegistered"]
        batches = list(log.read(types={"Nothing"}))
        assert all(not b.records for b in batches)
        if batches:
            assert batches[-1].position.is_at_or_after(log.head())

    def test_read_until_stops_at_a_position(self, log: EventLog) -> None:
        log.append([rec("a", n) for n in range(3)])
        middle = log.head()
        log.append([rec("a", n) for n in range(3, 6)])
        assert by_key(read_all(log, until=middle)) == {"a": [0, 1, 2]}
        assert by_key(read_all(log, after=middle)) == {"a": [3, 4, 5]}

    def test_positions_round_trip_through_json_and_text(self, log: EventLog) -> None:
        log.append([rec(f"k{n}", n) for n in range(6)])
        head = log.head()
        assert position_from_json(orjson.loads(orjson.dumps(head.to_json()))) == head
        assert log.parse_position(str(head)) == head

    def test_follow_yields_records_appended_later(self, log: EventLog) -> None:
        log.append([rec("a", 0)])
        stop = threading.Event()
        seen: list[StoredRecord] = []

        def writer() -> None:
            time.sleep(0.3)
            log.append([rec("a", 1)])
            time.sleep(0.3)
            log.append([rec("a", 2)])

        thread = threading.Thread(target=writer)
        thread.start()
        deadline = time.monotonic() + 30
        batch: RecordBatch
        for batch in log.follow(idle=0.1, stop=stop):
            seen.extend(batch.records)
            if len(seen) >= 3 or time.monotonic() > deadline:
                stop.set()
        thread.join()
        assert by_key(seen) == {"a": [0, 1, 2]}

    def test_consumer_group_resumes_from_its_commit(self, log: EventLog) -> None:
        log.append([rec("a", n) for n in range(4)])
        with log.consumer("g1") as first:
            got = self._poll_until(first, 4)
            assert by_key(got) == {"a": [0, 1, 2, 3]}
            first.commit()
        log.append([rec("a", n) for n in range(4, 6)])
        with log.consumer("g1") as second:
            got = self._poll_until(second, 2)
            assert by_key(got) == {"a": [4, 5]}
            # not committed: a third member sees them again
        with log.consumer("g1") as third:
            assert by_key(self._poll_until(third, 2)) == {"a": [4, 5]}
        with log.consumer("other-group") as other:
            assert len(self._poll_until(other, 6)) == 6

    @staticmethod
    def _poll_until(consumer: object, n: int, timeout: float = 30.0) -> list[StoredRecord]:
        got: list[StoredRecord] = []
        deadline = time.monotonic() + timeout
        while len(got) < n and time.monotonic() < deadline:
            got.extend(consumer.poll(timeout=0.5).records)  # type: ignore[attr-defined]
        return got

    def test_concurrent_appenders_lose_nothing(self, log: EventLog) -> None:
        def worker(name: str) -> None:
            for n in range(30):
                log.append([rec(name, n)])

        threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert by_key(read_all(log)) == {f"w{i}": list(range(30)) for i in range(3)}
