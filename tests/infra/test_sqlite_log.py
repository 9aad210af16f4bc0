"""The log contract on the SQLite log, plus what only the embedded log promises."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from selfeng.core.log import EventLog, GroupBusy, NotOurLog
from selfeng.core.records import NewRecord
from selfeng.infra.log.sqlite import SqliteLog
from tests.contract.log_contract import LogContract, by_key, read_all, rec


class TestSqliteLog(LogContract):
    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path

    def create_log(self) -> EventLog:
        return SqliteLog.from_url(f"sqlite:///{self.tmp_path}/log.db")


def test_a_second_process_handle_sees_the_same_log(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/log.db"
    with SqliteLog.from_url(url) as writer, SqliteLog.from_url(url) as reader:
        writer.append([rec("a", 0), rec("a", 1)])
        assert by_key(read_all(reader)) == {"a": [0, 1]}


def test_reopening_keeps_the_records(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/log.db"
    with SqliteLog.from_url(url) as log:
        log.append([rec("a", 0)])
    with SqliteLog.from_url(url) as log:
        assert by_key(read_all(log)) == {"a": [0]}
        assert log.head().offset == 1


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("shopping list\n")
    with pytest.raises(NotOurLog, match="not a SQLite database"):
        SqliteLog(path)
    assert path.read_text() == "shopping list\n"


def test_someone_elses_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(NotOurLog, match="not a selfeng log"):
        SqliteLog(path)


def test_a_projection_store_file_is_not_a_log(tmp_path: Path) -> None:
    from selfeng.infra.store.sqlite import SqliteStore

    SqliteStore(tmp_path / "p.db").close()
    with pytest.raises(NotOurLog, match="not a log"):
        SqliteLog(tmp_path / "p.db")


def test_a_group_has_one_member_at_a_time(tmp_path: Path) -> None:
    with SqliteLog.from_url(f"sqlite:///{tmp_path}/log.db") as log:
        first = log.consumer("g")
        with pytest.raises(GroupBusy, match="already has a member"):
            log.consumer("g")
        first.close()
        log.consumer("g").close()


def test_a_dead_members_lease_is_taken_over_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/log.db"
    script = (
        "import os, sys\n"
        "from selfeng.infra.log.sqlite import SqliteLog\n"
        f"log = SqliteLog.from_url({url!r})\n"
        "log.consumer('g')\n"
        "print('joined', flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    member = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert "joined" in member.stdout
    assert member.returncode == -9
    with SqliteLog.from_url(url) as log:
        log.consumer("g").close()  # no 30 s wait for a lease its owner cannot renew


def test_bad_urls_say_what_is_expected() -> None:
    with pytest.raises(ValueError, match="names a file"):
        SqliteLog.from_url("sqlite://")
    with pytest.raises(ValueError, match="synchronous"):
        SqliteLog.from_url("sqlite:////tmp/x.db?synchronous=sometimes")


def test_an_event_id_is_stored_once_whatever_its_key(tmp_path: Path) -> None:
    with SqliteLog(tmp_path / "log.db") as log:
        first = rec("a")
        (stored,) = log.append([first])
        again = log.append([first._replace(key="b"), rec("c")])
        assert again[0] == stored  # the copy under another key is the stored one
        assert [r.key for r in read_all(log)] == ["a", "c"]
        derived = first._replace(event_id=uuid.uuid5(uuid.NAMESPACE_URL, "x").bytes)
        log.append([derived])
        assert log.append([derived]) == log.append([derived])
        assert len(read_all(log)) == 3


def test_a_log_written_before_ids_were_indexed_gets_the_index(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    with SqliteLog(path) as log:
        log.append([rec("a")])
    conn = sqlite3.connect(path)
    conn.execute("DROP INDEX events_id")
    conn.commit()
    conn.close()
    with SqliteLog(path) as log:
        first = read_all(log)[0]
        assert log.append([rec("b")])
        assert len(read_all(log)) == 2
        again = log.append([NewRecord(*first[:7])])
        assert again[0].offset == first.offset
    conn = sqlite3.connect(path)
    unique = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'events_id'").fetchone()[0]
    conn.close()
    assert "UNIQUE" in unique
