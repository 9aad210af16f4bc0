"""``kafka://host:port``: the log on any Kafka-protocol broker (Apache Kafka, tansu, ...).

URL: ``kafka://host:port[,host2:port2]?namespace=NS&partitions=6&replication=1
&session_timeout_ms=10000&transactions=false&dedupe_window=100000&dedupe_lookback=2000
&staleness_ms=200``.

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
keeping an incremental per-partition index of each key's offsets (deduplicated like reads)
so a second check only reads what is new. The index keeps the 20,000 keys seen last per
partition (``kafka_append.MAX_KEYS``); a key it dropped is read again from its partition if
it is ever asked about, so memory stays bounded and answers stay exact. The check and the
append are not one atomic step on the broker: the check is exact when each key has one
writer at a time (the orchestrator partitions work by key); within one process, appends are
serialised by a lock.

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

Costs. No call opens a consumer: ``read``, ``head``, ``stream``, ``key_version``, a
conditional append, ``wait_for_append`` and ``follow`` borrow long-lived group-less
consumers from the log's pool and give them back (``kafka_pool`` says why a pool, and how a
consumer is settled so that no answer to an earlier fetch gives a stale end), and their
assignments stay within topics whose metadata they hold, so a call is its fetches and
nothing more: one fetch for ``head`` and for a read with nothing new, answered with the
high watermark (a few ms on a local tansu; ``fetch_min_bytes=0`` lets Apache Kafka answer
at once). ``follow`` and group consumers hold one consumer for their lifetime.
``stream(key)`` reads only where the key's records are: the key index (see
``expected_versions``) knows their offsets, brought up to the high watermarks by reading what
is new, and each partition is read over their span only. A partition added to a topic while
a log is open is not read until the log is opened again (its key placement would change).

Modules. This one is the ``EventLog``; its parts: ``kafka_admin`` (URL settings, topic names
and creation, partitioning), ``kafka_clients`` (the shared broker connection and consumers),
``kafka_pool`` (the long-lived consumers lent to reads),
``kafka_records`` (headers and decoding), ``kafka_scan`` (reading partitions to their end),
``kafka_dedupe`` (the dedupe windows and lookback), ``kafka_append`` (the producer side and
``expected_versions``), ``kafka_read`` (reading and following) and ``kafka_group`` (members
of consumer groups).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence

from selfeng.core.log import EventLog, GroupConsumer, RecordBatch
from selfeng.core.positions import PartitionPosition, Position, parse_position
from selfeng.core.records import NewRecord, StoredRecord
from selfeng.infra.log.kafka_admin import (
    DEFAULT_DEDUPE_LOOKBACK,
    DEFAULT_DEDUPE_WINDOW,
    DEFAULT_PARTITIONS,
    DEFAULT_REPLICATION,
    DEFAULT_SESSION_TIMEOUT_MS,
    DEFAULT_STALENESS_MS,
    KafkaSettings,
    TopicNames,
    default_topics,
)
from selfeng.infra.log.kafka_append import KafkaAppender
from selfeng.infra.log.kafka_clients import KafkaClients, close_consumer
from selfeng.infra.log.kafka_dedupe import KnownIds
from selfeng.infra.log.kafka_group import KafkaGroupConsumer
from selfeng.infra.log.kafka_read import KafkaReader

__all__ = ["KafkaLog", "KafkaSettings"]


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
        staleness_ms: int = DEFAULT_STALENESS_MS,
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
            staleness_ms=staleness_ms,
        )
        self.url = url or self.settings.to_url()
        self.staleness = staleness_ms / 1000
        self.topics = TopicNames(default_topics() if topics is None else topics, namespace)
        self._clients = KafkaClients(self.settings, self.topics)
        self._known = KnownIds(self._clients)
        self._appender = KafkaAppender(self._clients, self._known)
        self._reader = KafkaReader(self._clients, self._known)
        self._log_id = f"kafka:{self._clients.cluster}/{self.settings.namespace}"

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
            staleness_ms=s.staleness_ms,
            url=url,
        )

    def partitions(self, topic: str) -> int:
        """How many partitions a logical topic has on the broker."""
        return self._clients.partition_count(topic)

    # -- appending (kafka_append) ----------------------------------------------------------

    def append(
        self,
        records: Sequence[NewRecord],
        *,
        expected_versions: Mapping[str, int] | None = None,
    ) -> list[StoredRecord]:
        return self._appender.append(records, expected_versions=expected_versions)

    def key_version(self, key: str) -> int:
        return self._appender.key_version(key)

    # -- reading (kafka_read) --------------------------------------------------------------

    def read(
        self,
        after: Position | None = None,
        *,
        until: Position | None = None,
        types: Collection[str] | None = None,
        topics: Collection[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[RecordBatch]:
        return self._reader.read(
            after, until=until, types=types, topics=topics, batch_size=batch_size
        )

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
        return self._reader.follow(
            after, types=types, topics=topics, batch_size=batch_size, idle=idle, stop=stop
        )

    def wait_for_append(self, position: Position, timeout: float) -> None:
        self._reader.wait_for_append(position, timeout)

    def stream(self, key: str) -> list[StoredRecord]:
        return self._reader.stream(key, self._appender.key_offsets(key))

    def start(self) -> PartitionPosition:
        return PartitionPosition({})

    def head(self) -> PartitionPosition:
        return self._reader.head()

    def parse_position(self, text: str) -> Position:
        """``topic:partition=offset,...``, or ``start``."""
        if text.strip() == "start":
            return PartitionPosition({})
        return parse_position(text)

    # -- consumers (kafka_group) -----------------------------------------------------------

    def consumer(
        self,
        group: str,
        *,
        topics: Collection[str] | None = None,
        types: Collection[str] | None = None,
    ) -> GroupConsumer:
        member = KafkaGroupConsumer(
            self._clients, self._known, group, self.topics.select(topics), types
        )
        self._clients.track(member)
        return member

    def close(self) -> None:
        """Close the producer, the admin client and every consumer of this log."""
        consumers = self._clients.shut()
        if consumers is None:
            return
        for c in consumers:
            if isinstance(c, KafkaGroupConsumer):
                c.close()
            else:
                close_consumer(c)
        self._appender.close()
        self._clients.close_admin()
