"""The broker connection a Kafka log's parts share (see ``selfeng.infra.log.kafka``).

``KafkaClients`` opens the admin client, creates the topics and learns their partition
counts; it lends the consumers every reader uses from a pool of long-lived ones
(``kafka_pool``: no consumer is opened per call), keeps track of those in use (so closing
the log closes them), and turns broker errors into ``LogError``s that name the broker.
The appender (``kafka_append``), the readers (``kafka_read``, ``kafka_group``) and the
dedupe lookback (``kafka_dedupe``) all go through it.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.errors import KafkaError, OffsetOutOfRangeError
from kafka.structs import TopicPartition

from selfeng.core.log import LogError
from selfeng.infra.log.kafka_admin import KafkaSettings, TopicNames, ensure_topics
from selfeng.infra.log.kafka_pool import SETTLE_SECONDS, ConsumerPool, close_consumer

__all__ = [
    "FOLLOW_PATIENCE",
    "HEAD",
    "SCAN",
    "KafkaClients",
    "close_consumer",
    "follow_kind",
    "forbid_topic_creation",
]

READ_FETCH_WAIT_MS = 1
"""How long a reader's fetch waits for data: short, so an empty partition's end is quick."""
SCAN = "scan"
"""The kind of consumer reads to the end use (fetches wait ``READ_FETCH_WAIT_MS``)."""
HEAD = "head"
"""The kind of consumer ``head`` uses: fetches of at most one batch per partition, and a
position past the end of a (recreated) partition moves to its start instead of failing."""
FOLLOW_WAITS_MS = (5, 20, 100, 500)
"""How long followers' fetches may wait for data (a broker answers at once when some comes)."""
FOLLOW_PATIENCE = 0.05
"""How long lending a follower waits for an idle one's long fetch to be answered before
opening another (its fetches wait up to the follow's ``idle``, 500 ms at most)."""
_CONFIGS: dict[Hashable, dict[str, Any]] = {
    # A read stops at the high watermark, so its fetches need not wait for data at all
    # (``fetch_min_bytes=0``: Apache Kafka answers at once; tansu still waits the wait).
    SCAN: {"fetch_min_bytes": 0},
    HEAD: {"fetch_min_bytes": 0, "max_partition_fetch_bytes": 1, "auto_offset_reset": "earliest"},
}


def forbid_topic_creation(client: Any) -> None:
    """Make the metadata requests of a kafka-python client never create a topic.

    A long-lived client refreshes its metadata; with auto-creation on, a refresh after a
    topic was deleted would bring it back with the broker's default partition count (4 on
    tansu), and the log's keys would land elsewhere. kafka-python 3.0.12 does not pass the
    clients' ``allow_auto_create_topics`` option on to its metadata requests, so it is set
    where they read it (a client without that place is left as it is).
    """
    for holder in (client, getattr(client, "_manager", None)):
        for name in ("_cluster", "_metadata", "cluster"):
            config = getattr(getattr(holder, name, None), "config", None)
            if isinstance(config, dict) and "allow_auto_create_topics" in config:
                config["allow_auto_create_topics"] = False


def follow_kind(idle_ms: int) -> tuple[str, int]:
    """The kind of consumer ``follow`` and ``wait_for_append`` use: fetches wait the longest
    of ``FOLLOW_WAITS_MS`` that is not longer than ``idle_ms`` (so there are few kinds)."""
    return ("follow", max([w for w in FOLLOW_WAITS_MS if w <= idle_ms], default=READ_FETCH_WAIT_MS))


