"""Log records as Kafka messages and back: headers, decoding, and what readers dedupe on.

A record's value is ``NewRecord.data``, its key the record's key (UTF-8), its timestamp
``timestamp_ms``; the headers ``type``, ``schema_version`` and ``event_id`` (16 raw bytes) let
readers place a record without parsing it. A message from a foreign client without headers
is still decoded (never dropped): see ``decode``. Nothing here talks to a broker.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from selfeng.core.records import NewRecord, StoredRecord


def record_headers(record: NewRecord) -> list[tuple[str, bytes]]:
    """The Kafka headers that carry a record's type, schema version and event id."""
    return [
        ("type", record.type.encode("utf-8")),
        ("schema_version", str(record.version).encode("ascii")),
        ("event_id", record.event_id),
    ]


def stored(record: NewRecord, partition: int, offset: int) -> StoredRecord:
    """``record`` as stored at ``partition``/``offset``."""
    return StoredRecord(
        record.event_id,
        record.topic,
        record.key,
        record.type,
        record.version,
        record.data,
        record.timestamp_ms,
        partition,
        offset,
    )


def decode(topic: str, message: Any) -> StoredRecord:
    """A record from a consumed Kafka message of logical ``topic``; never raises.

    Messages written by this adapter carry ``type``, ``schema_version`` and ``event_id``
    headers. For a message from a foreign client the missing fields come from its JSON value
    when it parses, else type ``""``, version 0 and an event id derived from where the
    message is, so that the consumer of records can dead-letter it rather than lose it.
    """
    headers: dict[str, bytes] = {}
    for name, value in message.headers or ():
        headers[name] = value
    type_raw = headers.get("type")
    version_raw = headers.get("schema_version")
    event_id = headers.get("event_id")
    data: bytes = message.value if message.value is not None else b""
    key_raw: bytes | None = message.key
    key = key_raw.decode("utf-8", "replace") if key_raw is not None else None
    record_type: str | None = None
    version: int | None = None
    if type_raw is not None:
        try:
            record_type = type_raw.decode("utf-8")
        except UnicodeDecodeError:
            record_type = None
    if version_raw is not None:
        try:
            version = int(version_raw)
        except ValueError:
            version = None
    if event_id is not None and len(event_id) != 16:
        event_id = None
    if record_type is None or version is None or event_id is None or key is None:
        body = _json_object(data)
        if record_type is None:
            value = body.get("type")
            record_type = value if isinstance(value, str) else ""
        if version is None:
            value = body.get("schema_version")
            version = value if isinstance(value, int) and not isinstance(value, bool) else 0
        if event_id is None:
            event_id = _uuid_bytes(body.get("event_id"))
        if event_id is None:
            from selfeng.schemas.ids import derived_id

            event_id = derived_id("kafka", topic, str(message.partition), str(message.offset)).bytes
        if key is None:
            value = body.get("key")
            key = value if isinstance(value, str) else ""
    timestamp = message.timestamp if isinstance(message.timestamp, int) else 0
    return StoredRecord(
        event_id,
        topic,
        key,
        record_type,
        version,
        data,
        timestamp,
        message.partition,
        message.offset,
    )


def dedupe_key(message: Any, record: StoredRecord) -> bytes:
    """What readers deduplicate ``record`` on: its event id when a header carries it.

    A record whose id comes only from its body (a foreign client's, or one derived from
    where it is) is unverified until the consumer of records decodes it: a bad record must
    not suppress a later valid one that carries the same id. So its key is the id plus a
    digest of its bytes, and it is a duplicate only of an identical record (a client's
    retry), never of a record with other content.
    """
    for name, value in message.headers or ():
        if name == "event_id" and value is not None and len(value) == 16:
            return record.event_id
    return record.event_id + hashlib.blake2b(record.data, digest_size=8).digest()


_OWN_HEADERS = ("type", "schema_version", "event_id")
_NAMES_KEPT = 1024
_type_names: dict[bytes, str | None] = {}
_versions: dict[bytes, int | None] = {}


def keyed_records(
    messages: list[Any], to_logical: Callable[[str], str], types: set[str] | None
) -> list[tuple[bytes, StoredRecord]]:
    """Each message (of the broker topic ``to_logical`` names) as a record of one of
    ``types`` (any type for None), with the key readers deduplicate it on.

    A message this adapter wrote (its three headers, in order, and a key) is placed from
    its headers without the general ``decode``, with the type and version bytes read once
    per process: the read is the Python client's per-message work plus this, so this must
    cost little. Anything else takes ``decode`` and ``dedupe_key``, as before."""
    out = []
    logical: dict[str, str] = {}
    for m in messages:
        headers = m.headers
        key_raw = m.key
        if (
            key_raw is not None
            and headers is not None
            and len(headers) == 3
            and (headers[0][0], headers[1][0], headers[2][0]) == _OWN_HEADERS
        ):
            (_, type_raw), (_, version_raw), (_, event_id) = headers
            record_type = _type_name(type_raw) if type(type_raw) is bytes else None
            version = _version(version_raw) if type(version_raw) is bytes else None
            if (
                record_type is not None
                and version is not None
                and type(event_id) is bytes
                and len(event_id) == 16
            ):
                if types is not None and record_type not in types:
                    continue
                topic = logical.get(m.topic)
                if topic is None:
                    topic = logical[m.topic] = to_logical(m.topic)
                timestamp = m.timestamp
                record = StoredRecord(
                    event_id,
                    topic,
                    key_raw.decode("utf-8", "replace"),
                    record_type,
                    version,
                    m.value if m.value is not None else b"",
                    timestamp if isinstance(timestamp, int) else 0,
                    m.partition,
                    m.offset,
                )
                out.append((event_id, record))
                continue
        record = decode(to_logical(m.topic), m)
        if types is None or record.type in types:
            out.append((dedupe_key(m, record), record))
    return out


def _type_name(raw: bytes) -> str | None:
    """A ``type`` header's text (None when it is not UTF-8), remembered for the few names
    a log has (a client that sends many different ones is read without the memory)."""
    try:
        return _type_names[raw]
    except KeyError:
        pass
    try:
        name: str | None = raw.decode("utf-8")
    except UnicodeDecodeError:
        name = None
    if len(_type_names) < _NAMES_KEPT:
        _type_names[raw] = name
    return name


def _version(raw: bytes) -> int | None:
    """A ``schema_version`` header's number (None when it is not one), remembered."""
    try:
        return _versions[raw]
    except KeyError:
        pass
    try:
        version: int | None = int(raw)
    except ValueError:
        version = None
    if len(_versions) < _NAMES_KEPT:
        _versions[raw] = version
    return version


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def _uuid_bytes(value: object) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value).bytes
    except ValueError:
        return None
