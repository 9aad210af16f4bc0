"""Tool search's vectors in PostgreSQL: text rows shared by every process, and each tool's
aggregate and confirmed phrasings in pgvector columns searched through HNSW indexes.

When the projection store is PostgreSQL and the embedder is dense (its rows do not depend
on the corpus: ``minilm``, ``openai:<model>``), :class:`~selfeng.core.search.ToolIndex`
keeps its rows here (:class:`PgToolVectors`, a :class:`~selfeng.core.search.VectorStore`;
a build is a :class:`~selfeng.infra.store.tool_index.PgToolIndex`), in the store's schema:

- ``tool_texts``: every text's row, keyed by a hash of the embedder's name and the text (the
  name names the model, and so the width). A text any process embedded is never embedded
  again, by it or any other: a hosted model's embeddings cost money. Rows are float32 bytes.
  They are never deleted: they grow with the distinct texts the log holds.
- ``tool_docs_<space>`` (one per embedder, ``vector(d)`` with an HNSW index, cosine): one row
  per tool, its aggregate (:func:`~selfeng.core.search.aggregate_row`) with the hash of what
  it was made of (``key``). A process writes a tool's row only when its content differs from
  the stored one, so a process that restarts, or a second one, writes and embeds nothing.
- ``tool_uses_<space>`` (likewise): one row per distinct confirmed phrasing, keyed as its
  text. A phrasing's row is its text's row, whatever tools share it.

A request asks both indexes at once (two connections) for the ``depth`` nearest rows, and
keeps those of the tools this process indexes, with the content it indexes: processes whose
views of the registry lag each other share the tables without corrupting each other's
answers. A tool's row written by a process with other content (the last writer's) is found
as a candidate all the same, and the process scores it exactly from its own content
(computed from text rows, kept for the next request). What the nearest rows leave unknown
(the aggregate of a candidate found by a phrasing, the nearest phrasing of one found by its
aggregate) is bounded, and settled in one more round trip only for candidates that could
rank (:meth:`selfeng.core.search.ToolIndex.ranked`): scores are those of the in-process
index, for the candidates. Rejected phrasings (few) are compared in process.

Garbage, bounded: a tool's row is replaced in place when its content changes; a tool that
stops being active has its row deleted by a process that indexed it (only if the row still
holds that process's content: another process may have it active). A process lagging
behind may write a retired tool back: at most one row per tool ever registered, filtered
out of every answer. Phrasing rows are not deleted (a lagging view may still hold one):
at most one per distinct phrasing ever confirmed, filtered out likewise.

The ``lexical`` embedder stays in process: its scores are BM25 over each tool's words, from
term statistics of the whole corpus, so a tool has no fixed vector to store, and one more
tool changes every score.

SQL is kept to ``vector``, ``<=>``, ``<#>`` and ``hnsw ... vector_cosine_ops``, which
pgvector 0.5 and later serve. An HNSW scan returns at most ``hnsw.ef_search`` rows (1,000 at
most), so a deeper request scans exactly.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import numpy as np
from pgvector.psycopg import register_vector
from psycopg import Connection, sql
from psycopg_pool import ConnectionPool

from selfeng.core.embedder import Embedder
from selfeng.core.search import Document, StoredIndex, aggregate_texts, strip_placeholders
from selfeng.infra.store.postgres import split_url
from selfeng.infra.store.tool_index import (
    PgToolIndex,
    Row,
    Space,
    aggregate_of,
    dense_rows,
    document_key,
    sized,
    text_key,
)

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

EF_SEARCH: Final[int] = 40
"""``hnsw.ef_search`` for a request asking for fewer rows (pgvector's default; measured over
100,000 tools: ToolSearch's recall@10 0.998 against the in-process index, p50 4.4 ms,
bench/bench_vectors.py); a deeper request raises it to its depth."""

MAX_EF_SEARCH: Final[int] = 1_000
"""pgvector's ceiling on ``hnsw.ef_search``: a request deeper than this scans exactly."""

COPY_FROM: Final[int] = 500
"""Rows from which a write goes through COPY rather than one INSERT per row."""


