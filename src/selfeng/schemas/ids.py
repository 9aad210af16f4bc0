"""Time-ordered event ids (UUIDv7, RFC 9562) and deterministic ids for derived records."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid

_RAND_BITS = 74
_RAND_MASK = (1 << _RAND_BITS) - 1
_lock = threading.Lock()
_last_ms = 0
_last_rand = 0


def uuid7() -> uuid.UUID:
    """A new UUIDv7: 48 bits of Unix milliseconds, then 74 random bits.

    Ids from one process are strictly increasing (RFC 9562 "monotonic random", method 2):
    within one millisecond the random part is incremented instead of redrawn, and a clock
    that steps backwards is ignored. Time order keeps the log's unique index append-only,
    which is what keeps batched appends fast once the table is large.
    """
    global _last_ms, _last_rand
    ms = time.time_ns() // 1_000_000
    with _lock:
        if ms > _last_ms:
            # Leave the top bit clear so increments within this millisecond cannot overflow.
            rand = int.from_bytes(os.urandom(10), "big") & (_RAND_MASK >> 1)
        else:
            ms = _last_ms
            rand = _last_rand + 1 + (os.urandom(1)[0] & 0x0F)
            if rand > _RAND_MASK:
                ms += 1
                rand = int.from_bytes(os.urandom(10), "big") & (_RAND_MASK >> 1)
        _last_ms, _last_rand = ms, rand
    return _pack(ms, rand)


def _pack(ms: int, rand: int) -> uuid.UUID:
    """A UUIDv7 from 48 bits of milliseconds and 74 random bits (version and variant set)."""
    value = (
        (ms & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76
        | (rand >> 62) << 64
        | 0b10 << 62
        | (rand & ((1 << 62) - 1))
    )
    return uuid.UUID(int=value)


def uuid7_time_ms(value: uuid.UUID) -> int:
    """The Unix time in milliseconds carried by a UUIDv7."""
    return value.int >> 80


_DERIVED_NAMESPACE = uuid.UUID("6f1c2d9e-52a7-4b8e-9a51-0c1f5e7d3b21")


def derived_id(*parts: str) -> uuid.UUID:
    """A deterministic id for a record derived from others (a dead letter for a given offset).

    Appending the same derived record twice is then a no-op on logs that are idempotent on
    ``event_id``, so a consumer that crashes and re-reads cannot duplicate it.
    """
    return uuid.uuid5(_DERIVED_NAMESPACE, "\x1f".join(parts))


def derived_uuid7(ms: int, *parts: str) -> uuid.UUID:
    """A UUIDv7 whose time is ``ms`` and whose other bits are a hash of ``parts``.

    For events a handler derives from another: handling the same input again gives the same
    ids, so appending its output twice stores it once, while the ids still sort by time.
    """
    digest = int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:10], "big")
    rand = digest & _RAND_MASK
    return _pack(ms, rand)
