"""Writing tool search's rows in PostgreSQL (see :mod:`selfeng.infra.store.tool_vectors`):
the tables, text rows, and the aggregate and phrasing rows a build needs.

- The tables every embedder shares (``tool_texts``, ``tool_spaces``) are created when a store
  is opened (:func:`create_tables`); an embedder's own (its space: ``tool_docs_<space>`` and
  ``tool_uses_<space>``, each with an HNSW index) when it first gives a row
  (:meth:`ToolVectorWrites.space`). Both under an advisory lock on the schema, so processes
  starting together create them once.
- Texts whose rows no process stored are embedded under a lock per embedder held until
  their rows are stored (:meth:`ToolVectorWrites.text_rows`), so processes starting
  together do not pay for one text twice.
- Rows go into a table with an HNSW index one writer at a time; into an empty one, in bulk,
  the index is dropped first and built once after. From ``COPY_FROM`` rows a write goes
  through a temporary table loaded by COPY rather than one INSERT per row (:func:`insert`).
- The rows of tools no longer indexed are deleted only where they still hold the content
  this process indexed (:meth:`ToolVectorWrites.delete_docs`).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
from psycopg import Connection, sql
from psycopg_pool import ConnectionPool

from selfeng.core.embedder import Embedder
from selfeng.infra.store.tool_index import Row, Space, dense_rows

COPY_FROM: Final[int] = 500
"""Rows from which a write goes through COPY rather than one INSERT per row."""


def create_tables(conninfo: str, schema: str) -> None:
    """Create the ``vector`` extension, the schema and its tables shared by every embedder
    (``tool_texts``, ``tool_spaces``) where missing, under an advisory lock on the schema."""
    q = {"schema": sql.Identifier(schema)}
    with Connection.connect(conninfo, autocommit=False) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"selfeng:{schema}",))
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {schema}").format(**q))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.tool_texts"
                " (key text PRIMARY KEY, embedding bytea NOT NULL)"
            ).format(**q)
        )
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.tool_spaces (embedder text PRIMARY KEY,"
                " dimensions integer NOT NULL, name text NOT NULL)"
            ).format(**q)
        )


class ToolVectorWrites:
    """The writing side of :class:`~selfeng.infra.store.tool_vectors.PgToolVectors`, on its
    connection pool: an embedder's tables, and the rows a build needs."""

    def __init__(self, pool: ConnectionPool[Connection[Any]], schema: str) -> None:
        self.schema = schema
        self._pool = pool
        self._q = {"schema": sql.Identifier(schema)}
        self._spaces: dict[str, Space] = {}
        self._lock = threading.Lock()

    def space(self, embedder: str, dimensions: int = 0) -> Space | None:
        """An embedder's tables; created for ``dimensions`` when there are none yet (None:
        none yet, and no width given)."""
        with self._lock:
            known = self._spaces.get(embedder)
        if known is None:
            with self._pool.connection() as conn:
                row = self._stored_space(conn, embedder)
            if row is None and not dimensions:
                return None
            known = (
                self._create_space(embedder, dimensions)
                if row is None
                else self._space(embedder, *row)
            )
            with self._lock:
                self._spaces[embedder] = known
        if dimensions and dimensions != known.dimensions:
            raise ValueError(
                f"{embedder} gave rows of {dimensions} dimensions; the store holds its rows of "
                f"{known.dimensions}: an embedder's name must name one model"
            )
        return known

    def _stored_space(self, conn: Connection[Any], embedder: str) -> tuple[Any, ...] | None:
        """(dimensions, name) of an embedder's tables, as stored (None: none yet)."""
        query = sql.SQL("SELECT dimensions, name FROM {schema}.tool_spaces WHERE embedder = %s")
        return conn.execute(query.format(**self._q), (embedder,)).fetchone()

    @staticmethod
    def _space(embedder: str, dimensions: int, name: str) -> Space:
        return Space(embedder, int(dimensions), str(name))

    def _create_space(self, embedder: str, dimensions: int) -> Space:
        if not 1 <= dimensions <= 2000:
            raise ValueError(f"an HNSW index takes 1 to 2,000 dimensions, not {dimensions}")
        name = hashlib.sha256(embedder.encode()).hexdigest()[:12]
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"selfeng:{self.schema}",))
            row = self._stored_space(conn, embedder)
            if row is not None:  # another process made it first
                return self._space(embedder, *row)
            space = self._space(embedder, dimensions, name)
            conn.execute(
                sql.SQL("INSERT INTO {schema}.tool_spaces VALUES (%s, %s, %s)").format(**self._q),
                (embedder, dimensions, name),
            )
            conn.execute(
                sql.SQL(
                    "CREATE TABLE {schema}.{docs} (tool text PRIMARY KEY, key text NOT NULL,"
                    " embedding vector({n}) NOT NULL)"
                ).format(docs=space.docs, n=sql.Literal(dimensions), **self._q)
            )
            conn.execute(
                sql.SQL(
                    "CREATE TABLE {schema}.{uses} (key text PRIMARY KEY,"
                    " embedding vector({n}) NOT NULL)"
                ).format(uses=space.uses, n=sql.Literal(dimensions), **self._q)
            )
            for table in (f"tool_docs_{name}", f"tool_uses_{name}"):
                conn.execute(self._create_index(table))
        return space

    def _create_index(self, table: str) -> sql.Composed:
        return sql.SQL(
            "CREATE INDEX IF NOT EXISTS {index} ON {schema}.{table}"
            " USING hnsw (embedding vector_cosine_ops)"
        ).format(index=sql.Identifier(f"{table}_hnsw"), table=sql.Identifier(table), **self._q)

    def text_rows(self, embedder: Embedder, texts: dict[str, str]) -> dict[str, Row]:
        """The rows of these texts (key -> text), embedding only those no process stored.

        Texts missing are embedded under a lock per embedder held until their rows are
        stored, so processes starting together do not pay for one text twice."""
        if not texts:
            return {}
        found = self._fetch_texts(list(texts))
        missing = [k for k in texts if k not in found]
        if not missing:
            return found
        lock = f"selfeng:{self.schema}:texts:{embedder.name}"
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (lock,))
            found.update(self._fetch_texts(missing, conn))  # stored meanwhile
            missing = [k for k in missing if k not in found]
            if missing:
                fresh = dense_rows(embedder.embed([texts[k] for k in missing]), len(missing))
                made = {k: fresh[i] for i, k in enumerate(missing)}
                insert(
                    conn,
                    sql.SQL("{schema}.tool_texts").format(**self._q),
                    ("key", "embedding"),
                    ["text", "bytea"],
                    [(k, r.astype("<f4").tobytes()) for k, r in made.items()],
                    sql.SQL("ON CONFLICT (key) DO NOTHING"),
                )
                found.update(made)
        return found

    def _fetch_texts(self, keys: list[str], conn: Connection[Any] | None = None) -> dict[str, Row]:
        query = sql.SQL(
            "SELECT key, embedding FROM {schema}.tool_texts WHERE key = ANY(%s)"
        ).format(**self._q)
        if conn is None:
            with self._pool.connection() as own:
                return self._fetch_texts(keys, own)
        with conn.cursor(binary=True) as cur:
            rows = cur.execute(query, (keys,)).fetchall()
        return {str(k): np.frombuffer(bytes(v), dtype="<f4").astype(np.float32) for k, v in rows}

    def stored_keys(self, space: Space, tools: list[str] | None) -> dict[str, str]:
        """Tool -> the key of its stored row (of these tools, or of all)."""
        query = sql.SQL("SELECT tool, key FROM {schema}.{docs}").format(docs=space.docs, **self._q)
        with self._pool.connection() as conn:
            if tools is None:
                rows = conn.execute(query).fetchall()
            else:
                rows = conn.execute(query + sql.SQL(" WHERE tool = ANY(%s)"), (tools,)).fetchall()
        return {str(t): str(k) for t, k in rows}

    def present_uses(self, space: Space, keys: list[str]) -> set[str]:
        query = sql.SQL("SELECT key FROM {schema}.{uses} WHERE key = ANY(%s)").format(
            uses=space.uses, **self._q
        )
        with self._pool.connection() as conn:
            return {str(k) for (k,) in conn.execute(query, (keys,)).fetchall()}

    def write_docs(self, space: Space, rows: list[tuple[str, str, Row]]) -> None:
        conflict = sql.SQL(
            "ON CONFLICT (tool) DO UPDATE SET key = excluded.key, embedding = excluded.embedding"
            " WHERE {docs}.key <> excluded.key"
        ).format(docs=space.docs)
        columns = ("tool", "key", "embedding")
        self._write_indexed(
            f"tool_docs_{space.name}", columns, ["text", "text", "vector"], rows, conflict
        )

    def write_uses(self, space: Space, rows: list[tuple[str, Row]]) -> None:
        conflict = sql.SQL("ON CONFLICT (key) DO NOTHING")
        columns = ("key", "embedding")
        self._write_indexed(f"tool_uses_{space.name}", columns, ["text", "vector"], rows, conflict)

    def _write_indexed(
        self,
        table: str,
        columns: tuple[str, ...],
        types: list[str],
        rows: Sequence[tuple[Any, ...]],
        conflict: sql.Composable,
    ) -> None:
        """Write rows into a table with an HNSW index (one writer at a time); into an empty
        one, in bulk, the index is dropped first and built once after (five to ten times
        faster than growing it row by row)."""
        target = sql.SQL("{schema}.{table}").format(table=sql.Identifier(table), **self._q)
        index = sql.Identifier(f"{table}_hnsw")
        with self._pool.connection() as conn, conn.transaction():
            lock = f"selfeng:{self.schema}.{table}"
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (lock,))
            rebuild = False
            if len(rows) >= COPY_FROM:
                empty = conn.execute(
                    sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {t})").format(t=target)
                ).fetchone()
                rebuild = bool(empty and empty[0])
            if rebuild:
                conn.execute(
                    sql.SQL("DROP INDEX IF EXISTS {schema}.{index}").format(index=index, **self._q)
                )
            insert(conn, target, columns, types, rows, conflict)
            if rebuild:
                conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
                conn.execute(self._create_index(table))

    def delete_docs(self, space: Space, rows: list[tuple[str, str]]) -> None:
        """Delete the rows of tools no longer indexed, where they still hold this content."""
        if not rows:
            return
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(
                sql.SQL(
                    "DELETE FROM {schema}.{docs} WHERE (tool, key) IN"
                    " (SELECT * FROM unnest(%s::text[], %s::text[]))"
                ).format(docs=space.docs, **self._q),
                ([t for t, _ in rows], [k for _, k in rows]),
            )


