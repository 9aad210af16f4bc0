"""The ops family: records about the log itself (``selfeng.deadletter``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from selfeng.schemas.envelope import Event, Family

DeadLetterReason = Literal[
    "invalid_json", "not_an_object", "unknown_type", "validation", "newer_version", "upcast"
]
"""Why a message could not be turned into an event."""


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
