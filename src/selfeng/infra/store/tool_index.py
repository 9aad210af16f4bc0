"""One prepared build of tool search's rows in PostgreSQL (see
:mod:`selfeng.infra.store.tool_vectors`): the documents a process indexes, the keys of their
rows, and how a request is answered from the nearest rows."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
from psycopg import sql

from selfeng.core.embedder import Embedder
from selfeng.core.search_documents import (
    Document,
    aggregate_row,
    aggregate_texts,
    strip_placeholders,
)
from selfeng.core.vector_store import Hits

if TYPE_CHECKING:
    from selfeng.infra.store.tool_vectors import PgToolVectors

OWN_ROWS_KEPT: Final[int] = 10_000
"""Aggregates of this process's own content kept for tools whose stored row is another's."""

Row = npt.NDArray[np.float32]
"""One text's or one document's row."""


def text_key(embedder: str, text: str) -> str:
    """The key of a text's row: a hash of the embedder's name and the text."""
    data = f"{embedder}\x1f{text}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:32]


def document_key(embedder: str, use_weight: float, doc_id: str, document: Document) -> str:
    """The key of a tool's aggregate row: a hash of what it is the weighted mean of."""
    digest = hashlib.sha256(f"{embedder}\x1f{use_weight!r}\x1d".encode())
    digest.update(doc_id.encode("utf-8", "surrogatepass"))
    for text, weight in aggregate_texts(document, use_weight):
        digest.update(f"\x1f{weight!r}\x1f".encode() + text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:32]


@dataclass(frozen=True)
class Space:
    """One embedder's tables: its aggregates and its phrasings, of its width."""

    embedder: str
    dimensions: int
    name: str
    """What the tables' names end with (a hash of the embedder's name)."""

    @property
    def docs(self) -> sql.Identifier:
        return sql.Identifier(f"tool_docs_{self.name}")

    @property
    def uses(self) -> sql.Identifier:
        return sql.Identifier(f"tool_uses_{self.name}")


