"""Dropping duplicate copies of an event on a Kafka log, within a bounded window.

Kafka cannot reject a record whose event id it already holds, so a Kafka log drops copies
itself (the module docstring of ``selfeng.infra.log.kafka`` states the guarantee):

- each reader remembers the last ``dedupe_window`` ids it delivered (a ``DedupeWindow``)
  and skips a later copy of one of them;
- the process remembers where it saw each id first, appended or read (``KnownIds``), so
  every reader in it skips a copy that comes after the one it knows in the partition (and
  delivers one that comes before: that is the first copy), and the appender does not send
  an id again;
- a process that starts reading a partition after its beginning first reads back the
  ``dedupe_lookback`` records before that point, once, only to remember their ids
  (``KnownIds.look_back``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Generic, TypeVar

from kafka.structs import TopicPartition

from selfeng.core.records import StoredRecord
from selfeng.infra.log.kafka_clients import KafkaClients
from selfeng.infra.log.kafka_records import keyed_records
from selfeng.infra.log.kafka_scan import Scan

V = TypeVar("V")

Location = tuple[str, int, int]
"""Where a record is: (logical topic, partition, offset)."""


class DedupeWindow(Generic[V]):
    """The last ``size`` event ids seen, each with a value (first in, first out)."""

    __slots__ = ("_items", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[bytes, V] = OrderedDict()

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._items

    def __len__(self) -> int:
        return len(self._items)

    def get(self, event_id: bytes) -> V | None:
        """The value stored with ``event_id``, if it is in the window."""
        return self._items.get(event_id)

    def replace(self, event_id: bytes, value: V) -> None:
        """Store ``value`` for an ``event_id`` in the window, keeping its place."""
        if event_id in self._items:
            self._items[event_id] = value

    def add(self, event_id: bytes, value: V) -> bool:
        """Remember ``event_id``; False when it was already in the window (kept as it was)."""
        items = self._items
        if event_id in items:
            return False
        items[event_id] = value
        if len(items) > self.size:
            items.popitem(last=False)
        return True


class KnownIds:
    """Where this process saw each event id first (appended or read), within the window.

    ``known`` is shared by the appender and every reader of one log; hold ``lock`` while
    using it.
    """

    def __init__(self, clients: KafkaClients) -> None:
        self._clients = clients
        self.lock = threading.Lock()
        self.known: DedupeWindow[Location] = DedupeWindow(clients.settings.dedupe_window)
        self._looked_back: set[TopicPartition] = set()
        self._lookback_lock = threading.Lock()

    def window(self) -> DedupeWindow[Location]:
        """A new window for one reader: the ids it has delivered."""
        return DedupeWindow(self._clients.settings.dedupe_window)

    def look_back(self, starts: Mapping[TopicPartition, int]) -> None:
        """Remember the ids of the ``dedupe_lookback`` records before each start, once per
        partition and process, so that a copy after the start is not delivered again.

        A process that resumes from a checkpoint has not seen what it folded before; without
        this, a duplicate whose first copy lies just before the checkpoint (a request
        re-handled after a crash) would be folded twice. Copies of one event share a key
        and a type, so they are in one partition, where every reader sees them in the same
        order: the first copy wins, live and in a replay alike.
        """
        clients = self._clients
        lookback = clients.settings.dedupe_lookback
        with self._lookback_lock:
            todo = {
                tp: max(0, offset - lookback)
                for tp, offset in starts.items()
                if offset > 0 and lookback and tp not in self._looked_back
            }
            self._looked_back.update(starts)
            if not todo:
                return
            with clients.errors("reading back before a start"), clients.borrow() as consumer:
                scan = Scan(consumer, todo, {tp: starts[tp] for tp in todo}, clients.isolation)
                while not scan.finished:
                    records = keyed_records(scan.poll(5000), clients.topics.to_logical, None)
                    with self.lock:
                        for key, r in records:
                            self.known.add(key, (r.topic, r.partition, r.offset))

    def fresh(
        self, records: list[tuple[bytes, StoredRecord]], window: DedupeWindow[Location]
    ) -> list[StoredRecord]:
        """The records a reader with ``window`` has not delivered yet (the dedupe window).

        A copy is skipped when this process knows the id from an earlier place in the same
        partition. Known from a *later* place (this process appended or read a later copy
        first: a producer's retry that the broker stored twice), the copy read now is the
        first in the log, so it is delivered and remembered instead: the first copy wins in
        every process, whatever each saw first.
        """
        out = []
        # the window's and the known ids' dicts directly: this runs once per record read
        delivered, seen = window._items, self.known._items
        delivered_max, seen_max = window.size, self.known.size
        with self.lock:
            for key, r in records:
                if key in delivered:
                    continue
                here = (r.topic, r.partition, r.offset)
                known = seen.get(key)
                if known is not None and known != here:
                    if known[0] != here[0] or known[1] != here[1] or known[2] < here[2]:
                        continue
                    seen[key] = here  # the copy read now is the first: it keeps its place
                delivered[key] = here
                if len(delivered) > delivered_max:
                    delivered.popitem(last=False)
                if known is None:
                    seen[key] = here
                    if len(seen) > seen_max:
                        seen.popitem(last=False)
                out.append(r)
        return out
