"""The embedder port: texts to vectors whose cosine similarity ranks tools for a request.

Retrieval scores must mean the same thing from one query to the next, because the policy's
threshold (``retrieval.threshold``) is an absolute cut: an embedder returns L2-normalised
rows, and similarity is their dot product, in [0, 1] for non-negative vectors.

An embedder may also score whole documents itself (:class:`DocumentEmbedder`): the index then
hands it each tool's weighted texts (name, description, parameters, confirmed phrasings) as
one document and asks it for similarities directly, instead of combining text embeddings.
The lexical embedder does so (BM25 over one aggregate document per tool), because a lexical
score of an aggregate cannot be had from the rows of its parts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

WeightedTexts = Sequence[tuple[str, float]]
"""A document as parts: each text with the weight its words count with."""


class Embedder(ABC):
    """Turns texts into L2-normalised vectors (dense numpy, or scipy sparse, rows)."""

    name: str
    """Which embedder: ``lexical``, ``minilm``, ``openai:<model>``."""

    @abstractmethod
    def fit(self, corpus: Sequence[str]) -> None:
        """Learn what the corpus needs (vocabulary and weights; a no-op for dense models).

        Called when the tool documents change; ``embed`` then uses what was learnt.
        """

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> Any:
        """One L2-normalised row per text (``numpy.ndarray`` or ``scipy.sparse`` matrix)."""


class DocumentModel(Protocol):
    """What :meth:`DocumentEmbedder.fit_documents` returns: an immutable fit over documents
    and phrasings that scores requests against both."""

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        """The request's similarity to each fitted document, in fit order, in [0, 1]."""
        ...

    def resemblances(self, query: str) -> npt.NDArray[np.float32]:
        """How closely the request resembles each fitted phrasing, in fit order, in [0, 1]
        (1: the same words)."""
        ...


@runtime_checkable
class DocumentEmbedder(Protocol):
    """An embedder that scores whole documents itself (the lexical one)."""

    def fit_documents(
        self, documents: Sequence[WeightedTexts], phrasings: Sequence[str] = ()
    ) -> DocumentModel:
        """Fit on these documents (each a list of weighted texts) and these short texts
        (phrasings, compared one by one), without changing ``self``."""
        ...