class PgToolIndex:
    """One prepared build: the documents this process indexes, and their rows' keys."""

    def __init__(
        self,
        vectors: PgToolVectors,
        embedder: Embedder,
        space: Space | None,
        ids: tuple[str, ...],
        documents: Sequence[Document],
        doc_keys: list[str],
        use_weight: float,
        nearest_use: float,
        rejected_rows: dict[str, Row],
    ) -> None:
        self.vectors = vectors
        self.embedder = embedder
        self.space = space
        self.ids = ids
        self.documents = documents
        self.doc_keys = doc_keys
        self.use_weight = use_weight
        self.nearest_use = nearest_use
        self.rejected_rows = rejected_rows
        self.position = {doc_id: p for p, doc_id in enumerate(ids)}
        name = embedder.name
        self.use_keys = [tuple(dict.fromkeys(text_key(name, u) for u in d.uses)) for d in documents]
        owners: dict[str, list[int]] = {}
        for p, keys in enumerate(self.use_keys):
            for key in keys:
                owners.setdefault(key, []).append(p)
        self.use_owners = owners
        width = space.dimensions if space is not None else 0
        rejected_keys = [
            text_key(name, strip_placeholders(t)) for d in documents for t in d.rejected
        ]
        self._rejected = np.vstack(
            [
                sized(rejected_rows[k], space)
                if k in rejected_rows and space
                else np.zeros(width, np.float32)
                for k in rejected_keys
            ]
            or [np.zeros((0, width), np.float32)]
        ).astype(np.float32)
        self._rejected_of: dict[int, list[int]] = {}
        at = 0
        for p, d in enumerate(documents):
            if d.rejected:
                self._rejected_of[p] = list(range(at, at + len(d.rejected)))
                at += len(d.rejected)
        self._own: dict[int, Row] = {}

    def key_of(self, doc_id: str) -> str | None:
        """The key of a document's aggregate row as indexed here."""
        p = self.position.get(doc_id)
        return None if p is None else self.doc_keys[p]

    def nearest(self, query: str, depth: int | None, include: Collection[str]) -> Hits:
        """See :meth:`selfeng.core.vector_store.StoredIndex.nearest`. With a ``depth`` below
        the number of documents, one round trip: what the nearest rows leave unknown is left
        unsettled, within bounds, for :attr:`Hits.settle` (all of it settled at once for
        ``depth`` 0, the documents of ``include`` alone)."""
        space = self.space
        n = len(self.ids)
        q = _query_row(self.embedder, query, space)
        if space is None or q is None or n == 0:
            return _no_hits()
        found = _Found(q, _Rejected(self._rejected, self._rejected_of, q))
        found.wanted = {self.position[t] for t in include if t in self.position}
        if depth is None or depth >= n:  # every document, exactly
            doc_rows, use_rows = self.vectors.scored_rows(space, q, None, None)
            found.wanted = set(range(n))
            self._take(doc_rows, use_rows, found)
            found.own = found.wanted - found.aggregate.keys()  # no row of this content
        elif depth > 0:
            uses = bool(self.use_owners)
            doc_rows, use_rows = self.vectors.nearest_rows(space, q, depth, uses=uses)
            found.aggregate_bound = max(0.0, min((s for *_, s in doc_rows), default=0.0))
            if len(use_rows) >= depth:
                found.use_bound = max(0.0, min(s for _, s in use_rows))
            self._take(doc_rows, use_rows, found)
            self._pending(found)
        else:  # only ``include``: nothing is known of the others
            found.aggregate_bound = found.use_bound = 1.0
            self._pending(found)
            self._settle(space, found, found.wanted)
        return self._hits(space, found)

    def _take(
        self,
        doc_rows: Iterable[tuple[str, str, float]],
        use_rows: Iterable[tuple[str, float]],
        found: _Found,
    ) -> None:
        """Keep the rows of documents indexed here; note those whose row holds another
        process's content (to be scored from this one's)."""
        aggregate, confirmed, wanted = found.aggregate, found.confirmed, found.wanted
        for tool, key, similarity in doc_rows:
            p = self.position.get(tool)
            if p is None:
                continue  # a tool this process does not index (another's view)
            wanted.add(p)
            if key == self.doc_keys[p]:
                aggregate[p] = _clip(similarity)
            else:
                found.own.add(p)
        for key, similarity in use_rows:
            for p in self.use_owners.get(key, ()):
                wanted.add(p)
                confirmed[p] = max(confirmed.get(p, 0.0), _clip(similarity))

    def _pending(self, found: _Found) -> None:
        """What the nearest rows left unknown and can change a score: the aggregate of a
        candidate found by a phrasing (when a document left out could have one above
        ``nearest_use`` times that phrasing's resemblance), and the nearest phrasing of one
        found by its aggregate (when a phrasing left out could resemble the request more
        than ``1 / nearest_use`` times the aggregate, or the candidate resembles a rejected
        phrasing). Anything else left out cannot change a score: it is not asked for."""
        lifted = self.nearest_use
        aggregate, confirmed = found.aggregate, found.confirmed
        found.asked = {
            p
            for p in found.wanted
            if p not in aggregate
            and p not in found.own
            and found.aggregate_bound > lifted * confirmed.get(p, 0.0)
        }
        if found.use_bound > 0:
            unknown = found.asked | found.own
            found.unheard = {
                p
                for p in found.wanted
                if p not in confirmed
                and self.use_keys[p]
                and (
                    p in unknown
                    or lifted * found.use_bound > aggregate.get(p, 0.0)
                    or found.rejected.get(p) > 0.0
                )
            }

    def _settle(self, space: Space, found: _Found, which: Collection[int]) -> None:
        """Score these pending candidates exactly, in one round trip."""
        asked = [p for p in which if p in found.asked]
        unheard = [p for p in which if p in found.unheard]
        keys = list(dict.fromkeys(k for p in unheard for k in self.use_keys[p]))
        if not asked and not keys:
            return
        doc_rows, use_rows = self.vectors.scored_rows(
            space, found.q, [self.ids[p] for p in asked], keys
        )
        for tool, key, similarity in doc_rows:
            p = self.position[tool]
            if key == self.doc_keys[p]:
                found.aggregate[p] = _clip(similarity)
        heard = set(unheard)
        for key, similarity in use_rows:
            for p in self.use_owners.get(key, ()):
                if p in heard:
                    found.confirmed[p] = max(found.confirmed.get(p, 0.0), _clip(similarity))
        found.own |= {p for p in asked if p not in found.aggregate}
        found.asked -= set(asked)
        found.unheard -= heard

    def _hits(self, space: Space, found: _Found) -> Hits:
        for p in found.own - found.aggregate.keys():  # from this process's content
            found.aggregate[p] = _similarity(self._own_row(p, space), found.q)
        order = sorted(found.wanted)
        aggregate = np.asarray([found.aggregate.get(p, 0.0) for p in order], dtype=np.float32)
        confirmed = np.asarray([found.confirmed.get(p, 0.0) for p in order], dtype=np.float32)
        pending = found.asked | found.unheard
        unsettled = upper = None
        if pending:
            unsettled = np.asarray([p in pending for p in order], dtype=np.bool_)
            high_aggregate = np.asarray(
                [found.aggregate_bound if p in found.asked else 0.0 for p in order],
                dtype=np.float32,
            )
            high_use = np.asarray(
                [found.use_bound if p in found.unheard else 0.0 for p in order],
                dtype=np.float32,
            )
            upper = np.maximum(
                np.maximum(aggregate, high_aggregate),
                self.nearest_use * np.maximum(confirmed, high_use),
            ).astype(np.float32)

        def settle(ids: Collection[str]) -> Hits:
            which = [self.position[t] for t in ids if t in self.position]
            self._settle(space, found, which)
            return self._hits(space, found)

        return Hits(
            ids=tuple(self.ids[p] for p in order),
            aggregate=aggregate,
            confirmed=confirmed,
            rejected=np.asarray([found.rejected.get(p) for p in order], dtype=np.float32),
            aggregate_bound=found.aggregate_bound,
            use_bound=found.use_bound,
            unsettled=unsettled,
            upper=upper,
            settle=settle if pending else None,
        )

    def _own_row(self, p: int, space: Space) -> Row:
        """This process's aggregate of document ``p`` (from text rows; kept)."""
        row = self._own.get(p)
        if row is None:
            name = self.embedder.name
            weighted = aggregate_texts(self.documents[p], self.use_weight)
            rows = self.vectors.text_rows(
                self.embedder, {text_key(name, t): t for t, _ in weighted}
            )
            row = aggregate_of(self.documents[p], self.use_weight, name, rows, space)
            if len(self._own) >= OWN_ROWS_KEPT:
                self._own.clear()
            self._own[p] = row
        return row


