"""Reading Kafka partitions from given offsets to their end, with one assigned consumer.

The end of a partition is its high watermark as of the first fetch, taken from the fetch
response: some brokers (tansu) answer ListOffsets (``end_offsets()``) with an offset lower
than the true end when the last batch holds several records, so a scan never relies on it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from kafka.errors import OffsetOutOfRangeError
from kafka.structs import TopicPartition

from selfeng.core.log import LogError

STALL_SECONDS = 30.0
"""A read that makes no progress this long fails (the broker stopped answering)."""
COMMITTED_STALL_SECONDS = 2.0
"""With transactions, a read stuck this long below the high watermark ends there: the rest
belongs to a transaction that is still open."""


class Scan:
    """One assigned consumer reading partitions from given offsets to their end.

    The end of a partition is its high watermark at the first fetch (or ``bounds``, when
    lower). Offsets of transaction markers and other gaps are skipped using the consumer's
    own position.
    """

    def __init__(
        self,
        consumer: Any,
        starts: Mapping[TopicPartition, int],
        bounds: Mapping[TopicPartition, int] | None,
        isolation: str,
    ) -> None:
        self._consumer = consumer
        self._committed = isolation == "read_committed"
        self.next: dict[TopicPartition, int] = dict(starts)
        self._limit: dict[TopicPartition, int | None] = {
            tp: bounds.get(tp) if bounds is not None else None for tp in starts
        }
        self._end: dict[TopicPartition, int | None] = dict.fromkeys(starts)
        self._active = set(starts)
        self._progress = time.monotonic()
        if not starts:
            return
        consumer.assign(list(starts))
        done = []
        for tp, offset in starts.items():
            limit = self._limit[tp]
            if limit is not None and offset >= limit:
                done.append(tp)
            consumer.seek(tp, offset)
        self._finish(done)

    @property
    def finished(self) -> bool:
        """Whether every partition is read to its end."""
        return not self._active

    def _finish(self, tps: Iterable[TopicPartition]) -> None:
        tps = [tp for tp in tps if tp in self._active]
        if tps:
            self._active.difference_update(tps)
            self._consumer.pause(*tps)

    def poll(self, max_records: int, timeout_ms: int = 2) -> list[Any]:
        """The next messages (at most ``max_records``) before the ends, in partition order."""
        if not self._active:
            return []
        got = self._consumer.poll(timeout_ms=timeout_ms, max_records=max(1, max_records))
        out: list[Any] = []
        moved: set[TopicPartition] = set()
        for tp, messages in got.items():
            if tp not in self._active:
                continue
            stop = self._stop(tp)
            nxt = self.next[tp]
            if (
                messages
                and messages[0].offset >= nxt
                and (stop is None or messages[-1].offset < stop)
            ):  # the usual case, all of them (offsets rise within a partition)
                out.extend(messages)
                nxt = messages[-1].offset + 1
                messages = ()
            for m in messages:
                if m.offset < nxt:
                    continue  # from before a seek
                if stop is not None and m.offset >= stop:
                    break
                out.append(m)
                nxt = m.offset + 1
            if nxt != self.next[tp]:
                self.next[tp] = nxt
                moved.add(tp)
        finished = []
        for tp in list(self._active):
            if self._end[tp] is None:
                end = self._end[tp] = self._consumer.highwater(tp)
                if end is not None and self.next[tp] > end:
                    raise OffsetOutOfRangeError(
                        f"{tp.topic}/{tp.partition} ends at {end}, the read starts at "
                        f"{self.next[tp]}"
                    )
            stop = self._stop(tp)
            if stop is None or self._end[tp] is None:
                continue
            if self.next[tp] < stop and not got:
                # Transaction markers occupy offsets and yield no message: the consumer's
                # position is past them (asked only when a poll brought nothing, as asking
                # costs more than a poll).
                position = self._consumer.position(tp, timeout_ms=1000)
                if position is not None and position > self.next[tp]:
                    self.next[tp] = min(position, stop)
                    moved.add(tp)
            if self.next[tp] >= stop:
                finished.append(tp)
        self._finish(finished)
        now = time.monotonic()
        if moved or finished:
            self._progress = now
        elif now - self._progress > (COMMITTED_STALL_SECONDS if self._committed else STALL_SECONDS):
            stuck = sorted(f"{tp.topic}/{tp.partition}@{self.next[tp]}" for tp in self._active)
            if self._committed and all(self._end[tp] is not None for tp in self._active):
                # The rest is an open transaction: not in the log yet as of this read.
                self._finish(list(self._active))
            else:
                raise LogError(f"reading from Kafka made no progress at {', '.join(stuck)}")
        return out

    def _stop(self, tp: TopicPartition) -> int | None:
        end, limit = self._end[tp], self._limit[tp]
        if end is None:
            return limit
        return end if limit is None else min(end, limit)
