from __future__ import annotations

import dataclasses

import orjson

from selfeng.app import Selfeng
from selfeng.core.positions import GlobalPosition
from selfeng.projections.catalog import projection_names
from selfeng.projections.replay import json_differences, state_at, verify
from selfeng.schemas import PolicyChanged, RequestReceived


def test_replay_equals_the_live_state(memory_app: Selfeng) -> None:
    memory_app.append([RequestReceived(prompt=f"q{i}") for i in range(20)])
    memory_app.append([PolicyChanged(name="retrieval.threshold", value=0.5)])
    memory_app.engine.catch_up()
    results = verify(memory_app.engine)
    assert {r.projection for r in results} == set(projection_names())
    assert all(r.equal for r in results)
    assert next(r for r in results if r.projection == "events").replayed_events == 21


def test_replay_finds_live_state_that_is_not_a_fold_of_the_log(memory_app: Selfeng) -> None:
    memory_app.append([RequestReceived(prompt="q")])
    memory_app.engine.catch_up()
    store = memory_app.store
    saved = store.load("main", "events")
    assert saved is not None
    state = orjson.loads(saved.state)
    state["total"] = 99  # state written by something other than the fold
    store.save([dataclasses.replace(saved, state=orjson.dumps(state))])
    memory_app.engine._runners.clear()  # a fresh process reads the stored state
    results = {r.projection: r for r in verify(memory_app.engine)}
    assert not results["events"].equal
    assert results["events"].differences == ["$.total: live 99 != replay 1"]
    assert results["policies"].equal


def test_replay_can_start_from_a_snapshot(memory_app: Selfeng) -> None:
    memory_app.append([RequestReceived(prompt=f"q{i}") for i in range(10)])
    memory_app.engine.main.catch_up()
    memory_app.engine.main.snapshot()
    memory_app.append([RequestReceived(prompt=f"r{i}") for i in range(5)])
    results = verify(memory_app.engine, from_snapshot=True)
    events = next(r for r in results if r.projection == "events")
    assert events.equal
    assert events.replayed_events == 15


def test_state_at_a_past_position(memory_app: Selfeng) -> None:
    memory_app.append([PolicyChanged(name="retrieval.threshold", value=0.5)])
    memory_app.append([PolicyChanged(name="retrieval.threshold", value=0.6)])
    memory_app.append([PolicyChanged(name="retrieval.threshold", value=0.7)])
    engine = memory_app.engine
    engine.catch_up()
    engine.main.snapshot()  # a snapshot after the position asked for must not be used
    values = [
        state_at(engine, "policies", GlobalPosition(p))["policies"]["retrieval.threshold"]["value"]
        for p in range(4)
    ]
    assert values == [0.2, 0.5, 0.6, 0.7]
    assert state_at(engine, "events", GlobalPosition(2))["total"] == 2


def test_differences_name_the_paths() -> None:
    a = {"x": {"y": [1, 2]}, "only_a": 1}
    b = {"x": {"y": [1, 3]}, "only_b": 2}
    assert json_differences(a, b) == [
        "$.only_a: only in the live state",
        "$.only_b: only in the replay",
        "$.x.y[1]: live 2 != replay 3",
    ]
    assert json_differences(a, a) == []
