"""``postgresql://``: the projection store in PostgreSQL, shared by any number of processes.

URL: any libpq URL (``postgresql://user:password@host:5432/db``, ``?host=/socket/dir``, ...)
plus two options of selfeng's own: ``schema=`` (default ``selfeng``: the store's tables live
in that schema, so one database can hold several stores) and ``keep_snapshots=`` (10).
``postgres://`` is the same.

Connections come from a ``psycopg_pool.ConnectionPool`` (psycopg 3), so threads of one
process share a few connections. A save is one transaction: every checkpoint's state and
position together, with the snapshot history when asked, so a process killed at any moment
resumes from a checkpoint that is exactly the fold of the log up to its position. The
tables are created on first use under a transaction-scoped advisory lock, so processes
starting at once on an empty database create them once; a schema that holds another
program's ``selfeng_meta`` is refused, never written to.

State is stored as the bytes the projection wrote (``bytea``): JSONB would reorder keys,
and some states keep an order (the cache's least-recently-used entries).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from selfeng.core.backends import redacted
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

FORMAT = "projection store"
FORMAT_VERSION = 2
"""2 added keyed rows (the ``rows`` table and the checkpoints' ``tables``); a version 1
schema is upgraded in place when opened."""
_OPTIONS = ("schema", "keep_snapshots")
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_COLUMNS = "fork, projection, log_id, projection_version, position, events, state, saved_at, tables"
_VALUES = ", ".join(["%s"] * 9)
_ROWS = [
    """CREATE TABLE {schema}.rows (
        fork text NOT NULL, projection text NOT NULL, key text COLLATE "C" NOT NULL,
        seq bigint NOT NULL, value bytea NOT NULL, PRIMARY KEY (fork, projection, key))""",
    "CREATE INDEX rows_in_order ON {schema}.rows (fork, projection, seq)",
]
_TABLES = [
    "CREATE TABLE {schema}.selfeng_meta (name text PRIMARY KEY, value text NOT NULL)",
    """CREATE TABLE {schema}.checkpoints (
        fork text NOT NULL, projection text NOT NULL, log_id text NOT NULL,
        projection_version integer NOT NULL, position text NOT NULL, events bigint NOT NULL,
        state bytea NOT NULL, saved_at double precision NOT NULL,
        tables text NOT NULL DEFAULT '', PRIMARY KEY (fork, projection))""",
    """CREATE TABLE {schema}.snapshots (
        id bigserial PRIMARY KEY, fork text NOT NULL, projection text NOT NULL,
        log_id text NOT NULL, projection_version integer NOT NULL, position text NOT NULL,
        events bigint NOT NULL, state bytea NOT NULL, saved_at double precision NOT NULL,
        tables text NOT NULL DEFAULT '')""",
    "CREATE INDEX snapshots_by_projection ON {schema}.snapshots (fork, projection, id)",
    *_ROWS,
]


class StoreRefused(ValueError):
    """The database's schema belongs to something else, or the server cannot be reached."""


class PostgresStore(ProjectionStore):
    """Checkpoints and snapshots in PostgreSQL tables, through a connection pool."""

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str = "selfeng",
        keep_snapshots: int = 10,
        url: str | None = None,
        pool_size: int = 4,
    ) -> None:
        if not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(f"schema {schema!r}: lower-case letters, digits and _, at most 63")
        if keep_snapshots < 1:
            raise ValueError(f"keep_snapshots must be 1 or more, not {keep_snapshots}")
        self.url = url or conninfo
        self.schema = schema
        self._keep = keep_snapshots
        self._q = {"schema": sql.Identifier(schema)}
        try:  # one connection first: a refusal is then immediate, with the server's reason
            psycopg.connect(conninfo, connect_timeout=10).close()
            self._pool = ConnectionPool(
                conninfo, min_size=1, max_size=pool_size, open=True, name="selfeng-store"
            )
            self._pool.wait(timeout=10.0)
        except Exception as exc:  # psycopg.OperationalError, psycopg_pool.PoolTimeout
            reason = " ".join(line.strip() for line in str(exc).splitlines()) or repr(exc)
            raise StoreRefused(f"no PostgreSQL answers at {redacted(self.url)}: {reason}") from exc
        try:
            self._create()
        except BaseException:
            self._pool.close()
            raise

    @classmethod
    def from_url(cls, url: str) -> PostgresStore:
        """Open (creating its tables if needed) the store a ``postgresql://`` URL names."""
        conninfo, options = split_url(url)
        return cls(
            conninfo,
            schema=options.get("schema", "selfeng"),
            keep_snapshots=int(options.get("keep_snapshots", "10")),
            url=url,
        )

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[Any]]:
        with self._pool.connection() as conn, conn.transaction():
            yield conn

    def _create(self) -> None:
        with self._transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"selfeng:{self.schema}",))
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {schema}").format(**self._q))
            exists = conn.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = %s"
                " AND table_name = 'selfeng_meta'",
                (self.schema,),
            ).fetchone()
            if exists is None:
                for statement in _TABLES:
                    conn.execute(sql.SQL(statement).format(**self._q))
                conn.execute(
                    sql.SQL("INSERT INTO {schema}.selfeng_meta VALUES (%s, %s), (%s, %s)").format(
                        **self._q
                    ),
                    ("format", FORMAT, "format_version", str(FORMAT_VERSION)),
                )
                return
            meta = dict(
                conn.execute(
                    sql.SQL("SELECT name, value FROM {schema}.selfeng_meta").format(**self._q)
                ).fetchall()
            )
        if meta.get("format") != FORMAT:
            raise StoreRefused(
                f"schema {self.schema!r} of {redacted(self.url)} holds a {meta.get('format')!r}, "
                "not a selfeng projection store: choose another with ?schema="
            )
        if meta.get("format_version") == "1":
            self._upgrade()
        elif meta.get("format_version") != str(FORMAT_VERSION):
            raise StoreRefused(
                f"schema {self.schema!r} holds version {meta.get('format_version')} of the store; "
                f"this selfeng reads version {FORMAT_VERSION}"
            )

    def _upgrade(self) -> None:
        """Bring a version 1 schema to version 2, once, under the same advisory lock."""
        with self._transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"selfeng:{self.schema}",))
            found = conn.execute(
                sql.SQL(
                    "SELECT value FROM {schema}.selfeng_meta WHERE name = 'format_version'"
                ).format(**self._q)
            ).fetchone()
            if found is None or found[0] != "1":
                return  # another process upgraded it meanwhile
            for table in ("checkpoints", "snapshots"):
                conn.execute(
                    sql.SQL(
                        "ALTER TABLE {schema}.{table} ADD COLUMN tables text NOT NULL DEFAULT ''"
                    ).format(table=sql.Identifier(table), **self._q)
                )
            for statement in _ROWS:
                conn.execute(sql.SQL(statement).format(**self._q))
            conn.execute(
                sql.SQL(
                    "UPDATE {schema}.selfeng_meta SET value = %s WHERE name = 'format_version'"
                ).format(**self._q),
                (str(FORMAT_VERSION),),
            )

    def load(self, fork: str, projection: str) -> Checkpoint | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                sql.SQL(
                    f"SELECT {_COLUMNS} FROM {{schema}}.checkpoints"
                    " WHERE fork = %s AND projection = %s"
                ).format(**self._q),
                (fork, projection),
            ).fetchone()
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
        with self._transaction() as conn, conn.cursor() as cur:
            for fork in sorted({cp.fork for cp in checkpoints}):
                # saves of one fork queue here, the first ever included (no row to lock yet)
                cur.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))",
                    (f"selfeng:{self.schema}:fork:{fork}",),
                )
                cur.execute(
                    sql.SQL(
                        "SELECT fork, projection, log_id, position FROM {schema}.checkpoints"
                        " WHERE fork = %s"
                    ).format(**self._q),
                    (fork,),
                )
                refuse_going_back(cur.fetchall(), checkpoints)
            for fork, projection, prefix in cleared:
                cur.execute(
                    sql.SQL(
                        "DELETE FROM {schema}.rows WHERE fork = %s AND projection = %s"
                        " AND key >= %s AND key < %s AND starts_with(key, %s)"
                    ).format(**self._q),
                    (fork, projection, prefix, key_bound(prefix), prefix),
                )
            for deletes, writes in change_runs(changes):
                if deletes:
                    cur.executemany(
                        sql.SQL(
                            "DELETE FROM {schema}.rows WHERE fork = %s AND projection = %s"
                            " AND key = %s"
                        ).format(**self._q),
                        deletes,
                    )
                else:
                    cur.executemany(
                        sql.SQL(
                            "INSERT INTO {schema}.rows (fork, projection, key, seq, value)"
                            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (fork, projection, key)"
                            " DO UPDATE SET value = excluded.value"
                        ).format(**self._q),
                        writes,
                    )
            if checkpoints:
                cur.executemany(
                    sql.SQL(
                        f"INSERT INTO {{schema}}.checkpoints ({_COLUMNS}) VALUES ({_VALUES})"
                        " ON CONFLICT (fork, projection) DO UPDATE SET log_id = excluded.log_id,"
                        " projection_version = excluded.projection_version,"
                        " position = excluded.position, events = excluded.events,"
                        " state = excluded.state, saved_at = excluded.saved_at,"
                        " tables = excluded.tables"
                    ).format(**self._q),
                    checkpoint_rows(checkpoints),
                )
            if snapshots:
                cur.executemany(
                    sql.SQL(
                        f"INSERT INTO {{schema}}.snapshots ({_COLUMNS}) VALUES ({_VALUES})"
                    ).format(**self._q),
                    checkpoint_rows(snapshots),
                )
                cur.executemany(
                    sql.SQL(
                        "DELETE FROM {schema}.snapshots WHERE fork = %s AND projection = %s"
                        " AND id NOT IN (SELECT id FROM {schema}.snapshots WHERE fork = %s"
                        " AND projection = %s ORDER BY id DESC LIMIT %s)"
                    ).format(**self._q),
                    [
                        (cp.fork, cp.projection, cp.fork, cp.projection, self._keep)
                        for cp in snapshots
                    ],
                )

    def rows(self, fork: str, projection: str) -> Iterator[tuple[str, bytes, int]]:
        with self._pool.connection() as conn, conn.cursor(name="selfeng_rows") as cur:
            cur.itersize = 10_000
            cur.execute(
                sql.SQL(
                    "SELECT key, value, seq FROM {schema}.rows WHERE fork = %s"
                    " AND projection = %s ORDER BY seq, key"
                ).format(**self._q),
                (fork, projection),
            )
            for key, value, seq in cur:
                yield str(key), bytes(value), int(seq)

    def get(self, fork: str, projection: str, key: str) -> bytes | None:
        with self._pool.connection() as conn:
            row = conn.execute(
                sql.SQL(
                    "SELECT value FROM {schema}.rows WHERE fork = %s AND projection = %s"
                    " AND key = %s"
                ).format(**self._q),
                (fork, projection, key),
            ).fetchone()
        return bytes(row[0]) if row else None

    def scan(
        self, fork: str, projection: str, prefix: str = "", *, after: str = "", limit: int = 1000
    ) -> list[tuple[str, bytes]]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                sql.SQL(
                    "SELECT key, value FROM {schema}.rows WHERE fork = %s AND projection = %s"
                    " AND key >= %s AND key > %s AND key < %s AND starts_with(key, %s)"
                    " ORDER BY key LIMIT %s"
                ).format(**self._q),
                (fork, projection, prefix, after, key_bound(prefix), prefix, limit),
            ).fetchall()
        return [(str(key), bytes(value)) for key, value in rows]

    def snapshots(self, fork: str, projection: str) -> list[Checkpoint]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                sql.SQL(
                    f"SELECT {_COLUMNS} FROM {{schema}}.snapshots"
                    " WHERE fork = %s AND projection = %s ORDER BY id"
                ).format(**self._q),
                (fork, projection),
            ).fetchall()
        return [_checkpoint(row) for row in rows]

    def forks(self) -> list[str]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                sql.SQL("SELECT DISTINCT fork FROM {schema}.checkpoints ORDER BY fork").format(
                    **self._q
                )
            ).fetchall()
        return [str(row[0]) for row in rows]

    def drop(self, fork: str, projections: Sequence[str] | None = None) -> None:
        with self._transaction() as conn:
            for table in ("checkpoints", "rows", "snapshots"):
                conn.execute(
                    sql.SQL(
                        "DELETE FROM {schema}.{table} WHERE fork = %s"
                        " AND (%s::text[] IS NULL OR projection = ANY(%s::text[]))"
                    ).format(table=sql.Identifier(table), **self._q),
                    (fork, projections, projections),
                )

    def versions(self) -> dict[str, str]:
        """The server's version and pgvector's (or "not installed"), for ``selfeng doctor``."""
        with self._pool.connection() as conn:
            server = conn.execute("SHOW server_version").fetchone()
            vector = conn.execute(
                "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'"
            ).fetchone()
        return {
            "postgresql": str(server[0]) if server else "unknown",
            "pgvector": str(vector[0]) if vector else "not installed",
        }

    def close(self) -> None:
        self._pool.close()


def split_url(url: str) -> tuple[str, dict[str, str]]:
    """A ``postgresql://`` URL as libpq connection info and selfeng's own options."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"not a postgresql URL: {url!r}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    ours = {k: v for k, v in query if k in _OPTIONS}
    libpq = [(k, v) for k, v in query if k not in _OPTIONS]
    conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(libpq), ""))
    return conninfo, ours


def _checkpoint(row: tuple[Any, ...]) -> Checkpoint:
    fork, projection, log_id, version, position, events, state, saved_at, tables = row
    return Checkpoint(
        fork=str(fork),
        projection=str(projection),
        log_id=str(log_id),
        projection_version=int(version),
        position=position_from_json(orjson.loads(position)),
        events=int(events),
        state=bytes(state),
        saved_at=float(saved_at),
        tables=tuple(str(tables).split(",")) if tables else (),
    )
