"""The embedder port: texts to vectors whose cosine similarity ranks tools for a request.

Retrieval scores must mean the same thing from one query to the next, because the policy's
threshold (``retrieval.threshold``, 0.4 by default) is an absolute cut: an embedder returns
L2-normalised rows, and similarity is their dot product, in [0, 1] for non-negative vectors.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any


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
