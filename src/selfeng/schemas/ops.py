"""The ops family: records about the log itself (``selfeng.deadletter``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from selfeng.schemas.envelope import Event, Family

DeadLetterReason = Literal[
    "invalid_json",
    "not_an_object",
    "unknown_type",
    "validation",
    "newer_version",
    "upcast",
    "mismatch",
    "handler_failed",
]
"""Why a message could not be turned into an event (or, ``handler_failed``, why a valid one
could not be handled)."""

MAX_DEAD_LETTER_BYTES = 64 * 1024
"""A dead letter keeps the raw bytes whole up to this size; beyond it, their first KiB and a
reference (``RawReference``) to where the whole message stays."""


class RawReference(BaseModel):
    """Where the whole of a message too large to copy into its dead letter is, and its hash."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: str | None = None
    """The logical topic (None for a message a client tried to publish)."""
    partition: int | None = None
    offset: int | None = None
    size: int
    """Its length in bytes."""
    sha256: str
    """The hex SHA-256 of the whole message."""


class DeadLetter(Event):
    """A message that failed validation, kept whole so nothing a client sent is lost.

    The key names where the message came from (``publish`` or ``topic/partition@offset``);
    a dead letter for a message read from the log has an id derived from that place, so
    recording it twice is a no-op.
    """

    family: ClassVar[Family] = "ops"
    key_field: ClassVar[str | None] = "source"
    type: Literal["DeadLetter"] = "DeadLetter"
    schema_version: Literal[1] = 1
    source: str
    """Where the message came from: ``publish:<client>`` or ``<topic>/<partition>@<offset>``."""
    error: DeadLetterReason
    """The class of problem."""
    reason: str
    """What exactly was wrong, for a person."""
    raw: bytes
    """The message as received (base64 in JSON)."""
    claimed_type: str | None = None
    """The type name the message claimed, if it could be read."""
    group: str | None = None
    """For ``handler_failed``: the consumer group whose handling failed."""
    attempts: int = 0
    """For ``handler_failed``: how many times it was tried."""
    raw_ref: RawReference | None = None
    """Set when the message was larger than ``MAX_DEAD_LETTER_BYTES``: ``raw`` then holds its
    first KiB only, and this says where the whole message is."""
