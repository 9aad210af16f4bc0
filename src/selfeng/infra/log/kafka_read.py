"""Reading a Kafka log: ``read``, ``follow``, ``stream``, ``head`` and ``wait_for_append``.

Positions are partition positions, ``{(logical topic, partition): next offset}``. A read
stops at the end of each partition as of its first fetch (``Scan``); every reader delivers
an event id once within its dedupe window (``KnownIds``). Each call borrows a long-lived
consumer from the log's pool (``kafka_pool``) and gives it back when it is done; ``follow``
holds one for its whole iteration.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Collection, Iterator, Mapping

from kafka.structs import TopicPartition

from selfeng.core.log import LogError, RecordBatch
from selfeng.core.positions import PartitionPosition, Position
from selfeng.core.records import StoredRecord
from selfeng.infra.log.kafka_clients import HEAD, KafkaClients, follow_kind
from selfeng.infra.log.kafka_dedupe import KnownIds
from selfeng.infra.log.kafka_records import keyed_records
from selfeng.infra.log.kafka_scan import STALL_SECONDS, Scan


def partition_position(position: Position | None) -> PartitionPosition:
    """``position`` as the partition position a Kafka log takes (empty for None)."""
    if position is None:
        return PartitionPosition({})
    if not isinstance(position, PartitionPosition):
        raise TypeError(
            f"the Kafka log takes partition positions (topic:partition=offset), not {position}"
        )
    return position


class KafkaReader:
    """The reading side of a Kafka log (the ``EventLog`` read methods)."""

    def __init__(self, clients: KafkaClients, known: KnownIds) -> None:
        self._clients = clients
        self._known = known
        # where the last head found the ends: where the next head fetches from (a hint only)
        self._ends: dict[TopicPartition, int] = {}

    def read(
        self,
        after: Position | None = None,
        *,
        until: Position | None = None,
        types: Collection[str] | None = None,
        topics: Collection[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[RecordBatch]:
        """The records after ``after`` up to ``until`` (else the end as of the first fetch),
        in batches of at most ``batch_size``, each with the position after it."""
        clients = self._clients
        start = partition_position(after)
        stop = partition_position(until) if until is not None else None
        offsets = dict(start.offsets)
        starts: dict[TopicPartition, int] = {}
        for topic in clients.topics.select(topics):
            physical = clients.topics.physical(topic)
            for p in range(clients.partitions[topic]):
                starts[TopicPartition(physical, p)] = offsets.setdefault((topic, p), 0)
        bounds = None
        if stop is not None:
            to_logical = clients.topics.to_logical
            bounds = {tp: stop.next_offset(to_logical(tp.topic), tp.partition) for tp in starts}
        type_set = set(types) if types is not None else None
        self._known.look_back(starts)
        window = self._known.window()
        yielded = dict(offsets)
        pending: list[StoredRecord] = []
        with clients.errors("reading"), clients.borrow() as consumer:
            scan = Scan(consumer, starts, bounds, clients.isolation)
            while not scan.finished:
                messages = scan.poll(batch_size - len(pending))
                records = keyed_records(messages, clients.topics.to_logical, type_set)
                pending.extend(self._known.fresh(records, window))
                for tp, offset in scan.next.items():
                    offsets[(clients.topics.to_logical(tp.topic), tp.partition)] = offset
                if len(pending) >= batch_size:
                    yield RecordBatch(pending, PartitionPosition(dict(offsets)))
                    pending, yielded = [], dict(offsets)
        if pending or offsets != yielded:
            yield RecordBatch(pending, PartitionPosition(offsets))

    def follow(
        self,
        after: Position | None = None,
        *,
        types: Collection[str] | None = None,
        topics: Collection[str] | None = None,
        batch_size: int = 1000,
        idle: float = 0.5,
        stop: threading.Event | None = None,
    ) -> Iterator[RecordBatch]:
        """Like ``read``, then wait for new records, until ``stop`` is set.

        One borrowed consumer follows the partitions for the whole iteration (its fetches
        wait up to ``idle``, 500 ms at most); after ``idle`` seconds with nothing new it
        yields an empty batch.
        """
        clients = self._clients
        offsets = dict(partition_position(after).offsets)
        starts: dict[TopicPartition, int] = {}
        for topic in clients.topics.select(topics):
            physical = clients.topics.physical(topic)
            for p in range(clients.partitions[topic]):
                starts[TopicPartition(physical, p)] = offsets.setdefault((topic, p), 0)
        type_set = set(types) if types is not None else None
        self._known.look_back(starts)
        window = self._known.window()
        idle_ms = max(1, int(idle * 1000))
        with clients.errors("following"), clients.borrow(follow_kind(idle_ms)) as consumer:
            consumer.assign(list(starts))
            for tp, offset in starts.items():
                consumer.seek(tp, offset)
            while stop is None or not stop.is_set():
                got = consumer.poll(timeout_ms=idle_ms, max_records=batch_size)
                if not got:
                    # Idle: move over offsets that hold no message (transaction markers).
                    for tp in starts:
                        key = (clients.topics.to_logical(tp.topic), tp.partition)
                        at = consumer.position(tp, timeout_ms=1000)
                        if at is not None and at > offsets[key]:
                            offsets[key] = at
                messages = []
                for tp, batch in got.items():
                    topic = clients.topics.to_logical(tp.topic)
                    for m in batch:
                        if m.offset >= offsets[(topic, tp.partition)]:
                            messages.append(m)
                            offsets[(topic, tp.partition)] = m.offset + 1
                keyed = keyed_records(messages, clients.topics.to_logical, type_set)
                records = self._known.fresh(keyed, window)
                yield RecordBatch(records, PartitionPosition(dict(offsets)))

    def wait_for_append(self, position: Position, timeout: float) -> None:
        """Return once a record after ``position`` is in the log, or after ``timeout`` s."""
        clients = self._clients
        after = partition_position(position)
        deadline = time.monotonic() + timeout
        kind = follow_kind(int(timeout * 1000))
        with clients.errors("waiting for records"), clients.borrow(kind) as consumer:
            tps = clients.all_partitions()
            consumer.assign(tps)
            for tp in tps:
                topic = clients.topics.to_logical(tp.topic)
                consumer.seek(tp, after.next_offset(topic, tp.partition))
            while (remaining := deadline - time.monotonic()) > 0:
                if consumer.poll(timeout_ms=max(1, int(remaining * 1000)), max_records=1):
                    return

    def stream(self, key: str, offsets: Mapping[tuple[str, int], list[int]]) -> list[StoredRecord]:
        """Every record of ``key`` in every topic, by time: the records at ``offsets`` (where
        the key index found them, by topic and partition), each partition read only over the
        span they cover."""
        clients = self._clients
        starts: dict[TopicPartition, int] = {}
        bounds: dict[TopicPartition, int] = {}
        wanted: set[tuple[str, int, int]] = set()
        for (topic, partition), places in offsets.items():
            tp = TopicPartition(clients.topics.physical(topic), partition)
            starts[tp], bounds[tp] = min(places), max(places) + 1
            wanted.update((topic, partition, offset) for offset in places)
        per_topic: dict[str, list[StoredRecord]] = {topic: [] for topic, _ in offsets}
        with clients.errors("reading a stream"), clients.borrow() as consumer:
            scan = Scan(consumer, starts, bounds, clients.isolation)
            while not scan.finished:
                for _, r in keyed_records(scan.poll(5000), clients.topics.to_logical, None):
                    if (r.topic, r.partition, r.offset) in wanted:
                        per_topic[r.topic].append(r)
        merged = heapq.merge(*per_topic.values(), key=lambda r: (r.timestamp_ms, r.offset))
        return list(merged)

    def head(self) -> PartitionPosition:
        """The position after the last record of every partition (its high watermark).

        One fetch of every partition, from where the last head was (the broker answers at
        once when something was appended since, else after the short fetch wait); the high
        watermark in the answer is the end. ListOffsets is not used: it may answer below the
        true end (tansu). A partition that is shorter than the last head (a recreated topic)
        is fetched from its start instead.
        """
        clients = self._clients
        tps = clients.all_partitions()
        deadline = time.monotonic() + STALL_SECONDS
        ends: dict[TopicPartition, int] = {}
        with clients.errors("finding the head"), clients.borrow(HEAD) as consumer:
            consumer.assign(tps)
            for tp in tps:
                consumer.seek(tp, self._ends.get(tp, 0))
            while len(ends) < len(tps):
                if time.monotonic() > deadline:
                    raise LogError(f"Kafka at {','.join(clients.servers)} gave no high watermark")
                consumer.poll(timeout_ms=1, max_records=100_000)
                for tp in tps:
                    if tp not in ends and (hw := consumer.highwater(tp)) is not None:
                        ends[tp] = hw
                        consumer.pause(tp)
        self._ends.update(ends)
        return PartitionPosition(
            {(clients.topics.to_logical(tp.topic), tp.partition): hw for tp, hw in ends.items()}
        )
