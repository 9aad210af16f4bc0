"""Server-Sent Events from the log, with bounded buffers.

One hub thread per server follows the log and offers each new record to every subscriber;
with none, it only looks where the log ends now and then, so an idle server reads nothing.
A subscriber buffers at most ``QUEUE_SIZE`` records; when it falls that far behind (a slow
reader), the hub stops offering it records instead of buffering more, and the subscriber
reads what it missed from the log itself, in batches it sends before reading the next, then
takes live records again. So memory per subscriber is bounded whatever the reader's speed,
and a slow reader loses nothing: the log is the buffer. Each event's ``id:`` is the log
position after it, so a client that reconnects with ``Last-Event-ID`` resumes after it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass

from anyio import to_thread

from selfeng.core.closing import Closeable
from selfeng.core.log import EventLog
from selfeng.core.positions import GlobalPosition, Position
from selfeng.core.records import StoredRecord

logger = logging.getLogger(__name__)

QUEUE_SIZE = 1000
"""Records a subscriber may have waiting before it is switched to reading the log itself."""
CATCH_UP_BATCH = 200
"""Records read from the log at a time by a subscriber catching up."""
HUB_WAIT_SECONDS = 0.01
"""On a log with one global order, how often the hub looks for new records."""
IDLE_SECONDS = 1.0
"""With no stream open, how often the hub looks at the end of the log (and nothing more)."""
KEEPALIVE_SECONDS = 15.0
"""A comment line is sent after this long without events, so proxies keep the stream open."""


@dataclass(frozen=True)
class StreamFilter:
    """Which records a subscriber wants (None: any)."""

    topics: frozenset[str] | None = None
    types: frozenset[str] | None = None
    keys: frozenset[str] | None = None

    def wants(self, record: StoredRecord) -> bool:
        """Whether the record passes every filter given."""
        return (
            (self.topics is None or record.topic in self.topics)
            and (self.types is None or record.type in self.types)
            and (self.keys is None or record.key in self.keys)
        )


class Subscriber:
    """One stream's bounded buffer, filled by the hub thread and drained by the stream."""

    def __init__(self, loop: asyncio.AbstractEventLoop, wanted: StreamFilter) -> None:
        self.loop = loop
        self.wanted = wanted
        self.buffer: deque[StoredRecord] = deque()
        self.lagging = False
        """Set when the buffer filled up: the hub offers nothing more until it is cleared."""
        self.lags = 0
        """How many times it fell behind and read from the log instead."""
        self.ready = asyncio.Event()
        self.lock = threading.Lock()

    def offer(self, records: Collection[StoredRecord]) -> None:
        """Called by the hub thread with each new batch of records."""
        wanted = [r for r in records if self.wanted.wants(r)]
        if not wanted:
            return
        with self.lock:
            if self.lagging:
                return
            room = QUEUE_SIZE - len(self.buffer)
            self.buffer.extend(wanted[:room])
            if len(wanted) > room:
                self.lagging = True
                self.lags += 1
        self.loop.call_soon_threadsafe(self.ready.set)

    def take(self) -> list[StoredRecord]:
        """What is buffered, emptying the buffer."""
        with self.lock:
            taken = list(self.buffer)
            self.buffer.clear()
        return taken


