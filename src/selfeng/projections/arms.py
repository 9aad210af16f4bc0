"""Arm isolation: what a request served by a fork teaches stays in that fork until promoted.

Projections that learn from answers (phrasings and stats, the cache, patterns, the skill
graph, sessions, plans) declare ``arm_scoped``. Every fork folds its own copy of them, and
each copy takes the main line's events (no ``policy_arm``, or ``main``) and its own arm's;
the events of other arms it holds back here, in the ``arm_lessons`` fold, instead of
learning from them. An arm's fork does not hold its sibling arms' events at all: the
conclusion that could release them drops it.

When an experiment concludes, the fork whose lessons main keeps is decided by the rule the
judge promotes by: the winner's fork, or the control's when no arm won. Its held events are
released into the arm-scoped folds at that point of the log, and every other arm's are
dropped. An arm's event folded after its experiment concluded (Kafka interleaves keys) is
applied or skipped at once by the same decision, so the result does not depend on the
order of keys: folds depend only on the order within a key, and a request's events share
its key.

The decision is this fold's state; the runner asks it (``admits``) before an arm-scoped
projection folds an event, and applies what it releases (``take_released``).
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

from selfeng.core.mapper import decode, encoded
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

MAX_HELD = 200_000
"""Events held at most; past it the oldest held is forgotten (a lesson lost, never a wrong
one): a client publishing requests for an arm no experiment ever concludes must not grow the
state without bound."""
MAIN_ARMS = frozenset({None, "main"})
"""``policy_arm`` values of the main line: nobody asked, or main asked for by name."""

Decision = Literal["kept", "dropped"]


class Held(TypedDict):
    """An event of another arm, held until its experiment concludes."""

    fork: str
    event: str  # the event as JSON, decoded again when released


class ArmExperiment(TypedDict):
    """The forks of an experiment's arms, as ``ExperimentStarted`` named them."""

    arms: dict[str, str]
    control: str
    concluded: NotRequired[bool]


class ArmLessonsState(TypedDict):
    """Experiments' arms, what was decided for each arm's fork, and the held events."""

    experiments: dict[str, ArmExperiment]
    decided: dict[str, Decision]
    held: dict[str, Held]  # "{fork}/{event id}" -> the event, in the order held
    released: list[str]  # events to fold now (emptied by the runner within the same fold)


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
    version = 1
    handles = (
        ToolExecuted,
        CacheHit,
        RequestCompleted,
        FeedbackApplied,
        ExperimentStarted,
        ExperimentConcluded,
    )
    armed_only = frozenset({"ToolExecuted", "CacheHit", "RequestCompleted", "FeedbackApplied"})
    tables = ("held",)

    def __init__(self, own: str = "main") -> None:
        self.own = own

    def initial(self) -> ArmLessonsState:
        return ArmLessonsState(experiments={}, decided={}, held={}, released=[])

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
        lessons are not held for it, because the conclusion that could release them into it
        drops it (the judge drops every arm's fork). The main line has none."""
        if fork in MAIN_ARMS:
            return set()
        found: set[str] = set()
        for experiment in state["experiments"].values():
            forks = experiment["arms"].values()
            if fork in forks:
                found.update(forks)
        found.discard(fork)
        return found

    def apply(self, state: ArmLessonsState, event: Event, ctx: FoldContext) -> ArmLessonsState:
        match event:
            case ExperimentStarted():
                state["experiments"][event.experiment] = ArmExperiment(
                    arms=dict(event.arms), control=event.control
                )
                siblings = self.siblings(state, self.own)
                for key in [k for k, h in state["held"].items() if h["fork"] in siblings]:
                    del state["held"][key]
            case ExperimentConcluded():
                self._concluded(state, event)
            case _:
                arm = arm_of(event)
                if arm is None or arm in MAIN_ARMS or arm == self.own or arm in state["decided"]:
                    return state
                if arm in self.siblings(state, self.own):
                    return state
                # keyed by the event, so a fork seeded from main's state holds the same rows
                # as one folded from the start; the table keeps the order they came in
                held = state["held"]
                held[f"{arm}/{event.event_id}"] = Held(fork=arm, event=encoded(event).decode())
                if len(held) > MAX_HELD:
                    del held[next(iter(held))]
        return state

    def _concluded(self, state: ArmLessonsState, event: ExperimentConcluded) -> None:
        experiment = state["experiments"].get(event.experiment)
        if experiment is None or experiment.get("concluded"):
            return  # only the first conclusion decides, as in the experiments fold
        experiment["concluded"] = True
        arms = experiment["arms"]
        kept = arms.get(event.winner or experiment["control"])
        forks = set(arms.values()) - {"main"}
        for fork in forks:
            state["decided"][fork] = "kept" if fork == kept else "dropped"
        for key in [k for k, held in state["held"].items() if held["fork"] in forks]:
            held = state["held"].pop(key)
            if held["fork"] == kept:
                state["released"].append(held["event"])

    def take_released(self, state: ArmLessonsState) -> list[Event]:
        """The events a conclusion just released, in the order they were held (emptied)."""
        if not state["released"]:
            return []
        released = [decode(text.encode()) for text in state["released"]]
        state["released"] = []
        return released

    def held_for(self, state: ArmLessonsState, fork: str) -> list[Event]:
        """The events held for ``fork``, in the order they were held."""
        return [decode(h["event"].encode()) for h in state["held"].values() if h["fork"] == fork]
