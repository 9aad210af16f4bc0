"""The log contract on Kafka (a tansu broker, or SELFENG_TEST_KAFKA), plus Kafka specifics."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

pytest.importorskip("kafka", reason="kafka-python is not installed: pip install 'selfeng[kafka]'")

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from selfeng.core.log import ConcurrencyConflict, EventLog, LogError
from selfeng.core.positions import GlobalPosition, PartitionPosition
from selfeng.infra.log.kafka import KafkaLog
from selfeng.infra.log.kafka_admin import KafkaSettings, partition_for
from selfeng.infra.log.kafka_scan import Scan
from tests.contract.log_contract import REQUESTS, TOOLS, LogContract, by_key, read_all, rec
from tests.kafka_broker import unique_namespace

pytestmark = pytest.mark.kafka

# A joining group member waits about half its session timeout on tansu: keep it short.
OPTIONS = "session_timeout_ms=6000"


def url(bootstrap: str, namespace: str, extra: str = "") -> str:
    return f"kafka://{bootstrap}?namespace={namespace}&{OPTIONS}" + (f"&{extra}" if extra else "")


class TestKafkaLog(LogContract):
    @pytest.fixture(autouse=True)
    def _broker(self, kafka_bootstrap: str) -> None:
        self.bootstrap = kafka_bootstrap

    def create_log(self) -> EventLog:
        return KafkaLog.from_url(url(self.bootstrap, unique_namespace()))


class TestKafkaLogWithTransactions(TestKafkaLog):
    """The same contract with ``?transactions=true`` (transactional producer, read_committed)."""

    def create_log(self) -> EventLog:
        return KafkaLog.from_url(url(self.bootstrap, unique_namespace(), "transactions=true"))

    def test_positions_count_the_records_between_them(self, log: EventLog) -> None:
        # Transaction markers take offsets, so offsets over-count records (5 for 3 here):
        # positions are for resuming; their differences only estimate progress.
        log.append([rec("a", 0), rec("b", 0, type="ToolRegistered", topic=TOOLS), rec("a", 1)])
        assert log.start().events_to(log.head()) >= 3


@pytest.fixture
def ns() -> str:
    return unique_namespace()


@pytest.fixture
def log(kafka_bootstrap: str, ns: str) -> Iterator[KafkaLog]:
    with KafkaLog.from_url(url(kafka_bootstrap, ns)) as opened:
        yield opened


@pytest.fixture
def producer(kafka_bootstrap: str) -> Iterator[KafkaProducer]:
    bare = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    yield bare
    bare.close()


def test_topics_get_the_configured_partitions_and_a_key_stays_in_one(
    kafka_bootstrap: str,
    ns: str,
) -> None:
    with KafkaLog.from_url(url(kafka_bootstrap, ns, "partitions=3")) as log:
        admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        try:
            described = admin.describe_topics([f"{ns}.{REQUESTS}", f"{ns}.{TOOLS}"])
        finally:
            admin.close()
        assert [len(t["partitions"]) for t in described] == [3, 3]
        assert log.partitions(REQUESTS) == 3
        stored = log.append([rec("k", n) for n in range(10)])
        stored += log.append([rec("k", n) for n in range(10, 20)])
        assert {s.partition for s in stored} == {partition_for("k", 3)}
        offsets = [s.offset for s in stored]
        assert offsets == sorted(offsets)
        assert by_key(read_all(log)) == {"k": list(range(20))}
        # a second log on the same topics finds their partition count, whatever it asks for
        with KafkaLog.from_url(url(kafka_bootstrap, ns, "partitions=5")) as again:
            assert again.partitions(REQUESTS) == 3
            assert again.key_version("k") == 20


def test_a_foreign_message_without_headers_is_delivered_not_dropped(
    log: KafkaLog, producer: KafkaProducer, ns: str
) -> None:
    topic = f"{ns}.{REQUESTS}"
    event_id = uuid.uuid4()
    whole = {"type": "RequestReceived", "schema_version": 2, "event_id": str(event_id), "key": "j"}
    producer.send(topic, value=b'{"type": "RequestRec', key=b"t").get()  # truncated JSON
    producer.send(topic, value=b"\xff\xfe not json at all", key=None).get()
    producer.send(topic, value=orjson.dumps(whole), key=None).get()
    producer.send(topic, value=None, key=b"tomb").get()  # a tombstone
    # our three headers, but none of them valid: read from the body like no headers at all
    odd = [("type", b"\xff"), ("schema_version", b"x"), ("event_id", b"short")]
    producer.send(topic, value=b'{"key": "odd"}', key=None, headers=odd).get()
    log.append([rec("a", 0)])
    got = read_all(log)
    assert len(got) == 6
    assert next(r for r in got if r.data == b'{"key": "odd"}').key == "odd"
    foreign = {r.data: r for r in got if r.key != "a"}
    truncated = foreign[b'{"type": "RequestRec']
    assert (truncated.type, truncated.version, truncated.key) == ("", 0, "t")
    assert len(truncated.event_id) == 16
    garbage = foreign[b"\xff\xfe not json at all"]
    assert (garbage.type, garbage.version, garbage.key) == ("", 0, "")
    parsed = foreign[orjson.dumps(whole)]
    assert (parsed.type, parsed.version, parsed.key) == ("RequestReceived", 2, "j")
    assert parsed.event_id == event_id.bytes
    assert foreign[b""].key == "tomb"
    # derived ids are stable: another reader derives the same ones
    again = {r.data: r.event_id for r in read_all(log)}
    assert again == {r.data: r.event_id for r in got}
    assert len({r.event_id for r in got}) == 6


def test_a_duplicate_from_a_bare_producer_is_delivered_once(
    log: KafkaLog,
    producer: KafkaProducer,
    ns: str,
    kafka_bootstrap: str,
) -> None:
    record = rec("dup", 0)
    headers = [
        ("type", b"RequestReceived"),
        ("schema_version", b"1"),
        ("event_id", record.event_id),
    ]
    for _ in range(2):  # a client retry after a lost acknowledgement
        producer.send(f"{ns}.{REQUESTS}", value=record.data, key=b"dup", headers=headers).get()
    got = read_all(log)
    assert [r.event_id for r in got] == [record.event_id]
    with KafkaLog.from_url(url(kafka_bootstrap, ns)) as fresh:
        assert fresh.key_version("dup") == 1
        assert [r.event_id for r in fresh.stream("dup")] == [record.event_id]
        # appending it again through the adapter, with a version check, is a retry: a no-op
        stored = fresh.append([record], expected_versions={"dup": 1})
        assert stored[0].offset == got[0].offset
        assert fresh.key_version("dup") == 1


def test_positions_let_a_restarted_process_resume_exactly(
    kafka_bootstrap: str,
    ns: str,
) -> None:
    with KafkaLog.from_url(url(kafka_bootstrap, ns)) as first:
        first.append([rec(f"k{n % 4}", n) for n in range(12)])
        position = None
        for batch in first.read(batch_size=5):
            position = batch.position
        assert isinstance(position, PartitionPosition)
        first.append([rec(f"k{n % 4}", n) for n in range(12, 20)])
    text = str(position)
    with KafkaLog.from_url(url(kafka_bootstrap, ns)) as second:
        resumed = second.parse_position(text)
        got = read_all(second, after=resumed)
        assert sorted(n for ns_ in by_key(got).values() for n in ns_) == list(range(12, 20))
        assert read_all(second, after=second.head()) == []


@pytest.mark.parametrize("lookback", [2000, 0])
def test_a_process_resuming_after_a_record_skips_its_later_copy(
    producer: KafkaProducer, kafka_bootstrap: str, ns: str, lookback: int
) -> None:
    """A copy of a record stored just before where a new process starts (an answer a
    crashed worker's successor appended again) is not delivered to it: it was folded."""
    record = rec("copied", 0)
    with KafkaLog.from_url(url(kafka_bootstrap, ns)) as first:
        first.append([record, rec("copied", 1)])
        after = first.head()
    headers = [
        ("type", b"RequestReceived"),
        ("schema_version", b"1"),
        ("event_id", record.event_id),
    ]
    producer.send(f"{ns}.{REQUESTS}", value=record.data, key=b"copied", headers=headers).get()
    with KafkaLog.from_url(url(kafka_bootstrap, ns, f"dedupe_lookback={lookback}")) as second:
        resumed = [r.event_id for r in read_all(second, after=after)]
        from_start = [r.event_id for r in read_all(second)]
    assert resumed == ([] if lookback else [record.event_id])
    assert len(from_start) == 2  # a replay from the start folds the first copy only


def test_head_is_the_true_end_after_multi_record_batches(
    log: KafkaLog,
    kafka_bootstrap: str,
    ns: str,
) -> None:
    for round_ in range(4):
        log.append([rec(f"k{n % 5}", round_ * 40 + n) for n in range(40)])
    position = None
    for batch in log.read():
        position = batch.position
    head = log.head()
    assert position == head
    assert log.start().events_to(head) == 160
    # For the record: what ListOffsets says (tansu answers lower than the true end).
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap)
    try:
        tps = [TopicPartition(f"{ns}.{REQUESTS}", p) for p in range(log.partitions(REQUESTS))]
        listed = consumer.end_offsets(tps)
    finally:
        consumer.close()
    for tp in tps:
        assert listed[tp] <= head.next_offset(REQUESTS, tp.partition)


