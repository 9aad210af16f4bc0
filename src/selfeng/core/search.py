"""The tool index: documents in, the most similar ones to a request out, over any Embedder.

Pure logic over the :class:`~selfeng.core.embedder.Embedder` port. A document is a tool's
retrieval text (its name, description, parameters, learnt phrasings), or several texts: then
its similarity is the best of its texts', so a tool with many learnt phrasings is found by the
one closest to the request instead of being diluted by all of them.

Similarities are dot products of L2-normalised rows, clipped to [0, 1] (a dense model's
negative cosines count as no similarity), so the policy's absolute threshold means the same
from one query to the next. Documents with no similarity at all are not returned.

``build`` re-indexes only when the documents changed (a content hash). When the embedder
says its embeddings do not depend on the corpus (``corpus_dependent = False``: the dense
models, whose rows must then be dense), the index keeps each text's row and embeds only the
texts it has not seen, so one more learnt phrasing costs one embedding. An embedder without
that attribute, or with it True (the lexical one, whose vocabulary and weights come from the
corpus), is copied and the copy fit on every text and re-embeds them all; the copy is swapped
in with the rows it made, so searches during a rebuild use the previous fit, and indexes can
share one embedder.

Searches may run from several threads, also while another thread rebuilds.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from selfeng.core.embedder import Embedder

Documents = Mapping[str, str | Sequence[str]]
"""Document id -> its text, or its texts (the best-matching one counts)."""


def fingerprint(embedder_name: str, documents: Documents) -> str:
    """A content hash of the documents as an embedder sees them (order of ids ignored)."""
    digest = hashlib.sha256(embedder_name.encode())
    for doc_id in sorted(documents):
        digest.update(b"\x1d" + doc_id.encode())
        for text in _texts(documents[doc_id]):
            digest.update(b"\x1f" + text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _texts(value: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(value) or ("",)


@dataclass(frozen=True)
class _Snapshot:
    ids: tuple[str, ...]
    matrix: Any  # rows of every text: numpy array or scipy sparse matrix
    starts: npt.NDArray[np.intp] | None  # first row of each document; None: one row each
    fingerprint: str
    embedder: Embedder | None  # the one that embedded these rows, to embed queries alike


class ToolIndex:
    """Similarity search over a set of documents through an embedder."""

    def __init__(self, embedder: Embedder, documents: Documents | None = None) -> None:
        self.embedder = embedder
        self._corpus_dependent: bool = getattr(embedder, "corpus_dependent", True)
        self._snapshot = _Snapshot((), None, None, "", None)
        self._rows: dict[str, Any] = {}  # text -> its row, for corpus-independent embedders
        self._lock = threading.Lock()
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

    def build(self, documents: Documents) -> bool:
        """Index these documents, replacing the previous ones; False when nothing changed."""
        digest = fingerprint(self.embedder.name, documents)
        with self._lock:
            if digest == self._snapshot.fingerprint:
                return False
            ids = tuple(sorted(documents))
            per_doc = [_texts(documents[doc_id]) for doc_id in ids]
            texts = [text for doc_texts in per_doc for text in doc_texts]
            embedder, matrix = self._embed_corpus(texts)
            if hasattr(matrix, "tocsc"):  # a sparse query touches few columns: gather those
                matrix = matrix.tocsc()
            starts: npt.NDArray[np.intp] | None = None
            if len(texts) != len(ids):
                counts = np.fromiter((len(t) for t in per_doc), dtype=np.intp, count=len(ids))
                starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.intp)
            self._snapshot = _Snapshot(ids, matrix if ids else None, starts, digest, embedder)
            return True

    def _embed_corpus(self, texts: list[str]) -> tuple[Embedder, Any]:
        if self._corpus_dependent:
            # a fresh copy is fit, and swapped in with the rows it made: searches meanwhile
            # keep using the previous fit, and indexes sharing an embedder never refit it
            fitted = copy.copy(self.embedder)
            fitted.fit(texts)
            return fitted, (fitted.embed(texts) if texts else None)
        unseen = list(dict.fromkeys(t for t in texts if t not in self._rows))
        if unseen:
            fresh = np.asarray(self.embedder.embed(unseen), dtype=np.float32)
            for text, row in zip(unseen, fresh, strict=True):
                self._rows[text] = row
        wanted = set(texts)
        self._rows = {t: r for t, r in self._rows.items() if t in wanted}
        if not texts:
            return self.embedder, None
        return self.embedder, np.vstack([self._rows[t] for t in texts])

    def similarities(self, query: str) -> npt.NDArray[np.float32]:
        """The similarity of the query to every document, in ``ids`` order, in [0, 1]."""
        return self._similarities(self._snapshot, query)

    @staticmethod
    def _similarities(snap: _Snapshot, query: str) -> npt.NDArray[np.float32]:
        if not snap.ids or snap.embedder is None:
            return np.zeros(0, dtype=np.float32)
        query_terms = getattr(snap.embedder, "query_terms", None)
        if query_terms is not None and getattr(snap.matrix, "format", None) == "csc":
            # An embedder that gives a request's (columns, weights) directly: add up just
            # those columns of the CSC matrix (no sparse objects built per request).
            scores = np.zeros(snap.matrix.shape[0], dtype=np.float32)
            indptr, indices, data = snap.matrix.indptr, snap.matrix.indices, snap.matrix.data
            for column, weight in zip(*query_terms(query), strict=True):
                start, end = indptr[column], indptr[column + 1]
                scores[indices[start:end]] += weight * data[start:end]
            return _finish(snap, scores)
        q = snap.embedder.embed([query])
        if hasattr(snap.matrix, "toarray"):  # sparse: only the query's columns are touched
            scores = np.asarray((snap.matrix @ q.T).toarray(), dtype=np.float32).ravel()
        else:  # dense: einsum's own loop, not a multithreaded BLAS call that would fight
            # a model's thread pool (torch) for two cores: 0.7 ms for 10,000 x 384 floats
            row = np.asarray(q, dtype=np.float32).reshape(-1)
            scores = np.einsum("ij,j->i", snap.matrix, row)
        return _finish(snap, scores)

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` most similar documents, best first (ties by id), similarity above 0."""
        snap = self._snapshot
        scores = self._similarities(snap, query)
        if k <= 0 or scores.size == 0:
            return []
        floor = 0.0
        if k < scores.size:  # the k-th best score; every document at it competes on its id
            floor = max(floor, float(np.partition(scores, scores.size - k)[scores.size - k]))
        top = np.flatnonzero(scores >= floor) if floor > 0.0 else np.flatnonzero(scores > 0.0)
        order = sorted(top.tolist(), key=lambda i: (-float(scores[i]), i))[:k]
        return [(snap.ids[i], float(scores[i])) for i in order]


def _finish(snap: _Snapshot, scores: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Per-text scores to per-document similarities: the best text of each, in [0, 1]."""
    if snap.starts is not None:
        scores = np.maximum.reduceat(scores, snap.starts)
    result: npt.NDArray[np.float32] = np.clip(scores, 0.0, 1.0)
    return result
