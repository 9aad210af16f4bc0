"""The Kafka log's long-lived consumers: reused, never stale, safe from several threads.

``read``, ``head``, ``stream``, ``key_version``, ``follow`` and ``wait_for_append`` borrow
consumers from the log's pool (``kafka_pool``) instead of opening one per call. These tests
check what reuse could break: a read or head after an append (by this log or another
writer) must see it, a read may go back to any position, a recreated topic is read as it
now is, several threads read at once, and closing the log stops every consumer thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator, Iterator
from typing import Any, cast

import pytest

pytest.importorskip("kafka", reason="kafka-python is not installed: pip install 'selfeng[kafka]'")

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from selfeng.core.log import LogError, RecordBatch
from selfeng.core.positions import PartitionPosition
from selfeng.infra.log.kafka import KafkaLog
from selfeng.infra.log.kafka_admin import partition_for
from selfeng.infra.log.kafka_pool import SPARE, ConsumerPool, settle
from tests.contract.log_contract import REQUESTS, TOOLS, by_key, read_all, rec
from tests.kafka_broker import unique_namespace

pytestmark = pytest.mark.kafka


def url(bootstrap: str, namespace: str, extra: str = "") -> str:
    return f"kafka://{bootstrap}?namespace={namespace}&session_timeout_ms=6000" + (
        f"&{extra}" if extra else ""
    )


@pytest.fixture
def ns() -> str:
    return unique_namespace()


@pytest.fixture
def log(kafka_bootstrap: str, ns: str) -> Iterator[KafkaLog]:
    with KafkaLog.from_url(url(kafka_bootstrap, ns)) as opened:
        yield opened


def _records(log: KafkaLog, **kwargs: Any) -> list[Any]:
    return read_all(log, **kwargs)


def _generator(batches: Iterator[RecordBatch]) -> Generator[RecordBatch, None, None]:
    """A read's batches as the generator they are (to close it part-way)."""
    return cast("Generator[RecordBatch, None, None]", batches)


def test_a_read_after_an_append_sees_it_every_time(log: KafkaLog) -> None:
    """Read-your-writes on reused consumers: no buffered fetch gives an old end."""
    for n in range(40):
        before = log.head()
        stored = log.append([rec(f"k{n % 7}", n)])[0]
        got = _records(log, after=before)
        assert [r.event_id for r in got] == [stored.event_id], f"round {n}"
        after = log.head()
        assert after.next_offset(REQUESTS, stored.partition) == stored.offset + 1
        assert log.key_version(f"k{n % 7}") == n // 7 + 1
        assert log.stream(f"k{n % 7}")[-1].event_id == stored.event_id
    # reused, not one per call (160 calls here): a consumer whose last fetch is not
    # answered in time on a busy machine is replaced, so a few more than the 3 kinds of
    # call need may open (CI once saw 4)
    assert log._clients.pool.opened <= 8


def test_head_sees_what_another_writer_appended(
    log: KafkaLog, kafka_bootstrap: str, ns: str
) -> None:
    """Including in partitions that were empty at the previous head (fetched at offset 0)."""
    first = log.head()
    assert first.offsets
    assert set(first.offsets.values()) == {0}
    with KafkaLog.from_url(url(kafka_bootstrap, ns)) as other:
        for n in range(20):
            stored = other.append([rec(f"other{n}", n, topic=TOOLS if n % 2 else REQUESTS)])[0]
            head = log.head()
            assert head.next_offset(stored.topic, stored.partition) == stored.offset + 1
            assert log.start().events_to(head) == n + 1
            assert log.key_version(f"other{n}") == 1
    bare = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    try:
        meta = bare.send(f"{ns}.{REQUESTS}", value=b"{}", key=b"bare").get(timeout=30)
    finally:
        bare.close()
    assert log.head().next_offset(REQUESTS, meta.partition) == meta.offset + 1


