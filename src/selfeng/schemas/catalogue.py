"""Every event type, the discriminated union of them, and the one TypeAdapter that decodes any."""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import Field, TypeAdapter

from selfeng.schemas.access import TokenCreated, TokenRevoked
from selfeng.schemas.envelope import TOPIC_OF_FAMILY, Event
from selfeng.schemas.learning import (
    CompositeProposed,
    CompositeRegistered,
    FailureAnalyzed,
    LLMCalled,
    PatternDetected,
    RepairProposed,
    ToolRepaired,
)
from selfeng.schemas.ops import DeadLetter
from selfeng.schemas.policy import (
    ExperimentConcluded,
    ExperimentStarted,
    ForkCreated,
    ForkDropped,
    PolicyChanged,
    PolicyRolledBack,
)
from selfeng.schemas.requests import (
    ArgumentsExtracted,
    CacheHit,
    FeedbackApplied,
    FeedbackGiven,
    RequestCompleted,
    RequestReceived,
    ResponseSynthesized,
    ToolExecuted,
    ToolSearched,
)
from selfeng.schemas.tools import (
    ToolDeprecated,
    ToolProposed,
    ToolRegistered,
    ToolRejected,
    ToolRolledBack,
    ToolSynthesisRequested,
    ToolVerified,
)

AnyEvent = Annotated[
    RequestReceived
    | ToolSearched
    | ArgumentsExtracted
    | ToolExecuted
    | CacheHit
    | ResponseSynthesized
    | RequestCompleted
    | FeedbackGiven
    | FeedbackApplied
    | ToolSynthesisRequested
    | ToolProposed
    | ToolVerified
    | ToolRejected
    | ToolRegistered
    | ToolDeprecated
    | ToolRolledBack
    | PatternDetected
    | CompositeProposed
    | CompositeRegistered
    | FailureAnalyzed
    | RepairProposed
    | ToolRepaired
    | LLMCalled
    | PolicyChanged
    | PolicyRolledBack
    | ForkCreated
    | ForkDropped
    | ExperimentStarted
    | ExperimentConcluded
    | TokenCreated
    | TokenRevoked
    | DeadLetter,
    Field(discriminator="type"),
]
"""Any event, discriminated by its ``type`` field."""

EVENT_ADAPTER: Final[TypeAdapter[AnyEvent]] = TypeAdapter(AnyEvent)
"""Decodes any event from JSON bytes or a dict (already upcast to the current version)."""


def _event_classes() -> dict[str, type[Event]]:
    classes: dict[str, type[Event]] = {}
    for cls in AnyEvent.__origin__.__args__:  # type: ignore[attr-defined]
        name = cls.model_fields["type"].default
        classes[name] = cls
    return classes


EVENT_TYPES: Final[dict[str, type[Event]]] = _event_classes()
"""Event class by type name."""

CURRENT_VERSION: Final[dict[str, int]] = {
    name: cls.model_fields["schema_version"].default for name, cls in EVENT_TYPES.items()
}
"""The schema version this code writes, by type name."""

TOPICS: Final[tuple[str, ...]] = tuple(TOPIC_OF_FAMILY.values())
"""Every topic of the log."""

TOPIC_OF_TYPE: Final[dict[str, str]] = {name: cls.topic() for name, cls in EVENT_TYPES.items()}
"""The topic each event type is written to."""
