"""Event counts and throughput, for dashboards and ``selfeng log stats``.

A record projection: it counts every record in the log, valid or not, without decoding it.
Throughput is kept as per-minute counts by event time for the last day of the log, so the
state stays small however long the log grows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import repeat
from operator import attrgetter, floordiv
from typing import TypedDict

from selfeng.core.records import StoredRecord
from selfeng.projections.base import FoldContext, RecordProjection

WINDOW_MINUTES = 24 * 60

_TYPE, _TOPIC, _TIME = attrgetter("type"), attrgetter("topic"), attrgetter("timestamp_ms")
_SMALL = 16  # records in a batch up to which counting in a loop is cheaper than Counters


class EventCountsState(TypedDict):
    """Counts per type and topic, the time span, and recent per-minute counts.

    In memory ``per_minute`` is keyed by the minute as an int; stored, by its string.
    """

    total: int
    by_type: dict[str, int]
    by_topic: dict[str, int]
    first_ms: int | None
    last_ms: int | None
    per_minute: dict[int, int]


class EventCounts(RecordProjection[EventCountsState]):
    """Counts of records per type and per topic, and throughput per minute."""

    name = "events"
    version = 1

    def initial(self) -> EventCountsState:
        return EventCountsState(
            total=0, by_type={}, by_topic={}, first_ms=None, last_ms=None, per_minute={}
        )

    def apply(
        self, state: EventCountsState, record: StoredRecord, ctx: FoldContext
    ) -> EventCountsState:
        return self.apply_batch(state, (record,), ctx)

    def apply_batch(
        self, state: EventCountsState, records: Sequence[StoredRecord], ctx: FoldContext
    ) -> EventCountsState:
        # This fold sees every record of a replay: counted a batch at a time in C (Counter,
        # map), not a record at a time in Python (that was a tenth of a replay's time).
        if not records:
            return state
        if len(records) <= _SMALL:
            return self._few(state, records)
        by_type, by_topic, per_minute = state["by_type"], state["by_topic"], state["per_minute"]
        for type_name, count in Counter(map(_TYPE, records)).items():
            type_name = type_name or "(no type)"
            by_type[type_name] = by_type.get(type_name, 0) + count
        for topic, count in Counter(map(_TOPIC, records)).items():
            by_topic[topic] = by_topic.get(topic, 0) + count
        times = list(map(_TIME, records))
        first, last = state["first_ms"], state["last_ms"]
        state["first_ms"] = min(times) if first is None else min(first, *times)
        state["last_ms"] = newest = max(times) if last is None else max(last, *times)
        newest_minute = newest // 60_000
        if last is not None and newest_minute > last // 60_000:
            self._trim(per_minute, newest_minute)
        # the minutes within the window of the newest record: the same buckets, whatever
        # order the records came in (one older than the window is counted, not in throughput)
        oldest = newest_minute - WINDOW_MINUTES
        for minute, count in Counter(map(floordiv, times, repeat(60_000))).items():
            if minute > oldest:
                per_minute[minute] = per_minute.get(minute, 0) + count
        state["total"] += len(records)
        return state

    def _few(self, state: EventCountsState, records: Sequence[StoredRecord]) -> EventCountsState:
        """``apply_batch`` for the request path's few records at a time, where building three
        Counters cost more than counting in a loop (34 µs a cached answer, against 13)."""
        by_type, by_topic, per_minute = state["by_type"], state["by_topic"], state["per_minute"]
        first, last = state["first_ms"], state["last_ms"]
        newest = max(r.timestamp_ms for r in records)
        if last is not None and newest < last:
            newest = last
        newest_minute = newest // 60_000
        if last is not None and newest_minute > last // 60_000:
            self._trim(per_minute, newest_minute)
        oldest = newest_minute - WINDOW_MINUTES
        for record in records:
            type_name = record.type or "(no type)"
            by_type[type_name] = by_type.get(type_name, 0) + 1
            by_topic[record.topic] = by_topic.get(record.topic, 0) + 1
            at = record.timestamp_ms
            if first is None or at < first:
                first = at
            minute = at // 60_000
            if minute > oldest:
                per_minute[minute] = per_minute.get(minute, 0) + 1
        state["first_ms"], state["last_ms"] = first, newest
        state["total"] += len(records)
        return state

    @staticmethod
    def _trim(per_minute: dict[int, int], newest_minute: int) -> None:
        # Whatever the interleaving of keys, the buckets kept are exactly the minutes within
        # the window of the newest event seen, so the state does not depend on fold order.
        oldest = newest_minute - WINDOW_MINUTES
        for bucket in [b for b in per_minute if b <= oldest]:
            del per_minute[bucket]

    def dump(self, state: EventCountsState) -> dict[str, object]:
        return {**state, "per_minute": {str(m): n for m, n in sorted(state["per_minute"].items())}}

    def load(self, data: dict[str, object]) -> EventCountsState:
        loaded: EventCountsState = data  # type: ignore[assignment]
        loaded["per_minute"] = {int(m): n for m, n in loaded["per_minute"].items()}
        return loaded


def recent_rate(state: EventCountsState, minutes: int = 5) -> float:
    """Events per second over the last ``minutes`` minutes of the log's own time."""
    if state["last_ms"] is None:
        return 0.0
    newest = state["last_ms"] // 60_000
    count = sum(n for m, n in state["per_minute"].items() if int(m) > newest - minutes)
    return count / (minutes * 60)
