"""Keyed tables: a checkpoint writes the rows a fold changed, and a restart puts them back."""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

from selfeng.core.mapper import append_events
from selfeng.core.store import Checkpoint, ProjectionStore, RowChange
from selfeng.infra.log.memory import MemoryLog
from selfeng.infra.log.sqlite import SqliteLog
from selfeng.infra.store.memory import MemoryStore
from selfeng.infra.store.sqlite import SqliteStore
from selfeng.projections.base import MAIN, FoldContext, Projection
from selfeng.projections.replay import rebuild
from selfeng.projections.runner import ProjectionRunner
from selfeng.projections.tables import RowTable
from selfeng.schemas import Event, RequestReceived

State = dict[str, Any]


class Commands(Projection[State]):
    """Folds prompts as commands on two tables: ``set k v``, ``bump k`` (a change in place),
    ``del k``, ``evict`` (the oldest goes), ``reset`` (a table replaced whole)."""

    name = "commands"
    handles = (RequestReceived,)
    tables = ("items", "counts")

    def initial(self) -> State:
        return {"items": {}, "counts": {}, "applied": 0}

    def apply(self, state: State, event: Event, ctx: FoldContext) -> State:
        assert isinstance(event, RequestReceived)
        verb, *args = event.prompt.split()
        items, counts = state["items"], state["counts"]
        if verb == "set":
            items[args[0]] = {"value": args[1], "seen": []}
        elif verb == "bump":
            counts.setdefault(args[0], {"n": 0})["n"] += 1
            item = items.get(args[0])
            if item is not None:
                item["seen"].append(state["applied"])
        elif verb == "del":
            items.pop(args[0], None)
        elif verb == "evict" and items:
            del items[next(iter(items))]
        elif verb == "reset":
            state["counts"] = {k: v for k, v in counts.items() if k < "m"}
        state["applied"] += 1
        return state


class Counted(MemoryStore):
    """A memory store that keeps what each commit was asked to write."""

    def __init__(self) -> None:
        super().__init__()
        self.commits: list[list[RowChange]] = []

    def commit(self, checkpoints: Any, changes: Any = (), **kw: Any) -> None:
        super().commit(checkpoints, changes, **kw)
        self.commits.append(list(changes))


def prompts(*texts: str) -> list[Event]:
    return [RequestReceived(prompt=t) for t in texts]


def runner(log: Any, store: ProjectionStore) -> ProjectionRunner:
    return ProjectionRunner(log, store, [Commands()], checkpoint_every=10**9)


def replayed(log: Any) -> State:
    state: State = rebuild(log, lambda fork: [Commands()], MAIN).state("commands")
    return state


def ordered(state: State) -> dict[str, Any]:
    return {t: list(state[t].items()) for t in Commands.tables} | {"applied": state["applied"]}


def test_a_checkpoint_writes_only_the_rows_that_changed() -> None:
    log, store = MemoryLog(), Counted()
    append_events(log, prompts(*(f"set k{i} v{i}" for i in range(500))))
    runner(log, store).catch_up()
    assert len(store.commits[-1]) == 500
    append_events(log, prompts("bump k7", "del k3"))
    again = runner(log, store)
    again.catch_up()
    written = {c.key: c.value for c in store.commits[-1]}
    assert written == {
        "counts/k7": b'{"n":1}',
        "items/k7": b'{"value":"v7","seen":[500]}',
        "items/k3": None,
    }


def test_reads_outside_a_fold_write_nothing() -> None:
    log, store = MemoryLog(), Counted()
    append_events(log, prompts(*(f"set k{i} v{i}" for i in range(50))))
    live = runner(log, store)
    live.catch_up()
    items = live.state("commands")["items"]
    assert sum(len(item["seen"]) for item in items.values()) == 0  # the request path reads
    append_events(log, prompts("bump nothing"))
    live.catch_up()
    assert {c.key for c in store.commits[-1]} == {"counts/nothing"}


