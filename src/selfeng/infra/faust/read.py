"""Reading a faust worker's tables back from their changelog topics, without faust.

A changelog is the table: the last value of each key, a tombstone (no value) deleting it.
Each is read to its end, the end taken from the high watermark in fetch responses (tansu's
ListOffsets can answer lower: ``kafka_scan``). The tables then go through the same
``ProjectionRunner`` loading the embedded engine does, so ``dumped(name)`` is comparable
with an embedded fold's.
"""

from __future__ import annotations

from collections.abc import Iterable

from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from selfeng.core.positions import Position
from selfeng.core.records import StoredRecord
from selfeng.infra.faust.names import FaustNames
from selfeng.infra.faust.store import Rows, TableStore
from selfeng.infra.log.kafka import KafkaLog
from selfeng.infra.log.kafka_read import partition_position
from selfeng.infra.log.kafka_records import keyed_records
from selfeng.infra.log.kafka_scan import Scan
from selfeng.projections.base import MAIN
from selfeng.projections.catalog import ProjectionFactory, default_projections
from selfeng.projections.runner import ProjectionRunner


def _consumer(names: FaustNames, reset: str) -> KafkaConsumer:
    """A consumer of the log's broker without a group, for one scan."""
    return KafkaConsumer(
        bootstrap_servers=list(names.settings.bootstrap),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset=reset,
        fetch_max_wait_ms=50,
    )


def read_changelogs(names: FaustNames, projections: Iterable[str]) -> dict[str, Rows]:
    """Each projection's table as its changelog holds it (empty where there is none yet)."""
    consumer = _consumer(names, "earliest")
    try:
        existing = consumer.topics()
        tables: dict[str, Rows] = {}
        starts: dict[TopicPartition, int] = {}
        by_topic: dict[str, str] = {}
        for name in projections:
            tables[name] = {}
            topic = names.changelog(name)
            if topic in existing:
                by_topic[topic] = name
                for partition in consumer.partitions_for_topic(topic) or ():
                    starts[TopicPartition(topic, partition)] = 0
        scan = Scan(consumer, starts, None, "read_uncommitted")
        while not scan.finished:
            for message in scan.poll(10_000, timeout_ms=100):
                table = tables[by_topic[message.topic]]
                if message.value is None:
                    table.pop(message.key, None)
                else:
                    table[message.key] = message.value
        return tables
    finally:
        consumer.close()


def keys_before(names: FaustNames, position: Position) -> list[bytes]:
    """The dedupe keys of the ``dedupe_lookback`` records before ``position`` in each
    partition of the log (what a resumed fold folded last), as the Kafka log's readers
    read them back when they resume (``kafka_dedupe.KnownIds.look_back``): a retried copy
    of one of those events, later in its partition, is then not folded again."""
    lookback = names.settings.dedupe_lookback
    offsets = partition_position(position).offsets
    starts: dict[TopicPartition, int] = {}
    bounds: dict[TopicPartition, int] = {}
    for (topic, partition), offset in offsets.items():
        if offset > 0 and lookback:
            tp = TopicPartition(names.topics.physical(topic), partition)
            starts[tp] = max(0, offset - lookback)
            bounds[tp] = offset
    if not starts:
        return []
    consumer = _consumer(names, "none")
    try:
        keys: list[bytes] = []
        scan = Scan(consumer, starts, bounds, "read_uncommitted")
        while not scan.finished:
            messages = scan.poll(10_000, timeout_ms=100)
            keys.extend(key for key, _ in keyed_records(messages, names.topics.to_logical, None))
        return keys
    finally:
        consumer.close()


def records_between(
    names: FaustNames, gaps: dict[tuple[str, int], tuple[int, int]]
) -> list[tuple[bytes, StoredRecord]]:
    """The records (with their dedupe keys) from ``start`` up to, not including, ``end`` in
    each (logical topic, partition) of ``gaps``, in each partition's order: what the fold
    reads from the log itself when the records it is handed skip some."""
    starts: dict[TopicPartition, int] = {}
    bounds: dict[TopicPartition, int] = {}
    for (topic, partition), (start, end) in gaps.items():
        if end > start:
            tp = TopicPartition(names.topics.physical(topic), partition)
            starts[tp], bounds[tp] = start, end
    if not starts:
        return []
    consumer = _consumer(names, "earliest")
    try:
        out: list[tuple[bytes, StoredRecord]] = []
        scan = Scan(consumer, starts, bounds, "read_uncommitted")
        while not scan.finished:
            messages = scan.poll(10_000, timeout_ms=100)
            out.extend(keyed_records(messages, names.topics.to_logical, None))
        return out
    finally:
        consumer.close()


def read_fold(
    url: str, factory: ProjectionFactory = default_projections, *, log: KafkaLog | None = None
) -> ProjectionRunner:
    """The main line's projections as a faust worker's changelogs hold them, loaded into a
    runner that folds nothing (``dumped``, ``position``, ``events_applied``; ``rebuilt``
    names the projections whose table held no usable checkpoint)."""
    names = FaustNames.from_url(url)
    projections = factory(MAIN)
    tables = read_changelogs(names, [p.name for p in projections])
    opened = log if log is not None else KafkaLog.from_url(url)
    try:
        return ProjectionRunner(opened, TableStore(tables), projections, fork=MAIN)
    finally:
        if log is None:
            opened.close()
