"""The log port: an append-only, topic-partitioned log of plain records.

Three adapters implement it (``memory://``, ``sqlite:///path``, ``kafka://host:port``) and
one contract test suite (``tests/contract/log_contract.py``) runs unchanged against each.

Ordering: every adapter keeps the order of records within a key. Only the embedded logs
also have one global order; code that folds the log may rely on per-key order and nothing
more, because Kafka interleaves partitions arbitrarily.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass

from selfeng.core.closing import Closeable
from selfeng.core.positions import GlobalPosition, PartitionPosition, Position, parse_position
from selfeng.core.records import NewRecord, StoredRecord


class LogError(Exception):
    """Base class of the log's errors."""


class ConcurrencyConflict(LogError):
    """An append expected a key to be at one version and found it at another."""

    def __init__(self, key: str, expected: int, actual: int) -> None:
        super().__init__(
            f"key {key!r} is at version {actual}, the append expected {expected}: "
            "someone else appended to it first; re-read and retry"
        )
        self.key = key
        self.expected = expected
        self.actual = actual


class NotOurLog(LogError):
    """The location holds something that is not a selfeng log."""


class GroupBusy(LogError):
    """A consumer group that allows one member already has one."""


class GroupRebalanced(LogError):
    """A commit came after the group moved this member's partitions: poll again (what was
    not committed is delivered again, to whichever member owns it now)."""


@dataclass(frozen=True, slots=True)
class RecordBatch:
    """Records read together, and the position after them.

    ``position`` covers the records and everything the read skipped (filtered-out types and
    topics), so a reader that stores it resumes after them.
    """

    records: Sequence[StoredRecord]
    position: Position


class GroupConsumer(Closeable, ABC):
    """A member of a consumer group: reads from the group's committed position."""

    @abstractmethod
    def poll(self, timeout: float = 1.0, max_records: int = 1000) -> RecordBatch:
        """Records after those already polled; empty when none arrive within ``timeout``."""

    @abstractmethod
    def commit(self, position: Position | None = None) -> None:
        """Record the group's progress: ``position``, or everything polled so far."""

    @abstractmethod
    def close(self) -> None:
        """Leave the group (without committing)."""

    def may_be_handled(self, record: StoredRecord) -> bool:
        """Whether ``record`` may have been handled already, by an earlier member or run
        that stopped before committing: it was polled before this member's first commit in
        its partition. Only such records need checking against what the log holds."""
        return True


class ReadingConsumer(GroupConsumer):
    """A group member that polls by reading the log from its own position.

    For logs with one global order (memory, SQLite), where a group has one member and its
    progress is a position; subclasses store commits and may renew a lease before polls.
    """

    def __init__(
        self,
        log: EventLog,
        position: Position,
        topics: Collection[str] | None,
        types: Collection[str] | None,
        *,
        max_wait: float = 1.0,
    ) -> None:
        self._log, self._position = log, position
        self._topics, self._types = topics, types
        self._max_wait = max_wait
        self._committed_once = False

    def may_be_handled(self, record: StoredRecord) -> bool:
        return not self._committed_once

    def _committed(self) -> None:
        """Subclasses call this after storing a commit."""
        self._committed_once = True

    def _before_poll(self) -> None:
        """Called before every read (a lease renewal, say)."""

    def poll(self, timeout: float = 1.0, max_records: int = 1000) -> RecordBatch:
        deadline = time.monotonic() + timeout
        while True:
            self._before_poll()
            for batch in self._log.read(
                self._position, types=self._types, topics=self._topics, batch_size=max_records
            ):
                self._position = batch.position
                if batch.records:
                    return batch
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return RecordBatch((), self._position)
            self._log.wait_for_append(self._position, min(remaining, self._max_wait))


class EventLog(Closeable, ABC):
    """An append-only log of records, chosen by URL (``selfeng.core.backends.open_log``)."""

    url: str
    """Where the log is."""
    staleness: float = 0.0
    """How long (seconds) a request may be answered from projections that read this log to
    its end that long ago, without reading it again (what this process appends is folded at
    once either way). 0 for logs whose read of nothing new costs microseconds (the embedded
    ones); a Kafka log's read is a fetch from every partition (``staleness_ms``)."""

    @property
    def log_id(self) -> str:
        """Identifies this log, so state built from another log is never mistaken for its own."""
        return self.url

    @abstractmethod
    def append(
        self,
        records: Sequence[NewRecord],
        *,
        expected_versions: Mapping[str, int] | None = None,
    ) -> list[StoredRecord]:
        """Append a batch atomically; return the records as stored, in order.

        Idempotent on ``event_id``: a record whose id is already in the log is not stored
        again. ``expected_versions`` maps keys to the number of records the caller expects
        the key to have before this batch; when one differs, nothing is appended and
        ``ConcurrencyConflict`` is raised.
        """

    @abstractmethod
    def read(
        self,
        after: Position | None = None,
        *,
        until: Position | None = None,
        types: Collection[str] | None = None,
        topics: Collection[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[RecordBatch]:
        """Batches of records after ``after`` up to the end of the log as of the call.

        ``until`` stops earlier; ``types`` and ``topics`` filter (the batch positions still
        cover what was skipped). Records of one key come in the order they were appended.
        """

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

        After ``idle`` seconds with nothing new it yields an empty batch, so that a caller
        can checkpoint or look at its own flags.
        """
        position = after or self.start()
        while stop is None or not stop.is_set():
            got = False
            for batch in self.read(position, types=types, topics=topics, batch_size=batch_size):
                position = batch.position
                got = got or bool(batch.records)
                yield batch
                if stop is not None and stop.is_set():
                    return
            if not got:
                self.wait_for_append(position, idle)
                yield RecordBatch((), position)

    @abstractmethod
    def wait_for_append(self, position: Position, timeout: float) -> None:
        """Block until the log may have records after ``position``, or ``timeout`` passes."""

    @abstractmethod
    def stream(self, key: str) -> list[StoredRecord]:
        """Every record of one key, in order."""

    @abstractmethod
    def key_version(self, key: str) -> int:
        """How many records the key has (the version an append should expect)."""

    @abstractmethod
    def start(self) -> Position:
        """The position before the first record."""

    @abstractmethod
    def head(self) -> Position:
        """The position after the last record now in the log."""

    def parse_position(self, text: str) -> Position:
        """A position from the form people type (``selfeng state --at``)."""
        return parse_position(text)

    @abstractmethod
    def consumer(
        self,
        group: str,
        *,
        topics: Collection[str] | None = None,
        types: Collection[str] | None = None,
    ) -> GroupConsumer:
        """Join consumer group ``group``: it reads from the group's committed position."""

    def close(self) -> None:
        """Release connections and clients."""


def before_end(log: EventLog, last: int) -> Position:
    """A position about ``last`` records before the end of ``log`` (per partition on a
    partitioned log), for reading only the newest records."""
    head = log.head()
    if isinstance(head, GlobalPosition):
        return GlobalPosition(max(0, head.offset - last))
    if isinstance(head, PartitionPosition):
        return PartitionPosition({tp: max(0, o - last) for tp, o in head.offsets.items()})
    return log.start()
