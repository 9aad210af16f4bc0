"""The port through which tool search keeps an embedder's rows outside the process.

A :class:`VectorStore` (pgvector, when the projection store is PostgreSQL:
:class:`~selfeng.infra.store.tool_vectors.PgToolVectors`) keeps the rows of an embedder whose
embeddings do not depend on the corpus (the dense models): text rows shared by every process
on the store, and aggregate and phrasing rows searched through an approximate
nearest-neighbour index. :meth:`VectorStore.prepare` stores what a build of documents needs
and returns a :class:`StoredIndex`, whose :meth:`~StoredIndex.nearest` answers a request
with :class:`Hits`: the candidates the nearest rows name, scored exactly or within bounds
until settled, and how high any document left out could score.
:class:`~selfeng.core.search.ToolIndex` turns hits into its matches and ranks them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from selfeng.core.embedder import Embedder
from selfeng.core.search_documents import Document


@dataclass(frozen=True)
class Hits:
    """What a stored index found for a request: the candidates, scored exactly, or within
    bounds until settled (:attr:`settle`)."""

    ids: tuple[str, ...]
    """The candidates, sorted."""
    aggregate: npt.NDArray[np.float32]
    """Similarity to each candidate's aggregate row, in [0, 1]: exact where it can change
    the similarity (it is above ``nearest_use`` times the confirmed), else possibly less
    (of a candidate not settled yet)."""
    confirmed: npt.NDArray[np.float32]
    """Resemblance to each candidate's nearest confirmed phrasing, in [0, 1]: exact where
    it can change a score (it is above ``nearest_use`` times the aggregate, or the candidate
    resembles a rejected phrasing), else possibly less (of a candidate not settled yet)."""
    rejected: npt.NDArray[np.float32]
    """Resemblance to each candidate's nearest rejected phrasing, in [0, 1]."""
    aggregate_bound: float = 0.0
    """No document outside ``ids`` has an aggregate similarity above this."""
    use_bound: float = 0.0
    """No document outside ``ids`` has a confirmed phrasing resembling the request more."""
    unsettled: npt.NDArray[np.bool_] | None = None
    """Which candidates are not scored exactly yet (None: none)."""
    upper: npt.NDArray[np.float32] | None = None
    """How high each unsettled candidate's similarity could be."""
    settle: Callable[[Collection[str]], Hits] | None = None
    """Scores these candidates exactly (one more round trip): the same hits, them settled."""


class StoredIndex(Protocol):
    """An index of documents whose rows a :class:`VectorStore` keeps (one prepared build)."""

    def nearest(self, query: str, depth: int | None, include: Collection[str]) -> Hits:
        """The ``depth`` nearest documents by aggregate row and the owners of the ``depth``
        nearest confirmed phrasings, plus the documents ``include`` names, each scored
        exactly; every document when ``depth`` is None or reaches their number."""
        ...


class VectorStore(Protocol):
    """Where an embedder's rows are kept outside the process, and searched (pgvector)."""

    def prepare(
        self,
        embedder: Embedder,
        ids: tuple[str, ...],
        documents: Sequence[Document],
        *,
        use_weight: float,
        nearest_use: float,
        previous: StoredIndex | None,
    ) -> StoredIndex:
        """Store what these documents need (embedding only texts never stored) and return
        an index of them; ``previous`` is the installed one, so that only what changed
        since is written."""
        ...

    def close(self) -> None:
        """Close the connections."""
        ...
