from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from selfeng.app import Selfeng
from selfeng.core.mapper import append_events
from selfeng.infra.log.memory import MemoryLog
from selfeng.infra.store.memory import MemoryStore
from selfeng.projections.base import FoldContext, ForkSpec, Projection
from selfeng.projections.catalog import default_projections
from selfeng.projections.engine import ProjectionEngine
from selfeng.projections.replay import verify
from selfeng.projections.runner import ProjectionRunner
from selfeng.schemas import Event, ForkCreated, ForkDropped, PolicyChanged, RequestReceived


def threshold(app: Selfeng, fork: str) -> object:
    return app.engine.state("policies", fork)["policies"]["retrieval.threshold"]["value"]


def test_a_fork_is_built_from_the_whole_log_and_kept_current(app: Selfeng) -> None:
    app.append([RequestReceived(prompt=f"q{i}") for i in range(10)])
    app.append([ForkCreated(fork="strict", policies={"retrieval.threshold": 0.9})])
    app.engine.catch_up()
    assert [f.name for f in app.engine.forks()] == ["strict"]
    assert threshold(app, "strict") == 0.9
    assert threshold(app, "main") == 0.2
    strict = app.engine.runner(app.engine.fork("strict"))
    assert strict.events_applied("events") == 11
    app.append(
        [RequestReceived(prompt="later"), PolicyChanged(name="retrieval.threshold", value=0.5)]
    )
    app.engine.catch_up()
    assert strict.events_applied("events") == 13
    assert threshold(app, "main") == 0.5
    assert threshold(app, "strict") == 0.9
    assert "strict" in app.store.forks()


def test_a_dropped_fork_loses_its_stored_state(app: Selfeng) -> None:
    app.append([ForkCreated(fork="tmp", policies={"cache.ttl_seconds": 5})])
    app.engine.catch_up()
    assert "tmp" in app.store.forks()
    app.append([ForkDropped(fork="tmp")])
    app.engine.catch_up()
    assert app.engine.forks() == []
    assert "tmp" not in app.store.forks()


def test_run_keeps_forks_current_until_stopped(app: Selfeng) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=app.engine.run, args=(stop,), kwargs={"idle": 0.05})
    thread.start()
    try:
        app.append([ForkCreated(fork="f", policies={"retrieval.top_k": 2})])
        app.append([RequestReceived(prompt="q")])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            stored = app.store.load("f", "policies")
            if stored is not None and stored.position == app.log.head():
                break
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(10)
    stored = app.store.load("f", "policies")
    assert stored is not None
    assert stored.position == app.log.head()
    # an overlay: the fork stores its policies, and reads everything else from main
    assert app.store.load("f", "events") is None
    assert app.engine.runner(app.engine.fork("f")).events_applied("events") == 2


def test_a_fork_created_by_another_process_is_found(app: Selfeng) -> None:
    app.engine.catch_up()
    app.append([ForkCreated(fork="elsewhere", policies={"retrieval.top_k": 9})])
    # this engine's main line has not folded the ForkCreated yet
    assert threshold(app, "elsewhere") == 0.2
    state = app.engine.state("policies", "elsewhere")
    assert state["policies"]["retrieval.top_k"]["value"] == 9


def test_two_projections_of_one_name_are_refused() -> None:
    from selfeng.infra.log.memory import MemoryLog
    from selfeng.projections.cache import CacheProjection
    from selfeng.projections.runner import ProjectionRunner

    with pytest.raises(ValueError, match="two projections are named cache"):
        ProjectionRunner(MemoryLog(), None, [CacheProjection(), CacheProjection()])


class Threshold(Projection[list[Any]]):
    """Records the retrieval threshold in force at every request (depends on its fork)."""

    name = "threshold"
    handles = (RequestReceived,)
    reads_policies = True

    def initial(self) -> list[Any]:
        return []

    def apply(self, state: list[Any], event: Event, ctx: FoldContext) -> list[Any]:
        return [*state, ctx.policy("retrieval.threshold")]


def test_a_fork_folds_only_what_depends_on_its_policies_and_shares_the_rest() -> None:
    log, store = MemoryLog(), MemoryStore()
    engine = ProjectionEngine(log, store, lambda fork: [*default_projections(fork), Threshold()])
    append_events(log, [RequestReceived(prompt=f"q{i}") for i in range(5)])
    append_events(log, [ForkCreated(fork="strict", policies={"retrieval.threshold": 0.9})])
    append_events(log, [RequestReceived(prompt="later")])
    engine.catch_up()
    strict = engine.runner(engine.fork("strict"))
    assert engine.state("threshold", "strict") == [0.9] * 6  # pinned from position 0
    assert engine.state("threshold") == [0.2] * 6
    assert not strict.folds("events")  # read from main's runner
    assert strict.folds("registry")  # it learns from answers: the fork's own copy
    assert strict.state("registry") == engine.main.state("registry")  # no arm traffic yet
    assert sorted(strict.names()) == sorted(engine.main.names())
    assert {cp for cp in ("policies", "threshold") if store.load("strict", cp)} == {
        "policies",
        "threshold",
    }
    assert store.load("strict", "registry") is None  # derived from main's at every open
    assert store.load("strict", "events") is None
    assert all(r.equal for r in verify(engine, "strict"))  # a full refold agrees


def test_what_a_fork_stored_before_it_was_an_overlay_is_deleted() -> None:
    log, store = MemoryLog(), MemoryStore()
    append_events(log, [ForkCreated(fork="old", policies={"retrieval.top_k": 2})])
    full = ProjectionRunner(log, store, default_projections(ForkSpec("old")), fork=ForkSpec("old"))
    full.catch_up()  # as a fork was kept before: every projection, whole
    assert store.load("old", "events") is not None
    engine = ProjectionEngine(log, store)
    engine.catch_up()
    assert store.load("old", "events") is None
    assert store.load("old", "policies") is not None
