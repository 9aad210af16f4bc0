"""The event envelope shared by every event type.

An event is a frozen pydantic model. Its envelope fields say what it is and where it belongs
(``type``, ``schema_version``, ``key``), when it happened, which request it serves
(``correlation_id``) and which event caused it (``causation_id``). The payload fields are
declared by each event type next to the envelope, so an event is one flat JSON object on
the wire.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from selfeng.schemas.ids import uuid7

Family = Literal["requests", "tools", "learning", "policy", "ops"]
"""The event families; each one is a topic of the log."""

TOPIC_PREFIX = "selfeng."

TOPIC_OF_FAMILY: dict[Family, str] = {
    "requests": "selfeng.requests",
    "tools": "selfeng.tools",
    "learning": "selfeng.learning",
    "policy": "selfeng.policy",
    "ops": "selfeng.deadletter",
}
"""Topic names by family, the same on the embedded log and on Kafka."""


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Event(BaseModel):
    """Base class of every event: the envelope.

    Subclasses declare ``type`` as a ``Literal`` (the discriminator), ``schema_version`` as a
    ``Literal`` of their current version, their ``family`` and, optionally, the payload field
    that doubles as the ``key`` when the key is not given.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="ignore",
        use_attribute_docstrings=True,
        ser_json_bytes="base64",
        val_json_bytes="base64",
    )

    family: ClassVar[Family]
    """The family, hence the topic, this event type belongs to."""
    key_field: ClassVar[str | None] = None
    """A payload field whose value is the key when ``key`` is not given."""

    type: str
    """The stable type name; never changes once published."""
    schema_version: int
    """The version of this type's schema the event was written with."""
    event_id: uuid.UUID = Field(default_factory=uuid7)
    """Time-ordered UUIDv7. A producer may set it so that a retried append is a no-op."""
    key: str = Field(default="", min_length=1)
    """The entity the event belongs to (tool name, request id, policy name); the partition key."""
    occurred_at: datetime = Field(default_factory=utc_now)
    """When it happened (UTC)."""
    correlation_id: uuid.UUID | None = None
    """The event id of the request this event serves, if any."""
    causation_id: uuid.UUID | None = None
    """The event id of the event that caused this one, if any."""
    producer: str = "selfeng"
    """Who appended it: a component name or a client id."""

    def model_post_init(self, context: Any, /) -> None:
        """Fill an empty key from the key field, or check that a given one matches it."""
        key_field = self.key_field
        if key_field is None:
            if not self.key:
                key = self.default_key()
                if key is None:
                    raise ValueError(f"{type(self).__name__} needs a key")
                object.__setattr__(self, "key", key)
            return
        derived = getattr(self, key_field)
        if not self.key:
            object.__setattr__(self, "key", str(derived))
        elif self.key != str(derived):
            raise ValueError(
                f"{type(self).__name__}: key {self.key!r} differs from its {key_field} "
                f"{derived!r}; leave the key out or make them equal"
            )

    @classmethod
    def default_key(cls) -> str | None:
        """A key for an event of a type without a key field when none is given (none)."""
        return None

    @classmethod
    def topic(cls) -> str:
        """The topic this event type is written to."""
        return TOPIC_OF_FAMILY[cls.family]

    @classmethod
    def following(cls, cause: Event, **fields: Any) -> Self:
        """A new event caused by ``cause``, in the same request (correlation) as it.

        The key defaults to the cause's key unless the type derives its own from a field; a
        policy arm carries over from the cause.
        """
        fields.setdefault("correlation_id", cause.correlation_id or cause.event_id)
        fields.setdefault("causation_id", cause.event_id)
        if "policy_arm" in cls.model_fields and "policy_arm" not in fields:
            fields["policy_arm"] = cause.__dict__.get("policy_arm")
        if "key" not in fields and (cls.key_field is None or cls.key_field not in fields):
            fields["key"] = cause.key
        return cls(**fields)
