"""``kafka://host:port``: the log on any Kafka-protocol broker (Apache Kafka, tansu, ...).

URL: ``kafka://host:port[,host2:port2]?namespace=NS&partitions=6&replication=1
&session_timeout_ms=10000&transactions=false&dedupe_window=100000&dedupe_lookback=2000``.

Topics. Each logical topic (``selfeng.requests``, ...) is one Kafka topic, named
``NS.selfeng.requests`` when a namespace is given (so tests and users can share a broker).
Opening the log creates the topics with ``partitions`` and ``replication`` (a broker that
auto-creates topics would pick its own partition count); existing topics keep theirs.
Positions, ``StoredRecord.topic`` and the ``topics=`` filter always use logical names.

Records. The value is ``NewRecord.data``, the key the record's key (UTF-8), the timestamp
``timestamp_ms``; the headers ``type``, ``schema_version`` and ``event_id`` (16 raw bytes)
let readers place a record without parsing it. A record's partition is murmur2 of its key
modulo the partition count, exactly as Kafka's default partitioner computes it, so a key's
records stay in one partition, in order. A message from a foreign client without headers is
still delivered: its type, version and id come from its JSON value when it parses, else
type ``""``, version 0 and an id derived from where it is (never dropped: the consumer of
records dead-letters what it cannot decode).

Appends. An idempotent producer (``acks=all``) sends the batch, flushes and waits for every
acknowledgement; broker errors raise ``LogError``. Without transactions a failed append may
have stored part of the batch; retrying the same records is then safe, because:

Dedupe window (like NATS JetStream's duplicate window). Kafka cannot reject a record whose
event id it already holds, so duplicates are dropped on both sides, within a bounded window
(``dedupe_window`` ids, 100,000 by default):

- the appender remembers the ids it appended (or read) in this process and does not send
  them again, returning where the earlier copy is; with ``expected_versions`` it also
  recognises ids already in the key's partition, whoever appended them;
- every reader (``read``, ``follow``, ``stream``, ``key_version``, group consumers)
  delivers an id once: a later copy in the log is skipped when the reader has seen the id
  within its window;
- a process that starts reading a partition after its beginning (resuming from a
  checkpoint or a committed offset) first reads back the ``dedupe_lookback`` records
  before that point (2,000 by default), once, only to remember their ids. Copies of one
  event share its key and type, so they lie in one partition, in one order for every
  reader: the first copy wins, live, after a restart and in a replay alike. A copy further
  than the lookback from the first is delivered again; folds tolerate that as they
  tolerate at-least-once delivery;
- an id that comes only from a record's body (a foreign client's record without headers)
  is not trusted until the record is decoded: such a record is a duplicate only of a
  record with the same id *and the same bytes* (a client's retry), so a bad record can
  never hide a later valid one that carries its id.

``expected_versions``. Kafka has no conditional append, so the adapter counts the key's
records itself: it reads the key's partition in every topic up to its high watermark,
keeping an incremental per-partition index ``{key: count}`` (deduplicated like reads) so a
second check only reads what is new. The check and the append are not one atomic step on
the broker: the check is exact when each key has one writer at a time (the orchestrator
partitions work by key); within one process, appends are serialised by a lock.

Transactions (``?transactions=true``; off by default). Each batch is then one Kafka
transaction and readers read committed records only, so on Apache Kafka a batch is
all-or-nothing for readers, as ``EventLog.append`` promises; without them a reader may see
part of a batch whose append then fails, and the caller's retry (deduplicated) completes it.
Throughput is not the reason they are off: in batches of 1,000 they cost about 1%
(bench/bench_kafka.py), though a one-record append takes about 3 ms instead of 1.3 ms.
They are off because of what tansu, the broker the tests and the benchmark run, does with
them (measured with kafka-python 3.0.12 on tansu 0.6.0):

- an aborted transaction stays visible to ``read_committed`` readers (its fetch responses
  list no aborted transactions), so on tansu they do not make a failed batch disappear;
- a transaction left open by a writer that crashed is not timed out (still open 15 s after
  a 3 s ``transaction_timeout_ms``), so every ``read_committed`` reader stops at it: one
  crash would freeze that partition for readers.

Turn them on against Apache Kafka, whose brokers abort stale transactions after the
producer's ``transaction_timeout_ms`` (60 s); until then readers wait at the open
transaction, and a read that stays stuck below the high watermark for 2 s ends there.
Transaction markers take offsets, so ``Position.events_to`` (an offset difference) then
counts one more per partition and transaction than there are records.

Reading "to the end". A read stops at the end of each partition as of its first fetch,
taken from the high watermark in fetch responses: some brokers (tansu) answer ListOffsets
(``end_offsets()``) with an offset lower than the true end when the last batch holds several
records, so the adapter never relies on it for the end.

Costs. ``read``, ``head``, ``wait_for_append``, ``key_version`` and a conditional append
each open a short-lived assigned consumer (10-25 ms on a local broker; kafka-python keeps
buffered fetches of paused partitions, so consumers are not reused). ``follow`` and group
consumers keep one consumer for their lifetime. ``stream(key)`` reads the key's partition
of every topic from the start.
"""

