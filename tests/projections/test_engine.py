from __future__ import annotations

import threading
import time

import pytest

from selfeng.app import Selfeng
from selfeng.schemas import ForkCreated, ForkDropped, PolicyChanged, RequestReceived


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
            stored = app.store.load("f", "events")
            if stored is not None and stored.events == 2:
                break
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(10)
    stored = app.store.load("f", "events")
    assert stored is not None
    assert stored.events == 2


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