def test_reads_go_back_to_any_position_after_earlier_reads(log: KafkaLog) -> None:
    log.append([rec(f"k{n % 3}", n) for n in range(30)])
    positions: list[PartitionPosition] = [log.start()]
    for batch in log.read(batch_size=4):
        assert isinstance(batch.position, PartitionPosition)
        positions.append(batch.position)
    everything = _records(log)
    assert len(everything) == 30
    for at in reversed(positions):  # backwards, each after reading further on
        tail = _records(log, after=at)
        assert len(tail) == at.events_to(positions[-1])
        assert {r.event_id for r in tail} <= {r.event_id for r in everything}
    middle = positions[len(positions) // 2]
    assert by_key(_records(log, until=middle)) == by_key(_records(log, until=middle))
    assert _records(log, after=log.head()) == []


def test_an_abandoned_read_gives_its_consumer_back(log: KafkaLog) -> None:
    log.append([rec(f"k{n}", n) for n in range(50)])
    list(log.read())
    opened = log._clients.pool.opened
    for _ in range(5):
        reader = _generator(log.read(batch_size=5))
        assert len(next(reader).records) == 5
        reader.close()  # a caller that stops reading part-way
        assert len(_records(log)) == 50
    # a spare may open while the consumer just given back settles (SPARE); a read that kept
    # its consumer would open one more on every round
    assert log._clients.pool.opened <= opened + SPARE - 1


def test_a_recreated_topic_is_read_as_it_now_is(kafka_bootstrap: str, ns: str) -> None:
    with KafkaLog.from_url(url(kafka_bootstrap, ns, "partitions=2")) as log:
        log.append([rec(f"k{n}", n) for n in range(10)])
        old_head = log.head()
        assert len(_records(log)) == 10
        admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        try:
            admin.delete_topics([f"{ns}.{REQUESTS}"])
            deadline = time.monotonic() + 30
            while f"{ns}.{REQUESTS}" in admin.list_topics():
                assert time.monotonic() < deadline, "the topic was not deleted"
                time.sleep(0.1)
            admin.create_topics([NewTopic(f"{ns}.{REQUESTS}", 2, 1)])
        finally:
            admin.close()
        deadline = time.monotonic() + 30
        while True:  # the broker may answer for the old topic for a moment
            try:
                stored = log.append([rec("new", 0)])
                break
            except LogError:
                assert time.monotonic() < deadline, "cannot append to the recreated topic"
                time.sleep(0.2)
        head = log.head()
        assert head.next_offset(REQUESTS, stored[0].partition) == 1
        assert log.start().events_to(head) == 1
        assert by_key(_records(log)) == {"new": [0]}
        beyond = old_head.next_offset(REQUESTS, partition_for("k0", 2))
        if beyond > 1:
            with pytest.raises(LogError, match="beyond the end"):
                _records(log, after=old_head)


def test_several_threads_read_at_once_while_one_appends(log: KafkaLog) -> None:
    keys = [f"k{i}" for i in range(4)]
    log.append([rec(k, 0) for k in keys])
    errors: list[BaseException] = []
    done = threading.Event()

    def writer() -> None:
        try:
            for n in range(1, 16):
                log.append([rec(k, n) for k in keys])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    def reader(kind: int) -> None:
        try:
            while not done.is_set():
                seen = log.key_version(keys[kind]) if kind % 2 else len(log.stream(keys[kind]))
                got = by_key(_records(log))
                for numbers in got.values():  # each key in order, nothing missing or doubled
                    assert numbers == list(range(len(numbers)))
                assert len(got[keys[kind]]) >= seen
                log.head()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
    threads.append(threading.Thread(target=writer))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert by_key(_records(log)) == {k: list(range(16)) for k in keys}
    assert all(log.key_version(k) == 16 for k in keys)


def test_the_request_path_opens_no_consumer_and_asks_no_metadata(
    log: KafkaLog, caplog: pytest.LogCaptureFixture
) -> None:
    """After a warm-up, what a request costs on Kafka is its own fetches and produce."""

    def one_request(n: int) -> None:
        before = log.head()
        log.append([rec(f"r{n}", 0)], expected_versions={f"r{n}": 0})
        assert len(_records(log, after=before, topics={REQUESTS})) == 1
        assert len(_records(log, after=before)) == 1
        log.key_version(f"r{n}")
        log.stream(f"r{n}")
        log.wait_for_append(before, 0.05)
        stop = threading.Event()
        for batch in log.follow(before, topics={REQUESTS}, idle=0.1, stop=stop):
            if batch.records:
                stop.set()

    one_request(0)
    one_request(1)
    time.sleep(0.5)  # new clients' first metadata refreshes (retried after 100 ms) are done
    opened = log._clients.pool.opened
    caplog.set_level(logging.DEBUG, logger="kafka.cluster")
    for n in range(2, 12):
        one_request(n)
    metadata = [r for r in caplog.records if "metadata request" in r.getMessage().lower()]
    new = log._clients.pool.opened - opened
    # 70 calls: at most a spare or so per kind opens while another settles (on a busy
    # machine), never one per call; and only a consumer opened asks for metadata (its
    # bootstrap, retried once at most), never a call on a consumer the pool lends again
    assert new <= 3
    assert len(metadata) <= 2 * new


def _io_threads(client_id: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if client_id in t.name]


def test_closing_the_log_stops_every_consumer(kafka_bootstrap: str, ns: str) -> None:
    log = KafkaLog.from_url(url(kafka_bootstrap, ns))
    log.append([rec("a", n) for n in range(5)])
    reader = _generator(log.read(batch_size=1))
    next(reader)  # a read still in progress when the log closes
    log.head()
    log.key_version("a")
    assert _io_threads(log._clients.client_id)
    log.close()
    reader.close()
    deadline = time.monotonic() + 10
    while _io_threads(log._clients.client_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _io_threads(log._clients.client_id) == []
    with pytest.raises(LogError, match="closed"):
        log.head()


class _Opaque:
    """A consumer without the kafka-python internals settling needs."""

    closed = False

    def unsubscribe(self) -> None:
        pass

    def close(self, autocommit: bool = False) -> None:
        self.closed = True


def test_a_consumer_that_cannot_be_settled_is_replaced_not_reused() -> None:
    made: list[_Opaque] = []

    def make(kind: object) -> _Opaque:
        made.append(_Opaque())
        return made[-1]

    pool = ConsumerPool(make)
    first = pool.take("scan")
    assert not settle(first, 0.01)
    pool.give_back("scan", first)
    assert first.closed
    second = pool.take("scan")
    assert second is not first
    pool.give_back("scan", second, reusable=False)
    assert second.closed
    pool.close()
    assert pool.opened == 2
