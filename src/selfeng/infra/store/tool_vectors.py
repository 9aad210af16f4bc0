"""Tool search's vectors in PostgreSQL: text rows shared by every process, and each tool's
aggregate and confirmed phrasings in pgvector columns searched through HNSW indexes.

When the projection store is PostgreSQL and the embedder is dense (its rows do not depend
on the corpus: ``minilm``, ``openai:<model>``), :class:`~selfeng.core.search.ToolIndex`
keeps its rows here (:class:`PgToolVectors`, a
:class:`~selfeng.core.vector_store.VectorStore`; a build is a
:class:`~selfeng.infra.store.tool_index.PgToolIndex`), in the store's schema:

- ``tool_texts``: every text's row, keyed by a hash of the embedder's name and the text (the
  name names the model, and so the width). A text any process embedded is never embedded
  again, by it or any other: a hosted model's embeddings cost money. Rows are float32 bytes.
  They are never deleted: they grow with the distinct texts the log holds.
- ``tool_docs_<space>`` (one per embedder, ``vector(d)`` with an HNSW index, cosine): one row
  per tool, its aggregate (:func:`~selfeng.core.search_documents.aggregate_row`) with the
  hash of what it was made of (``key``). A process writes a tool's row only when its content
  differs from the stored one, so a process that restarts, or a second one, writes and embeds
  nothing.
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

Modules. This one is the ``VectorStore``: what a build must write, and the searches;
:mod:`selfeng.infra.store.tool_vector_writes` creates the tables and writes the rows (COPY in
bulk), and :mod:`selfeng.infra.store.tool_index` is a prepared build, answering a request from
the nearest rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from pgvector.psycopg import register_vector
from psycopg import Connection, sql
from psycopg_pool import ConnectionPool

from selfeng.core.closing import Closeable
from selfeng.core.embedder import Embedder
from selfeng.core.search_documents import Document, aggregate_texts, strip_placeholders
from selfeng.core.vector_store import StoredIndex
from selfeng.infra.store.postgres import split_url
from selfeng.infra.store.tool_index import (
    PgToolIndex,
    Row,
    Space,
    aggregate_of,
    document_key,
    sized,
    text_key,
)
from selfeng.infra.store.tool_vector_writes import ToolVectorWrites, create_tables

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

EF_SEARCH: Final[int] = 40
"""``hnsw.ef_search`` for a request asking for fewer rows (pgvector's default; measured over
100,000 tools: ToolSearch's recall@10 0.998 against the in-process index, p50 4.4 ms,
bench/bench_vectors.py); a deeper request raises it to its depth."""

MAX_EF_SEARCH: Final[int] = 1_000
"""pgvector's ceiling on ``hnsw.ef_search``: a request deeper than this scans exactly."""


class PgToolVectors(Closeable):
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
        self._queries: dict[tuple[str, str, str], str] = {}
        self._searcher = ThreadPoolExecutor(
            max_workers=max(1, pool_size // 2), thread_name_prefix="selfeng-tool-vectors"
        )
        create_tables(conninfo, schema)
        self._pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=pool_size,
            open=True,
            configure=self._configure,
            kwargs={"autocommit": True},
            name="selfeng-tool-vectors",
        )
        self._writes = ToolVectorWrites(self._pool, schema)

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
            stored = self._writes.stored_keys(space, None if whole else [ids[p] for p in changed])
        if space is not None and new_uses:
            present = self._writes.present_uses(space, list(new_uses))
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
                self._writes.write_docs(
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
                self._writes.write_uses(space, [(k, sized(rows[k], space)) for k in missing_uses])
            if prev is not None:
                indexed = set(ids)
                self._writes.delete_docs(
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
        return self._writes.space(embedder, dimensions)

    def text_rows(self, embedder: Embedder, texts: dict[str, str]) -> dict[str, Row]:
        """The rows of these texts (key -> text), embedding only those no process stored
        (see :meth:`~selfeng.infra.store.tool_vector_writes.ToolVectorWrites.text_rows`)."""
        return self._writes.text_rows(embedder, texts)

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


def _split(
    rows: Sequence[tuple[Any, ...]],
) -> tuple[list[tuple[str, str, float]], list[tuple[str, float]]]:
    docs = [(str(t), str(k), float(s)) for t, k, s in rows if t is not None]
    uses = [(str(k), float(s)) for t, k, s in rows if t is None]
    return docs, uses
