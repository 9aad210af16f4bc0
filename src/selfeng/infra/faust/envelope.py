"""Log records packed into one message of the fold topic, and back (no broker, no faust).

The route agent reads the log's partitioned topics and forwards what it read, in order, to
the single-partition fold topic; several records travel in one message (one send per batch
rather than per record, which matters with ``producer_max_batch_size=1``). A message's value
is a JSON list, one entry per record::

    [logical topic, partition, offset, key, type, schema version, event id (hex),
     timestamp ms, data (its bytes as Latin-1 text), dedupe key (hex)]

Latin-1 maps each byte to one character and back, so ``data`` survives exactly whatever its
bytes are (a foreign client's record need not be UTF-8). The dedupe key is what the Kafka
log's readers drop copies on (``kafka_records.dedupe_key``): computed where the Kafka
headers are still at hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import orjson

from selfeng.core.records import StoredRecord


def pack(records: Iterable[tuple[bytes, StoredRecord]]) -> bytes:
    """One fold-topic message holding ``(dedupe key, record)`` pairs, in order."""
    return orjson.dumps(
        [
            [
                r.topic,
                r.partition,
                r.offset,
                r.key,
                r.type,
                r.version,
                r.event_id.hex(),
                r.timestamp_ms,
                r.data.decode("latin-1"),
                key.hex(),
            ]
            for key, r in records
        ]
    )


def unpack(value: bytes) -> list[tuple[bytes, StoredRecord]]:
    """The ``(dedupe key, record)`` pairs of a message ``pack`` made."""
    entries: Sequence[list[object]] = orjson.loads(value)
    out = []
    for topic, partition, offset, key, type_, version, event_id, ts, data, dedupe in entries:
        record = StoredRecord(
            bytes.fromhex(str(event_id)),
            str(topic),
            str(key),
            str(type_),
            int(version),  # type: ignore[call-overload]
            str(data).encode("latin-1"),
            int(ts),  # type: ignore[call-overload]
            int(partition),  # type: ignore[call-overload]
            int(offset),  # type: ignore[call-overload]
        )
        out.append((bytes.fromhex(str(dedupe)), record))
    return out
