"""The tool index: documents in, the most similar ones to a request out, over any Embedder.

Pure logic over the :class:`~selfeng.core.embedder.Embedder` port. What a tool is found by
(a :class:`~selfeng.core.search_documents.Document`: weighted fields, confirmed phrasings,
rejected phrasings) and the aggregate it is scored by are in
:mod:`selfeng.core.search_documents`; the port of a vector store that keeps the rows outside
the process is :mod:`selfeng.core.vector_store`.

A request's similarity to a document is the larger of

- its similarity to one **aggregate document**: the fields and the confirmed phrasings
  together (each phrasing's words counting ``use_weight``), so that what many uses share
  weighs more than one odd wording, and a tool used often is not favoured for requests
  that resemble none of its uses; and
- ``nearest_use`` times its resemblance to the **nearest confirmed phrasing**, so that a
  rare but distinct way of asking for a tool still finds it however many others there are.

The rejected phrasings are compared one by one too (:meth:`ToolIndex.match` reports the
nearest per document); what to do with that is the caller's policy.

An embedder that scores whole documents itself (a
:class:`~selfeng.core.embedder.DocumentEmbedder`: the lexical one, BM25 over the aggregate)
is handed the documents as weighted texts. Any other embedder embeds texts: a document's
aggregate row is then the weighted mean of its texts' rows, re-normalised (both scorers are
in :mod:`selfeng.core.search_scoring`). When such an embedder says its embeddings do not
depend on the corpus (``corpus_dependent = False``: the dense models), the index keeps each
text's row and embeds only texts it has not seen, so one more phrasing costs one embedding;
otherwise a copy of it is fit on every text.

Given a :class:`~selfeng.core.vector_store.VectorStore` (pgvector, when the projection store
is PostgreSQL), such an embedder's rows live outside the process instead: text rows shared by
every process on the store, and aggregate and phrasing rows searched through an approximate
nearest-neighbour index. :meth:`ToolIndex.match` then scores only the candidates the store
returns (with ``depth`` set) and says how high any other document could score
(:attr:`Match.bound`); :meth:`ToolIndex.ranked` asks again, deeper, until the ``k`` best are
certain to be among them. Scores are the same as in process: the same aggregate rows
(:func:`~selfeng.core.search_documents.aggregate_texts`,
:func:`~selfeng.core.search_documents.aggregate_row`), the same nearest phrasing, the same
rejected phrasings.

Similarities are in [0, 1], so the policy's absolute threshold means the same from one
request to the next; documents with no similarity at all are not returned. Building
(:meth:`ToolIndex.prepare`) never disturbs searches: the prepared snapshot is swapped in
whole (:meth:`ToolIndex.install`), so searches from other threads see the old index or the
new one, never a mix.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from selfeng.core.embedder import DocumentEmbedder, Embedder
from selfeng.core.search_documents import Documents, as_document, fingerprint, strip_placeholders
from selfeng.core.search_scoring import Scorer, document_scorer, embedding_scorer
from selfeng.core.vector_store import Hits, StoredIndex, VectorStore

USE_WEIGHT: Final[float] = 0.5
"""How much a confirmed phrasing's words count in its tool's aggregate document, relative
to the words of the name, description and parameters (measured: bench/bench_retrieval.py)."""

NEAREST_USE: Final[float] = 0.9
"""The similarity a request gets from repeating a confirmed phrasing word for word."""

MIN_DEPTH: Final[int] = 40
"""Candidates a stored index is asked for at least, per kind (aggregates, phrasings)."""

DEPTH_PER_RESULT: Final[int] = 4
"""Candidates a stored index is asked for per result wanted (``k``), when more than
``MIN_DEPTH``; too few certain results and :meth:`ToolIndex.ranked` asks four times deeper."""


@dataclass(frozen=True)
class Prepared:
    """A built index, ready to be installed (see :meth:`ToolIndex.prepare`)."""

    ids: tuple[str, ...]
    fingerprint: str
    scorer: Scorer | None
    use_owner: npt.NDArray[np.intp]
    """The document of each confirmed phrasing (phrasings: uses first, then rejected)."""
    rejected_owner: npt.NDArray[np.intp]
    rejected: tuple[tuple[str, ...], ...]
    """Each document's rejected templates."""
    position: dict[str, int] = field(default_factory=dict)
    stored: StoredIndex | None = None
    """The index of rows a vector store keeps (then ``scorer`` is None)."""