class EventHub(Closeable):
    """Follows the log on one thread and fans its new records out to the subscribers."""

    def __init__(self, log: EventLog, *, wait: float | None = None) -> None:
        """``wait``: the longest one wait for new records lasts. By default 10 ms on a log
        with one global order (SQLite polls, backing off to 50 ms within a longer wait) and
        0.5 s on Kafka, whose wait is a fetch that returns as soon as a record arrives."""
        self.log = log
        global_order = isinstance(log.start(), GlobalPosition)
        self._wait = wait if wait is not None else (HUB_WAIT_SECONDS if global_order else 0.5)
        self._subscribers: set[Subscriber] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start following the log from its current end."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="selfeng-sse", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        position = self.log.head()
        while not self._stop.is_set():
            try:
                if not self.subscribers:  # nobody listens: only a look at the end, now and then
                    head = self.log.head()
                    if not self.subscribers:  # a stream that subscribes from now on starts at
                        position = head  # or past this end, so skipping to it loses nothing
                        self._wake.wait(IDLE_SECONDS)
                        self._wake.clear()
                        continue
                for batch in self.log.read(position):
                    position = batch.position
                    if batch.records:
                        with self._lock:
                            subscribers = list(self._subscribers)
                        for subscriber in subscribers:
                            subscriber.offer(batch.records)
                self.log.wait_for_append(position, self._wait)
            except Exception:  # a log hiccup must not end the live feed for good
                logger.exception("the event hub failed reading the log; retrying")
                self._stop.wait(1.0)

    def subscribe(self, subscriber: Subscriber) -> None:
        """Start offering records to ``subscriber``."""
        with self._lock:
            self._subscribers.add(subscriber)
        self._wake.set()

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Stop offering records to ``subscriber``."""
        with self._lock:
            self._subscribers.discard(subscriber)

    @property
    def subscribers(self) -> int:
        """How many streams are open."""
        with self._lock:
            return len(self._subscribers)

    def close(self) -> None:
        """Stop the hub thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def sse_frame(record: StoredRecord, position: Position) -> bytes:
    """One record as an SSE message: ``id`` (the position after it), ``event`` (its type)
    and ``data`` (the event's JSON, one line)."""
    data = record.data.replace(b"\r", b"").replace(b"\n", b"")  # compact JSON has neither
    kind = record.type.replace("\n", " ") or "record"
    return b"id: %s\nevent: %s\ndata: %s\n\n" % (str(position).encode(), kind.encode(), data)


async def stream_events(
    hub: EventHub, wanted: StreamFilter, after: Position | None
) -> AsyncIterator[bytes]:
    """The SSE byte stream of the records after ``after`` (or from now on, when None)."""
    log = hub.log
    subscriber = Subscriber(asyncio.get_running_loop(), wanted)
    hub.subscribe(subscriber)  # before reading back: nothing appended meanwhile is missed
    try:
        position = after if after is not None else await to_thread.run_sync(log.head)
        yield b"retry: 2000\n: connected at %s\n\n" % str(position).encode()
        catching_up = after is not None
        while True:
            if catching_up:
                with subscriber.lock:  # from now on the hub offers again; older ones come
                    subscriber.lagging = False  # from the log and duplicates are skipped
                    subscriber.buffer.clear()
                position, sent, done = await _catch_up(log, wanted, position)
                for frame in sent:
                    yield frame  # sent before the next batch is read: bounded memory
                catching_up = not done
                continue
            try:
                await asyncio.wait_for(subscriber.ready.wait(), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            subscriber.ready.clear()
            for record in subscriber.take():
                if position.covers(record):
                    continue
                position = position.advanced([record])
                yield sse_frame(record, position)
            with subscriber.lock:
                catching_up = subscriber.lagging
    finally:
        hub.unsubscribe(subscriber)


async def _catch_up(
    log: EventLog, wanted: StreamFilter, position: Position
) -> tuple[Position, list[bytes], bool]:
    """Read the wanted records after ``position`` from the log until about
    ``CATCH_UP_BATCH`` frames are ready; returns the new position, the frames, and whether
    the end of the log was reached."""
    frames: list[bytes] = []

    def read_batch(start: Position) -> tuple[list[StoredRecord], Position, bool]:
        batches = log.read(
            start, topics=wanted.topics, types=wanted.types, batch_size=CATCH_UP_BATCH
        )
        try:
            batch = next(batches, None)
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()  # a Kafka read returns the consumer it borrowed
        if batch is None:
            return [], start, False
        return list(batch.records), batch.position, True

    while True:
        records, end, more = await to_thread.run_sync(read_batch, position)
        for record in records:
            if wanted.keys is not None and record.key not in wanted.keys:
                continue
            if position.covers(record):
                continue
            position = position.advanced([record])
            frames.append(sse_frame(record, position))
        if not more or len(frames) >= CATCH_UP_BATCH:
            return _later(position, end), frames, not more
        position = _later(position, end)


def _later(position: Position, end: Position) -> Position:
    """The later of two positions (a batch's end covers the records it skipped)."""
    return end if end.is_at_or_after(position) else position
