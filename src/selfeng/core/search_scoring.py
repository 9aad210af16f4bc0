"""Scoring documents in process: a :data:`Scorer` per build of the tool index, for an
embedder whose rows are not kept in a vector store.

An embedder that scores whole documents itself (a
:class:`~selfeng.core.embedder.DocumentEmbedder`: the lexical one, BM25 over the aggregate)
is handed the documents as weighted texts (:func:`document_scorer`). Any other embedder
embeds texts: a document's aggregate row is then the weighted mean of its texts' rows,
re-normalised (:func:`embedding_scorer`; which rows it gets, fitted afresh or kept from the
previous build, is :class:`~selfeng.core.search.ToolIndex`'s business).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from selfeng.core.embedder import DocumentEmbedder, Embedder
from selfeng.core.search_documents import Document, aggregate_row, aggregate_texts

Scorer = Callable[[str], "tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]"]
"""Request -> (similarity to each aggregate document, resemblance to each phrasing)."""


def document_scorer(
    embedder: DocumentEmbedder, docs: Sequence[Document], phrasings: list[str], use_weight: float
) -> Scorer:
    """Scores from an embedder of whole documents, fit on these (fields and confirmed
    phrasings, each phrasing's words counting ``use_weight``) and these phrasings."""
    weighted = [[*d.fields, *((t, use_weight) for t in d.uses)] for d in docs]
    model = embedder.fit_documents(weighted, phrasings)

    def scorer(query: str) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        return model.scores(query), model.resemblances(query)

    return scorer


def embedding_scorer(
    docs: Sequence[Document],
    phrasings: list[str],
    use_weight: float,
    embed_corpus: Callable[[list[str]], tuple[Embedder, Any]],
) -> Scorer:
    """Aggregate rows as weighted means of text rows (:func:`aggregate_texts`), for an
    embedder of texts; ``embed_corpus`` gives the embedder to embed requests with and the
    rows of the texts it is given (None for none)."""
    weighted = [aggregate_texts(d, use_weight) for d in docs]
    texts = list(dict.fromkeys([t for doc in weighted for t, _ in doc] + phrasings))
    embedder, rows = embed_corpus(texts)
    row_of = {text: i for i, text in enumerate(texts)}
    dense = not hasattr(rows, "tocsr")
    width = rows.shape[1] if rows is not None else 0

    def aggregate(doc: list[tuple[str, float]]) -> Any:
        if not doc or rows is None:
            return np.zeros((1, width), dtype=np.float32)
        part = rows[[row_of[t] for t, _ in doc]]
        if dense:
            return aggregate_row(part, [w for _, w in doc]).reshape(1, -1)
        weights = np.asarray([w for _, w in doc], dtype=np.float32)
        vector = np.asarray(part.T @ weights, dtype=np.float32).reshape(1, -1)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector

    documents = np.vstack([aggregate(doc) for doc in weighted]) if weighted else None
    phrase_rows = (
        np.vstack([_dense_row(rows, row_of[t]) for t in phrasings])
        if phrasings and rows is not None
        else None
    )

    def score(query: str) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        q = _dense_row(embedder.embed([query]), 0).reshape(-1)
        if documents is None or q.size != documents.shape[1]:
            return np.zeros(len(weighted), np.float32), np.zeros(len(phrasings), np.float32)
        # einsum's own loop, not a multithreaded BLAS call that would fight a model's
        # thread pool (torch) for two cores: 0.7 ms for 10,000 x 384 floats
        sims = np.clip(np.einsum("ij,j->i", documents, q), 0.0, 1.0)
        near = (
            np.clip(np.einsum("ij,j->i", phrase_rows, q), 0.0, 1.0)
            if phrase_rows is not None
            else np.zeros(0, np.float32)
        )
        return sims.astype(np.float32), near.astype(np.float32)

    return score


def _dense_row(rows: Any, i: int) -> npt.NDArray[np.float32]:
    row = rows[i]
    if hasattr(row, "toarray"):
        row = row.toarray()
    return np.asarray(row, dtype=np.float32).reshape(1, -1)
