"""The store contract on the SQLite store, plus atomicity and the format check."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from selfeng.core.log import NotOurLog
from selfeng.core.positions import GlobalPosition
from selfeng.core.store import ProjectionStore, RowChange
from selfeng.infra.log.sqlite import SqliteLog
from selfeng.infra.store.sqlite import SqliteStore
from tests.contract.store_contract import StoreContract, cp


class TestSqliteStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path

    def create_store(self) -> ProjectionStore:
        return SqliteStore.from_url(f"sqlite:///{self.tmp_path}/store.db")


def test_a_failed_save_saves_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    store.save([cp("events", 1)])
    bad = cp("policies", 2)
    object.__setattr__(bad, "state", object())  # not bytes: the second row fails to bind
    with pytest.raises(Exception, match="type"):
        store.save([cp("events", 2), bad])
    assert store.load("main", "events") == cp("events", 1)
    assert store.load("main", "policies") is None


def test_checkpoints_survive_reopening(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "s.db") as store:
        store.save([cp("events", 4)], snapshot=True)
    with SqliteStore(tmp_path / "s.db") as store:
        assert store.load("main", "events") == cp("events", 4)
        assert len(store.snapshots("main", "events")) == 1


def test_a_log_file_is_not_a_store(tmp_path: Path) -> None:
    SqliteLog(tmp_path / "log.db").close()
    with pytest.raises(NotOurLog, match="not a projection store"):
        SqliteStore(tmp_path / "log.db")


VERSION_1 = [
    "CREATE TABLE selfeng_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE checkpoints (
        fork TEXT NOT NULL, projection TEXT NOT NULL, log_id TEXT NOT NULL,
        projection_version INTEGER NOT NULL, position TEXT NOT NULL, events INTEGER NOT NULL,
        state BLOB NOT NULL, saved_at REAL NOT NULL, PRIMARY KEY (fork, projection))""",
    """CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY, fork TEXT NOT NULL, projection TEXT NOT NULL, log_id TEXT NOT NULL,
        projection_version INTEGER NOT NULL, position TEXT NOT NULL, events INTEGER NOT NULL,
        state BLOB NOT NULL, saved_at REAL NOT NULL)""",
    "INSERT INTO selfeng_meta VALUES ('format', 'projection store'), ('format_version', '1')",
    """INSERT INTO checkpoints VALUES ('main', 'cache', 'log-1', 1,
        '{"kind": "global", "offset": 3}', 3, '{"entries": {}}', 1.0)""",
]


def test_a_version_1_store_is_upgraded_in_place_and_keeps_its_checkpoints(
    tmp_path: Path,
) -> None:
    conn = sqlite3.connect(tmp_path / "s.db")
    for statement in VERSION_1:
        conn.execute(statement)
    conn.commit()
    conn.close()
    with SqliteStore(tmp_path / "s.db") as store:
        old = store.load("main", "cache")
        assert old is not None
        assert (old.state, old.tables, old.position) == (b'{"entries": {}}', (), GlobalPosition(3))
        store.commit(
            [replace(cp("cache", 4), tables=("entries",))],
            [RowChange("main", "cache", "entries/k", b"1", seq=0)],
        )
    with SqliteStore(tmp_path / "s.db") as store:
        assert store.get("main", "cache", "entries/k") == b"1"
        loaded = store.load("main", "cache")
        assert loaded is not None
        assert loaded.tables == ("entries",)
