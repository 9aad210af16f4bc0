"""``sqlite:///path``: the embedded projection store, one SQLite file next to the log."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from selfeng.core.positions import position_from_json
from selfeng.core.store import (
    Checkpoint,
    ProjectionStore,
    RowChange,
    change_runs,
    checkpoint_rows,
    key_bound,
    refuse_going_back,
)
from selfeng.infra.sqlite_common import (
    ThreadConnections,
    check_format,
    check_sqlite_file,
    sqlite_path,
    write_transaction,
)

log = logging.getLogger(__name__)

FORMAT = "projection store"
FORMAT_VERSION = 2
"""2 added keyed rows (the ``rows`` table and the checkpoints' ``tables``); a version 1 file
is upgraded in place when opened."""

_ROWS = [
    """CREATE TABLE rows (
        fork TEXT NOT NULL, projection TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL,
        value BLOB NOT NULL, PRIMARY KEY (fork, projection, key)) WITHOUT ROWID""",
    "CREATE INDEX rows_in_order ON rows (fork, projection, seq)",
]
_SCHEMA = [
    "CREATE TABLE selfeng_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE checkpoints (
        fork TEXT NOT NULL, projection TEXT NOT NULL, log_id TEXT NOT NULL,
        projection_version INTEGER NOT NULL, position TEXT NOT NULL, events INTEGER NOT NULL,
        state BLOB NOT NULL, saved_at REAL NOT NULL, tables TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (fork, projection))""",
    """CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY, fork TEXT NOT NULL, projection TEXT NOT NULL, log_id TEXT NOT NULL,
        projection_version INTEGER NOT NULL, position TEXT NOT NULL, events INTEGER NOT NULL,
        state BLOB NOT NULL, saved_at REAL NOT NULL, tables TEXT NOT NULL DEFAULT '')""",
    "CREATE INDEX snapshots_by_projection ON snapshots (fork, projection, id)",
    *_ROWS,
]
_COLUMNS = "fork, projection, log_id, projection_version, position, events, state, saved_at, tables"
_VALUES = ", ".join(["?"] * 9)
_UPSERT_ROW = (
    "INSERT INTO rows (fork, projection, key, seq, value) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (fork, projection, key) DO UPDATE SET value = excluded.value"
)


