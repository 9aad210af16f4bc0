"""``memory://``: an in-process log for unit tests, with one global order."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence

from selfeng.core.log import (
    ConcurrencyConflict,
    EventLog,
    GroupBusy,
    GroupConsumer,
    ReadingConsumer,
    RecordBatch,
)
from selfeng.core.positions import GlobalPosition, Position
from selfeng.core.records import NewRecord, StoredRecord


class MemoryLog(EventLog):
    """A list of records guarded by a lock; positions are 1-based list indexes."""

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._log_id = f"memory:{uuid.uuid4()}"
        self._records: list[StoredRecord] = []
        self._by_id: dict[bytes, StoredRecord] = {}
        self._by_key: dict[str, list[StoredRecord]] = {}
        self._groups: dict[str, GlobalPosition] = {}
        self._members: set[str] = set()
        self._changed = threading.Condition()

    @property
    def log_id(self) -> str:
        return self._log_id

    @classmethod
    def from_url(cls, url: str) -> MemoryLog:
        """A new, empty log (every ``memory://`` URL opens its own)."""
        return cls(url)

    def append(
        self,
        records: Sequence[NewRecord],
        *,
        expected_versions: Mapping[str, int] | None = None,
    ) -> list[StoredRecord]:
        with self._changed:
            fresh = [r for r in records if r.event_id not in self._by_id]
            dup_keys = {r.key for r in records if r.event_id in self._by_id}
            for key, expected in (expected_versions or {}).items():
                actual = len(self._by_key.get(key, ()))
                if key not in dup_keys and actual != expected:
                    raise ConcurrencyConflict(key, expected, actual)
            batch_ids: set[bytes] = set()
            for r in fresh:
                if r.event_id in batch_ids:
                    continue
                batch_ids.add(r.event_id)
                stored = StoredRecord(
                    r.event_id,
                    r.topic,
                    r.key,
                    r.type,
                    r.version,
                    r.data,
                    r.timestamp_ms,
                    0,
                    len(self._records) + 1,
                )
                self._records.append(stored)
                self._by_id[r.event_id] = stored
                self._by_key.setdefault(r.key, []).append(stored)
            if fresh:
                self._changed.notify_all()
            return [self._by_id[r.event_id] for r in records]

    def read(
        self,
        after: Position | None = None,
        *,
        until: Position | None = None,
        types: Collection[str] | None = None,
        topics: Collection[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[RecordBatch]:
        start = _offset(after)
        end = len(self._records)
        if until is not None:
            end = min(end, _offset(until))
        type_set = set(types) if types is not None else None
        topic_set = set(topics) if topics is not None else None
        for lo in range(start, end, batch_size):
            hi = min(lo + batch_size, end)
            chunk = [
                r
                for r in self._records[lo:hi]
                if (type_set is None or r.type in type_set)
                and (topic_set is None or r.topic in topic_set)
            ]
            yield RecordBatch(chunk, GlobalPosition(hi))

    def wait_for_append(self, position: Position, timeout: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: len(self._records) > _offset(position), timeout)

    def stream(self, key: str) -> list[StoredRecord]:
        return list(self._by_key.get(key, ()))

    def key_version(self, key: str) -> int:
        return len(self._by_key.get(key, ()))

    def start(self) -> GlobalPosition:
        return GlobalPosition(0)

    def head(self) -> GlobalPosition:
        return GlobalPosition(len(self._records))

    def consumer(
        self,
        group: str,
        *,
        topics: Collection[str] | None = None,
        types: Collection[str] | None = None,
    ) -> GroupConsumer:
        with self._changed:
            if group in self._members:
                raise GroupBusy(f"consumer group {group!r} already has a member in this process")
            self._members.add(group)
        return _MemoryConsumer(self, group, topics, types)


class _MemoryConsumer(ReadingConsumer):
    def __init__(
        self,
        log: MemoryLog,
        group: str,
        topics: Collection[str] | None,
        types: Collection[str] | None,
    ) -> None:
        super().__init__(log, log._groups.get(group, GlobalPosition(0)), topics, types)
        self._memory, self._group = log, group

    def commit(self, position: Position | None = None) -> None:
        chosen = position or self._position
        assert isinstance(chosen, GlobalPosition)
        self._memory._groups[self._group] = chosen
        self._committed()

    def close(self) -> None:
        with self._memory._changed:
            self._memory._members.discard(self._group)


def _offset(position: Position | None) -> int:
    if position is None:
        return 0
    if not isinstance(position, GlobalPosition):
        raise TypeError(f"the memory log takes integer positions, not {position}")
    return position.offset
