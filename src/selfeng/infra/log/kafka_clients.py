"""The broker connection a Kafka log's parts share (see ``selfeng.infra.log.kafka``).

``KafkaClients`` opens the admin client, creates the topics and learns their partition
counts; it makes the consumers every reader uses, keeps track of those in use (so closing
the log closes them), and turns broker errors into ``LogError``s that name the broker.
The appender (``kafka_append``), the readers (``kafka_read``, ``kafka_group``) and the
dedupe lookback (``kafka_dedupe``) all go through it.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.errors import KafkaError, OffsetOutOfRangeError
from kafka.structs import TopicPartition

from selfeng.core.log import LogError
from selfeng.infra.log.kafka_admin import KafkaSettings, TopicNames, ensure_topics

READ_FETCH_WAIT_MS = 5
"""How long a reader's fetch waits for data: short, so an empty partition's end is quick."""


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
        try:
            self._admin: Any = KafkaAdminClient(
                bootstrap_servers=self.servers,
                client_id=self.client_id,
                bootstrap_timeout_ms=10_000,
            )
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
        }
        settings.update(config)
        with self.errors("starting a consumer"):
            return KafkaConsumer(**settings)

    @contextmanager
    def borrow(self) -> Iterator[Any]:
        """A new assigned-partition consumer for one operation, closed after it.

        Consumers are not reused: kafka-python keeps fetched data of paused partitions, and
        a buffered fetch from an earlier use could report a stale high watermark.
        """
        consumer = self.new_consumer()
        self.track(consumer)
        try:
            yield consumer
        finally:
            self.untrack(consumer)
            close_consumer(consumer)

    def track(self, consumer: Any) -> None:
        """Count ``consumer`` (or a group member) in use: closing the log closes it."""
        with self._pool_lock:
            self._open.add(consumer)

    def untrack(self, consumer: Any) -> None:
        """``consumer`` is no longer in use (its user closes it)."""
        with self._pool_lock:
            self._open.discard(consumer)

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
        """Close the admin client, whatever state it is in."""
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


def close_consumer(consumer: Any) -> None:
    """Close a kafka-python consumer without committing, whatever state it is in."""
    with contextlib.suppress(Exception):
        consumer.close(autocommit=False)
