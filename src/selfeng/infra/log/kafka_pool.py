"""Long-lived group-less consumers for a Kafka log's reads, lent to one user at a time.

Opening a kafka-python consumer costs a connection, a bootstrap and a metadata round trip
(10-25 ms on a local broker, and an I/O thread), so a log keeps the consumers its reads
use (``read``, ``head``, ``stream``, ``key_version``, ``wait_for_append``, ``follow``) and
lends them out (``KafkaClients.borrow``): ``ConsumerPool.take`` gives a consumer with
nothing assigned, the caller assigns and seeks, and ``give_back`` unassigns it and keeps it
for the next caller (a consumer whose use failed is closed instead).

Why a pool and not one consumer behind a lock, or one per thread. A kafka-python consumer
is not thread-safe, and the log is used from several threads at once (a worker's request
handler and learners). One consumer behind a lock would make a short read in the request
path wait for a long replay in a learner, and a read is a generator: one left unfinished
would hold the lock until it is collected. A consumer per thread breaks when a generator
moves between threads or a read nests inside another in one thread. The pool lends each
borrower its own consumer, so nothing is shared while it is in use; it keeps at most
``MAX_IDLE`` idle consumers per kind (each holds a socket and an I/O thread), and closing
the log closes them all.

Reusing a consumer safely. A read ends at the high watermark the first fetch of *this* read
reports; a fetch sent during an earlier use, answered after it, would report an older one
(kafka-python keeps such answers, and accepts one whose offset matches a new seek). So a
consumer is lent only once it is settled: no fetch of its earlier use is still in flight
(each is answered within its fetch wait, 1 ms for reads), and the answers it buffered are
dropped. Unassigning on return gives every partition fresh state on the next assignment
(no paused flag, no high watermark). That uses kafka-python internals (its fetcher's
buffers and in-flight set, present in kafka-python 3.0); where they are missing, or a fetch
stays unanswered past ``SETTLE_SECONDS``, the consumer is closed and a new one is made:
slower, never wrong. Assignments always stay within the topics of the log, which a new
consumer is given at once, so lending it never asks the broker for metadata again.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

MAX_IDLE = 4
"""Idle consumers a pool keeps per kind; more are closed when given back."""
SPARE = 2
"""Consumers of a kind a pool opens before it waits for an idle one to settle: a consumer
given back has usually just sent one more fetch (kafka-python fetches ahead), so a caller
right behind the last one takes the other, settled meanwhile, instead of waiting."""
SETTLE_SECONDS = 2.0
"""How long lending waits for a consumer's last fetch to be answered before replacing it."""

_BUFFERS = ("_completed_fetches", "_paused_completed_fetches", "_paused_partition_records")


def _fetcher(consumer: Any) -> Any:
    """``consumer``'s fetcher when it has the internals settling needs (else None)."""
    fetcher = getattr(consumer, "_fetcher", None)
    if not isinstance(getattr(fetcher, "_nodes_with_pending_fetch_requests", None), set):
        return None
    if any(getattr(fetcher, name, None) is None for name in _BUFFERS):
        return None
    return fetcher


def quiet(consumer: Any) -> bool:
    """Whether no fetch of ``consumer`` is in flight (False when that cannot be known)."""
    fetcher = _fetcher(consumer)
    return fetcher is not None and not fetcher._nodes_with_pending_fetch_requests


def settle(consumer: Any, timeout: float) -> bool:
    """Wait until no fetch of ``consumer`` is in flight, then drop what it buffered.

    False when that cannot be done (kafka-python internals differ from 3.0's, or a fetch
    is not answered within ``timeout`` seconds): the consumer must not be reused then.
    """
    fetcher = _fetcher(consumer)
    if fetcher is None:
        return False
    pending: set[Any] = fetcher._nodes_with_pending_fetch_requests
    deadline = time.monotonic() + timeout
    # A fetch's answer is buffered before its node leaves the pending set (kafka-python
    # runs the response callback, then the one that clears the node).
    while pending:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.0002)
    for parked in list(fetcher._paused_partition_records.values()):
        with contextlib.suppress(Exception):
            parked.drain()
    current = getattr(fetcher, "_next_partition_records", None)
    if current is not None:
        with contextlib.suppress(Exception):
            current.drain()
        fetcher._next_partition_records = None
    for name in _BUFFERS:
        getattr(fetcher, name).clear()
    fetcher._next_in_line_exception_metadata = None
    return True


def release(consumer: Any) -> bool:
    """Unassign ``consumer`` (no more fetches; fresh partition state on the next assign);
    False when that failed."""
    try:
        consumer.unsubscribe()
    except Exception:
        return False
    return True


def close_consumer(consumer: Any) -> None:
    """Close a kafka-python consumer without committing, whatever state it is in."""
    with contextlib.suppress(Exception):
        consumer.close(autocommit=False)


class ConsumerPool:
    """Idle consumers by kind (a hashable name of their configuration), lent one at a time.

    ``make(kind)`` opens a new consumer of a kind (with the log's topics assigned once, so
    that later assignments need no metadata); the pool settles, lends, takes back and
    closes them. Thread-safe.
    """

    def __init__(self, make: Callable[[Hashable], Any]) -> None:
        self._make = make
        self._idle: dict[Hashable, list[Any]] = {}
        self._live: dict[Hashable, int] = {}  # consumers of each kind, lent or idle
        self._lock = threading.Lock()
        self._closed = False
        self.opened = 0
        """How many consumers the pool has opened (for tests and benchmarks)."""

    def take(self, kind: Hashable, patience: float = SETTLE_SECONDS) -> Any:
        """A settled consumer of ``kind`` with nothing assigned: an idle one whose last fetch
        is answered; else a new one while fewer than ``SPARE`` are open; else an idle one
        waited for up to ``patience`` seconds; else a new one."""
        with self._lock:
            idle = self._idle.get(kind, [])
            ready = next((c for c in idle if quiet(c)), None)
            if ready is not None:
                idle.remove(ready)
            elif idle and self._live.get(kind, 0) >= SPARE:
                ready = idle.pop()
        if ready is not None:
            if settle(ready, patience):
                return ready
            self._close(kind, ready)
        consumer = self._make(kind)
        with self._lock:
            self.opened += 1
            self._live[kind] = self._live.get(kind, 0) + 1
        return consumer

    def _close(self, kind: Hashable, consumer: Any) -> None:
        with self._lock:
            self._live[kind] = self._live.get(kind, 1) - 1
        close_consumer(consumer)

    def give_back(self, kind: Hashable, consumer: Any, reusable: bool = True) -> None:
        """Keep ``consumer`` for the next borrower of ``kind`` (closed instead when it is not
        ``reusable``, could never be settled, cannot be unassigned, or the pool is full or
        closed)."""
        if reusable and _fetcher(consumer) is not None and release(consumer):
            with self._lock:
                idle = self._idle.setdefault(kind, [])
                if not self._closed and len(idle) < MAX_IDLE:
                    idle.append(consumer)
                    return
        self._close(kind, consumer)

    def close(self) -> None:
        """Close the idle consumers; consumers given back later are closed too."""
        with self._lock:
            self._closed = True
            idle = [c for kind in self._idle.values() for c in kind]
            self._idle.clear()
        for consumer in idle:
            close_consumer(consumer)