from __future__ import annotations

import contextlib
import heapq
import threading
import time
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError, OffsetOutOfRangeError
from kafka.structs import TopicPartition

from selfeng.core.log import (
    ConcurrencyConflict,
    EventLog,
    GroupConsumer,
    LogError,
    RecordBatch,
)
from selfeng.core.positions import PartitionPosition, Position, parse_position
from selfeng.core.records import NewRecord, StoredRecord
from selfeng.infra.log.kafka_admin import (
    DEFAULT_DEDUPE_LOOKBACK,
    DEFAULT_DEDUPE_WINDOW,
    DEFAULT_PARTITIONS,
    DEFAULT_REPLICATION,
    DEFAULT_SESSION_TIMEOUT_MS,
    STALL_SECONDS,
    DedupeWindow,
    KafkaSettings,
    Location,
    Scan,
    TopicNames,
    decode,
    dedupe_key,
    default_topics,
    ensure_topics,
    partition_for,
    record_headers,
    stored,
)
from selfeng.infra.log.kafka_group import KafkaGroupConsumer, close_consumer, partition_position

__all__ = ["KafkaLog", "KafkaSettings"]

_READ_FETCH_WAIT_MS = 5
"""How long a reader's fetch waits for data: short, so an empty partition's end is quick."""
_PRODUCER_CONFIG: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 5,
    "batch_size": 256 * 1024,
    "request_timeout_ms": 30_000,
    "delivery_timeout_ms": 60_000,
}
"""Producer settings (``bench/bench_kafka.py`` gives the bare producer the same ones)."""


@dataclass
class _KeyIndex:
    """How many records each key has in one partition, up to ``next`` (deduplicated)."""

    window: int
    next: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    ids: DedupeWindow[int] = field(init=False)

    def __post_init__(self) -> None:
        self.ids = DedupeWindow(self.window)


