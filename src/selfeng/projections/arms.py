"""Arm isolation: what a request served by a fork teaches stays in that fork until promoted.

Projections that learn from answers (phrasings and stats, the cache, patterns, the skill
graph, sessions, plans) declare ``arm_scoped``. Every fork folds its own copy of them, and
each copy takes the main line's events (no ``policy_arm``, or ``main``) and its own arm's;
the events of other arms it passes over, noting only where in the log they start (the first
offset of each partition that holds one, in the ``arm_lessons`` fold). An arm's fork does
not note its sibling arms' events at all: the conclusion that could release them drops it.

When an experiment concludes, the fork whose lessons main keeps is decided by the rule the
judge promotes by: the winner's fork, or the control's when no arm won. Its events are read
again from the log, from where they were noted to the conclusion, and folded into the
arm-scoped folds at that point of the log; every other arm's are forgotten. The log holds
the events, so this fold holds no copy of them (a copy per answer cost as much as the
answer's folds; measured). An arm's event folded after its experiment concluded (Kafka
interleaves keys) is applied or skipped at once by the same decision, so the result does not
depend on the order of keys: folds depend only on the order within a key, and a request's
events share its key.

The decision is this fold's state; the runner asks it (``admits``) before an arm-scoped
projection folds an event, tells it where each arm event lies (``note``) and reads what a
conclusion releases (``take_released``, ``arm_events``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Literal, NotRequired, TypedDict

from selfeng.core.fold_views import fold_event
from selfeng.core.log import EventLog
from selfeng.core.mapper import DecodeError
from selfeng.core.positions import GlobalPosition, PartitionPosition, Position
from selfeng.core.records import StoredRecord
from selfeng.projections.base import FoldContext, Projection
from selfeng.schemas import (
    CacheHit,
    Event,
    ExperimentConcluded,
    ExperimentStarted,
    FeedbackApplied,
    RequestCompleted,
    ToolExecuted,
)

MAIN_ARMS = frozenset({None, "main"})
"""``policy_arm`` values of the main line: nobody asked, or main asked for by name."""

Decision = Literal["kept", "dropped"]
Since = dict[str, int]
"""Where an arm's undecided events start: ``"topic:partition"`` -> the offset of its first
event there (in a log with one order the offsets are that order's: the least is the start)."""


class ArmExperiment(TypedDict):
    """The forks of an experiment's arms, as ``ExperimentStarted`` named them."""

    arms: dict[str, str]
    control: str
    concluded: NotRequired[bool]


class Release(TypedDict):
    """A kept arm whose noted events a conclusion releases into the arm-scoped folds."""

    fork: str
    since: Since


class ArmLessonsState(TypedDict):
    """Experiments' arms, what was decided for each arm's fork, and where the undecided
    arms' events start in the log."""

    experiments: dict[str, ArmExperiment]
    decided: dict[str, Decision]
    seen: dict[str, Since]
    released: list[Release]  # to fold now (emptied by the runner within the same fold)


def arm_of(event: Event) -> str | None:
    """The fork that served the event's request (None for the main line or other events)."""
    arm = getattr(event, "policy_arm", None)  # not every type has one
    return arm if isinstance(arm, str) else None


class ArmLessonsProjection(Projection[ArmLessonsState]):
    """Holds other arms' lessons back from this fork's arm-scoped folds until decided.

    ``own`` is the fork folding (``main`` for the main line): its own arm's events are
    always its lessons.
    """

    name = "arm_lessons"
    version = 2  # 1 held a copy of every undecided arm event
    handles = (
        ToolExecuted,
        CacheHit,
        RequestCompleted,
        FeedbackApplied,
        ExperimentStarted,
        ExperimentConcluded,
    )
    armed_only = frozenset({"ToolExecuted", "CacheHit", "RequestCompleted", "FeedbackApplied"})

    def __init__(self, own: str = "main") -> None:
        self.own = own

    def initial(self) -> ArmLessonsState:
        return ArmLessonsState(experiments={}, decided={}, seen={}, released=[])

    def admits(self, state: ArmLessonsState, event: Event) -> bool:
        """Whether an arm-scoped fold in this fork learns from ``event`` now."""
        arm = arm_of(event)
        if arm in MAIN_ARMS or arm == self.own:
            return True
        return state["decided"].get(arm or "") == "kept"

    def ignored(self, state: ArmLessonsState) -> set[str]:
        """The arms whose events this fold and this fork's arm-scoped folds leave as they
        are: the other arms of the experiments this fork is an arm of, unless kept."""
        decided = state["decided"]
        return {a for a in self.siblings(state, self.own) if decided.get(a) != "kept"}

    @staticmethod
    def siblings(state: ArmLessonsState, fork: str) -> set[str]:
        """The forks of the other arms of the experiments ``fork`` is an arm of: their
        lessons are not noted for it, because the conclusion that could release them into
        it drops it (the judge drops every arm's fork). The main line has none."""
        if fork in MAIN_ARMS:
            return set()
        found: set[str] = set()
        for experiment in state["experiments"].values():
            forks = experiment["arms"].values()
            if fork in forks:
                found.update(forks)
        found.discard(fork)
        return found

    def note(self, state: ArmLessonsState, arm: str, record: StoredRecord) -> None:
        """Note where an event of ``arm`` lies (``record``), if this fold may release it
        later: the first offset of each partition that holds one of the arm's events."""
        if arm == "main" or arm == self.own or arm in state["decided"]:
            return
        place = f"{record.topic}:{record.partition}"
        since = state["seen"].get(arm)
        if since is not None:
            if place not in since:
                since[place] = record.offset
            return
        if arm not in self.siblings(state, self.own):
            state["seen"][arm] = {place: record.offset}

    def apply(self, state: ArmLessonsState, event: Event, ctx: FoldContext) -> ArmLessonsState:
        match event:
            case ExperimentStarted():
                state["experiments"][event.experiment] = ArmExperiment(
                    arms=dict(event.arms), control=event.control
                )
                for fork in self.siblings(state, self.own):
                    state["seen"].pop(fork, None)
            case ExperimentConcluded():
                self._concluded(state, event)
        return state  # an arm's event: ``note``, with its record

    def _concluded(self, state: ArmLessonsState, event: ExperimentConcluded) -> None:
        experiment = state["experiments"].get(event.experiment)
        if experiment is None or experiment.get("concluded"):
            return  # only the first conclusion decides, as in the experiments fold
        experiment["concluded"] = True
        arms = experiment["arms"]
        kept = arms.get(event.winner or experiment["control"])
        for fork in set(arms.values()) - {"main"}:
            state["decided"][fork] = "kept" if fork == kept else "dropped"
            since = state["seen"].pop(fork, None)
            if fork == kept and since:
                state["released"].append(Release(fork=fork, since=since))

    def take_released(self, state: ArmLessonsState) -> list[Release]:
        """The arms a conclusion just released (emptied)."""
        released = state["released"]
        if not released:
            return []
        state["released"] = []
        return released


def arm_events(
    log: EventLog, fork: str, since: Since, until: Position, types: Collection[str]
) -> Iterator[Event]:
    """The events of ``fork``'s arm of ``types`` from ``since`` (where they start) up to
    ``until``, in the log's order; records that cannot be decoded were dead-lettered when
    first folded, and are passed over."""
    start = start_of(since, until)
    if start is None:
        return
    for batch in log.read(start, until=until, types=types):
        for record in batch.records:
            try:
                event = fold_event(record)
            except DecodeError:
                continue
            if arm_of(event) == fork:
                yield event


def start_of(since: Since, until: Position) -> Position | None:
    """Where to read from to find the events ``since`` notes, up to ``until`` (None: none
    can lie before it)."""
    if not since:
        return None
    if isinstance(until, GlobalPosition):
        first = min(since.values())
        return GlobalPosition(first - 1) if first <= until.offset else None
    if isinstance(until, PartitionPosition):
        offsets = dict(until.offsets)  # partitions with none of its events: nothing to read
        for place, offset in since.items():
            topic, _, partition = place.rpartition(":")
            where = (topic, int(partition))
            offsets[where] = min(offset, offsets.get(where, 0))
        return PartitionPosition(offsets)
    raise TypeError(f"a position of an unknown kind: {until!r}")