class KafkaClients:
    """The broker, its topics and the consumers in use, for one Kafka log.

    Opening it connects the admin client and creates the topics that do not exist yet with
    ``settings.partitions`` and ``settings.replication`` (existing topics keep theirs).
    """

    def __init__(self, settings: KafkaSettings, topics: TopicNames) -> None:
        self.settings = settings
        self.topics = topics
        self.servers = list(settings.bootstrap)
        """``host:port`` of the brokers, for kafka-python."""
        self.isolation = "read_committed" if settings.transactions else "read_uncommitted"
        """The consumers' isolation level: committed records only with transactions."""
        self.client_id = f"selfeng-{uuid.uuid4().hex[:8]}"
        self.closed = False
        self._open: set[Any] = set()  # consumers in use: closed with the log
        self._pool_lock = threading.Lock()
        self.pool = ConsumerPool(self._make)
        """The idle consumers, lent by ``borrow``."""
        try:
            self._admin: Any = KafkaAdminClient(
                bootstrap_servers=self.servers,
                client_id=self.client_id,
                bootstrap_timeout_ms=10_000,
            )
            forbid_topic_creation(self._admin)
        except KafkaError as exc:
            raise LogError(
                f"no Kafka broker answers at {','.join(self.servers)} ({exc}); "
                "start one, or check the kafka:// URL"
            ) from exc
        physical = [topics.physical(t) for t in topics.logical]
        with self.errors("creating the topics"):
            counts = ensure_topics(self._admin, physical, settings.partitions, settings.replication)
        self.partitions: dict[str, int] = {t: counts[topics.physical(t)] for t in topics.logical}
        """Each logical topic's partition count on the broker."""
        with self.errors("describing the cluster"):
            cluster = self._admin.describe_cluster().get("cluster_id") or ",".join(self.servers)
        self.cluster: str = cluster
        """The broker's cluster id (the bootstrap servers when it has none)."""

    def partition_count(self, topic: str) -> int:
        """How many partitions a logical topic has (an unknown topic raises ValueError)."""
        try:
            return self.partitions[topic]
        except KeyError:
            self.topics.physical(topic)  # raises the helpful ValueError
            raise

    def all_partitions(self) -> list[TopicPartition]:
        """Every partition of every topic, by its broker topic name."""
        return [
            TopicPartition(self.topics.physical(t), p)
            for t, n in self.partitions.items()
            for p in range(n)
        ]

    def new_consumer(self, **config: Any) -> Any:
        """A kafka-python consumer without a group (``config`` overrides the defaults)."""
        if self.closed:
            raise LogError("this Kafka log is closed")
        settings: dict[str, Any] = {
            "bootstrap_servers": self.servers,
            "client_id": self.client_id,
            "group_id": None,
            "enable_auto_commit": False,
            "auto_offset_reset": "none",
            "isolation_level": self.isolation,
            "fetch_max_wait_ms": READ_FETCH_WAIT_MS,
            # a long-lived consumer refreshes its metadata: it must not bring back a deleted
            # topic with the broker's default partition count
            "allow_auto_create_topics": False,
        }
        settings.update(config)
        with self.errors("starting a consumer"):
            consumer = KafkaConsumer(**settings)
        forbid_topic_creation(consumer)
        return consumer

    def _make(self, kind: Hashable) -> Any:
        """A new consumer of ``kind`` for the pool, told every topic of the log first (an
        assignment within them then needs no metadata request)."""
        if isinstance(kind, tuple) and kind[0] == "follow":
            config: dict[str, Any] = {"fetch_max_wait_ms": kind[1]}
        else:
            config = _CONFIGS[kind]
        consumer = self.new_consumer(**config)
        try:
            with self.errors("starting a consumer"):
                consumer.assign(self.all_partitions())
                consumer.unsubscribe()
        except BaseException:
            close_consumer(consumer)
            raise
        return consumer

    @contextmanager
    def borrow(self, kind: Hashable = SCAN) -> Iterator[Any]:
        """A long-lived consumer of ``kind`` with nothing assigned, lent for one operation.

        The caller assigns and seeks. The consumer goes back to the pool afterwards (closed
        instead when the operation failed): see ``kafka_pool`` for why reuse is safe.
        """
        if self.closed:
            raise LogError("this Kafka log is closed")
        patience = FOLLOW_PATIENCE if isinstance(kind, tuple) else SETTLE_SECONDS
        consumer = self.pool.take(kind, patience)
        self.track(consumer)
        reusable = False
        try:
            yield consumer
            reusable = True
        except GeneratorExit:  # a read abandoned part-way: the consumer is sound
            reusable = True
            raise
        finally:
            if self.untrack(consumer):
                self.pool.give_back(kind, consumer, reusable)

    def track(self, consumer: Any) -> None:
        """Count ``consumer`` (or a group member) in use: closing the log closes it."""
        with self._pool_lock:
            self._open.add(consumer)

    def untrack(self, consumer: Any) -> bool:
        """``consumer`` is no longer in use (its user closes it); False when closing the log
        took it already."""
        with self._pool_lock:
            if consumer not in self._open:
                return False
            self._open.discard(consumer)
            return True

    def shut(self) -> list[Any] | None:
        """Mark the log closed; the consumers still in use, for the caller to close (None
        when it was closed already)."""
        with self._pool_lock:
            if self.closed:
                return None
            self.closed = True
            consumers = list(self._open)
            self._open.clear()
        return consumers

    def close_admin(self) -> None:
        """Close the idle consumers and the admin client, whatever state they are in."""
        self.pool.close()
        with contextlib.suppress(Exception):
            self._admin.close()

    @contextmanager
    def errors(self, doing: str) -> Iterator[None]:
        """Turn kafka-python's errors into ``LogError``s that say what was being done."""
        try:
            yield
        except OffsetOutOfRangeError as exc:
            raise LogError(
                f"{doing}: a position is beyond the end of the log on Kafka at "
                f"{','.join(self.servers)} (was the topic recreated?): {exc}"
            ) from exc
        except KafkaError as exc:
            raise LogError(f"{doing} on Kafka at {','.join(self.servers)} failed: {exc}") from exc