@dataclass(frozen=True)
class Match:
    """What the index found for one request, per document, in ``ids`` order, in [0, 1]."""

    ids: tuple[str, ...]
    similarity: npt.NDArray[np.float32]
    """The aggregate similarity or the nearest confirmed phrasing's, whichever is larger."""
    confirmed: npt.NDArray[np.float32]
    """Resemblance to the document's nearest confirmed phrasing (from a stored index: exact
    where it can change a score, see :attr:`Hits.confirmed`)."""
    rejected: npt.NDArray[np.float32]
    """Resemblance to the document's nearest rejected phrasing."""
    position: Mapping[str, int] = field(default_factory=dict)
    """Document id -> its place in ``ids``."""
    bound: float = 0.0
    """No document outside ``ids`` has a similarity above this (0: ``ids`` are all the
    documents, or all that have any similarity)."""
    unsettled: npt.NDArray[np.bool_] | None = None
    """From :meth:`ToolIndex.ranked`'s first look at a stored index: the candidates whose
    similarity or confirmed resemblance may still rise, once settled (None: none)."""
    upper: npt.NDArray[np.float32] | None = None
    """How high each unsettled candidate's similarity could be."""
    settle: Callable[[Collection[str]], Match] | None = None
    """Scores these candidates exactly: the same match, them settled."""


_EMPTY = Prepared((), "", None, np.zeros(0, np.intp), np.zeros(0, np.intp), ())