@dataclass
class _Found:
    """What one request found so far (by candidate position)."""

    q: Row
    rejected: _Rejected
    wanted: set[int] = field(default_factory=set)
    aggregate: dict[int, float] = field(default_factory=dict)
    confirmed: dict[int, float] = field(default_factory=dict)
    own: set[int] = field(default_factory=set)
    """Candidates with no row of this process's content."""
    asked: set[int] = field(default_factory=set)
    """Candidates whose aggregate is pending."""
    unheard: set[int] = field(default_factory=set)
    """Candidates whose nearest confirmed phrasing is pending."""
    aggregate_bound: float = 0.0
    use_bound: float = 0.0


class _Rejected:
    """A request's resemblance to each document's nearest rejected phrasing, worked out
    for the documents asked about."""

    def __init__(self, rows: Row, of: dict[int, list[int]], q: Row) -> None:
        self._of = of
        self._resembled = np.clip(rows @ q, 0.0, 1.0) if rows.size else None
        self._known: dict[int, float] = {}

    def get(self, p: int) -> float:
        known = self._known.get(p)
        if known is None:
            rows = self._of.get(p)
            resembled = self._resembled
            known = float(resembled[rows].max()) if rows and resembled is not None else 0.0
            self._known[p] = known
        return known


def aggregate_of(
    document: Document, use_weight: float, embedder: str, rows: dict[str, Row], space: Space
) -> Row:
    weighted = aggregate_texts(document, use_weight)
    if not weighted:
        return np.zeros(space.dimensions, dtype=np.float32)
    part = np.vstack([sized(rows[text_key(embedder, t)], space) for t, _ in weighted])
    return aggregate_row(part, [w for _, w in weighted])


def sized(row: Row, space: Space | None) -> Row:
    """A text's row, or zeros of the space's width for a text embedded alone as nothing
    (an endpoint gives a blank text a row of width 0 when nothing else is in the batch)."""
    if space is not None and row.size == 0:
        return np.zeros(space.dimensions, dtype=np.float32)
    return row


def dense_rows(rows: Any, n: int) -> list[Row]:
    if hasattr(rows, "toarray"):
        rows = rows.toarray()
    matrix = np.asarray(rows, dtype=np.float32).reshape(n, -1)
    return [matrix[i] for i in range(n)]


def _query_row(embedder: Embedder, query: str, space: Space | None) -> Row | None:
    if space is None:
        return None
    q = dense_rows(embedder.embed([query]), 1)[0]
    if q.size != space.dimensions or not np.any(q):
        return None
    return q


def _similarity(row: Row, q: Row) -> float:
    return _clip(float(row @ q))


def _clip(value: float | None) -> float:
    if value is None or value != value:  # NULL or NaN
        return 0.0
    return min(1.0, max(0.0, float(value)))


def _no_hits() -> Hits:
    empty = np.zeros(0, dtype=np.float32)
    return Hits((), empty, empty, empty)
