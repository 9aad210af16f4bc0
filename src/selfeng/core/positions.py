"""Positions: opaque cursors into a log, storable with a checkpoint.

The embedded and in-memory logs have one global order, so a position is one integer: the
offset of the last record read. Kafka orders records only within a partition, so there a
position is the next offset to read in every partition. Both are immutable and turn into
JSON and back, so a checkpoint stores whichever the log gives.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from selfeng.core.records import StoredRecord


class Position(ABC):
    """Where a reader is in a log: every record it covers has been read."""

    @abstractmethod
    def covers(self, record: StoredRecord) -> bool:
        """Whether ``record`` is at or before this position."""

    @abstractmethod
    def advanced(self, records: Iterable[StoredRecord]) -> Position:
        """The position after also reading ``records``."""

    @abstractmethod
    def events_to(self, later: Position) -> int:
        """How many records lie between this position and a later one."""

    @abstractmethod
    def is_at_or_after(self, other: Position) -> bool:
        """Whether this position covers everything ``other`` covers."""

    @abstractmethod
    def earliest(self, other: Position) -> Position:
        """The position covering only what both cover (where to start reading for both)."""

    @abstractmethod
    def latest(self, other: Position) -> Position:
        """The position covering what either covers."""

    @abstractmethod
    def to_json(self) -> dict[str, Any]:
        """A JSON-able form, read back by ``position_from_json``."""

    @abstractmethod
    def __str__(self) -> str:
        """The form people type (``selfeng state --at``)."""


@dataclass(frozen=True, slots=True)
class GlobalPosition(Position):
    """A position in a log with one global order: the offset of the last record read."""

    offset: int = 0

    def covers(self, record: StoredRecord) -> bool:
        return record.offset <= self.offset

    def advanced(self, records: Iterable[StoredRecord]) -> GlobalPosition:
        last = self.offset
        for record in records:
            last = max(last, record.offset)
        return GlobalPosition(last)

    def events_to(self, later: Position) -> int:
        assert isinstance(later, GlobalPosition), "positions of different logs"
        return max(0, later.offset - self.offset)

    def is_at_or_after(self, other: Position) -> bool:
        assert isinstance(other, GlobalPosition), "positions of different logs"
        return self.offset >= other.offset

    def earliest(self, other: Position) -> GlobalPosition:
        assert isinstance(other, GlobalPosition), "positions of different logs"
        return self if self.offset <= other.offset else other

    def latest(self, other: Position) -> GlobalPosition:
        assert isinstance(other, GlobalPosition), "positions of different logs"
        return self if self.offset >= other.offset else other

    def to_json(self) -> dict[str, Any]:
        return {"kind": "global", "offset": self.offset}

    def __str__(self) -> str:
        return str(self.offset)


@dataclass(frozen=True)
class PartitionPosition(Position):
    """A position in a partitioned log: the next offset to read, per (topic, partition).

    A partition that is absent has not been read at all (next offset 0).
    """

    offsets: Mapping[tuple[str, int], int] = field(default_factory=dict)

    def next_offset(self, topic: str, partition: int) -> int:
        """The next offset to read in one partition."""
        return self.offsets.get((topic, partition), 0)

    def covers(self, record: StoredRecord) -> bool:
        return record.offset < self.offsets.get((record.topic, record.partition), 0)

    def advanced(self, records: Iterable[StoredRecord]) -> PartitionPosition:
        offsets = dict(self.offsets)
        for r in records:
            tp = (r.topic, r.partition)
            if r.offset + 1 > offsets.get(tp, 0):
                offsets[tp] = r.offset + 1
        return PartitionPosition(offsets)

    def events_to(self, later: Position) -> int:
        assert isinstance(later, PartitionPosition), "positions of different logs"
        return sum(max(0, offset - self.offsets.get(tp, 0)) for tp, offset in later.offsets.items())

    def is_at_or_after(self, other: Position) -> bool:
        assert isinstance(other, PartitionPosition), "positions of different logs"
        return all(self.offsets.get(tp, 0) >= off for tp, off in other.offsets.items())

    def earliest(self, other: Position) -> PartitionPosition:
        assert isinstance(other, PartitionPosition), "positions of different logs"
        keys = set(self.offsets) | set(other.offsets)
        return PartitionPosition(
            {tp: min(self.offsets.get(tp, 0), other.offsets.get(tp, 0)) for tp in keys}
        )

    def latest(self, other: Position) -> PartitionPosition:
        assert isinstance(other, PartitionPosition), "positions of different logs"
        keys = set(self.offsets) | set(other.offsets)
        return PartitionPosition(
            {tp: max(self.offsets.get(tp, 0), other.offsets.get(tp, 0)) for tp in keys}
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "partitions",
            "offsets": {f"{t}:{p}": o for (t, p), o in sorted(self.offsets.items())},
        }

    def __str__(self) -> str:
        return ",".join(f"{t}:{p}={o}" for (t, p), o in sorted(self.offsets.items())) or "start"

    def __hash__(self) -> int:
        # worked out once: a save hashes each checkpoint's position (the positions of one
        # runner's projections are one object), and sorting 24 partitions each time cost a
        # PostgreSQL save of 1,000 checkpoints a seventh of its time
        cached: int | None = self.__dict__.get("_hash")
        if cached is None:
            cached = hash(tuple(sorted(self.offsets.items())))
            object.__setattr__(self, "_hash", cached)
        return cached

    def __getstate__(self) -> dict[str, Any]:
        return {"offsets": self.offsets}  # a str hash differs between processes


def position_from_json(data: Mapping[str, Any]) -> Position:
    """Read a position back from ``Position.to_json``."""
    kind = data.get("kind")
    if kind == "global":
        return GlobalPosition(int(data["offset"]))
    if kind == "partitions":
        offsets: dict[tuple[str, int], int] = {}
        for tp, offset in data["offsets"].items():
            topic, _, partition = tp.rpartition(":")
            offsets[(topic, int(partition))] = int(offset)
        return PartitionPosition(offsets)
    raise ValueError(f"not a position: {data!r}")


def parse_position(text: str) -> Position:
    """Parse the form people type: ``1234`` or ``topic:0=12,topic:1=7``."""
    text = text.strip()
    if text.isdigit():
        return GlobalPosition(int(text))
    offsets: dict[tuple[str, int], int] = {}
    for part in text.split(","):
        tp, eq, offset = part.partition("=")
        topic, colon, partition = tp.rpartition(":")
        if not (eq and colon and partition.isdigit() and offset.strip().isdigit()):
            raise ValueError(
                f"not a position: {text!r} (expected an integer, or topic:partition=offset,...)"
            )
        offsets[(topic.strip(), int(partition))] = int(offset)
    return PartitionPosition(offsets)


def after_appended(position: Position, records: Sequence[StoredRecord]) -> Position | None:
    """The position after ``records`` when they are the next records from ``position``: the
    next offsets of a log with one global order, or of each record's partition (another
    process's record in between, a transaction's marker or a producer's retried copy is a
    gap: None, and the records are read back from the log)."""
    if not records:
        return None
    if isinstance(position, GlobalPosition):
        first = position.offset + 1
        for expected, record in enumerate(records, first):
            if record.offset != expected:
                return None
        return GlobalPosition(first + len(records) - 1)
    if isinstance(position, PartitionPosition):
        offsets = dict(position.offsets)
        for record in records:
            where = (record.topic, record.partition)
            if record.offset != offsets.get(where, 0):
                return None
            offsets[where] = record.offset + 1
        return PartitionPosition(offsets)
    return None