class ToolIndex:
    """Similarity search over a set of documents through an embedder.

    ``store``: where a corpus-independent embedder's rows are kept and searched (ignored for
    any other embedder, whose scores depend on the whole corpus and are computed here)."""

    def __init__(
        self,
        embedder: Embedder,
        documents: Documents | None = None,
        *,
        use_weight: float = USE_WEIGHT,
        nearest_use: float = NEAREST_USE,
        store: VectorStore | None = None,
    ) -> None:
        self.embedder = embedder
        self.use_weight = use_weight
        self.nearest_use = nearest_use
        self._corpus_dependent: bool = getattr(embedder, "corpus_dependent", True)
        self.store = (
            store
            if not self._corpus_dependent and not isinstance(embedder, DocumentEmbedder)
            else None
        )
        """The vector store searched, or None: every document is scored in process."""
        self.min_depth = MIN_DEPTH
        """Candidates a stored index is asked for at least (see :meth:`ranked`)."""
        self.depth_per_result = DEPTH_PER_RESULT
        """Candidates a stored index is asked for per result wanted."""
        self._snapshot = _EMPTY
        self._rows: dict[str, Any] = {}  # text -> its row, for corpus-independent embedders
        self._rows_lock = threading.Lock()
        self._install_lock = threading.Lock()
        if documents is not None:
            self.build(documents)

    @property
    def fingerprint(self) -> str:
        """The content hash of the indexed documents ("" before the first build)."""
        return self._snapshot.fingerprint

    @property
    def ids(self) -> tuple[str, ...]:
        """The indexed document ids, sorted."""
        return self._snapshot.ids

    def __len__(self) -> int:
        return len(self._snapshot.ids)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._snapshot.position

    def build(self, documents: Documents) -> bool:
        """Index these documents, replacing the previous ones; False when nothing changed."""
        prepared = self.prepare(documents)
        if prepared is None:
            return False
        self.install(prepared)
        return True

    def prepare(self, documents: Documents) -> Prepared | None:
        """Build an index of these documents without installing it (None: the installed
        one has the same content). Safe to call from another thread than the searches."""
        digest = fingerprint(self.embedder.name, documents, self.use_weight, self.nearest_use)
        if digest == self._snapshot.fingerprint:
            return None
        ids = tuple(sorted(documents))
        docs = [as_document(documents[doc_id]) for doc_id in ids]
        use_owner = np.asarray(
            [i for i, d in enumerate(docs) for _ in d.uses], dtype=np.intp
        ).reshape(-1)
        rejected_owner = np.asarray(
            [i for i, d in enumerate(docs) for _ in d.rejected], dtype=np.intp
        ).reshape(-1)
        phrasings = [t for d in docs for t in d.uses] + [
            strip_placeholders(t) for d in docs for t in d.rejected
        ]
        scorer: Scorer | None = None
        stored: StoredIndex | None = None
        if self.store is not None:
            stored = self.store.prepare(
                self.embedder,
                ids,
                docs,
                use_weight=self.use_weight,
                nearest_use=self.nearest_use,
                previous=self._snapshot.stored,
            )
        elif ids:
            if isinstance(self.embedder, DocumentEmbedder):
                scorer = document_scorer(self.embedder, docs, phrasings, self.use_weight)
            else:
                scorer = embedding_scorer(docs, phrasings, self.use_weight, self._embed_corpus)
        return Prepared(
            ids=ids,
            fingerprint=digest,
            scorer=scorer,
            use_owner=use_owner,
            rejected_owner=rejected_owner,
            rejected=tuple(d.rejected for d in docs),
            position={doc_id: i for i, doc_id in enumerate(ids)},
            stored=stored,
        )

    def install(self, prepared: Prepared) -> None:
        """Make a prepared index the one searched (one atomic swap)."""
        with self._install_lock:
            self._snapshot = prepared

    def _embed_corpus(self, texts: list[str]) -> tuple[Embedder, Any]:
        if self._corpus_dependent:
            # a fresh copy is fit, and kept with the rows it made: searches meanwhile keep
            # using the previous fit, and indexes sharing an embedder never refit it
            fitted = copy.copy(self.embedder)
            fitted.fit(texts)
            return fitted, (fitted.embed(texts) if texts else None)
        with self._rows_lock:
            unseen = [t for t in texts if t not in self._rows]
        if unseen:
            fresh = np.asarray(self.embedder.embed(unseen), dtype=np.float32)
            with self._rows_lock:
                for text, row in zip(unseen, fresh, strict=True):
                    self._rows[text] = row
        with self._rows_lock:
            wanted = set(texts)
            self._rows = {t: r for t, r in self._rows.items() if t in wanted}
            if not texts:
                return self.embedder, None
            return self.embedder, np.vstack([self._rows[t] for t in texts])

    def match(
        self, query: str, *, depth: int | None = None, include: Collection[str] = ()
    ) -> Match:
        """The request's similarity, and resemblance to confirmed and rejected phrasings,
        for every document; or, from a stored index and with ``depth``, for the candidates
        it returns (the ``depth`` nearest aggregates, the owners of the ``depth`` nearest
        confirmed phrasings) and the documents ``include`` names, ``bound`` saying how high
        any other document could score."""
        snap = self._snapshot
        if snap.stored is not None:
            found = self._stored_match(snap, query, depth, include)
            if found.unsettled is not None and found.settle is not None:
                unsettled = np.flatnonzero(found.unsettled)
                found = found.settle([found.ids[i] for i in unsettled.tolist()])
            return found
        n = len(snap.ids)
        if snap.scorer is None or n == 0:
            empty = np.zeros(n, dtype=np.float32)
            return Match(snap.ids, empty, empty, empty, snap.position)
        aggregate, near = snap.scorer(query)
        n_uses = snap.use_owner.size
        confirmed = _nearest(near[:n_uses], snap.use_owner, n)
        rejected = _nearest(near[n_uses:], snap.rejected_owner, n)
        similarity = np.maximum(aggregate, self.nearest_use * confirmed).astype(np.float32)
        return Match(snap.ids, similarity, confirmed, rejected, snap.position)

    def _stored_match(
        self, snap: Prepared, query: str, depth: int | None, include: Collection[str]
    ) -> Match:
        assert snap.stored is not None
        if not snap.ids:
            empty = np.zeros(0, dtype=np.float32)
            return Match((), empty, empty, empty, {})
        return self._from_hits(snap.stored.nearest(query, depth, include))

    def _from_hits(self, hits: Hits, position: Mapping[str, int] | None = None) -> Match:
        similarity = np.maximum(hits.aggregate, self.nearest_use * hits.confirmed)
        bound = max(hits.aggregate_bound, self.nearest_use * hits.use_bound)
        settle = hits.settle
        return Match(
            hits.ids,
            similarity.astype(np.float32),
            hits.confirmed,
            hits.rejected,
            position or {doc_id: i for i, doc_id in enumerate(hits.ids)},
            bound,
            unsettled=hits.unsettled,
            upper=hits.upper,
            settle=(
                None
                if settle is None or hits.unsettled is None
                else lambda ids: self._from_hits(settle(ids), position)
            ),
        )

    def similarities(self, query: str) -> npt.NDArray[np.float32]:
        """The similarity of the query to every document, in ``ids`` order, in [0, 1]."""
        found = self.match(query)
        if found.ids == self._snapshot.ids:
            return found.similarity
        out = np.zeros(len(self._snapshot.ids), dtype=np.float32)  # a stored index's
        for i, doc_id in enumerate(found.ids):
            out[self._snapshot.position[doc_id]] = found.similarity[i]
        return out

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` most similar documents, best first (ties by id), similarity above 0."""
        return self.ranked(query, k)[1]

    def ranked(
        self,
        query: str,
        k: int,
        score: Callable[[Match], npt.NDArray[np.float32]] | None = None,
    ) -> tuple[Match, list[tuple[str, float]]]:
        """The match and its ``k`` best (id, score) with a score above 0, best first (ties
        by id). ``score`` turns a match into a score per id, never above its similarity and
        never lower for a higher similarity or confirmed resemblance (default: the
        similarity).

        In process every document is scored. From a stored index, candidates are asked for
        ``max(min_depth, depth_per_result * k)`` deep, and those the nearest rows did not
        score exactly are settled when they could rank (their similarity could reach the
        ``k``-th score); then, when fewer than ``k`` candidates score at least what a
        document left out could (:attr:`Match.bound`), four times deeper, until the ``k``
        best are certain (as far as the approximate index finds the nearest rows) or every
        document is scored."""
        depth = max(self.min_depth, self.depth_per_result * k, 1)
        snap = self._snapshot
        while True:
            if snap.stored is None:
                found = self.match(query, depth=depth)
            else:
                found = self._stored_match(snap, query, depth, ())
            scores = found.similarity if score is None else score(found)
            picked = top(found.ids, scores, k)
            if found.unsettled is not None and found.upper is not None and found.settle:
                # a score never rises above the similarity, and settling never lowers one:
                # what could not reach the k-th score never ranks
                kth = picked[-1][1] if len(picked) >= k else 0.0
                could = found.unsettled & (found.upper >= kth)
                if could.any():
                    found = found.settle([found.ids[i] for i in np.flatnonzero(could).tolist()])
                    scores = found.similarity if score is None else score(found)
                    picked = top(found.ids, scores, k)
            certain = k <= 0 or (len(picked) >= k and picked[-1][1] >= found.bound)
            if certain or found.bound <= 0.0 or depth >= len(self):
                return found, picked
            depth *= 4


def top(ids: Sequence[str], scores: npt.NDArray[np.float32], k: int) -> list[tuple[str, float]]:
    """The ``k`` best (id, score) with a score above 0, best first, ties by position."""
    if k <= 0 or scores.size == 0:
        return []
    floor = 0.0
    if k < scores.size:  # the k-th best score; every document at it competes on its id
        floor = max(floor, float(np.partition(scores, scores.size - k)[scores.size - k]))
    best = np.flatnonzero(scores >= floor) if floor > 0.0 else np.flatnonzero(scores > 0.0)
    order = sorted(best.tolist(), key=lambda i: (-float(scores[i]), i))[:k]
    return [(ids[i], float(scores[i])) for i in order]


def _nearest(
    values: npt.NDArray[np.float32], owner: npt.NDArray[np.intp], n: int
) -> npt.NDArray[np.float32]:
    """The largest value per owner (0 for owners without one)."""
    out = np.zeros(n, dtype=np.float32)
    hit = np.flatnonzero(values > 0.0)
    if hit.size:
        np.maximum.at(out, owner[hit], values[hit])
    return out
