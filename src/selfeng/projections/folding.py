"""The runner's fold loops: each record of a batch to the slots of the projections that fold it.

This is the replay hot path: a record goes straight to the projections of its type,
decoded once, and records whose types no projection handles are never decoded (only
checked, when dead letters are kept). A record that cannot be decoded becomes a dead
letter instead of stopping the fold.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import cast

from selfeng.core.fold_views import fold_event
from selfeng.core.log import EventLog, RecordBatch
from selfeng.core.mapper import DecodeError, append_events, dead_letter_for_record
from selfeng.core.positions import Position
from selfeng.core.records import StoredRecord
from selfeng.projections.arms import ArmLessonsProjection
from selfeng.projections.slots import Slot
from selfeng.schemas import EVENT_TYPES, DeadLetter, Event

logger = logging.getLogger(__name__)

DeadLetterSink = Callable[[DeadLetter], None]


class FoldLoops:
    """The fold loops of :class:`~selfeng.projections.runner.ProjectionRunner`, which sets
    the attributes declared here."""

    _slots: list[Slot]
    _record_slots: list[Slot]
    _event_slots: dict[str, list[Slot]]
    _unarmed_slots: dict[str, list[Slot]]  # as _event_slots, less the folds that read only
    # events of a policy arm of that type (``Projection.armed_only``)
    _refused_slots: dict[str, list[Slot]]  # as _event_slots, less the arm-scoped folds
    _lessons: Slot | None  # the ``arm_lessons`` slot that gates the arm-scoped folds
    dead_letters: DeadLetterSink | None
    dead_letter_count: int
    _batch: RecordBatch | None  # the batch being folded
    _at: StoredRecord | None  # the record of the event of a policy arm being folded (and
    # of every event, on the slower paths): where ``arm_lessons`` notes that arm's events

    def _record_of(self, event: Event) -> StoredRecord:
        """The record of ``event``, which is being folded."""
        at = self._at
        if at is not None and at.event_id == event.event_id.bytes:
            return at
        records = self._batch.records if self._batch is not None else []
        return records[self._index_in_batch(event)]

    def _through(self, event: Event, before: Position) -> Position:
        """The position from ``before`` (where the batch being folded starts) through the
        record of ``event``, which is being folded."""
        records = self._batch.records if self._batch is not None else []
        return before.advanced(records[: self._index_in_batch(event) + 1])

    def _index_in_batch(self, event: Event) -> int:
        wanted = event.event_id.bytes
        for i, record in enumerate(self._batch.records if self._batch is not None else ()):
            if record.event_id == wanted:
                return i
        raise LookupError(f"the record of {event.type} {event.event_id} is not being folded")

    def _fold_records(
        self, batch: RecordBatch, known: Mapping[bytes, Event] | None, uneven: bool
    ) -> int:
        if uneven:
            return self._fold_uneven(batch, known)
        # Every projection is at the same place (the usual case, and every replay): each
        # record goes straight to the projections of its type, decoded once.
        record_slots, event_slots, unarmed_slots = (
            self._record_slots,
            self._event_slots,
            self._unarmed_slots,
        )
        checking = self.dead_letters is not None
        records = batch.records
        for slot in record_slots:  # record folds see nothing but records: the batch at once
            slot.state = slot.on_records(slot.state, records, slot.ctx)  # type: ignore[misc]
            slot.events += len(records)
        decode = self._decode
        lessons, refused_slots = self._lessons, self._refused_slots
        admits = cast(ArmLessonsProjection, lessons.projection).admits if lessons else None
        folded: dict[str, int] = {}  # events folded by type, added to the slots' counts after
        for record in records:
            type_name = record.type
            interested = event_slots.get(type_name)
            if interested is None:
                if type_name not in EVENT_TYPES:
                    self._dead_letter(record, _unknown_type(record))
                elif checking and not (known and record.event_id in known):
                    # a type no projection here folds is still checked, so a bad record of
                    # any type is dead-lettered (events this process appended are known good)
                    decode(record)
                continue
            event = known.get(record.event_id) if known else None
            if event is None:
                try:  # the usual case, without _decode's call
                    event = fold_event(record)
                except DecodeError as error:
                    self._dead_letter(record, error)
                    continue
            folded[type_name] = folded.get(type_name, 0) + 1
            if getattr(event, "policy_arm", None) is None:  # nearly every event
                for slot in unarmed_slots[type_name]:
                    slot.state = slot.on_unarmed(slot.state, event, slot.ctx)  # type: ignore[misc]
            else:
                self._at = record
                if admits is not None and not admits(lessons.state, event):  # type: ignore[union-attr]
                    interested = refused_slots[type_name]
                for slot in interested:  # the folds ungated: the gate was asked once, above
                    slot.state = slot.on_unarmed(slot.state, event, slot.ctx)  # type: ignore[misc]
        for type_name, count in folded.items():
            for slot in event_slots[type_name]:
                slot.events += count
        return len(records)

    def _fold_uneven(self, batch: RecordBatch, known: Mapping[bytes, Event] | None) -> int:
        """Fold a batch when some projections are further on than others (after a rebuild of
        one): each skips the records it has already seen."""
        slots = self._slots
        applied = 0
        for record in batch.records:
            self._at = record
            event: Event | None = None
            decoded = False
            for slot in slots:
                if slot.position.covers(record):
                    continue
                if slot.on_record is not None:
                    slot.state = slot.on_record(slot.state, record, slot.ctx)
                    slot.events += 1
                elif slot.on_event is not None and record.type in slot.types:
                    if not decoded:
                        given = known.get(record.event_id) if known else None
                        event = given if given is not None else self._decode(record)
                        decoded = True
                    if event is not None:
                        slot.state = slot.on_event(slot.state, event, slot.ctx)
                        slot.events += 1
            if not decoded and record.type not in EVENT_TYPES:
                self._dead_letter(record, _unknown_type(record))
            elif (
                not decoded
                and self.dead_letters is not None
                and not (known and record.event_id in known)
            ):
                self._decode(record)
            applied += 1
        return applied

    def _decode(self, record: StoredRecord) -> Event | None:
        try:
            return fold_event(record)
        except DecodeError as error:
            self._dead_letter(record, error)
            return None

    def _dead_letter(self, record: StoredRecord, error: DecodeError) -> None:
        self.dead_letter_count += 1
        logger.warning("dead letter at %s: %s", record.source, error.reason)
        if self.dead_letters is not None:
            self.dead_letters(dead_letter_for_record(record, error))


def dead_letters_to(log: EventLog) -> DeadLetterSink:
    """A sink that appends dead letters to the log (idempotent: their ids are derived)."""

    def sink(letter: DeadLetter) -> None:
        append_events(log, [letter])

    return sink


def _unknown_type(record: StoredRecord) -> DecodeError:
    return DecodeError("unknown_type", f"unknown event type {record.type!r}", record.type or None)
