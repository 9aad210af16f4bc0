from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

from selfeng.core.mapper import append_events
from selfeng.infra.log.memory import MemoryLog
from selfeng.infra.log.sqlite import SqliteLog
from selfeng.infra.store.memory import MemoryStore
from selfeng.projections.base import FoldContext, Projection, UndeclaredPolicyRead
from selfeng.projections.events import EventCounts
from selfeng.projections.folding import dead_letters_to
from selfeng.projections.policies import PoliciesProjection
from selfeng.projections.runner import ProjectionRunner
from selfeng.schemas import DeadLetter, Event, FeedbackGiven, PolicyChanged, RequestReceived
from tests.projections.helpers import raw_record


class Feedback(Projection[dict[str, int]]):
    """Counts ratings; used to see which records a runner decodes."""

    name = "feedback"
    handles = (FeedbackGiven,)
    decoded: ClassVar[int] = 0

    def initial(self) -> dict[str, int]:
        return {}

    def apply(self, state: dict[str, int], event: Event, ctx: FoldContext) -> dict[str, int]:
        assert isinstance(event, FeedbackGiven)
        state[event.rating] = state.get(event.rating, 0) + 1
        return state


def requests(n: int) -> list[Event]:
    return [RequestReceived(prompt=f"q{i}") for i in range(n)]


def test_catch_up_folds_everything_and_checkpoints() -> None:
    log, store = MemoryLog(), MemoryStore()
    append_events(log, requests(5))
    runner = ProjectionRunner(log, store, [EventCounts()])
    assert runner.catch_up() == 5
    assert runner.state("events")["total"] == 5
    saved = store.load("main", "events")
    assert saved is not None
    assert saved.events == 5
    assert saved.position == log.head()
    assert store.load("main", "policies") is not None  # always folded, for the context


def test_a_new_runner_resumes_from_the_checkpoint_without_double_counting() -> None:
    log, store = MemoryLog(), MemoryStore()
    append_events(log, requests(5))
    ProjectionRunner(log, store, [EventCounts()]).catch_up()
    append_events(log, requests(3))
    again = ProjectionRunner(log, store, [EventCounts()])
    assert again.state("events")["total"] == 5
    assert again.catch_up() == 3
    assert again.state("events")["total"] == 8


def test_records_no_projection_handles_are_not_decoded() -> None:
    log = MemoryLog()
    log.append([raw_record("RequestReceived", b"this is not json", topic="selfeng.requests")])
    append_events(log, [FeedbackGiven(key="r", rating="good")])
    letters: list[DeadLetter] = []
    runner = ProjectionRunner(log, None, [Feedback()], dead_letters=letters.append)
    runner.catch_up()
    assert runner.state("feedback") == {"good": 1}
    assert letters == []
    assert runner.dead_letter_count == 0


def test_a_broken_record_becomes_one_dead_letter_and_the_fold_goes_on() -> None:
    log, store = MemoryLog(), MemoryStore()
    append_events(log, [PolicyChanged(name="retrieval.threshold", value=0.5)])
    log.append([raw_record("PolicyChanged", b'{"type": "PolicyChanged", "name": ')])
    log.append([raw_record("Teleported", b"{}")])
    append_events(log, [PolicyChanged(name="retrieval.threshold", value=0.6)])
    runner = ProjectionRunner(log, store, [EventCounts()], dead_letters=dead_letters_to(log))
    runner.catch_up()
    assert runner.dead_letter_count == 2
    assert runner.state("policies")["policies"]["retrieval.threshold"]["value"] == 0.6
    letters = [r for b in log.read(types={"DeadLetter"}) for r in b.records]
    assert len(letters) == 2
    # A replay from scratch meets the same broken records: their dead letters are not duplicated.
    ProjectionRunner(log, None, [EventCounts()], dead_letters=dead_letters_to(log)).catch_up()
    assert len([r for b in log.read(types={"DeadLetter"}) for r in b.records]) == 2


def test_a_changed_projection_version_rebuilds_from_the_log() -> None:
    log, store = MemoryLog(), MemoryStore()
    append_events(log, requests(4))
    ProjectionRunner(log, store, [EventCounts()]).catch_up()

    class EventCountsV2(EventCounts):
        version = 2

    runner = ProjectionRunner(log, store, [EventCountsV2()])
    assert runner.state("events")["total"] == 0
    runner.catch_up()
    assert runner.state("events")["total"] == 4


