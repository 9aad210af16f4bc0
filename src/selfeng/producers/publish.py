"""Publishing events that arrive as JSON from any client, dead-lettering what is invalid.

Each message is validated strictly (unknown fields are refused); valid events are appended
in one batch and every invalid message becomes a DeadLetter holding the reason and the raw
bytes, so nothing a client sent is lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from selfeng.core.log import EventLog
from selfeng.core.mapper import DecodeError, append_events, dead_letter_for_message, decode
from selfeng.core.records import StoredRecord
from selfeng.schemas import DeadLetter, Event


@dataclass
class PublishReport:
    """What happened to each message of a publish."""

    accepted: list[StoredRecord] = field(default_factory=list)
    """The appended events, as stored."""
    dead_letters: list[DeadLetter] = field(default_factory=list)
    """The messages that were not valid events, as appended to the dead-letter topic."""


def publish(log: EventLog, messages: Iterable[bytes], *, client: str = "publish") -> PublishReport:
    """Validate and append JSON messages; invalid ones go to the dead-letter topic."""
    events: list[Event] = []
    report = PublishReport()
    for raw in messages:
        try:
            events.append(decode(raw, strict=True))
        except DecodeError as error:
            report.dead_letters.append(dead_letter_for_message(raw, error, client))
    if events or report.dead_letters:
        stored = append_events(log, [*events, *report.dead_letters])
        report.accepted = stored[: len(events)]
    return report
