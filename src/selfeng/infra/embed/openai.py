"""``openai:<model>``: embeddings from any OpenAI-compatible endpoint, through ``openai``.

Configured like the ``openai`` client itself: ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL``
(for a local or self-hosted server; its key may then be left unset), the model from the URL
(``openai:text-embedding-3-small``) or ``OPENAI_EMBEDDING_MODEL``, default
``text-embedding-3-small``. Texts go in batches; rows come back L2-normalised (OpenAI's
already are; other servers' may not be). A blank text is not sent (the API refuses empty
input) and gets a zero row. Failures are :class:`EmbeddingError` with what to check.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
import openai

from selfeng.core.embedder import Embedder
from selfeng.infra.llm.openai_client import openai_client

DEFAULT_MODEL: Final[str] = "text-embedding-3-small"
"""The model when neither the URL nor ``OPENAI_EMBEDDING_MODEL`` names one."""

DEFAULT_MAX_CHARS: Final[int] = 8_000
"""Text beyond this is not sent (the models read at most 8,191 tokens)."""


class EmbeddingError(RuntimeError):
    """The endpoint could not be reached or refused the request; the message says which."""


class OpenAIEmbedder(Embedder):
    """Embeddings from ``client.embeddings.create``; one request per batch of texts."""

    corpus_dependent = False
    """``fit`` is a no-op: a text's embedding never depends on the other texts."""

    def __init__(
        self,
        model: str | None = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        env: Mapping[str, str] | None = None,
        batch_size: int = 256,
        timeout: float = 30.0,
        max_retries: int = 2,
        max_chars: int = DEFAULT_MAX_CHARS,
        client: openai.OpenAI | None = None,
    ) -> None:
        env = os.environ if env is None else env
        self.model = model or env.get("OPENAI_EMBEDDING_MODEL") or DEFAULT_MODEL
        self.name = f"openai:{self.model}"
        self.base_url = base_url or env.get("OPENAI_BASE_URL") or None
        self.batch_size = batch_size
        self.max_chars = max_chars
        key = api_key or env.get("OPENAI_API_KEY")
        if client is None:
            client = openai_client(
                api_key=key, base_url=self.base_url, timeout=timeout, max_retries=max_retries
            )
            if client is None:
                raise EmbeddingError(
                    "OpenAI embeddings need OPENAI_API_KEY (or OPENAI_BASE_URL for a local "
                    "OpenAI-compatible server)"
                )
        self._client = client

    @classmethod
    def from_url(cls, url: str) -> OpenAIEmbedder:
        """``openai`` or ``openai:<model>``, configured from the environment."""
        scheme, _, model = url.partition(":")
        if scheme != "openai":
            raise ValueError(f"expected 'openai:<model>', got {url!r}")
        try:
            return cls(model.strip("/") or None)
        except EmbeddingError as exc:
            raise ValueError(str(exc)) from exc

    def fit(self, corpus: Sequence[str]) -> None:
        """Nothing to learn: the model is fixed."""

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One L2-normalised row per text, in order (a zero row for a blank text)."""
        todo = [(i, t[: self.max_chars]) for i, t in enumerate(texts) if t.strip()]
        rows: dict[int, list[float]] = {}
        for start in range(0, len(todo), self.batch_size):
            batch = todo[start : start + self.batch_size]
            vectors = self._request([t for _, t in batch])
            for (i, _), vector in zip(batch, vectors, strict=True):
                rows[i] = vector
        width = len(next(iter(rows.values()))) if rows else 0
        out = np.zeros((len(texts), width), dtype=np.float32)
        for i, vector in rows.items():
            if len(vector) != width:
                raise EmbeddingError(
                    f"{self.name} returned vectors of {len(vector)} and {width} floats"
                )
            out[i] = vector
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        normalised: npt.NDArray[np.float32] = (out / norms).astype(np.float32)
        return normalised

    def _request(self, batch: list[str]) -> list[list[float]]:
        where = self.base_url or "the OpenAI API"
        try:
            response = self._client.embeddings.create(
                model=self.model, input=batch, encoding_format="float"
            )
        except openai.APIConnectionError as exc:  # includes timeouts
            raise EmbeddingError(
                f"cannot reach the embeddings endpoint at {where} ({exc}); "
                "check OPENAI_BASE_URL and that the server is running"
            ) from exc
        except openai.APIStatusError as exc:
            raise EmbeddingError(
                f"{where} refused the embeddings request for model {self.model!r}: "
                f"HTTP {exc.status_code}: {exc.message}"
            ) from exc
        data = sorted(response.data, key=lambda d: d.index)
        if len(data) != len(batch):
            raise EmbeddingError(f"{where} returned {len(data)} embeddings for {len(batch)} texts")
        return [list(d.embedding) for d in data]