def insert(
    conn: Connection[Any],
    target: sql.Composable,
    columns: tuple[str, ...],
    types: list[str],
    rows: Sequence[tuple[Any, ...]],
    conflict: sql.Composable,
) -> None:
    """INSERT rows (in a transaction), through a temporary table loaded by COPY when many."""
    names = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    if len(rows) < COPY_FROM:
        values = sql.SQL(", ").join(sql.Placeholder() for _ in columns)
        with conn.cursor() as cur:
            cur.executemany(
                sql.SQL("INSERT INTO {t} ({c}) VALUES ({v}) ").format(t=target, c=names, v=values)
                + conflict,
                rows,
            )
        return
    conn.execute(
        sql.SQL("CREATE TEMP TABLE selfeng_load (LIKE {t}) ON COMMIT DROP").format(t=target)
    )
    with (
        conn.cursor() as cur,
        cur.copy(
            sql.SQL("COPY selfeng_load ({c}) FROM STDIN WITH (FORMAT BINARY)").format(c=names)
        ) as copy,
    ):
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)
    conn.execute(
        sql.SQL("INSERT INTO {t} ({c}) SELECT {c} FROM selfeng_load ").format(t=target, c=names)
        + conflict
    )
    conn.execute("DROP TABLE selfeng_load")
