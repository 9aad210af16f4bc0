"""Read-only views of projection state: a reader can neither change state nor see it change."""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from selfeng.core.mapper import to_record
from selfeng.core.records import NewRecord
from selfeng.infra.log.memory import MemoryLog
from selfeng.infra.store.memory import MemoryStore
from selfeng.projections.base import MAIN
from selfeng.projections.catalog import default_projections
from selfeng.projections.runner import ProjectionRunner
from selfeng.projections.views import FrozenDict, FrozenList, frozen, thaw
from selfeng.schemas import CacheHit, ToolExecuted


def live() -> dict[str, Any]:
    return {"tools": {"a": {"versions": {"1": {"status": "registered"}}, "history": [1, [2]]}}}


def test_a_view_refuses_every_change_at_every_depth() -> None:
    view = frozen(live())
    tool = view["tools"]["a"]
    changes: list[Callable[[], object]] = [
        lambda: view.__setitem__("x", 1),
        lambda: view.pop("tools"),
        lambda: view.update(x=1),
        lambda: view.setdefault("x", 1),
        lambda: view.clear(),
        lambda: view.popitem(),
        lambda: tool["versions"]["1"].__setitem__("status", "gone"),
        lambda: tool["history"].append(3),
        lambda: tool["history"][1].append(3),
        lambda: tool["history"].__setitem__(0, 9),
        lambda: tool.get("history").sort(),
        lambda: tool["history"][1:].append(0),
        lambda: next(reversed(tool["history"])).append(0),
    ]
    for change in changes:
        with pytest.raises(TypeError, match="read-only"):
            change()

    def delete() -> None:
        del view["tools"]

    with pytest.raises(TypeError, match="read-only"):
        delete()
    assert view == live()


def test_a_view_is_a_dict_to_readers_and_serialisers() -> None:
    view = frozen(live())
    assert isinstance(view, dict)
    assert isinstance(view["tools"]["a"]["history"], list)
    assert orjson.loads(orjson.dumps(view)) == live()
    assert json.loads(json.dumps(view)) == live()
    assert [type(v) for v in view.values()] == [FrozenDict]
    assert [type(v) for _, v in view.items()] == [FrozenDict]
    assert [type(v) for v in view["tools"]["a"]["history"]] == [int, FrozenList]
    # copies are plain and writable, and do not reach into the state
    for plain in (thaw(view), copy.deepcopy(view), pickle.loads(pickle.dumps(view))):
        assert type(plain) is dict
        assert plain == live()
        plain["tools"]["a"]["history"].append(3)
    writable = view.copy()
    writable["x"] = 1
    assert "x" not in view
    assert view == live()


def test_what_a_reader_holds_does_not_change_when_a_fold_changes_the_state() -> None:
    state = live()
    view = frozen(state)
    tools = view["tools"]
    history = tools["a"]["history"]
    state["tools"]["b"] = {}
    state["tools"]["a"]["history"].append(3)
    assert list(tools) == ["a"]
    assert history == [1, [2]]
    assert list(frozen(state)["tools"]) == ["a", "b"]  # a new read sees the new state


def test_runner_state_is_a_read_only_view_of_the_live_state() -> None:
    log = MemoryLog()
    runner = ProjectionRunner(log, MemoryStore(), default_projections(MAIN))
    executed = ToolExecuted(
        key="r1",
        tool="add",
        version=1,
        arguments={},
        ok=True,
        result=3,
        duration_ms=1.0,
        sandbox="s",
    )
    records: list[NewRecord] = [to_record(executed)]
    log.append(records)
    runner.catch_up()
    registry = runner.state("registry")
    stats = registry["stats"]["add@1"]
    with pytest.raises(TypeError, match="read-only"):
        stats["executions"] = 100
    log.append([to_record(CacheHit(key="k", tool="add", version=1, cache_key="c"))])
    runner.catch_up()
    assert stats["cache_hits"] == 0  # what was read stays as it was read
    assert runner.state("registry")["stats"]["add@1"]["cache_hits"] == 1
    assert runner.state("registry")["stats"]["add@1"]["executions"] == 1
