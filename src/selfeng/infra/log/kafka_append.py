"""Appending to a Kafka log: the producer, the appender's dedupe, and ``expected_versions``.

An idempotent producer (``acks=all``) sends a batch, flushes and waits for every
acknowledgement (with ``transactions``, the batch is one Kafka transaction); broker errors
raise ``LogError``. An event id this process appended or read before is not sent again: the
earlier copy is returned. ``expected_versions`` is checked against a per-partition key index
(each key's offsets, deduplicated like reads, for the ``MAX_KEYS`` keys seen last) that is
brought up to the high watermark before each check, reading only what is new; ``stream``
reads where it says a key's records are. Appends in one process are serialised by a lock.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError
from kafka.structs import TopicPartition

from selfeng.core.log import ConcurrencyConflict, LogError
from selfeng.core.records import NewRecord, StoredRecord
from selfeng.infra.log.kafka_admin import partition_for
from selfeng.infra.log.kafka_clients import KafkaClients, forbid_topic_creation
from selfeng.infra.log.kafka_dedupe import DedupeWindow, KnownIds
from selfeng.infra.log.kafka_records import keyed_records, record_headers, stored
from selfeng.infra.log.kafka_scan import Scan

PRODUCER_CONFIG: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 5,
    "batch_size": 256 * 1024,
    "request_timeout_ms": 30_000,
    "delivery_timeout_ms": 60_000,
    "allow_auto_create_topics": False,  # the log creates its topics, with its partition count
}
"""Producer settings (``bench/bench_kafka.py`` gives the bare producer the same ones)."""


MAX_KEYS = 20_000
"""Keys a partition's key index keeps (the most recently seen): about 6 MB a partition. A
key it dropped is read again from its partition, exactly, if it is ever asked about (a
request redelivered long after it was answered)."""


@dataclass
class _KeyIndex:
    """Where each key's records are in one partition, up to ``next`` (deduplicated: first
    copies only), for the ``MAX_KEYS`` keys seen last."""

    window: int
    next: int = 0
    offsets: OrderedDict[str, list[int]] = field(default_factory=OrderedDict)
    ids: DedupeWindow[int] = field(init=False)
    forgot: bool = False
    """Whether keys were dropped: a key not in ``offsets`` may then have records."""

    def __post_init__(self) -> None:
        self.ids = DedupeWindow(self.window)

    def add(self, key: str, offset: int) -> None:
        """One more record of ``key``, dropping the keys seen longest ago past the bound."""
        offsets = self.offsets
        mine = offsets.get(key)
        if mine is None:
            offsets[key] = [offset]
        else:
            mine.append(offset)
            offsets.move_to_end(key)
        while len(offsets) > MAX_KEYS:
            offsets.popitem(last=False)
            self.forgot = True


class KafkaAppender:
    """The writing side of a Kafka log: ``append`` and ``key_version``."""

    def __init__(self, clients: KafkaClients, known: KnownIds) -> None:
        self._clients = clients
        self._known = known
        self._lock = threading.RLock()  # appends and the key indexes
        self._indexes: dict[tuple[str, int], _KeyIndex] = {}
        self._producer: Any = None

    def append(
        self,
        records: Sequence[NewRecord],
        *,
        expected_versions: Mapping[str, int] | None = None,
    ) -> list[StoredRecord]:
        """Store ``records`` (those already stored are not sent again); where each is.

        ``expected_versions`` maps a key to how many records it must have before the batch;
        otherwise ``ConcurrencyConflict`` is raised and nothing is appended.
        """
        if not records:
            return []
        for r in records:
            self._clients.partition_count(r.topic)
        with self._lock:
            return self._append_locked(records, expected_versions or {})

    def _append_locked(
        self, records: Sequence[NewRecord], expected: Mapping[str, int]
    ) -> list[StoredRecord]:
        partitions = self._clients.partitions
        out: list[StoredRecord | None] = [None] * len(records)
        first: dict[bytes, int] = {}
        fresh: list[int] = []
        dup_keys: set[str] = set()
        with self._known.lock:
            for i, r in enumerate(records):
                if r.event_id in first:
                    continue
                first[r.event_id] = i
                loc = self._known.known.get(r.event_id)
                if loc is not None:
                    out[i] = stored(r, loc[1], loc[2])
                    dup_keys.add(r.key)
                else:
                    fresh.append(i)
        if expected:
            self._refresh_indexes(
                {(t, partition_for(k, n)) for k in expected for t, n in partitions.items()}
            )
            still_fresh = []
            for i in fresh:
                r = records[i]
                p = partition_for(r.key, partitions[r.topic])
                index = self._indexes.get((r.topic, p))
                offset = index.ids.get(r.event_id) if index is not None else None
                if offset is None:
                    still_fresh.append(i)
                else:  # appended before by someone else: a retry from another process
                    out[i] = stored(r, p, offset)
                    dup_keys.add(r.key)
            fresh = still_fresh
            for key, want in expected.items():
                if key in dup_keys:
                    continue
                have = self._count(key)
                if have != want:
                    raise ConcurrencyConflict(key, want, have)
        if fresh:
            for i, done in zip(fresh, self._send([records[i] for i in fresh]), strict=True):
                out[i] = done
        result: list[StoredRecord] = []
        for r, s in zip(records, out, strict=True):
            result.append(s if s is not None else _must(out[first[r.event_id]]))
        return result

    def _send(self, batch: list[NewRecord]) -> list[StoredRecord]:
        clients = self._clients
        producer = self._get_producer()
        transactional = clients.settings.transactions
        futures: list[Any] = []
        try:
            if transactional:
                producer.begin_transaction()
            for r in batch:
                futures.append(
                    producer.send(
                        clients.topics.physical(r.topic),
                        value=r.data,
                        key=r.key.encode("utf-8"),
                        headers=record_headers(r),
                        partition=partition_for(r.key, clients.partitions[r.topic]),
                        timestamp_ms=r.timestamp_ms,
                    )
                )
            if transactional:
                producer.commit_transaction()
            else:
                producer.flush(timeout=90)
            metas = [f.get(timeout=30) for f in futures]
        except BaseException as exc:
            self._append_failed(batch, futures)
            if isinstance(exc, KafkaError):
                raise LogError(
                    f"append of {len(batch)} records to Kafka at {','.join(clients.servers)} "
                    f"failed: {exc}. Some may be stored; retrying the same records is safe "
                    "(appends are idempotent on event_id)"
                ) from exc
            raise
        out = [stored(r, m.partition, m.offset) for r, m in zip(batch, metas, strict=True)]
        with self._known.lock:
            for s in out:
                self._known.known.add(s.event_id, (s.topic, s.partition, s.offset))
        return out

    def _append_failed(self, batch: list[NewRecord], futures: list[Any]) -> None:
        """Remember what did get stored (so a retry skips it) and start a new producer."""
        producer, self._producer = self._producer, None
        if self._clients.settings.transactions:
            with contextlib.suppress(Exception):  # the producer is closed below either way
                producer.abort_transaction()
        else:
            with self._known.lock:
                for r, f in zip(batch, futures, strict=False):
                    if f.is_done and f.succeeded():
                        m = f.value
                        self._known.known.add(r.event_id, (r.topic, m.partition, m.offset))
        with contextlib.suppress(Exception):
            producer.close(timeout=5)

    def _get_producer(self) -> Any:
        clients = self._clients
        if clients.closed:
            raise LogError("this Kafka log is closed")
        if self._producer is None:
            config = dict(PRODUCER_CONFIG)
            if clients.settings.transactions:
                config["transactional_id"] = f"{clients.topics.group('selfeng')}-{uuid.uuid4()}"
            with clients.errors("starting a producer"):
                producer = KafkaProducer(
                    bootstrap_servers=clients.servers, client_id=clients.client_id, **config
                )
                forbid_topic_creation(producer)
                if clients.settings.transactions:
                    producer.init_transactions()
            self._producer = producer
        return self._producer

    def close(self) -> None:
        """Close the producer, if one was started (a later append would start another)."""
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                producer.close(timeout=10)

    # -- the key index (expected versions, key_version) ------------------------------------

    def key_version(self, key: str) -> int:
        """How many records ``key`` has in the log (deduplicated)."""
        return sum(len(offsets) for offsets in self.key_offsets(key).values())

    def _refresh_indexes(self, partitions: Iterable[tuple[str, int]]) -> None:
        """Bring the key index of each (topic, partition) up to its high watermark."""
        clients = self._clients
        with self._lock:
            tps: dict[TopicPartition, _KeyIndex] = {}
            for topic, p in partitions:
                index = self._indexes.get((topic, p))
                if index is None:
                    index = self._indexes[(topic, p)] = _KeyIndex(clients.settings.dedupe_window)
                tps[TopicPartition(clients.topics.physical(topic), p)] = index
            with clients.borrow() as consumer:
                starts = {tp: i.next for tp, i in tps.items()}
                scan = Scan(consumer, starts, None, clients.isolation)
                while not scan.finished:
                    messages = scan.poll(5000)
                    records = keyed_records(messages, clients.topics.to_logical, None)
                    with self._known.lock:
                        for m, (key, r) in zip(messages, records, strict=True):
                            index = tps[TopicPartition(m.topic, m.partition)]
                            if self._first_copy(key, r, index.ids):
                                index.add(r.key, r.offset)
                    for tp, offset in scan.next.items():
                        tps[tp].next = offset

    def key_offsets(self, key: str) -> dict[tuple[str, int], list[int]]:
        """Where ``key``'s records are, by (topic, partition), brought up to the high
        watermarks (deduplicated: first copies only)."""
        partitions = self._clients.partitions
        with self._lock:
            self._refresh_indexes((t, partition_for(key, n)) for t, n in partitions.items())
            return self._indexed(key)

    def _count(self, key: str) -> int:
        """How many records ``key`` has, as the key indexes know it (no refresh)."""
        return sum(len(offsets) for offsets in self._indexed(key).values())

    def _indexed(self, key: str) -> dict[tuple[str, int], list[int]]:
        """``key``'s offsets as the key indexes know them (a dropped key read back)."""
        out: dict[tuple[str, int], list[int]] = {}
        for topic, n in self._clients.partitions.items():
            place = (topic, partition_for(key, n))
            index = self._indexes.get(place)
            if index is None:
                continue
            mine = index.offsets.get(key)
            if mine is None and index.forgot:
                mine = self._reread(place, key, index)
            if mine:
                out[place] = list(mine)
        return out

    def _first_copy(self, dedupe: bytes, record: StoredRecord, window: DedupeWindow[int]) -> bool:
        """Whether ``record`` is the first copy of its event for a reader with ``window``
        (under the known ids' lock), as every reader decides it."""
        known = self._known.known.get(dedupe)
        if known is not None and known != (record.topic, record.partition, record.offset):
            return False
        return window.add(dedupe, record.offset)

    def _reread(self, place: tuple[str, int], key: str, index: _KeyIndex) -> list[int]:
        """Where ``key``'s records are in one partition up to the index's ``next``, read from
        the start (deduplicated like the index): for a key the index dropped."""
        clients = self._clients
        tp = TopicPartition(clients.topics.physical(place[0]), place[1])
        seen: DedupeWindow[int] = DedupeWindow(clients.settings.dedupe_window)
        found: list[int] = []
        with clients.borrow() as consumer:
            scan = Scan(consumer, {tp: 0}, {tp: index.next}, clients.isolation)
            while not scan.finished:
                records = keyed_records(scan.poll(5000), clients.topics.to_logical, None)
                with self._known.lock:
                    for dedupe, r in records:
                        if self._first_copy(dedupe, r, seen) and r.key == key:
                            found.append(r.offset)
        if found:
            index.offsets[key] = found
            index.offsets.move_to_end(key)
        return found


def _must(record: StoredRecord | None) -> StoredRecord:
    assert record is not None, "a duplicate's first copy was neither stored nor sent"
    return record