def test_a_restart_puts_back_every_row_in_its_first_order() -> None:
    log, store = MemoryLog(), MemoryStore()
    script = [
        *(f"set k{i} v{i}" for i in range(8)),
        "bump k2", "del k1", "set k1 again", "evict", "set k0 back", "bump k5",
        "bump m1", "bump a1", "reset", "bump z9", "evict", "set k2 changed",
    ]  # fmt: skip
    for i, prompt in enumerate(script):  # a new process after every event
        append_events(log, prompts(prompt))
        runner(log, store).catch_up()
        fresh = replayed(log)
        assert ordered(runner(log, store).state("commands")) == ordered(fresh), script[: i + 1]


def test_a_runner_behind_another_on_one_store_never_counts_twice(tmp_path: Path) -> None:
    """A client and a worker share a home: the one behind saves only once it is as far."""
    log = SqliteLog(tmp_path / "log.db")
    store = SqliteStore(tmp_path / "projections.db")
    append_events(log, prompts("set a 1", "bump a"))
    client, worker = runner(log, store), runner(log, store)
    client.catch_up()
    worker.catch_up()
    append_events(log, prompts("bump a", "bump b"))
    worker.catch_up()  # saved further
    client.checkpoint()  # behind: refused, nothing written
    saved = store.load("main", "commands")
    assert saved is not None
    assert saved.position == log.head()
    append_events(log, prompts("bump a"))
    client.catch_up()  # now as far as anyone: saved, with what it noted since its last save
    reopened = runner(log, store)
    expected = replayed(log)
    assert ordered(reopened.state("commands")) == ordered(expected)
    assert reopened.state("commands")["counts"]["a"] == {"n": 3}


def test_a_whole_state_saved_before_tables_is_kept_and_written_as_rows() -> None:
    log, store = MemoryLog(), Counted()
    append_events(log, prompts("set a 1", "set b 2", "bump a"))
    whole = replayed(log)
    store.save(
        [Checkpoint("main", "commands", log.log_id, 1, log.head(), 3, orjson.dumps(whole), 1.0)]
    )
    upgraded = runner(log, store)
    assert upgraded.rebuilt == {}
    assert ordered(upgraded.state("commands")) == ordered(whole)
    upgraded.checkpoint()
    assert {c.key for c in store.commits[-1]} == {"items/a", "items/b", "counts/a"}
    assert ordered(runner(log, store).state("commands")) == ordered(whole)


def test_a_rebuilt_projection_leaves_no_rows_of_the_old_version() -> None:
    log, store = MemoryLog(), MemoryStore()
    append_events(log, prompts("set a 1", "set b 2"))
    runner(log, store).catch_up()

    class Renamed(Commands):
        version = 2

        def apply(self, state: State, event: Event, ctx: FoldContext) -> State:
            state["applied"] += 1
            return state

    newer = ProjectionRunner(log, store, [Renamed()])
    assert "version 1" in newer.rebuilt["commands"]
    newer.catch_up()
    assert list(store.rows("main", "commands")) == []


def test_row_table_notes_writes_and_in_place_reads_while_folding() -> None:
    table = RowTable({"a": {"n": 1}, "b": 2}, clean=True)
    assert table.get("a") == {"n": 1}
    assert table.changed == set()  # not folding
    reader = threading.Thread(target=lambda: list(table.values()))
    table.recording = threading.get_ident()
    reader.start()  # another thread reading meanwhile notes nothing
    reader.join()
    assert table.changed == set()
    table.get("a")
    _ = table["b"]  # a number cannot change in place
    assert table.changed == {"a"}
    table["c"] = 3
    table.pop("b")
    table.setdefault("d", [])
    assert (table.changed, list(table.added), table.removed) == (
        {"a", "c", "d"},
        ["c", "d"],
        {"b"},
    )
    assert type(copy.deepcopy(table)) is dict
    table.changed.clear()
    shallow = table.copy()  # its values are the table's: what it hands out is noted
    assert type(shallow) is dict
    assert table.changed == {"a", "d"}
    with pytest.raises(KeyError):
        table.pop("nope")