class PgToolVectors:
    """Tool search's rows in PostgreSQL (see the module doc): a ``VectorStore``."""

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str = "selfeng",
        ef_search: int = EF_SEARCH,
        pool_size: int = 4,
    ) -> None:
        if not _NAME.fullmatch(schema):
            raise ValueError(f"schema {schema!r}: lower-case letters, digits and _, at most 63")
        self.schema = schema
        self.ef_search = ef_search
        self._q = {"schema": sql.Identifier(schema)}
        self._spaces: dict[str, Space] = {}
        self._queries: dict[tuple[str, str, str], str] = {}
        self._searcher = ThreadPoolExecutor(
            max_workers=max(1, pool_size // 2), thread_name_prefix="selfeng-tool-vectors"
        )
        self._lock = threading.Lock()
        with Connection.connect(conninfo, autocommit=False) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"selfeng:{schema}",))
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {schema}").format(**self._q))
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {schema}.tool_texts"
                    " (key text PRIMARY KEY, embedding bytea NOT NULL)"
                ).format(**self._q)
            )
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {schema}.tool_spaces (embedder text PRIMARY KEY,"
                    " dimensions integer NOT NULL, name text NOT NULL)"
                ).format(**self._q)
            )
        self._pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=pool_size,
            open=True,
            configure=self._configure,
            kwargs={"autocommit": True},
            name="selfeng-tool-vectors",
        )

    @classmethod
    def from_url(cls, url: str) -> PgToolVectors:
        """The rows of the store a ``postgresql://`` URL names (its ``schema=``)."""
        conninfo, options = split_url(url)
        return cls(conninfo, schema=options.get("schema", "selfeng"))

    def _configure(self, conn: Connection[Any]) -> None:
        register_vector(conn)
        conn.execute(sql.SQL("SET hnsw.ef_search = {}").format(sql.Literal(self.ef_search)))

    # -- building ----------------------------------------------------------------------------

    def prepare(
        self,
        embedder: Embedder,
        ids: tuple[str, ...],
        documents: Sequence[Document],
        *,
        use_weight: float,
        nearest_use: float,
        previous: StoredIndex | None,
    ) -> PgToolIndex:
        """Write what these documents need and is not stored yet; their index."""
        name = embedder.name
        prev = previous if isinstance(previous, PgToolIndex) else None
        if prev is not None and (prev.vectors is not self or prev.embedder is not embedder):
            prev = None
        if prev is not None and (prev.use_weight != use_weight or prev.space is None):
            prev = None
        doc_keys = [
            document_key(name, use_weight, i, d) for i, d in zip(ids, documents, strict=True)
        ]
        use_texts = {text_key(name, u): u for d in documents for u in d.uses}
        rejected_texts = {
            text_key(name, strip_placeholders(t)): strip_placeholders(t)
            for d in documents
            for t in d.rejected
        }
        space = prev.space if prev is not None else self.space(name)
        if prev is not None:
            changed = [p for p, doc_id in enumerate(ids) if prev.key_of(doc_id) != doc_keys[p]]
            new_uses = {k: t for k, t in use_texts.items() if k not in prev.use_owners}
            known_rejected = prev.rejected_rows
        else:
            changed = list(range(len(ids)))
            new_uses = dict(use_texts)
            known_rejected = {}
        stored: dict[str, str] = {}
        present: set[str] = set()
        if space is not None and changed:
            whole = prev is None
            stored = self._stored_keys(space, None if whole else [ids[p] for p in changed])
        if space is not None and new_uses:
            present = self._present_uses(space, list(new_uses))
        to_write = [p for p in changed if stored.get(ids[p]) != doc_keys[p]]
        missing_uses = {k: t for k, t in new_uses.items() if k not in present}
        wanted = {
            text_key(name, t): t
            for p in to_write
            for t, _ in aggregate_texts(documents[p], use_weight)
        }
        wanted.update(missing_uses)
        wanted.update({k: t for k, t in rejected_texts.items() if k not in known_rejected})
        rows = self.text_rows(embedder, wanted)
        if space is None:
            width = max((r.size for r in rows.values()), default=0)
            space = self.space(name, width) if width else None
        rejected_rows = {k: known_rejected.get(k, rows.get(k)) for k in rejected_texts}
        if space is not None:
            if to_write:
                self._write_docs(
                    space,
                    [
                        (
                            ids[p],
                            doc_keys[p],
                            aggregate_of(documents[p], use_weight, name, rows, space),
                        )
                        for p in to_write
                    ],
                )
            if missing_uses:
                self._write_uses(space, [(k, sized(rows[k], space)) for k in missing_uses])
            if prev is not None:
                indexed = set(ids)
                self._delete_docs(
                    space,
                    [
                        (t, k)
                        for t, k in zip(prev.ids, prev.doc_keys, strict=True)
                        if t not in indexed
                    ],
                )
        return PgToolIndex(
            self,
            embedder,
            space,
            ids,
            documents,
            doc_keys,
            use_weight,
            nearest_use,
            {k: r for k, r in rejected_rows.items() if r is not None},
        )

    def space(self, embedder: str, dimensions: int = 0) -> Space | None:
        """An embedder's tables; created for ``dimensions`` when there are none yet (None:
        none yet, and no width given)."""
        with self._lock:
            known = self._spaces.get(embedder)
        if known is None:
            with self._pool.connection() as conn:
                row = conn.execute(
                    sql.SQL(
                        "SELECT dimensions, name FROM {schema}.tool_spaces WHERE embedder = %s"
                    ).format(**self._q),
                    (embedder,),
                ).fetchone()
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

    @staticmethod
    def _space(embedder: str, dimensions: int, name: str) -> Space:
        return Space(embedder, int(dimensions), str(name))

    def _create_space(self, embedder: str, dimensions: int) -> Space:
        if not 1 <= dimensions <= 2000:
            raise ValueError(f"an HNSW index takes 1 to 2,000 dimensions, not {dimensions}")
        name = hashlib.sha256(embedder.encode()).hexdigest()[:12]
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"selfeng:{self.schema}",))
            row = conn.execute(
                sql.SQL(
                    "SELECT dimensions, name FROM {schema}.tool_spaces WHERE embedder = %s"
                ).format(**self._q),
                (embedder,),
            ).fetchone()
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
                self._insert(
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

    def _stored_keys(self, space: Space, tools: list[str] | None) -> dict[str, str]:
        """Tool -> the key of its stored row (of these tools, or of all)."""
        query = sql.SQL("SELECT tool, key FROM {schema}.{docs}").format(docs=space.docs, **self._q)
        with self._pool.connection() as conn:
            if tools is None:
                rows = conn.execute(query).fetchall()
            else:
                rows = conn.execute(query + sql.SQL(" WHERE tool = ANY(%s)"), (tools,)).fetchall()
        return {str(t): str(k) for t, k in rows}

    def _present_uses(self, space: Space, keys: list[str]) -> set[str]:
        query = sql.SQL("SELECT key FROM {schema}.{uses} WHERE key = ANY(%s)").format(
            uses=space.uses, **self._q
        )
        with self._pool.connection() as conn:
            return {str(k) for (k,) in conn.execute(query, (keys,)).fetchall()}

    def _write_docs(self, space: Space, rows: list[tuple[str, str, Row]]) -> None:
        conflict = sql.SQL(
            "ON CONFLICT (tool) DO UPDATE SET key = excluded.key, embedding = excluded.embedding"
            " WHERE {docs}.key <> excluded.key"
        ).format(docs=space.docs)
        columns = ("tool", "key", "embedding")
        self._write_indexed(
            f"tool_docs_{space.name}", columns, ["text", "text", "vector"], rows, conflict
        )

    def _write_uses(self, space: Space, rows: list[tuple[str, Row]]) -> None:
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
            self._insert(conn, target, columns, types, rows, conflict)
            if rebuild:
                conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
                conn.execute(self._create_index(table))

    @staticmethod
    def _insert(
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
                    sql.SQL("INSERT INTO {t} ({c}) VALUES ({v}) ").format(
                        t=target, c=names, v=values
                    )
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

    def _delete_docs(self, space: Space, rows: list[tuple[str, str]]) -> None:
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

    # -- searching ---------------------------------------------------------------------------

    def nearest_rows(
        self, space: Space, vector: Row, depth: int, *, uses: bool
    ) -> tuple[list[tuple[str, str, float]], list[tuple[str, float]]]:
        """The ``depth`` nearest aggregate rows (tool, key, similarity) and, with ``uses``,
        phrasing rows (key, similarity), through the HNSW indexes (an exact scan past
        ``MAX_EF_SEARCH``). Similarity is the dot product (rows are unit vectors).

        The two searches run at once, on two connections (the phrasings' in a thread of
        this store's): a request waits for the slower one, not for both."""
        phrasings = (
            self._searcher.submit(self._nearest, space, "uses", vector, depth) if uses else None
        )
        docs = self._nearest(space, "docs", vector, depth)
        return _split(docs + (phrasings.result() if phrasings is not None else []))

    def _nearest(self, space: Space, kind: str, vector: Row, depth: int) -> list[tuple[Any, ...]]:
        def compose() -> sql.Composable:
            if kind == "docs":
                return sql.SQL(
                    "SELECT tool, key, -(embedding <#> %(q)s) FROM {schema}.{docs}"
                    " ORDER BY embedding <=> %(q)s LIMIT %(k)s"
                ).format(docs=space.docs, **self._q)
            return sql.SQL(
                "SELECT NULL, key, -(embedding <#> %(q)s) FROM {schema}.{uses}"
                " ORDER BY embedding <=> %(q)s LIMIT %(k)s"
            ).format(uses=space.uses, **self._q)

        params = {"q": vector, "k": depth}
        with self._pool.connection() as conn:
            query = self._query(conn, ("nearest", space.name, kind), compose)
            if depth > MAX_EF_SEARCH:
                with conn.transaction():
                    conn.execute("SET LOCAL enable_indexscan = off")
                    return conn.execute(query, params).fetchall()
            if depth > self.ef_search:
                with conn.transaction():
                    conn.execute(
                        sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(depth))
                    )
                    return conn.execute(query, params).fetchall()
            return conn.execute(query, params).fetchall()

    def _query(
        self,
        conn: Connection[Any],
        key: tuple[str, str, str],
        compose: Callable[[], sql.Composable],
    ) -> str:
        """A query as text, composed once (it is sent once per request)."""
        text = self._queries.get(key)
        if text is None:
            text = self._queries[key] = compose().as_string(conn)
        return text

    def scored_rows(
        self, space: Space, vector: Row, tools: list[str] | None, keys: list[str] | None
    ) -> tuple[list[tuple[str, str, float]], list[tuple[str, float]]]:
        """The similarity of these tools' aggregate rows and of these phrasing rows (every
        row: None), exactly, in one round trip."""
        parts: list[sql.Composable] = []
        where = sql.SQL("") if tools is None else sql.SQL(" WHERE tool = ANY(%(tools)s)")
        if tools is None or tools:
            parts.append(
                sql.SQL("SELECT tool, key, -(embedding <#> %(q)s) FROM {schema}.{docs}").format(
                    docs=space.docs, **self._q
                )
                + where
            )
        if keys is None or keys:
            where = sql.SQL("") if keys is None else sql.SQL(" WHERE key = ANY(%(keys)s)")
            parts.append(
                sql.SQL("SELECT NULL, key, -(embedding <#> %(q)s) FROM {schema}.{uses}").format(
                    uses=space.uses, **self._q
                )
                + where
            )
        if not parts:
            return [], []
        params = {"q": vector, "tools": tools, "keys": keys}
        with self._pool.connection() as conn:
            rows = conn.execute(sql.SQL(" UNION ALL ").join(parts), params).fetchall()
        return _split(rows)

    def close(self) -> None:
        """Close the connections."""
        self._searcher.shutdown()
        self._pool.close()

    def __enter__(self) -> PgToolVectors:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _split(
    rows: Sequence[tuple[Any, ...]],
) -> tuple[list[tuple[str, str, float]], list[tuple[str, float]]]:
    docs = [(str(t), str(k), float(s)) for t, k, s in rows if t is not None]
    uses = [(str(k), float(s)) for t, k, s in rows if t is None]
    return docs, uses
