"""Property tests: replay equals incremental folding; only per-key order matters."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from selfeng.core.mapper import append_events, from_record
from selfeng.infra.log.memory import MemoryLog
from selfeng.infra.store.memory import MemoryStore
from selfeng.projections.base import MAIN
from selfeng.projections.catalog import default_projections
from selfeng.projections.lessons import initial_lessons, rated_lessons
from selfeng.projections.replay import rebuild
from selfeng.projections.runner import ProjectionRunner
from selfeng.schemas import (
    CacheHit,
    Event,
    ExperimentStarted,
    FeedbackApplied,
    FeedbackGiven,
    ForkCreated,
    ForkDropped,
    PolicyChanged,
    PolicyRolledBack,
    RequestCompleted,
    RequestReceived,
    Step,
    ToolExecuted,
    ToolProposed,
    ToolRegistered,
    ToolSpec,
)
from tests.projections.helpers import interleave

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ARMS = st.sampled_from([None, None, None, "f1", "f2"])  # the fork that served a request
POLICY_NAMES = ["retrieval.threshold", "cache.ttl_seconds", "composite.min_frequency", "x.custom"]
VALUES = st.one_of(
    st.floats(min_value=-1, max_value=2, allow_nan=False).map(lambda f: round(f, 3)),
    st.integers(min_value=-5, max_value=5000),
    st.sampled_from(["fast", True, None]),
)


@st.composite
def events(draw: st.DrawFn) -> Event | list[Event]:
    at = T0 + timedelta(seconds=draw(st.integers(0, 3 * 86_400)))
    kind = draw(st.integers(0, 13))
    tool = draw(st.sampled_from(["t1", "t2"]))
    request = draw(st.sampled_from("abcd"))
    if kind == 8:
        return ToolProposed(
            tool=tool,
            version=draw(st.integers(1, 2)),
            code="",
            tests="",
            spec=ToolSpec(description="d"),
            occurred_at=at,
        )
    if kind == 9:
        return ToolExecuted(
            key=request,
            tool=tool,
            version=1,
            arguments={"x": draw(VALUES)},
            ok=draw(st.booleans()),
            result=draw(VALUES),
            duration_ms=1.0,
            sandbox="s",
            cacheable=draw(st.booleans()),
            occurred_at=at,
            policy_arm=draw(ARMS),
        )
    if kind == 13:  # a request that failed before any tool ran (the synthesis fold keeps it)
        return RequestCompleted(
            key=request,
            ok=False,
            answer="no tool",
            producer=draw(st.sampled_from(["selfeng", "selfeng.learner.synthesizer"])),
            occurred_at=at,
        )
    if kind == 10:
        return CacheHit(
            key=request, tool=tool, version=1, cache_key="k", occurred_at=at, policy_arm=draw(ARMS)
        )
    if kind in {11, 12}:
        steps = tuple(
            Step(
                query=draw(st.sampled_from(["flip it", "Flip  it", "more 3 of 'x'"])),
                tool=draw(st.sampled_from(["t1", "t2"])),
                version=1,
                ok=draw(st.booleans()),
                confident=draw(st.booleans()),
                planner=draw(st.sampled_from(["offline", "llm:m"])),
                arguments={"x": draw(st.sampled_from([3, "x", 2.5]))},
            )
            for _ in range(draw(st.integers(1, 2)))
        )
        session = draw(st.sampled_from([None, "s1", "s2"]))
        if kind == 12:  # an answer and the ratings of it, as the feedback learner writes them
            key = f"rated-{draw(st.integers(0, 10**9))}"
            completed = RequestCompleted(
                key=key, ok=draw(st.booleans()), answer="a", steps=steps, session_id=session,
                occurred_at=at,
            )  # fmt: skip
            out: list[Event] = [completed]
            prompt = draw(st.sampled_from(["flip it", "Flip  it", "more"]))
            before = initial_lessons(completed)
            for rating in draw(st.lists(st.sampled_from(["good", "bad"]), min_size=1, max_size=3)):
                after = rated_lessons(steps, rating)
                out.append(
                    FeedbackApplied(
                        key=key,
                        rating=rating,
                        feedback_id="f",
                        answer_id=str(completed.event_id),
                        steps=steps,
                        before=before,
                        after=after,
                        cache_keys=tuple(draw(st.lists(st.sampled_from(["k", "k2"]), max_size=2))),
                        session_id=session,
                        occurred_at=at + timedelta(seconds=1),
                        prompt=prompt,
                        answer="a",
                    )
                )
                before = after
            return out
        return RequestCompleted(
            key=request,
            ok=draw(st.booleans()),
            answer="a",
            value=draw(VALUES),
            steps=steps,
            session_id=session,
            occurred_at=at,
            policy_arm=draw(ARMS),
        )
    if kind == 0:
        return RequestReceived(key=draw(st.sampled_from("abcd")), prompt="q", occurred_at=at)
    if kind == 1:
        return FeedbackGiven(key=draw(st.sampled_from("abcd")), rating="good", occurred_at=at)
    if kind == 2:
        return PolicyRolledBack(
            name=draw(st.sampled_from(POLICY_NAMES)),
            to_version=draw(st.integers(1, 4)),
            occurred_at=at,
        )
    if kind == 3:
        return ForkCreated(
            fork=draw(st.sampled_from(["f1", "f2"])),
            policies={"retrieval.threshold": draw(VALUES)},
            occurred_at=at,
        )
    if kind == 4:
        return ForkDropped(fork=draw(st.sampled_from(["f1", "f2"])), occurred_at=at)
    if kind == 5:
        if draw(st.booleans()):
            return ExperimentStarted(
                experiment="e", arms={"a": "main"}, split={"a": 1.0}, occurred_at=at
            )
        return ExperimentStarted(
            experiment="e2",
            arms={"control": "main", "b": "f1"},
            split={"control": 0.5, "b": 0.5},
            occurred_at=at,
        )
    if kind == 6:
        return ToolRegistered(tool=draw(st.sampled_from(["t1", "t2"])), version=1, occurred_at=at)
    return PolicyChanged(
        name=draw(st.sampled_from(POLICY_NAMES)), value=draw(VALUES), occurred_at=at
    )


def streams(max_size: int) -> st.SearchStrategy[list[Event]]:
    """Lists of events (an answer and its ratings come together, in order)."""
    return st.lists(events(), max_size=max_size).map(
        lambda drawn: [e for item in drawn for e in (item if isinstance(item, list) else [item])]
    )


def dumped(runner: ProjectionRunner) -> dict[str, bytes]:
    return {n: orjson.dumps(runner.dumped(n), option=orjson.OPT_SORT_KEYS) for n in runner.names()}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(60), st.lists(st.integers(1, 15), min_size=1, max_size=8))
def test_replay_equals_incremental_folding(stream: list[Event], cuts: list[int]) -> None:
    log, store = MemoryLog(), MemoryStore()
    i = 0
    for size in [*cuts, len(stream)]:
        if i >= len(stream):
            break
        append_events(log, stream[i : i + size])
        i += size
        # a new runner each time: state must survive the store round trip too
        ProjectionRunner(log, store, default_projections(MAIN), checkpoint_every=3).catch_up()
    projections = default_projections(MAIN)
    live = ProjectionRunner(log, store, projections)
    replayed = rebuild(log, default_projections, MAIN)
    assert dumped(live) == dumped(replayed)
    for projection in projections:  # rows come back in the order they were first inserted
        for table in getattr(projection, "tables", ()):
            name = projection.name
            assert list(live.state(name)[table]) == list(replayed.state(name)[table]), name


@settings(max_examples=60, deadline=None)
@given(streams(60), st.randoms(use_true_random=False))
def test_only_the_order_within_a_key_matters(stream: list[Event], rnd: random.Random) -> None:
    """Fold the same events in another interleaving of keys (as Kafka may deliver them)."""
    shuffled = interleave(stream, rnd)
    first, second = MemoryLog(), MemoryLog()
    append_events(first, stream)
    append_events(second, shuffled)
    assert placeless(rebuild(first, default_projections, MAIN)) == placeless(
        rebuild(second, default_projections, MAIN)
    )


def placeless(runner: ProjectionRunner) -> dict[str, bytes]:
    """``dumped``, with the offsets where ``arm_lessons`` notes an undecided arm's events
    start left out: a place in one log, as a checkpoint's position is, not something learnt
    from the events, and it moves as keys interleave (what a conclusion reads from there is
    in the other projections' states)."""
    state = dict(runner.dumped("arm_lessons"))
    state["seen"] = {fork: sorted(since) for fork, since in state["seen"].items()}
    return {**dumped(runner), "arm_lessons": orjson.dumps(state, option=orjson.OPT_SORT_KEYS)}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(60))
def test_folding_mirrors_equals_folding_models(stream: list[Event]) -> None:
    """The fold loops decode the request family into msgspec mirrors
    (:mod:`selfeng.core.fold_views`); every projection ends the same as from pydantic's."""
    log = MemoryLog()
    append_events(log, stream)
    mirrored = dumped(rebuild(log, default_projections, MAIN))
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr("selfeng.projections.folding.fold_event", from_record)
        modelled = dumped(rebuild(log, default_projections, MAIN))
    assert mirrored == modelled
