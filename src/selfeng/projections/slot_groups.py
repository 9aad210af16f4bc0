"""The runner's slot groups: the folds that keep arms apart (and an arm's fork passing over
its sibling arms' batches), and bringing slots that are behind up to the others.

The arm-scoped folds (``Projection.arm_scoped``) and the ``arm_lessons`` fold that gates them
(:mod:`.arms`) are one group: they start together, move together and are rebuilt together,
because the gate reads that fold's state. A fork's copy of the group is seeded from the main
line's (``group_checkpoints``) and adopts its arm's events that the main line passed over,
read again from the log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

import orjson

from selfeng.core.log import EventLog, RecordBatch
from selfeng.core.positions import Position
from selfeng.core.records import StoredRecord
from selfeng.core.store import Checkpoint, ProjectionStore
from selfeng.projections.arms import ArmLessonsProjection, arm_events
from selfeng.projections.base import MAIN, FoldContext, ForkSpec
from selfeng.projections.slots import Slot, load_slot
from selfeng.schemas import Event

logger = logging.getLogger(__name__)


class SlotGroups:
    """Slot grouping of :class:`~selfeng.projections.runner.ProjectionRunner`, which sets
    the attributes declared here."""

    log: EventLog
    store: ProjectionStore | None
    fork: ForkSpec
    rebuilt: dict[str, str]
    _lock: threading.RLock
    _slots: list[Slot]
    _arm_slots: list[Slot]
    _lessons: Slot | None
    _unsaved: frozenset[str]
    _aligned: bool
    _dirty: bool

    _batch: RecordBatch | None
    _at: StoredRecord | None
    _event_slots: dict[str, list[Slot]]
    _record_slots: list[Slot]
    _sibling_types: frozenset[str]

    def _moved(self, batch: RecordBatch, applied: int, uneven: bool = False) -> None:
        raise NotImplementedError  # the runner's

    def _decode(self, record: StoredRecord) -> Event | None:
        raise NotImplementedError  # FoldLoops'

    def _record_of(self, event: Event) -> StoredRecord:
        raise NotImplementedError  # FoldLoops'

    def _through(self, event: Event, before: Position) -> Position:
        raise NotImplementedError  # FoldLoops'

    def _recording(self, on: bool) -> None:
        raise NotImplementedError  # the runner's

    def _isolate_arms(self) -> None:
        """Gate the arm-scoped folds by the ``arm_lessons`` fold (:mod:`.arms`): they learn
        from the main line, this fork's arm and arms promoted since; what a conclusion
        releases is folded into them at that point of the log. The group is folded as one:
        if one of them starts elsewhere (a rebuild), all start from the log's start."""
        lessons = next(
            (s for s in self._slots if isinstance(s.projection, ArmLessonsProjection)), None
        )
        scoped = [s for s in self._slots if s.projection.arm_scoped]
        if lessons is None or not scoped:
            return
        group = [lessons, *scoped]
        if any(s.position != lessons.position for s in scoped):
            reason = "the folds that keep arms apart were at different positions"
            members = {id(s) for s in group}  # by identity: a Slot's == compares states
            for i, slot in enumerate(self._slots):
                if id(slot) in members:
                    fresh, _ = load_slot(
                        slot.projection,
                        None,
                        log=self.log,
                        store=None if slot.projection.name in self._unsaved else self.store,
                        fork=self.fork,
                        ctx=slot.ctx,
                        fresh=True,
                    )
                    self._slots[i] = fresh
                    self.rebuilt.setdefault(slot.projection.name, reason)
            logger.warning(
                "rebuilding %s's arm-scoped folds from the log: %s", self.fork.name, reason
            )
            lessons = next(s for s in self._slots if s.projection is lessons.projection)
            scoped = [s for s in self._slots if s.projection.arm_scoped]
        gate = lessons.projection
        assert isinstance(gate, ArmLessonsProjection)
        for slot in scoped:
            slot.on_unarmed = slot.on_event
            slot.on_event = _gated(slot.on_event, gate, lessons)
        lessons.on_event = lessons.on_unarmed = self._releasing(lessons.on_event, gate, lessons)
        self._arm_slots, self._lessons = scoped, lessons

    def _releasing(
        self, apply: EventFold | None, gate: ArmLessonsProjection, lessons: Slot
    ) -> EventFold:
        """The ``arm_lessons`` fold, which notes where each arm event lies, followed by
        folding what a conclusion released into the arm-scoped folds, at the conclusion's
        place in the log: the kept arm's events, read again from where they were noted."""
        assert apply is not None
        note, types, own = gate.note, gate.armed_only, {"main", gate.own}

        def on_event(state: Any, event: Event, ctx: FoldContext) -> Any:
            arm = getattr(event, "policy_arm", None)  # a fold view has no __dict__
            if arm is not None:  # the fold itself leaves an arm's event as it is
                if arm not in own:
                    note(state, arm, self._record_of(event))
                return state
            state = apply(state, event, ctx)
            if state["released"]:
                # lessons.position is where this batch starts: its slots move after it
                until = self._through(event, lessons.position)
                for release in gate.take_released(state):
                    fork, since = release["fork"], release["since"]
                    self._adopt(arm_events(self.log, fork, since, until, types))
            return state

        return on_event

    def _types_only_arms_fold(self) -> frozenset[str]:
        """In a fork that is an experiment's arm: the event types that only its arm-scoped
        folds and ``arm_lessons`` fold, which all leave a sibling arm's event as it is."""
        lessons = self._lessons
        if lessons is None or self.fork.name == MAIN.name or self._record_slots:
            return frozenset()
        group = {id(s) for s in [lessons, *self._arm_slots]}
        return frozenset(
            t for t, slots in self._event_slots.items() if all(id(s) in group for s in slots)
        )

    def _passed_siblings(self, batch: RecordBatch, known: Mapping[bytes, Event]) -> bool:
        """Count and pass ``batch`` as a fold that changed nothing would, when every record
        is an event this process appended that nothing here folds, or an event of a sibling
        arm (another arm of an experiment this fork is an arm of) that nothing here folds
        but the arm folds, which ignore it: the request path's events for the other arm,
        which this fork need not look at. False (nothing done) otherwise."""
        folded_here, sibling_types, own = self._event_slots, self._sibling_types, self.fork.name
        ignored: set[str] | None = None
        counted: list[str] = []
        for record in batch.records:
            event = known.get(record.event_id)
            if event is None:
                return False
            type_name = record.type
            if type_name not in folded_here:
                continue  # nothing here folds it, and this process appended it: valid
            if type_name not in sibling_types:
                return False
            arm = event.__dict__.get("policy_arm")
            if arm == own:
                return False  # the serving fork's own answer: no need to ask the gate
            if ignored is None:
                lessons = self._lessons
                assert lessons is not None
                gate = cast(ArmLessonsProjection, lessons.projection)
                ignored = gate.ignored(lessons.state)
            if arm not in ignored:
                return False
            counted.append(type_name)
        for type_name in counted:
            for slot in folded_here[type_name]:
                slot.events += 1
        self._moved(batch, len(batch.records))
        return True

    def adopt(self, events: Sequence[Event]) -> None:
        """Fold ``events`` of this fork's own arm into its arm-scoped folds: what the main
        line passed over for a fork seeded from it (``ProjectionEngine``)."""
        with self._lock:
            self._adopt(events)

    def _adopt(self, events: Iterable[Event]) -> None:
        for event in events:
            for slot in self._arm_slots:
                if event.type in slot.types and slot.on_event is not None:
                    slot.state = slot.on_event(slot.state, event, slot.ctx)
            self._dirty = True

    def group_checkpoints(self, fork: str) -> tuple[list[Checkpoint], list[Event]]:
        """Seeds for a new fork's arm-scoped folds, taken from this runner's (the main
        line's) state: each fold's state and position, and the events of ``fork``'s arm
        this runner passed over, read again from the log, which the fork adopts (so its
        folds equal a fold from the log's start)."""
        with self._lock:
            slots, lessons = self._arm_slots, self._lessons
            if lessons is None:
                return [], []
            gate = lessons.projection
            assert isinstance(gate, ArmLessonsProjection)
            since = lessons.state["seen"].get(fork)
            held = (
                list(arm_events(self.log, fork, since, lessons.position, gate.armed_only))
                if since
                else []
            )
            skipped = {fork, *gate.siblings(lessons.state, fork)}  # as its own fold would
            now = time.time()
            seeds = []
            for slot in [*slots, lessons]:
                data = slot.projection.dump(slot.state)
                if slot is lessons:
                    seen = {f: at for f, at in data["seen"].items() if f not in skipped}
                    data = {**data, "seen": seen}
                seeds.append(
                    Checkpoint(
                        fork=fork,
                        projection=slot.projection.name,
                        log_id=self.log.log_id,
                        projection_version=slot.projection.version,
                        position=slot.position,
                        events=slot.events,
                        state=orjson.dumps(data),
                        saved_at=now,
                    )
                )
            return seeds, held

    def _align(self, until: Position | None) -> None:
        """Bring the projections that are behind the furthest one up to it, each reading only
        the records of its own types (a new fork's policies, seeded arm-scoped folds ahead; a
        rebuilt projection behind the rest), so the shared pass starts from one place. The
        arm-scoped folds and ``arm_lessons`` move as one (their gate reads that fold)."""
        if self._aligned:
            return  # folds move every slot together: once aligned, they stay so
        slots = self._slots
        target = slots[0].position
        for slot in slots[1:]:
            target = target.latest(slot.position)
        if until is not None and not until.is_at_or_after(target):
            return
        members = {id(s) for s in [*self._arm_slots, self._lessons] if s is not None}
        grouped = [s for s in slots if id(s) in members]  # by identity, as above
        units = [[s] for s in slots if id(s) not in members] + ([grouped] if grouped else [])
        for unit in units:
            if all(s.position == target for s in unit):
                continue
            start = unit[0].position
            types: frozenset[str] | None = frozenset()
            for slot in unit:
                types = None if slot.on_record is not None or types is None else types | slot.types
            self._recording(True)
            try:
                for batch in self.log.read(start, until=target, types=types):
                    self._batch = batch
                    for record in batch.records:
                        self._at = record
                        self._fold_unit(unit, record)
                    for slot in unit:
                        slot.position = slot.position.latest(batch.position)
            finally:
                self._recording(False)
                self._batch = self._at = None
            self._dirty = True
        self._aligned = True

    def _fold_unit(self, unit: list[Slot], record: StoredRecord) -> None:
        event: Event | None = None
        decoded = False
        for slot in unit:
            if slot.on_record is not None:
                slot.state = slot.on_record(slot.state, record, slot.ctx)
                slot.events += 1
            elif slot.on_event is not None and record.type in slot.types:
                if not decoded:
                    event, decoded = self._decode(record), True
                if event is not None:
                    slot.state = slot.on_event(slot.state, event, slot.ctx)
                    slot.events += 1


EventFold = Callable[[Any, Event, FoldContext], Any]


def _gated(apply: EventFold | None, gate: ArmLessonsProjection, lessons: Slot) -> EventFold:
    """An arm-scoped fold that learns only what ``gate`` admits in this fork."""
    assert apply is not None
    admits = gate.admits

    def on_event(state: Any, event: Event, ctx: FoldContext) -> Any:
        if getattr(event, "policy_arm", None) is None or admits(lessons.state, event):
            return apply(state, event, ctx)
        return state

    return on_event