def test_expected_versions_see_another_writers_appends(kafka_bootstrap: str, ns: str) -> None:
    with (
        KafkaLog.from_url(url(kafka_bootstrap, ns)) as one,
        KafkaLog.from_url(url(kafka_bootstrap, ns)) as two,
    ):
        one.append([rec("acct", 0)], expected_versions={"acct": 0})
        with pytest.raises(ConcurrencyConflict) as info:
            two.append([rec("acct", 1)], expected_versions={"acct": 0})
        assert (info.value.expected, info.value.actual) == (0, 1)
        two.append([rec("acct", 1)], expected_versions={"acct": 1})
        one.append([rec("acct", 2), rec("other", 0, topic=TOOLS)], expected_versions={"acct": 2})
        assert one.key_version("acct") == two.key_version("acct") == 3
        assert [n for _, n in _payloads(two.stream("acct"))] == [0, 1, 2]


def test_the_key_index_stays_bounded_and_still_answers_a_dropped_key_exactly(
    kafka_bootstrap: str, ns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from selfeng.infra.log import kafka_append

    monkeypatch.setattr(kafka_append, "MAX_KEYS", 5)
    with KafkaLog.from_url(url(kafka_bootstrap, ns, "partitions=1")) as log:
        log.append([rec("old", 0), rec("old", 1)])
        assert log.key_version("old") == 2
        log.append([rec(f"k{i}", 0) for i in range(20)])
        assert log.key_version("k19") == 1
        indexes = log._appender._indexes  # what the bound is about: memory per key
        assert all(len(index.offsets) <= 5 for index in indexes.values())
        # a key dropped from the index is read back from its partition, exactly
        assert log.key_version("old") == 2
        with pytest.raises(ConcurrencyConflict):
            log.append([rec("old", 2)], expected_versions={"old": 0})
        log.append([rec("old", 2)], expected_versions={"old": 2})
        assert log.key_version("never") == 0
        log.append([rec(f"j{i}", 0) for i in range(20)])  # drops "old" again
        assert [n for _, n in _payloads(log.stream("old"))] == [0, 1, 2]


def test_a_stream_reads_only_the_span_of_its_key(
    kafka_bootstrap: str, ns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from selfeng.infra.log import kafka_read

    with KafkaLog.from_url(url(kafka_bootstrap, ns, "partitions=1")) as log:
        log.append([rec(f"before{i}", 0) for i in range(300)])
        log.append([rec("late", 0), rec("between", 0), rec("late", 1)])
        log.append([rec(f"after{i}", 0) for i in range(300)])
        read: list[int] = []

        class CountingScan(Scan):
            def poll(self, max_records: int, timeout_ms: int = 10) -> list[Any]:
                got: list[Any] = super().poll(max_records, timeout_ms)
                read.extend(m.offset for m in got)
                return got

        monkeypatch.setattr(kafka_read, "Scan", CountingScan)
        assert [n for _, n in _payloads(log.stream("late"))] == [0, 1]
        assert read == [300, 301, 302]  # its span, not the partition from the start


def test_a_group_commits_a_given_position(log: KafkaLog) -> None:
    stored = log.append([rec("g", n) for n in range(4)])
    with log.consumer("grp", types={"RequestReceived"}) as member:
        got = LogContract._poll_until(member, 4)
        assert [r.offset for r in got] == [s.offset for s in stored]
        assert all(r.topic == REQUESTS for r in got)
        # keep only the first two as done
        member.commit(PartitionPosition({(REQUESTS, stored[0].partition): stored[2].offset}))
    with log.consumer("grp") as member:
        assert by_key(LogContract._poll_until(member, 2)) == {"g": [2, 3]}


def test_transactions_option_appends_and_reads(kafka_bootstrap: str, ns: str) -> None:
    with KafkaLog.from_url(url(kafka_bootstrap, ns, "transactions=true")) as log:
        assert log.settings.transactions
        log.append([rec("a", n) for n in range(3)])
        log.append([rec("a", 3), rec("b", 0, topic=TOOLS)], expected_versions={"a": 3})
        assert by_key(read_all(log)) == {"a": [0, 1, 2, 3], "b": [0]}
        # transaction markers take offsets: positions still reach the head
        position = None
        for batch in log.read():
            position = batch.position
        assert position == log.head()
        assert log.key_version("a") == 4


def test_positions_of_other_logs_are_refused(log: KafkaLog) -> None:
    with pytest.raises(TypeError, match="partition positions"):
        list(log.read(GlobalPosition(3)))
    with pytest.raises(ValueError, match="unknown topic"):
        log.append([rec("a", 0, topic="nope")])


def test_an_unreachable_position_is_a_log_error(log: KafkaLog) -> None:
    beyond = PartitionPosition({(REQUESTS, 0): 10_000})
    with pytest.raises(LogError, match="beyond the end"):
        list(log.read(beyond))


def test_url_options() -> None:
    s = KafkaSettings.from_url("kafka://h1:9092,h2:9093?namespace=dev&partitions=12&transactions=1")
    assert s.bootstrap == ("h1:9092", "h2:9093")
    assert (s.namespace, s.partitions, s.replication, s.transactions) == ("dev", 12, 1, True)
    assert KafkaSettings.from_url(s.to_url()) == s
    with pytest.raises(ValueError, match="unknown kafka URL option"):
        KafkaSettings.from_url("kafka://h:1?partition=3")
    with pytest.raises(ValueError, match="positive integer"):
        KafkaSettings.from_url("kafka://h:1?partitions=0")
    with pytest.raises(ValueError, match="names its brokers"):
        KafkaSettings.from_url("kafka://?namespace=x")
    looking = KafkaSettings.from_url("kafka://h:1?dedupe_lookback=0")
    assert looking.dedupe_lookback == 0
    assert KafkaSettings.from_url(looking.to_url()) == looking
    with pytest.raises(ValueError, match="whole number"):
        KafkaSettings.from_url("kafka://h:1?dedupe_lookback=-1")
    assert KafkaSettings.from_url("kafka://h:1").staleness_ms == 200
    always = KafkaSettings.from_url("kafka://h:1?staleness_ms=0")
    assert always.staleness_ms == 0
    assert always.to_url() == "kafka://h:1?staleness_ms=0"
    assert KafkaSettings.from_url(always.to_url()) == always
    with pytest.raises(ValueError, match="whole number"):
        KafkaSettings.from_url("kafka://h:1?staleness_ms=0.5")


def _payloads(records: list) -> list[tuple[str, int]]:  # type: ignore[type-arg]
    return [(orjson.loads(r.data)["key"], orjson.loads(r.data)["n"]) for r in records]


def test_appends_are_fast_enough(log: KafkaLog) -> None:
    """A smoke check on the batching path (the benchmark is bench/bench_kafka.py)."""
    started = time.perf_counter()
    log.append([rec(f"k{n % 50}", n) for n in range(2000)])
    assert time.perf_counter() - started < 10
    assert log.start().events_to(log.head()) == 2000


def test_the_log_id_names_the_cluster_and_namespace(kafka_bootstrap: str, ns: str) -> None:
    with (
        KafkaLog.from_url(url(kafka_bootstrap, ns)) as one,
        KafkaLog.from_url(url(kafka_bootstrap, ns, "dedupe_window=10")) as same,
        KafkaLog.from_url(url(kafka_bootstrap, unique_namespace())) as other,
    ):
        assert one.log_id == same.log_id
        assert one.log_id.endswith(f"/{ns}")
        assert other.log_id != one.log_id
