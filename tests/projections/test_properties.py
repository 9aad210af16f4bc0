"""Property tests: replay equals incremental folding; only per-key order matters."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from selfeng.core.mapper import append_events
from selfeng.infra.memory_log import MemoryLog
from selfeng.infra.memory_store import MemoryStore
from selfeng.projections.base import MAIN
from selfeng.projections.catalog import default_projections
from selfeng.projections.replay import rebuild
from selfeng.projections.runner import ProjectionRunner
from selfeng.schemas import (
    CacheHit,
    Event,
    ExperimentStarted,
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
POLICY_NAMES = ["retrieval.threshold", "cache.ttl_seconds", "composite.min_frequency", "x.custom"]
VALUES = st.one_of(
    st.floats(min_value=-1, max_value=2, allow_nan=False).map(lambda f: round(f, 3)),
    st.integers(min_value=-5, max_value=5000),
    st.sampled_from(["fast", True, None]),
)


@st.composite
def events(draw: st.DrawFn) -> Event:
    at = T0 + timedelta(seconds=draw(st.integers(0, 3 * 86_400)))
    kind = draw(st.integers(0, 11))
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
        )
    if kind == 10:
        return CacheHit(key=request, tool=tool, version=1, cache_key="k", occurred_at=at)
    if kind == 11:
        steps = (
            Step(
                query=draw(st.sampled_from(["flip it", "Flip  it", "more"])),
                tool=tool,
                version=1,
                ok=True,
            ),
        )
        return RequestCompleted(key=request, ok=True, answer="a", steps=steps, occurred_at=at)
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
        return ExperimentStarted(
            experiment="e", arms={"a": "main"}, split={"a": 1.0}, occurred_at=at
        )
    if kind == 6:
        return ToolRegistered(tool=draw(st.sampled_from(["t1", "t2"])), version=1, occurred_at=at)
    return PolicyChanged(
        name=draw(st.sampled_from(POLICY_NAMES)), value=draw(VALUES), occurred_at=at
    )


def dumped(runner: ProjectionRunner) -> dict[str, bytes]:
    return {n: orjson.dumps(runner.dumped(n), option=orjson.OPT_SORT_KEYS) for n in runner.names()}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events(), max_size=60), st.lists(st.integers(1, 15), min_size=1, max_size=8))
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
    live = ProjectionRunner(log, store, default_projections(MAIN))
    replayed = rebuild(log, default_projections, MAIN)
    assert dumped(live) == dumped(replayed)


@settings(max_examples=60, deadline=None)
@given(st.lists(events(), max_size=60), st.randoms(use_true_random=False))
def test_only_the_order_within_a_key_matters(stream: list[Event], rnd: random.Random) -> None:
    """Fold the same events in another interleaving of keys (as Kafka may deliver them)."""
    shuffled = interleave(stream, rnd)
    first, second = MemoryLog(), MemoryLog()
    append_events(first, stream)
    append_events(second, shuffled)
    assert dumped(rebuild(first, default_projections, MAIN)) == dumped(
        rebuild(second, default_projections, MAIN)
    )
