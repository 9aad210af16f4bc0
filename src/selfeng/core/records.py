"""Plain log records: what the log stores, independent of the event schemas.

The log never imports the schemas (``selfeng.core.mapper`` turns events into records and
back), so a record is only bytes with the few fields the log needs to place and find it.
"""

from __future__ import annotations

from typing import NamedTuple

# Named tuples rather than dataclasses: the SQLite adapter binds them to statements as they are
# and builds them from rows with one C call, which matters at hundreds of thousands per second.


class NewRecord(NamedTuple):
    """A record to append. Field order is the SQLite log's column order."""

    event_id: bytes
    """The event's 16-byte id; appends are idempotent on it."""
    topic: str
    """The topic (one per event family)."""
    key: str
    """The entity key; on Kafka, the partition key."""
    type: str
    """The event type name, readable without decoding ``data``."""
    version: int
    """The schema version ``data`` was written with."""
    data: bytes
    """The whole event as JSON."""
    timestamp_ms: int
    """When the event occurred, Unix milliseconds."""


class StoredRecord(NamedTuple):
    """A record read from the log, with its place in it: a NewRecord plus partition and offset."""

    event_id: bytes
    """The event's 16-byte id."""
    topic: str
    """The topic."""
    key: str
    """The entity key."""
    type: str
    """The event type name."""
    version: int
    """The schema version of ``data``."""
    data: bytes
    """The whole event as JSON."""
    timestamp_ms: int
    """When the event occurred, Unix milliseconds."""
    partition: int
    """The partition of ``topic`` it is in (always 0 on a log with one global order)."""
    offset: int
    """Its place: the offset in its partition, or the global position on the embedded log."""

    @property
    def source(self) -> str:
        """Where it is, for people and for dead letters: ``topic/partition@offset``."""
        return f"{self.topic}/{self.partition}@{self.offset}"