def test_state_from_another_log_is_not_trusted() -> None:
    store = MemoryStore()
    first = MemoryLog()
    append_events(first, requests(4))
    ProjectionRunner(first, store, [EventCounts()]).catch_up()
    second = MemoryLog()
    append_events(second, requests(2))
    runner = ProjectionRunner(second, store, [EventCounts()])
    runner.catch_up()
    assert runner.state("events")["total"] == 2


def test_a_projection_added_later_catches_up_alone() -> None:
    log, store = MemoryLog(), MemoryStore()
    append_events(log, [*requests(3), FeedbackGiven(key="r", rating="bad")])
    ProjectionRunner(log, store, [EventCounts()]).catch_up()
    runner = ProjectionRunner(log, store, [EventCounts(), Feedback()])
    runner.catch_up()
    assert runner.state("events")["total"] == 4  # not counted twice
    assert runner.state("feedback") == {"bad": 1}


def test_snapshots_are_kept_every_so_many_events() -> None:
    log, store = MemoryLog(), MemoryStore()
    append_events(log, requests(2500))
    runner = ProjectionRunner(
        log, store, [EventCounts()], checkpoint_every=100, snapshot_every=1000
    )
    runner.catch_up()
    snapshots = store.snapshots("main", "events")
    assert [s.events for s in snapshots] == [1000, 2000]


def test_follow_folds_new_events_until_stopped() -> None:
    log, store = MemoryLog(), MemoryStore()
    runner = ProjectionRunner(log, store, [EventCounts()])
    stop = threading.Event()
    thread = threading.Thread(target=runner.follow, args=(stop,), kwargs={"idle": 0.05})
    thread.start()
    append_events(log, requests(3))
    deadline = time.monotonic() + 10
    while runner.state("events")["total"] < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    thread.join(10)
    assert runner.state("events")["total"] == 3
    saved = store.load("main", "events")
    assert saved is not None
    assert saved.events == 3


def test_policy_values_reach_folds_through_the_context() -> None:
    seen: list[Any] = []

    class Threshold(Projection[None]):
        name = "threshold"
        handles = (RequestReceived,)
        reads_policies = True

        def initial(self) -> None:
            return None

        def apply(self, state: None, event: Event, ctx: FoldContext) -> None:
            seen.append(ctx.policy("retrieval.threshold"))

    log = MemoryLog()
    append_events(
        log,
        [
            RequestReceived(prompt="a"),
            PolicyChanged(name="retrieval.threshold", value=0.7),
            RequestReceived(prompt="b"),
        ],
    )
    ProjectionRunner(log, None, [PoliciesProjection(), Threshold()]).catch_up()
    assert seen == [0.2, 0.7]


def test_a_fold_that_reads_a_policy_without_saying_so_is_stopped() -> None:
    class Sneaky(Projection[None]):
        name = "sneaky"
        handles = (RequestReceived,)

        def initial(self) -> None:
            return None

        def apply(self, state: None, event: Event, ctx: FoldContext) -> None:
            ctx.policy("retrieval.threshold")

    log = MemoryLog()
    append_events(log, [RequestReceived(prompt="a")])
    with pytest.raises(UndeclaredPolicyRead, match=r"sneaky.*reads_policies = True"):
        ProjectionRunner(log, None, [Sneaky()]).catch_up()


def test_threads_folding_one_runner_never_count_a_record_twice(tmp_path: Path) -> None:
    """A request path folds what it appends while another thread catches the runner up."""
    log = SqliteLog(tmp_path / "log.db")
    runner = ProjectionRunner(log, None, [EventCounts()])
    stop = threading.Event()

    def follower() -> None:
        while not stop.is_set():
            runner.catch_up()

    thread = threading.Thread(target=follower)
    thread.start()
    try:
        for event in requests(300):
            stored = append_events(log, [event])
            runner.fold_appended(stored, [event])
    finally:
        stop.set()
        thread.join(10)
    runner.catch_up()
    assert runner.state("events")["total"] == 300


def test_what_a_process_folded_as_it_appended_is_checkpointed_by_its_next_catch_up() -> None:
    """A process that appends and folds its own events (nothing to read back) still saves
    them as often as ``checkpoint_seconds`` says: a process killed after an hour of answers
    resumes from a second ago, not from its start."""
    log, store = MemoryLog(), MemoryStore()
    runner = ProjectionRunner(log, store, [EventCounts()], checkpoint_seconds=0.0)
    runner.catch_up()
    for event in requests(3):
        stored = append_events(log, [event])
        assert runner.fold_appended(stored, [event])
    assert store.load("main", "events") is None  # folded, not saved yet
    assert runner.catch_up(lazy=True) == 0  # nothing to read
    saved = store.load("main", "events")
    assert saved is not None
    assert saved.events == 3
    assert saved.position == runner.position
