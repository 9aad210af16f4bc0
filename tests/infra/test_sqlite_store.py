"""The store contract on the SQLite store, plus atomicity and the format check."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfeng.core.log import NotOurLog
from selfeng.core.store import ProjectionStore
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
