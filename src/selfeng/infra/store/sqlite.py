"""``sqlite:///path``: the embedded projection store, one SQLite file next to the log."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from selfeng.core.positions import position_from_json
from selfeng.core.store import Checkpoint, ProjectionStore, checkpoint_rows
from selfeng.infra.sqlite_common import (
    ThreadConnections,
    check_format,
    check_sqlite_file,
    sqlite_path,
    write_transaction,
)

log = logging.getLogger(__name__)

FORMAT = "projection store"
FORMAT_VERSION = 1

_SCHEMA = [
    "CREATE TABLE selfeng_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE checkpoints (
        fork TEXT NOT NULL, projection TEXT NOT NULL, log_id TEXT NOT NULL,
        projection_version INTEGER NOT NULL, position TEXT NOT NULL, events INTEGER NOT NULL,
        state BLOB NOT NULL, saved_at REAL NOT NULL, PRIMARY KEY (fork, projection))""",
    """CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY, fork TEXT NOT NULL, projection TEXT NOT NULL, log_id TEXT NOT NULL,
        projection_version INTEGER NOT NULL, position TEXT NOT NULL, events INTEGER NOT NULL,
        state BLOB NOT NULL, saved_at REAL NOT NULL)""",
    "CREATE INDEX snapshots_by_projection ON snapshots (fork, projection, id)",
]
_COLUMNS = "fork, projection, log_id, projection_version, position, events, state, saved_at"


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

    def save(self, checkpoints: Sequence[Checkpoint], *, snapshot: bool = False) -> None:
        if not checkpoints:
            return
        rows = checkpoint_rows(checkpoints)
        conn = self._conns.get()
        with write_transaction(conn):
            conn.executemany(
                f"INSERT OR REPLACE INTO checkpoints ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            if snapshot:
                conn.executemany(
                    f"INSERT INTO snapshots ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows
                )
                for cp in checkpoints:
                    conn.execute(
                        "DELETE FROM snapshots WHERE fork = ? AND projection = ? AND id NOT IN"
                        " (SELECT id FROM snapshots WHERE fork = ? AND projection = ?"
                        "  ORDER BY id DESC LIMIT ?)",
                        (cp.fork, cp.projection, cp.fork, cp.projection, self._keep),
                    )

    def snapshots(self, fork: str, projection: str) -> list[Checkpoint]:
        rows = self._conns.get().execute(
            f"SELECT {_COLUMNS} FROM snapshots WHERE fork = ? AND projection = ? ORDER BY id",
            (fork, projection),
        )
        return [_checkpoint(row) for row in rows]

    def forks(self) -> list[str]:
        rows = self._conns.get().execute("SELECT DISTINCT fork FROM checkpoints ORDER BY fork")
        return [row[0] for row in rows]

    def drop(self, fork: str) -> None:
        conn = self._conns.get()
        with write_transaction(conn):
            conn.execute("DELETE FROM checkpoints WHERE fork = ?", (fork,))
            conn.execute("DELETE FROM snapshots WHERE fork = ?", (fork,))

    def versions(self) -> dict[str, str]:
        return {"sqlite": sqlite3.sqlite_version}

    def close(self) -> None:
        self._conns.close()


def _checkpoint(row: tuple[Any, ...]) -> Checkpoint:
    fork, projection, log_id, version, position, events, state, saved_at = row
    return Checkpoint(
        fork=str(fork),
        projection=str(projection),
        log_id=str(log_id),
        projection_version=int(version),
        position=position_from_json(orjson.loads(position)),
        events=int(events),
        state=state.encode() if isinstance(state, str) else bytes(state),
        saved_at=float(saved_at),
    )
