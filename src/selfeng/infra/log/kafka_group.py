"""Members of Kafka consumer groups, for ``KafkaLog.consumer`` (see ``kafka.py``).

A member reads the partitions the group assigns it, delivers each event id once within its
dedupe window (reading back ``dedupe_lookback`` records where it starts mid-partition),
remembers which partitions it has not yet committed in since they were assigned (what it
polls there first may have been handled by their previous owner), and turns a commit the
group refused after a rebalance into ``GroupRebalanced``. It reads through its log's
clients (``kafka_clients``: consumer factory, error mapping) and known ids
(``kafka_dedupe``: lookback and dedupe), as the log's other readers do.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Collection, Sequence

from kafka import ConsumerRebalanceListener
from kafka.errors import CommitFailedError
from kafka.structs import OffsetAndMetadata, TopicPartition

from selfeng.core.log import GroupConsumer, GroupRebalanced, LogError, RecordBatch
from selfeng.core.positions import PartitionPosition, Position
from selfeng.core.records import StoredRecord
from selfeng.infra.log.kafka_clients import KafkaClients
from selfeng.infra.log.kafka_dedupe import DedupeWindow, KnownIds, Location
from selfeng.infra.log.kafka_read import partition_position
from selfeng.infra.log.kafka_records import keyed_records


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
        clients: KafkaClients,
        known: KnownIds,
        group: str,
        topics: Sequence[str],
        types: Collection[str] | None,
    ) -> None:
        self._clients = clients
        self._known = known
        self._types = set(types) if types is not None else None
        self._window: DedupeWindow[Location] = known.window()
        self._offsets: dict[TopicPartition, int] = {}
        self._unsettled: set[TopicPartition] = set()
        self._closed = False
        session = clients.settings.session_timeout_ms
        self._consumer = clients.new_consumer(
            group_id=clients.topics.group(group),
            auto_offset_reset="earliest",
            session_timeout_ms=session,
            heartbeat_interval_ms=max(1, session // 3),
            fetch_max_wait_ms=500,
        )
        with clients.errors(f"joining consumer group {group!r}"):
            self._consumer.subscribe(
                [clients.topics.physical(t) for t in topics], listener=_Revoked(self)
            )

    def poll(self, timeout: float = 1.0, max_records: int = 1000) -> RecordBatch:
        deadline = time.monotonic() + timeout
        clients, known = self._clients, self._known
        with clients.errors("polling a consumer group"):
            while True:
                remaining = deadline - time.monotonic()
                got = self._consumer.poll(
                    timeout_ms=max(0, int(remaining * 1000)), max_records=max_records
                )
                messages = []
                for tp, batch in got.items():
                    if batch:
                        known.look_back({tp: batch[0].offset})
                    for m in batch:
                        if m.offset >= self._offsets.get(tp, 0):
                            messages.append(m)
                            self._offsets[tp] = m.offset + 1
                keyed = keyed_records(messages, clients.topics.to_logical, self._types)
                records = known.fresh(keyed, self._window)
                if records or deadline - time.monotonic() <= 0:
                    return RecordBatch(records, self._position())

    def may_be_handled(self, record: StoredRecord) -> bool:
        physical = self._clients.topics.physical(record.topic)
        return TopicPartition(physical, record.partition) in self._unsettled

    def _position(self) -> PartitionPosition:
        to_logical = self._clients.topics.to_logical
        return PartitionPosition(
            {(to_logical(tp.topic), tp.partition): o for tp, o in self._offsets.items()}
        )

    def commit(self, position: Position | None = None) -> None:
        if position is None:
            offsets = dict(self._offsets)
        else:
            physical = self._clients.topics.physical
            offsets = {
                TopicPartition(physical(t), p): o
                for (t, p), o in partition_position(position).offsets.items()
                if t in self._clients.topics.logical
            }
        assigned = self._consumer.assignment()
        chosen = {tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items() if tp in assigned}
        if not chosen:
            return
        try:
            with self._clients.errors("committing a consumer group's position"):
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
        self._clients.untrack(self)
        with contextlib.suppress(Exception):
            self._consumer.close(autocommit=False)
