"""``sqlite:///path``: the embedded log. One file, WAL, one global order.

Safe for one writer and many readers across processes: appends take SQLite's write lock
(``BEGIN IMMEDIATE``), so concurrent writers queue rather than interleave, and readers in
WAL mode never block them. Positions are the ``position`` column, assigned in commit order,
so a reader never sees a gap fill in behind it.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path

from selfeng.core.log import (
    ConcurrencyConflict,
    EventLog,
    GroupBusy,
    GroupConsumer,
    ReadingConsumer,
    RecordBatch,
)
from selfeng.core.positions import GlobalPosition, Position
from selfeng.core.records import NewRecord, StoredRecord
from selfeng.infra.sqlite_common import (
    ThreadConnections,
    check_format,
    check_sqlite_file,
    sqlite_path,
    write_transaction,
)

FORMAT = "log"
FORMAT_VERSION = 1
_CHUNK = 500  # bound parameters per IN (...) query

_SCHEMA = """
CREATE TABLE selfeng_meta (name TEXT PRIMARY KEY, value NOT NULL);
CREATE TABLE events (
    position     INTEGER PRIMARY KEY,
    event_id     BLOB    NOT NULL,
    topic        TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    type         TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    data         BLOB    NOT NULL
);
CREATE INDEX events_key ON events (key);
CREATE UNIQUE INDEX events_id ON events (event_id);
CREATE TABLE consumer_groups (
    name        TEXT PRIMARY KEY,
    position    INTEGER NOT NULL DEFAULT 0,
    owner       TEXT,
    lease_until REAL NOT NULL DEFAULT 0
);
"""

# Column order matches the records' fields: rows become StoredRecords with one C call.
_COLUMNS = "event_id, topic, key, type, version, data, timestamp_ms, 0, position"
_INSERT = (
    "INSERT OR IGNORE INTO events (event_id, topic, key, type, version, data, timestamp_ms)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_stored = partial(tuple.__new__, StoredRecord)
_LAST = "SELECT coalesce(max(position), 0) FROM events"


class SqliteLog(EventLog):
    """The embedded log in one SQLite file."""

    def __init__(self, path: Path, *, synchronous: str = "NORMAL", url: str | None = None) -> None:
        self.url = url or f"sqlite:///{path}"
        self.path = path
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"synchronous must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}")
        check_sqlite_file(path, FORMAT)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conns = ThreadConnections(path, synchronous.upper())
        conn = self._conns.get()
        with write_transaction(conn):
            if not check_format(conn, path, FORMAT, FORMAT_VERSION):
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.executemany(
                    "INSERT INTO selfeng_meta VALUES (?, ?)",
                    [
                        ("format", FORMAT),
                        ("format_version", str(FORMAT_VERSION)),
                        ("log_id", f"sqlite:{uuid.uuid4()}"),
                    ],
                )
            (self._log_id,) = conn.execute(
                "SELECT value FROM selfeng_meta WHERE name = 'log_id'"
            ).fetchone()
            _index_event_ids(conn)

    @property
    def log_id(self) -> str:
        return str(self._log_id)

    @classmethod
    def from_url(cls, url: str) -> SqliteLog:
        """Open (creating if needed) the log a ``sqlite:///`` URL names.

        Option: ``?synchronous=FULL`` to fsync every commit (default NORMAL: durable across
        process crashes; a power cut may lose the last commits, never corrupt the file).
        """
        path, options = sqlite_path(url)
        return cls(path, synchronous=options.get("synchronous", "NORMAL"), url=url)

    # -- appending -------------------------------------------------------------------------

    def append(
        self,
        records: Sequence[NewRecord],
        *,
        expected_versions: Mapping[str, int] | None = None,
    ) -> list[StoredRecord]:
        if not records:
            return []
        conn = self._conns.get()
        with write_transaction(conn):
            return self._append_locked(conn, records, expected_versions or {})

    def _append_locked(
        self,
        conn: sqlite3.Connection,
        records: Sequence[NewRecord],
        expected: Mapping[str, int],
    ) -> list[StoredRecord]:
        ids = [r.event_id for r in records]
        (last,) = conn.execute(_LAST).fetchone()
        if expected:
            existing = self._existing(conn, ids)
            dup_keys = {r.key for r in records if r.event_id in existing}
            for key, want in expected.items():
                have = self._count(conn, key)
                if key not in dup_keys and have != want:
                    raise ConcurrencyConflict(key, want, have)
        # The unique index on event ids skips a record whose id is stored already (a retry,
        # or the same id twice in the batch); under the write lock SQLite gives the others
        # the positions after ``last``, in order.
        before = conn.total_changes
        conn.executemany(_INSERT, records)
        if conn.total_changes - before == len(records):
            return [_stored((*r, 0, position)) for position, r in enumerate(records, last + 1)]
        stored = self._existing(conn, ids)  # some were there: where each one is
        return [stored[i] for i in ids]

    @staticmethod
    def _existing(conn: sqlite3.Connection, ids: Sequence[bytes]) -> dict[bytes, StoredRecord]:
        """The stored copies of the records with these ids (by the unique index)."""
        found: dict[bytes, StoredRecord] = {}
        unique = list(set(ids))
        for i in range(0, len(unique), _CHUNK):
            chunk = unique[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT {_COLUMNS} FROM events WHERE event_id IN ({marks})"
            for row in conn.execute(sql, chunk):
                found[row[0]] = _stored(row)
        return found

    @staticmethod
    def _count(conn: sqlite3.Connection, key: str) -> int:
        (n,) = conn.execute("SELECT count(*) FROM events WHERE key = ?", (key,)).fetchone()
        return int(n)

    # -- reading ---------------------------------------------------------------------------

    def read(
        self,
        after: Position | None = None,
        *,
        until: Position | None = None,
        types: Collection[str] | None = None,
        topics: Collection[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[RecordBatch]:
        conn = self._conns.get()
        start = _offset(after)
        end = self._head_offset(conn)
        if until is not None:
            end = min(end, _offset(until))
        where, params = "position > ? AND position <= ?", []
        if types is not None:
            type_list = list(types)
            where += f" AND type IN ({','.join('?' * len(type_list))})"
            params += type_list
        if topics is not None:
            topic_list = list(topics)
            where += f" AND topic IN ({','.join('?' * len(topic_list))})"
            params += topic_list
        sql = f"SELECT {_COLUMNS} FROM events WHERE {where} ORDER BY position LIMIT ?"
        position = start
        while position < end:
            rows = conn.execute(sql, (position, end, *params, batch_size)).fetchall()
            records = list(map(_stored, rows))
            position = records[-1].offset if len(records) == batch_size else end
            yield RecordBatch(records, GlobalPosition(position))

    def wait_for_append(self, position: Position, timeout: float) -> None:
        conn = self._conns.get()
        target = _offset(position)
        deadline = time.monotonic() + timeout
        pause = 0.005
        while self._head_offset(conn) <= target:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.05)

    def stream(self, key: str) -> list[StoredRecord]:
        conn = self._conns.get()
        sql = f"SELECT {_COLUMNS} FROM events WHERE key = ? ORDER BY position"
        return list(map(_stored, conn.execute(sql, (key,))))

    def key_version(self, key: str) -> int:
        return self._count(self._conns.get(), key)

    def start(self) -> GlobalPosition:
        return GlobalPosition(0)

    def head(self) -> GlobalPosition:
        return GlobalPosition(self._head_offset(self._conns.get()))

    @staticmethod
    def _head_offset(conn: sqlite3.Connection) -> int:
        (head,) = conn.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()
        return int(head)

    # -- groups ----------------------------------------------------------------------------

    def consumer(
        self,
        group: str,
        *,
        topics: Collection[str] | None = None,
        types: Collection[str] | None = None,
        lease_seconds: float = 30.0,
    ) -> GroupConsumer:
        return _SqliteConsumer(self, group, topics, types, lease_seconds)

    def close(self) -> None:
        self._conns.close()


class _SqliteConsumer(ReadingConsumer):
    """A group member on the embedded log. A group has one member at a time (a lease)."""

    def __init__(
        self,
        log: SqliteLog,
        group: str,
        topics: Collection[str] | None,
        types: Collection[str] | None,
        lease_seconds: float,
    ) -> None:
        self._sqlite, self._group = log, group
        self._lease = lease_seconds
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"
        conn = log._conns.get()
        with write_transaction(conn):
            row = conn.execute(
                "SELECT position, owner, lease_until FROM consumer_groups WHERE name = ?", (group,)
            ).fetchone()
            now = time.time()
            if (
                row is not None
                and row[1]
                and row[1] != self._owner
                and row[2] > now
                and not _owner_is_dead(row[1])
            ):
                raise GroupBusy(
                    f"consumer group {group!r} already has a member ({row[1]}); the embedded log "
                    f"allows one per group (its lease ends in {row[2] - now:.0f} s)"
                )
            conn.execute(
                "INSERT INTO consumer_groups (name, position, owner, lease_until)"
                " VALUES (?, 0, ?, ?) ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
                " lease_until = excluded.lease_until",
                (group, self._owner, now + self._lease),
            )
        position = GlobalPosition(row[0] if row else 0)
        super().__init__(log, position, topics, types, max_wait=lease_seconds / 3)
        self._renewed = time.monotonic()

    def _before_poll(self) -> None:
        """Renew the lease when a third of it has passed."""
        if time.monotonic() - self._renewed > self._lease / 3:
            self._sqlite._conns.get().execute(
                "UPDATE consumer_groups SET lease_until = ? WHERE name = ? AND owner = ?",
                (time.time() + self._lease, self._group, self._owner),
            )
            self._renewed = time.monotonic()

    def commit(self, position: Position | None = None) -> None:
        chosen = _offset(position or self._position)
        cur = self._sqlite._conns.get().execute(
            "UPDATE consumer_groups SET position = ?, lease_until = ? WHERE name = ? AND owner = ?",
            (chosen, time.time() + self._lease, self._group, self._owner),
        )
        if cur.rowcount != 1:
            raise GroupBusy(f"this member lost consumer group {self._group!r} to another one")
        self._committed()

    def close(self) -> None:
        self._sqlite._conns.get().execute(
            "UPDATE consumer_groups SET owner = NULL, lease_until = 0 WHERE name = ? AND owner = ?",
            (self._group, self._owner),
        )


def _offset(position: Position | None) -> int:
    if position is None:
        return 0
    if not isinstance(position, GlobalPosition):
        raise TypeError(f"the embedded log takes integer positions, not {position}")
    return position.offset


def _owner_is_dead(owner: str) -> bool:
    """Whether a lease's owner (``host:pid:...``) is a process of this host that no longer
    runs: its lease is then taken over at once (a worker killed with -9 and restarted need
    not wait for the lease to run out)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # another member in this very process: alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it runs, as another user
    return False


def _index_event_ids(conn: sqlite3.Connection) -> None:
    """Give a log written before event ids were indexed its unique index (once)."""
    if conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'events_id'"
    ).fetchone():
        return
    duplicates = conn.execute(
        "SELECT count(*) FROM (SELECT event_id FROM events GROUP BY event_id HAVING count(*) > 1)"
    ).fetchone()[0]
    if duplicates:
        # an id stored twice (under two keys) by an older selfeng: keep reading it as it is
        conn.execute("CREATE INDEX events_id ON events (event_id)")
    else:
        conn.execute("CREATE UNIQUE INDEX events_id ON events (event_id)")
