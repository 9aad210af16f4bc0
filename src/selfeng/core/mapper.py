"""The mapper: events to log records and back, and dead letters for what fails.

The log stores plain records and never imports the schemas; this is the one place that
knows both. Decoding brings old schema versions up to date through the upcasters and turns
anything it cannot read into a ``DecodeError`` that says why, from which a ``DeadLetter``
is made: nothing a client sent is dropped.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import OrderedDict
from typing import Any

import orjson
from pydantic import ValidationError

from selfeng.core.log import EventLog
from selfeng.core.records import NewRecord, StoredRecord
from selfeng.schemas import (
    CURRENT_VERSION,
    EVENT_ADAPTER,
    EVENT_TYPES,
    DeadLetter,
    Event,
    derived_id,
)
from selfeng.schemas.ops import MAX_DEAD_LETTER_BYTES, DeadLetterReason, RawReference
from selfeng.schemas.upcasting import UpcastError, upcast


class DecodeError(ValueError):
    """Bytes that are not a valid event, with the class of problem and the details."""

    def __init__(self, error: DeadLetterReason, reason: str, claimed_type: str | None) -> None:
        super().__init__(reason)
        self.error: DeadLetterReason = error
        self.reason = reason
        self.claimed_type = claimed_type


_ENCODED: OrderedDict[int, tuple[Event, bytes]] = OrderedDict()
"""The last events of a policy arm encoded, by ``id``: the folds that hold an arm's lessons
back keep them as JSON (``projections.arms``), and every runner of this process holds the
same event object that was appended and encoded here (the event is kept, so its ``id`` is
not reused while it is here)."""
_ENCODED_MAX = 256


def encoded(event: Event) -> bytes:
    """``event`` as JSON, as a record stores it; encoded once for an event of a policy arm
    this process appended or held (measured: encoding was half the cost of holding one)."""
    found = _ENCODED.get(id(event))
    if found is not None and found[0] is event:
        return found[1]
    data = event.__pydantic_serializer__.to_json(event)
    if event.__dict__.get("policy_arm") is not None:
        _ENCODED[id(event)] = (event, data)
        while len(_ENCODED) > _ENCODED_MAX:
            try:
                _ENCODED.popitem(last=False)
            except KeyError:  # another thread trimmed it first
                break
    return data


def to_record(event: Event) -> NewRecord:
    """The record that stores ``event``."""
    return NewRecord(
        event_id=event.event_id.bytes,
        topic=event.topic(),
        key=event.key,
        type=event.type,
        version=event.schema_version,
        data=encoded(event),
        timestamp_ms=int(event.occurred_at.timestamp() * 1000),
    )


def to_records(events: list[Event]) -> list[NewRecord]:
    """The records that store ``events``, in order."""
    return [to_record(e) for e in events]


def from_record(record: StoredRecord) -> Event:
    """The event a record stores, upcast to the current schema version.

    Raises DecodeError when the record is not a valid event.
    """
    cls = EVENT_TYPES.get(record.type)
    event: Event | None = None
    if cls is not None and CURRENT_VERSION[record.type] == record.version:
        try:  # the validator itself: model_validate_json adds a call and a context manager
            event = cls.__pydantic_validator__.validate_json(record.data)
        except ValidationError:
            event = None  # the slow path below says precisely what is wrong
    if event is None:
        event = decode(record.data)
    return _placed(event, record)


def _placed(event: Event, record: StoredRecord) -> Event:
    """The event with the identity its record has in the log: an event sent without an
    ``event_id`` takes the record's (derived from its place when nothing else gave one), the
    same for every reader and replay, and one sent without a key (where its type would give
    a fresh one, a request's id) takes that id as its key; a body whose ``event_id`` or
    ``key`` says otherwise than the record is refused, so a record can never pass for
    another."""
    if event.event_id.bytes != record.event_id:
        if b'"event_id"' in record.data:
            raise DecodeError(
                "mismatch",
                f"the body's event_id {event.event_id} is not the record's "
                f"{uuid.UUID(bytes=record.event_id)}",
                event.type,
            )
        event = event.model_copy(update={"event_id": uuid.UUID(bytes=record.event_id)})
    if not record.key and b'"key"' not in record.data and type(event).default_key() is not None:
        # sent without a key: not a fresh random one per reader, but one every reader derives
        event = event.model_copy(update={"key": str(uuid.UUID(bytes=record.event_id))})
    if record.key and event.key != record.key:
        raise DecodeError(
            "mismatch",
            f"the message key {record.key!r} is not the event's key {event.key!r}",
            event.type,
        )
    return event


def decode(data: bytes, *, strict: bool = False) -> Event:
    """Decode one event from JSON bytes, upcasting old versions.

    With ``strict`` (for events arriving from clients), fields the type does not have are
    refused instead of ignored. A missing ``key`` is filled from the type's key field.
    """
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError("invalid_json", f"not JSON: {exc}", None) from exc
    if not isinstance(raw, dict):
        raise DecodeError(
            "not_an_object", f"an event is a JSON object, not {type(raw).__name__}", None
        )
    claimed = raw.get("type")
    claimed_type = claimed if isinstance(claimed, str) else None
    if claimed_type not in EVENT_TYPES:
        known = ", ".join(sorted(EVENT_TYPES))
        raise DecodeError(
            "unknown_type", f"unknown event type {claimed!r}; known: {known}", claimed_type
        )
    version = raw.get("schema_version", CURRENT_VERSION[claimed_type])
    if isinstance(version, int) and version > CURRENT_VERSION[claimed_type]:
        raise DecodeError(
            "newer_version",
            f"{claimed_type} schema_version {version} is newer than this selfeng knows "
            f"({CURRENT_VERSION[claimed_type]}); upgrade selfeng to read it",
            claimed_type,
        )
    raw.setdefault("schema_version", version)
    try:
        raw = upcast(raw)
    except UpcastError as exc:
        raise DecodeError("upcast", str(exc), claimed_type) from exc
    if strict:
        _check_strict(raw, claimed_type)
    try:
        return EVENT_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        raise DecodeError("validation", _describe(exc, claimed_type), claimed_type) from exc


def _check_strict(raw: dict[str, Any], type_name: str) -> None:
    cls = EVENT_TYPES[type_name]
    unknown = sorted(set(raw) - set(cls.model_fields))
    if unknown:
        raise DecodeError(
            "validation",
            f"{type_name} has no field(s) {', '.join(unknown)}; its fields are "
            f"{', '.join(cls.model_fields)}",
            type_name,
        )


def _describe(exc: ValidationError, type_name: str) -> str:
    problems = []
    for err in exc.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in err["loc"][1:] or err["loc"]) or "(event)"
        problems.append(f"{where}: {err['msg']}")
    more = f" (and {exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
    return f"invalid {type_name}: " + "; ".join(problems) + more


def dead_letter_for_record(
    record: StoredRecord,
    error: DecodeError,
    *,
    group: str | None = None,
    attempts: int = 0,
) -> DeadLetter:
    """The dead letter for a record in the log that cannot be decoded (or, with ``group``,
    that the group could not handle after ``attempts`` tries).

    Its id derives from the record's place (and the group), so recording it again is a no-op.
    Bytes over ``MAX_DEAD_LETTER_BYTES`` are kept by reference: the record stays where it is.
    """
    source = record.source
    raw, ref = _bounded(record.data, record.topic, record.partition, record.offset)
    parts = ("dead-letter", source) if group is None else ("dead-letter", source, group)
    return DeadLetter(
        event_id=derived_id(*parts),
        source=source,
        error=error.error,
        reason=error.reason,
        raw=raw,
        raw_ref=ref,
        claimed_type=error.claimed_type or record.type or None,
        group=group,
        attempts=attempts,
        producer="selfeng.projections" if group is None else group,
    )


def dead_letter_for_message(raw: bytes, error: DecodeError, client: str) -> DeadLetter:
    """The dead letter for a message a client tried to publish."""
    kept, ref = _bounded(raw, None, None, None)
    return DeadLetter(
        source=f"publish:{client}",
        error=error.error,
        reason=error.reason,
        raw=kept,
        raw_ref=ref,
        claimed_type=error.claimed_type,
        producer=client,
    )


def _bounded(
    raw: bytes, topic: str | None, partition: int | None, offset: int | None
) -> tuple[bytes, RawReference | None]:
    """The bytes a dead letter keeps: all of them up to the bound, else the first KiB and a
    reference (a dead letter must never be too large to append)."""
    if len(raw) <= MAX_DEAD_LETTER_BYTES:
        return raw, None
    reference = RawReference(
        topic=topic,
        partition=partition,
        offset=offset,
        size=len(raw),
        sha256=hashlib.sha256(raw).hexdigest(),
    )
    return raw[:1024], reference


def event_id_of(record: StoredRecord) -> uuid.UUID:
    """The record's event id as a UUID."""
    return uuid.UUID(bytes=record.event_id)


def append_events(
    log: EventLog,
    events: list[Event],
    *,
    expected_versions: dict[str, int] | None = None,
) -> list[StoredRecord]:
    """Append events as one atomic batch; see ``EventLog.append``."""
    return log.append(to_records(events), expected_versions=expected_versions)