class SqliteStore(ProjectionStore):
    """Checkpoints and snapshots in one SQLite file (WAL)."""

    def __init__(self, path: Path, *, keep_snapshots: int = 10, url: str | None = None) -> None:
        self.url = url or f"sqlite:///{path}"
        self.path = path
        self._keep = keep_snapshots
        self.moved_aside: Path | None = None
        """Where an unreadable store file was moved (it is then rebuilt from the log)."""
        check_sqlite_file(
            path,
            FORMAT,
            "; it is left as it is: if it was selfeng's own store, damaged beyond SQLite's "
            "header, move it away and selfeng rebuilds the projections from the log",
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            self._move_aside(exc)
            self._open()

    def _open(self) -> None:
        self._conns = ThreadConnections(self.path, "NORMAL")
        conn = self._conns.get()
        try:
            with write_transaction(conn):
                if not check_format(conn, self.path, FORMAT, FORMAT_VERSION):
                    for statement in _SCHEMA:
                        conn.execute(statement)
                    conn.executemany(
                        "INSERT INTO selfeng_meta VALUES (?, ?)",
                        [("format", FORMAT), ("format_version", str(FORMAT_VERSION))],
                    )
                else:
                    _upgrade(conn)
                conn.execute("SELECT count(*) FROM checkpoints").fetchone()
        except BaseException:
            self._conns.close()
            raise

    def _move_aside(self, exc: BaseException) -> None:
        """An unreadable store holds nothing the log cannot rebuild: keep the file (renamed,
        never deleted) and start an empty one; every projection then folds from the log."""
        self._conns.close()
        aside = self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}")
        for suffix in ("", "-wal", "-shm"):
            here = Path(f"{self.path}{suffix}")
            if here.exists():
                here.rename(Path(f"{aside}{suffix}"))
        self.moved_aside = aside
        log.warning(
            "the projection store %s cannot be read (%s): moved to %s; rebuilding from the log",
            self.path, exc, aside,
        )  # fmt: skip

    @classmethod
    def from_url(cls, url: str) -> SqliteStore:
        """Open (creating if needed) the store a ``sqlite:///`` URL names."""
        path, options = sqlite_path(url)
        return cls(path, keep_snapshots=int(options.get("keep_snapshots", 10)), url=url)

    def load(self, fork: str, projection: str) -> Checkpoint | None:
        try:
            row = (
                self._conns.get()
                .execute(
                    f"SELECT {_COLUMNS} FROM checkpoints WHERE fork = ? AND projection = ?",
                    (fork, projection),
                )
                .fetchone()
            )
        except sqlite3.DatabaseError as exc:  # a damaged page: the log rebuilds it all
            self._move_aside(exc)
            self._open()
            return None
        return _checkpoint(row) if row else None

    def commit(
        self,
        checkpoints: Sequence[Checkpoint],
        changes: Sequence[RowChange] = (),
        *,
        cleared: Sequence[tuple[str, str, str]] = (),
        snapshots: Sequence[Checkpoint] = (),
    ) -> None:
        if not (checkpoints or changes or cleared or snapshots):
            return
        conn = self._conns.get()
        with write_transaction(conn):
            for fork in {cp.fork for cp in checkpoints}:
                refuse_going_back(
                    conn.execute(
                        "SELECT fork, projection, log_id, position FROM checkpoints WHERE fork = ?",
                        (fork,),
                    ),
                    checkpoints,
                )
            for fork, projection, prefix in cleared:
                conn.execute(
                    "DELETE FROM rows WHERE fork = ? AND projection = ? AND key >= ? AND key < ?"
                    " AND substr(key, 1, ?) = ?",
                    (fork, projection, prefix, key_bound(prefix), len(prefix), prefix),
                )
            _apply_changes(conn, changes)
            if checkpoints:
                conn.executemany(
                    f"INSERT OR REPLACE INTO checkpoints ({_COLUMNS}) VALUES ({_VALUES})",
                    checkpoint_rows(checkpoints),
                )
            if snapshots:
                conn.executemany(
                    f"INSERT INTO snapshots ({_COLUMNS}) VALUES ({_VALUES})",
                    checkpoint_rows(snapshots),
                )
                for cp in snapshots:
                    conn.execute(
                        "DELETE FROM snapshots WHERE fork = ? AND projection = ? AND id NOT IN"
                        " (SELECT id FROM snapshots WHERE fork = ? AND projection = ?"
                        "  ORDER BY id DESC LIMIT ?)",
                        (cp.fork, cp.projection, cp.fork, cp.projection, self._keep),
                    )

    def rows(self, fork: str, projection: str) -> Iterator[tuple[str, bytes, int]]:
        cursor = self._conns.get().execute(
            "SELECT key, value, seq FROM rows WHERE fork = ? AND projection = ? ORDER BY seq, key",
            (fork, projection),
        )
        for key, value, seq in cursor:
            yield str(key), bytes(value), int(seq)

    def get(self, fork: str, projection: str, key: str) -> bytes | None:
        row = (
            self._conns.get()
            .execute(
                "SELECT value FROM rows WHERE fork = ? AND projection = ? AND key = ?",
                (fork, projection, key),
            )
            .fetchone()
        )
        return bytes(row[0]) if row else None

    def scan(
        self, fork: str, projection: str, prefix: str = "", *, after: str = "", limit: int = 1000
    ) -> list[tuple[str, bytes]]:
        rows = self._conns.get().execute(
            "SELECT key, value FROM rows WHERE fork = ? AND projection = ? AND key >= ?"
            " AND key > ? AND key < ? AND substr(key, 1, ?) = ? ORDER BY key LIMIT ?",
            (fork, projection, prefix, after, key_bound(prefix), len(prefix), prefix, limit),
        )
        return [(str(key), bytes(value)) for key, value in rows]

    def snapshots(self, fork: str, projection: str) -> list[Checkpoint]:
        rows = self._conns.get().execute(
            f"SELECT {_COLUMNS} FROM snapshots WHERE fork = ? AND projection = ? ORDER BY id",
            (fork, projection),
        )
        return [_checkpoint(row) for row in rows]

    def forks(self) -> list[str]:
        rows = self._conns.get().execute("SELECT DISTINCT fork FROM checkpoints ORDER BY fork")
        return [row[0] for row in rows]

    def drop(self, fork: str, projections: Sequence[str] | None = None) -> None:
        conn = self._conns.get()
        with write_transaction(conn):
            for table in ("checkpoints", "rows", "snapshots"):
                if projections is None:
                    conn.execute(f"DELETE FROM {table} WHERE fork = ?", (fork,))
                else:
                    conn.executemany(
                        f"DELETE FROM {table} WHERE fork = ? AND projection = ?",
                        [(fork, name) for name in projections],
                    )

    def versions(self) -> dict[str, str]:
        return {"sqlite": sqlite3.sqlite_version}

    def close(self) -> None:
        self._conns.close()


def _upgrade(conn: sqlite3.Connection) -> None:
    """Bring a version 1 store to version 2 (inside the opening transaction)."""
    found = conn.execute("SELECT value FROM selfeng_meta WHERE name = 'format_version'").fetchone()
    if found is None or int(found[0]) >= FORMAT_VERSION:
        return
    for table in ("checkpoints", "snapshots"):
        conn.execute(f"ALTER TABLE {table} ADD COLUMN tables TEXT NOT NULL DEFAULT ''")
    for statement in _ROWS:
        conn.execute(statement)
    conn.execute(
        "UPDATE selfeng_meta SET value = ? WHERE name = 'format_version'", (str(FORMAT_VERSION),)
    )
    log.info("projection store upgraded to format %d (keyed rows)", FORMAT_VERSION)


def _apply_changes(conn: sqlite3.Connection, changes: Sequence[RowChange]) -> None:
    """Apply row changes in order, a run of deletes or of writes per ``executemany``."""
    for deletes, writes in change_runs(changes):
        if deletes:
            conn.executemany(
                "DELETE FROM rows WHERE fork = ? AND projection = ? AND key = ?", deletes
            )
        else:
            conn.executemany(_UPSERT_ROW, writes)


def _checkpoint(row: tuple[Any, ...]) -> Checkpoint:
    fork, projection, log_id, version, position, events, state, saved_at, tables = row
    return Checkpoint(
        fork=str(fork),
        projection=str(projection),
        log_id=str(log_id),
        projection_version=int(version),
        position=position_from_json(orjson.loads(position)),
        events=int(events),
        state=state.encode() if isinstance(state, str) else bytes(state),
        saved_at=float(saved_at),
        tables=tuple(str(tables).split(",")) if tables else (),
    )