class KafkaLog(EventLog):
    """The log on a Kafka-protocol broker; see the module docstring for the guarantees."""

    def __init__(
        self,
        bootstrap: str | Sequence[str],
        *,
        namespace: str = "",
        partitions: int = DEFAULT_PARTITIONS,
        replication: int = DEFAULT_REPLICATION,
        topics: Iterable[str] | None = None,
        session_timeout_ms: int = DEFAULT_SESSION_TIMEOUT_MS,
        transactions: bool = False,
        dedupe_window: int = DEFAULT_DEDUPE_WINDOW,
        dedupe_lookback: int = DEFAULT_DEDUPE_LOOKBACK,
        url: str | None = None,
    ) -> None:
        hosts = (bootstrap,) if isinstance(bootstrap, str) else tuple(bootstrap)
        self.settings = KafkaSettings(
            bootstrap=tuple(h for part in hosts for h in part.split(",") if h),
            namespace=namespace.strip("."),
            partitions=partitions,
            replication=replication,
            session_timeout_ms=session_timeout_ms,
            transactions=transactions,
            dedupe_window=dedupe_window,
            dedupe_lookback=dedupe_lookback,
        )
        self.url = url or self.settings.to_url()
        self.topics = TopicNames(default_topics() if topics is None else topics, namespace)
        self._servers = list(self.settings.bootstrap)
        self._isolation = "read_committed" if transactions else "read_uncommitted"
        self._client_id = f"selfeng-{uuid.uuid4().hex[:8]}"
        self._lock = threading.RLock()  # appends and the key indexes
        self._known_lock = threading.Lock()
        self._known: DedupeWindow[Location] = DedupeWindow(dedupe_window)
        self._looked_back: set[TopicPartition] = set()
        self._lookback_lock = threading.Lock()
        self._indexes: dict[tuple[str, int], _KeyIndex] = {}
        self._producer: Any = None
        self._open: set[Any] = set()  # consumers in use: closed with the log
        self._pool_lock = threading.Lock()
        self._closed = False
        try:
            self._admin: Any = KafkaAdminClient(
                bootstrap_servers=self._servers,
                client_id=self._client_id,
                bootstrap_timeout_ms=10_000,
            )
        except KafkaError as exc:
            raise LogError(
                f"no Kafka broker answers at {','.join(self._servers)} ({exc}); "
                "start one, or check the kafka:// URL"
            ) from exc
        physical = [self.topics.physical(t) for t in self.topics.logical]
        with self._errors("creating the topics"):
            counts = ensure_topics(self._admin, physical, partitions, replication)
        self._partitions: dict[str, int] = {
            t: counts[self.topics.physical(t)] for t in self.topics.logical
        }
        with self._errors("describing the cluster"):
            cluster = self._admin.describe_cluster().get("cluster_id") or ",".join(self._servers)
        self._log_id = f"kafka:{cluster}/{self.settings.namespace}"

    @property
    def log_id(self) -> str:
        """The cluster id and namespace: the same log whichever broker or options a URL names."""
        return self._log_id

    @classmethod
    def from_url(cls, url: str) -> KafkaLog:
        """Open the log a ``kafka://`` URL names (creating its topics if needed)."""
        s = KafkaSettings.from_url(url)
        return cls(
            s.bootstrap,
            namespace=s.namespace,
            partitions=s.partitions,
            replication=s.replication,
            session_timeout_ms=s.session_timeout_ms,
            transactions=s.transactions,
            dedupe_window=s.dedupe_window,
            dedupe_lookback=s.dedupe_lookback,
            url=url,
        )

    def partitions(self, topic: str) -> int:
        """How many partitions a logical topic has on the broker."""
        try:
            return self._partitions[topic]
        except KeyError:
            self.topics.physical(topic)  # raises the helpful ValueError
            raise

    # -- appending -------------------------------------------------------------------------

    def append(
        self,
        records: Sequence[NewRecord],
        *,
        expected_versions: Mapping[str, int] | None = None,
    ) -> list[StoredRecord]:
        if not records:
            return []
        for r in records:
            self.partitions(r.topic)
        with self._lock:
            return self._append_locked(records, expected_versions or {})

    def _append_locked(
        self, records: Sequence[NewRecord], expected: Mapping[str, int]
    ) -> list[StoredRecord]:
        out: list[StoredRecord | None] = [None] * len(records)
        first: dict[bytes, int] = {}
        fresh: list[int] = []
        dup_keys: set[str] = set()
        with self._known_lock:
            for i, r in enumerate(records):
                if r.event_id in first:
                    continue
                first[r.event_id] = i
                loc = self._known.get(r.event_id)
                if loc is not None:
                    out[i] = stored(r, loc[1], loc[2])
                    dup_keys.add(r.key)
                else:
                    fresh.append(i)
        if expected:
            self._refresh_indexes(
                {(t, partition_for(k, n)) for k in expected for t, n in self._partitions.items()}
            )
            still_fresh = []
            for i in fresh:
                r = records[i]
                p = partition_for(r.key, self._partitions[r.topic])
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
        producer = self._get_producer()
        transactional = self.settings.transactions
        futures: list[Any] = []
        try:
            if transactional:
                producer.begin_transaction()
            for r in batch:
                futures.append(
                    producer.send(
                        self.topics.physical(r.topic),
                        value=r.data,
                        key=r.key.encode("utf-8"),
                        headers=record_headers(r),
                        partition=partition_for(r.key, self._partitions[r.topic]),
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
                    f"append of {len(batch)} records to Kafka at {','.join(self._servers)} "
                    f"failed: {exc}. Some may be stored; retrying the same records is safe "
                    "(appends are idempotent on event_id)"
                ) from exc
            raise
        out = [stored(r, m.partition, m.offset) for r, m in zip(batch, metas, strict=True)]
        with self._known_lock:
            for s in out:
                self._known.add(s.event_id, (s.topic, s.partition, s.offset))
        return out

    def _append_failed(self, batch: list[NewRecord], futures: list[Any]) -> None:
        """Remember what did get stored (so a retry skips it) and start a new producer."""
        producer, self._producer = self._producer, None
        if self.settings.transactions:
            with contextlib.suppress(Exception):  # the producer is closed below either way
                producer.abort_transaction()
        else:
            with self._known_lock:
                for r, f in zip(batch, futures, strict=False):
                    if f.is_done and f.succeeded():
                        m = f.value
                        self._known.add(r.event_id, (r.topic, m.partition, m.offset))
        with contextlib.suppress(Exception):
            producer.close(timeout=5)

    def _get_producer(self) -> Any:
        if self._closed:
            raise LogError("this Kafka log is closed")
        if self._producer is None:
            config = dict(_PRODUCER_CONFIG)
            if self.settings.transactions:
                config["transactional_id"] = f"{self.topics.group('selfeng')}-{uuid.uuid4()}"
            with self._errors("starting a producer"):
                producer = KafkaProducer(
                    bootstrap_servers=self._servers, client_id=self._client_id, **config
                )
                if self.settings.transactions:
                    producer.init_transactions()
            self._producer = producer
        return self._producer

    # -- the key index (expected versions, key_version) ------------------------------------

    def _refresh_indexes(self, partitions: Iterable[tuple[str, int]]) -> None:
        """Bring the key index of each (topic, partition) up to its high watermark."""
        with self._lock:
            tps: dict[TopicPartition, _KeyIndex] = {}
            for topic, p in partitions:
                index = self._indexes.get((topic, p))
                if index is None:
                    index = self._indexes[(topic, p)] = _KeyIndex(self.settings.dedupe_window)
                tps[TopicPartition(self.topics.physical(topic), p)] = index
            with self._borrow() as consumer:
                scan = Scan(consumer, {tp: i.next for tp, i in tps.items()}, None, self._isolation)
                while not scan.finished:
                    messages = scan.poll(5000)
                    records = self._decode(messages, None)
                    with self._known_lock:
                        for m, (key, r) in zip(messages, records, strict=True):
                            index = tps[TopicPartition(m.topic, m.partition)]
                            known = self._known.get(key)
                            if known is not None and known != (r.topic, r.partition, r.offset):
                                continue
                            if index.ids.add(key, r.offset):
                                index.counts[r.key] = index.counts.get(r.key, 0) + 1
                    for tp, offset in scan.next.items():
                        tps[tp].next = offset

    def _count(self, key: str) -> int:
        total = 0
        for topic, n in self._partitions.items():
            index = self._indexes.get((topic, partition_for(key, n)))
            if index is not None:
                total += index.counts.get(key, 0)
        return total

    def key_version(self, key: str) -> int:
        with self._lock:
            self._refresh_indexes((t, partition_for(key, n)) for t, n in self._partitions.items())
            return self._count(key)

    # -- reading ---------------------------------------------------------------------------

    def read(
        self,
        after: Position | None = None,
        *,
        until: Position | None = None,
        types: Collection[str] | None = None,
        topics: Collection[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[RecordBatch]:
        start = partition_position(after)
        stop = partition_position(until) if until is not None else None
        offsets = dict(start.offsets)
        starts: dict[TopicPartition, int] = {}
        for topic in self.topics.select(topics):
            physical = self.topics.physical(topic)
            for p in range(self._partitions[topic]):
                starts[TopicPartition(physical, p)] = offsets.setdefault((topic, p), 0)
        bounds = None
        if stop is not None:
            to_logical = self.topics.to_logical
            bounds = {tp: stop.next_offset(to_logical(tp.topic), tp.partition) for tp in starts}
        type_set = set(types) if types is not None else None
        self._look_back(starts)
        window: DedupeWindow[Location] = DedupeWindow(self.settings.dedupe_window)
        yielded = dict(offsets)
        pending: list[StoredRecord] = []
        with self._errors("reading"), self._borrow() as consumer:
            scan = Scan(consumer, starts, bounds, self._isolation)
            while not scan.finished:
                messages = scan.poll(batch_size - len(pending))
                pending.extend(self._fresh(self._decode(messages, type_set), window))
                for tp, offset in scan.next.items():
                    offsets[(self.topics.to_logical(tp.topic), tp.partition)] = offset
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

        One assigned consumer follows the partitions for the whole iteration; after ``idle``
        seconds with nothing new it yields an empty batch.
        """
        offsets = dict(partition_position(after).offsets)
        starts: dict[TopicPartition, int] = {}
        for topic in self.topics.select(topics):
            physical = self.topics.physical(topic)
            for p in range(self._partitions[topic]):
                starts[TopicPartition(physical, p)] = offsets.setdefault((topic, p), 0)
        type_set = set(types) if types is not None else None
        self._look_back(starts)
        window: DedupeWindow[Location] = DedupeWindow(self.settings.dedupe_window)
        idle_ms = max(1, int(idle * 1000))
        consumer = self._new_consumer(fetch_max_wait_ms=min(500, idle_ms))
        with self._pool_lock:
            self._open.add(consumer)
        try:
            with self._errors("following"):
                consumer.assign(list(starts))
                for tp, offset in starts.items():
                    consumer.seek(tp, offset)
                while stop is None or not stop.is_set():
                    got = consumer.poll(timeout_ms=idle_ms, max_records=batch_size)
                    if not got:
                        # Idle: move over offsets that hold no message (transaction markers).
                        for tp in starts:
                            key = (self.topics.to_logical(tp.topic), tp.partition)
                            at = consumer.position(tp, timeout_ms=1000)
                            if at is not None and at > offsets[key]:
                                offsets[key] = at
                    messages = []
                    for tp, batch in got.items():
                        topic = self.topics.to_logical(tp.topic)
                        for m in batch:
                            if m.offset >= offsets[(topic, tp.partition)]:
                                messages.append(m)
                                offsets[(topic, tp.partition)] = m.offset + 1
                    records = self._fresh(self._decode(messages, type_set), window)
                    yield RecordBatch(records, PartitionPosition(dict(offsets)))
        finally:
            with self._pool_lock:
                self._open.discard(consumer)
            close_consumer(consumer)

    def _decode(
        self, messages: list[Any], types: set[str] | None
    ) -> list[tuple[bytes, StoredRecord]]:
        """Each message as a record, with the key readers deduplicate it on."""
        to_logical = self.topics.to_logical
        out = []
        for m in messages:
            record = decode(to_logical(m.topic), m)
            if types is None or record.type in types:
                out.append((dedupe_key(m, record), record))
        return out

    def _look_back(self, starts: Mapping[TopicPartition, int]) -> None:
        """Remember the ids of the ``dedupe_lookback`` records before each start, once per
        partition and process, so that a copy after the start is not delivered again.

        A process that resumes from a checkpoint has not seen what it folded before; without
        this, a duplicate whose first copy lies just before the checkpoint (a request
        re-handled after a crash) would be folded twice. Copies of one event share a key
        and a type, so they are in one partition, where every reader sees them in the same
        order: the first copy wins, live and in a replay alike.
        """
        lookback = self.settings.dedupe_lookback
        with self._lookback_lock:
            todo = {
                tp: max(0, offset - lookback)
                for tp, offset in starts.items()
                if offset > 0 and lookback and tp not in self._looked_back
            }
            self._looked_back.update(starts)
            if not todo:
                return
            with self._errors("reading back before a start"), self._borrow() as consumer:
                scan = Scan(consumer, todo, {tp: starts[tp] for tp in todo}, self._isolation)
                while not scan.finished:
                    records = self._decode(scan.poll(5000), None)
                    with self._known_lock:
                        for key, r in records:
                            self._known.add(key, (r.topic, r.partition, r.offset))

    def _fresh(
        self, records: list[tuple[bytes, StoredRecord]], window: DedupeWindow[Location]
    ) -> list[StoredRecord]:
        """The records a reader with ``window`` has not delivered yet (the dedupe window)."""
        out = []
        with self._known_lock:
            for key, r in records:
                here = (r.topic, r.partition, r.offset)
                if key in window:
                    continue
                known = self._known.get(key)
                if known is not None and known != here:
                    continue
                window.add(key, here)
                if known is None:
                    self._known.add(key, here)
                out.append(r)
        return out

    def wait_for_append(self, position: Position, timeout: float) -> None:
        after = partition_position(position)
        deadline = time.monotonic() + timeout
        with self._errors("waiting for records"), self._borrow() as consumer:
            tps = self._all_partitions()
            consumer.assign(tps)
            for tp in tps:
                consumer.seek(tp, after.next_offset(self.topics.to_logical(tp.topic), tp.partition))
            while (remaining := deadline - time.monotonic()) > 0:
                if consumer.poll(timeout_ms=max(1, int(remaining * 1000)), max_records=1):
                    return

    def stream(self, key: str) -> list[StoredRecord]:
        per_topic: dict[str, list[StoredRecord]] = {}
        starts = {}
        for topic, n in self._partitions.items():
            starts[TopicPartition(self.topics.physical(topic), partition_for(key, n))] = 0
            per_topic[topic] = []
        window: DedupeWindow[Location] = DedupeWindow(self.settings.dedupe_window)
        with self._errors("reading a stream"), self._borrow() as consumer:
            scan = Scan(consumer, starts, None, self._isolation)
            while not scan.finished:
                for r in self._fresh(self._decode(scan.poll(5000), None), window):
                    if r.key == key:
                        per_topic[r.topic].append(r)
        merged = heapq.merge(*per_topic.values(), key=lambda r: (r.timestamp_ms, r.offset))
        return list(merged)

    def start(self) -> PartitionPosition:
        return PartitionPosition({})

    def head(self) -> PartitionPosition:
        tps = self._all_partitions()
        deadline = time.monotonic() + STALL_SECONDS
        with self._errors("finding the head"), self._borrow() as consumer:
            consumer.assign(tps)
            # ListOffsets may answer below the true end (tansu); it is only a cheap place to
            # fetch from, and the fetch response's high watermark is the end.
            consumer.seek_to_end(*tps)
            ends: dict[TopicPartition, int] = {}
            while len(ends) < len(tps):
                if time.monotonic() > deadline:
                    raise LogError(f"Kafka at {','.join(self._servers)} gave no high watermark")
                consumer.poll(timeout_ms=10, max_records=1)
                for tp in tps:
                    if tp not in ends and (hw := consumer.highwater(tp)) is not None:
                        ends[tp] = hw
                        consumer.pause(tp)
        return PartitionPosition(
            {(self.topics.to_logical(tp.topic), tp.partition): hw for tp, hw in ends.items()}
        )

    def parse_position(self, text: str) -> Position:
        """``topic:partition=offset,...``, or ``start``."""
        if text.strip() == "start":
            return PartitionPosition({})
        return parse_position(text)

    def _all_partitions(self) -> list[TopicPartition]:
        return [
            TopicPartition(self.topics.physical(t), p)
            for t, n in self._partitions.items()
            for p in range(n)
        ]

    # -- consumers -------------------------------------------------------------------------

    def _new_consumer(self, **config: Any) -> Any:
        if self._closed:
            raise LogError("this Kafka log is closed")
        settings: dict[str, Any] = {
            "bootstrap_servers": self._servers,
            "client_id": self._client_id,
            "group_id": None,
            "enable_auto_commit": False,
            "auto_offset_reset": "none",
            "isolation_level": self._isolation,
            "fetch_max_wait_ms": _READ_FETCH_WAIT_MS,
        }
        settings.update(config)
        with self._errors("starting a consumer"):
            return KafkaConsumer(**settings)

    @contextmanager
    def _borrow(self) -> Iterator[Any]:
        """A new assigned-partition consumer for one operation, closed after it.

        Consumers are not reused: kafka-python keeps fetched data of paused partitions, and
        a buffered fetch from an earlier use could report a stale high watermark.
        """
        consumer = self._new_consumer()
        with self._pool_lock:
            self._open.add(consumer)
        try:
            yield consumer
        finally:
            with self._pool_lock:
                self._open.discard(consumer)
            close_consumer(consumer)

    def consumer(
        self,
        group: str,
        *,
        topics: Collection[str] | None = None,
        types: Collection[str] | None = None,
    ) -> GroupConsumer:
        member = KafkaGroupConsumer(self, group, self.topics.select(topics), types)
        with self._pool_lock:
            self._open.add(member)
        return member

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except OffsetOutOfRangeError as exc:
            raise LogError(
                f"{doing}: a position is beyond the end of the log on Kafka at "
                f"{','.join(self._servers)} (was the topic recreated?): {exc}"
            ) from exc
        except KafkaError as exc:
            raise LogError(f"{doing} on Kafka at {','.join(self._servers)} failed: {exc}") from exc

    def close(self) -> None:
        """Close the producer, the admin client and every consumer of this log."""
        with self._pool_lock:
            if self._closed:
                return
            self._closed = True
            consumers = list(self._open)
            self._open.clear()
        for c in consumers:
            if isinstance(c, KafkaGroupConsumer):
                c.close()
            else:
                close_consumer(c)
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                producer.close(timeout=10)
        with contextlib.suppress(Exception):
            self._admin.close()


def _must(record: StoredRecord | None) -> StoredRecord:
    assert record is not None, "a duplicate's first copy was neither stored nor sent"
    return record
