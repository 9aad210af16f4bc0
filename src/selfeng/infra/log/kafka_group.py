"""Members of Kafka consumer groups, for ``KafkaLog.consumer`` (see ``kafka.py``).

A member reads the partitions the group assigns it, delivers each event id once within its
dedupe window (reading back ``dedupe_lookback`` records where it starts mid-partition),
remembers which partitions it has not yet committed in since they were assigned (what it
polls there first may have been handled by their previous owner), and turns a commit the
group refused after a rebalance into ``GroupRebalanced``. It reads through its log's
consumer factory, error mapping, lookback and dedupe: the two modules are one adapter.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from kafka import ConsumerRebalanceListener
from kafka.errors import CommitFailedError
from kafka.structs import OffsetAndMetadata, TopicPartition

from selfeng.core.log import GroupConsumer, GroupRebalanced, LogError, RecordBatch
from selfeng.core.positions import PartitionPosition, Position
from selfeng.core.records import StoredRecord
from selfeng.infra.log.kafka_admin import DedupeWindow, Location

if TYPE_CHECKING:
    from selfeng.infra.log.kafka import KafkaLog


class _Revoked(ConsumerRebalanceListener):  # type: ignore[misc]
    """Forgets the polled offsets of partitions the group takes away; marks those it gives
    as unsettled until this member commits in them (what it polls there first may have been
    handled by their previous owner)."""

    def __init__(self, member: KafkaGroupConsumer) -> None:
        self._member = member

    def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        for tp in revoked:
            self._member._offsets.pop(tp, None)
            self._member._unsettled.discard(tp)

    def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        self._member._unsettled.update(assigned)


class KafkaGroupConsumer(GroupConsumer):
    """A member of a Kafka consumer group (the group name is namespaced like the topics)."""

    def __init__(
        self,
        log: KafkaLog,
        group: str,
        topics: Sequence[str],
        types: Collection[str] | None,
    ) -> None:
        self._log = log
        self._types = set(types) if types is not None else None
        self._window: DedupeWindow[Location] = DedupeWindow(log.settings.dedupe_window)
        self._offsets: dict[TopicPartition, int] = {}
        self._unsettled: set[TopicPartition] = set()
        self._closed = False
        session = log.settings.session_timeout_ms
        self._consumer = log._new_consumer(
            group_id=log.topics.group(group),
            auto_offset_reset="earliest",
            session_timeout_ms=session,
            heartbeat_interval_ms=max(1, session // 3),
            fetch_max_wait_ms=500,
        )
        with log._errors(f"joining consumer group {group!r}"):
            self._consumer.subscribe(
                [log.topics.physical(t) for t in topics], listener=_Revoked(self)
            )

    def poll(self, timeout: float = 1.0, max_records: int = 1000) -> RecordBatch:
        deadline = time.monotonic() + timeout
        log = self._log
        with log._errors("polling a consumer group"):
            while True:
                remaining = deadline - time.monotonic()
                got = self._consumer.poll(
                    timeout_ms=max(0, int(remaining * 1000)), max_records=max_records
                )
                messages = []
                for tp, batch in got.items():
                    if batch:
                        log._look_back({tp: batch[0].offset})
                    for m in batch:
                        if m.offset >= self._offsets.get(tp, 0):
                            messages.append(m)
                            self._offsets[tp] = m.offset + 1
                records = log._fresh(log._decode(messages, self._types), self._window)
                if records or deadline - time.monotonic() <= 0:
                    return RecordBatch(records, self._position())

    def may_be_handled(self, record: StoredRecord) -> bool:
        physical = self._log.topics.physical(record.topic)
        return TopicPartition(physical, record.partition) in self._unsettled

    def _position(self) -> PartitionPosition:
        to_logical = self._log.topics.to_logical
        return PartitionPosition(
            {(to_logical(tp.topic), tp.partition): o for tp, o in self._offsets.items()}
        )

    def commit(self, position: Position | None = None) -> None:
        if position is None:
            offsets = dict(self._offsets)
        else:
            physical = self._log.topics.physical
            offsets = {
                TopicPartition(physical(t), p): o
                for (t, p), o in partition_position(position).offsets.items()
                if t in self._log.topics.logical
            }
        assigned = self._consumer.assignment()
        chosen = {tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items() if tp in assigned}
        if not chosen:
            return
        try:
            with self._log._errors("committing a consumer group's position"):
                self._consumer.commit(chosen)
            self._unsettled.difference_update(chosen)
        except LogError as exc:
            if isinstance(exc.__cause__, CommitFailedError):
                raise GroupRebalanced(
                    "the consumer group rebalanced and gave this member's partitions to "
                    f"another; poll again before committing ({exc.__cause__})"
                ) from exc.__cause__
            raise

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._log._pool_lock:
            self._log._open.discard(self)
        with contextlib.suppress(Exception):
            self._consumer.close(autocommit=False)


def close_consumer(consumer: Any) -> None:
    """Close a kafka-python consumer without committing, whatever state it is in."""
    with contextlib.suppress(Exception):
        consumer.close(autocommit=False)


def partition_position(position: Position | None) -> PartitionPosition:
    """``position`` as the partition position a Kafka log takes (empty for None)."""
    if position is None:
        return PartitionPosition({})
    if not isinstance(position, PartitionPosition):
        raise TypeError(
            f"the Kafka log takes partition positions (topic:partition=offset), not {position}"
        )
    return position
