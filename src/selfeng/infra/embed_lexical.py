"""``lexical``: the default embedder, BM25 term weights from ``bm25s``, offline and light.

No model, no download: a vocabulary learnt from the tool documents by ``fit``. Each
document becomes its row of BM25 term weights (computed by ``bm25s``: idf times saturated,
length-normalised term frequency), L2-normalised; any other text (a request) becomes the
indicator of the terms it has that the vocabulary knows, L2-normalised. Their dot product
is the document's BM25 score for the request divided by the length of the document's
weight vector and the square root of the number of known request terms: BM25's ranking
for one request, cosine-normalised so that it lies in [0, 1] and means the same from one
request to the next. A request that repeats a tool's description scores near 1; one that
shares no word with any tool scores 0 (words the vocabulary does not know match nothing);
one that shares only words many tools have (``number``, ``text``) scores little, because
those words weigh little in every document.

Words are Unicode word runs, folded to ASCII where they have an ASCII form (``café`` ->
``cafe``), lower-cased, split at ``snake_case`` and ``camelCase`` joints (keeping the whole
identifier too, so ``ResNet50`` finds both ``resnet50`` and ``resnet``), with English stop
words and request fillers (``what``, ``please``...) dropped and the rest stemmed (Snowball,
through PyStemmer). Numbers are arguments, not descriptions, and are dropped; ``%`` reads
as ``percent``. Runs of Chinese, Japanese or Korean characters become character bigrams.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal

import bm25s
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

from selfeng.core.embedder import Embedder

QUERY_FILLERS: Final[frozenset[str]] = frozenset({
    "am", "are", "been", "being", "can", "could", "did", "do", "does", "doing", "get",
    "gets", "give", "got", "had", "has", "have", "having", "he", "hello", "her", "him",
    "his", "how", "hi", "i", "its", "let", "lets", "me", "my", "need", "needs",
    "our", "ours", "please", "should", "she", "show", "tell", "than", "thanks", "those",
    "us", "want", "wants", "we", "were", "what", "whats", "when", "where", "which", "who",
    "whom", "why", "would", "you", "your", "yours",
})  # fmt: skip
"""Words of asking rather than of what is asked for, dropped with the English stop words."""

STOPWORDS: Final[frozenset[str]] = frozenset(STOPWORDS_EN) | QUERY_FILLERS
"""Every word the lexical embedder ignores (Lucene's English list and the fillers)."""

SYMBOLS: Final[dict[str, str]] = {"%": " percent ", "‰": " per mille "}
"""Symbols that carry meaning for tools, read as words."""

DEFAULT_MAX_CHARS: Final[int] = 100_000
"""Text beyond this many characters is ignored (a huge prompt must not stall the index)."""

_WORD = re.compile(r"[^\W_]+")
_SEGMENTS = re.compile(r"[^\W\d_]+|[0-9]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
_SYMBOL = re.compile("|".join(map(re.escape, SYMBOLS)))


def _fold(text: str) -> str:
    """Compatibility-decompose, drop combining marks: ``Café`` -> ``Cafe``, full-width -> ASCII."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _cjk_bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def _prepare(text: str, max_chars: int) -> str:
    return _SYMBOL.sub(lambda m: SYMBOLS[m.group()], _fold(text[:max_chars]))


def words(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> list[str]:
    """The lower-cased, unstemmed words of a text, stop words and numbers dropped."""
    out: list[str] = []
    for raw in _WORD.findall(_prepare(text, max_chars)):
        out.extend(_token_words(raw))
    return out


@lru_cache(maxsize=65_536)
def _token_words(raw: str) -> tuple[str, ...]:
    """The words one word run stands for (itself, and its parts when it is compound)."""
    out: list[str] = []
    if not raw.isascii() and _CJK.search(raw):
        for piece in _WORD.findall(_CJK.sub(lambda m: f" {m.group()} ", raw)):
            if _CJK.fullmatch(piece):
                out.extend(_cjk_bigrams(piece))
            else:
                out.extend(_keep(piece.lower()))
        return tuple(out)
    out.extend(_keep(raw.lower()))
    segments = _SEGMENTS.findall(raw)  # letters and digits apart: ResNet50 -> ResNet, 50
    for segment in segments if len(segments) > 1 else ():
        out.extend(_keep(segment.lower()))
    for segment in segments:  # camelCase apart: ResNet -> Res, Net
        parts = _CAMEL.findall(segment) if segment.isascii() else []
        for part in parts if len(parts) > 1 else ():
            out.extend(_keep(part.lower()))
    return tuple(out)


def _keep(word: str) -> list[str]:
    if word.isdigit() or word in STOPWORDS or (len(word) < 2 and word.isascii()):
        return []
    return [word]


@dataclass(frozen=True)
class _Fitted:
    """What a fit learnt, swapped in whole so a concurrent ``embed`` sees one fit."""

    vocab: dict[str, int]
    documents: dict[str, int]  # corpus text -> its row
    matrix: sp.csr_matrix  # the corpus texts' rows
    corpus: tuple[str, ...]


class LexicalEmbedder(Embedder):
    """BM25 term weights over a vocabulary fit on the tool documents (see the module doc)."""

    name = "lexical"
    corpus_dependent = True
    """``fit`` changes every embedding: the index must re-embed all texts after a refit."""

    def __init__(
        self,
        *,
        k1: float = 1.5,
        b: float = 0.75,
        method: Literal["lucene", "robertson", "atire"] = "lucene",
        stem: bool = True,
        max_chars: int = DEFAULT_MAX_CHARS,
    ) -> None:
        self.k1 = k1
        self.b = b
        self.method = method
        self.max_chars = max_chars
        self._stemmer = Stemmer.Stemmer("english") if stem else None
        self._stem_lock = threading.Lock()
        self._run_terms = lru_cache(maxsize=131_072)(self._stem_run)
        self._fitted = _Fitted({}, {}, sp.csr_matrix((0, 0), dtype=np.float32), ())

    @classmethod
    def from_url(cls, url: str) -> LexicalEmbedder:
        """``lexical`` or ``lexical://``: the defaults."""
        if url.rstrip("/:") not in {"lexical"}:
            raise ValueError(f"expected 'lexical', got {url!r}")
        return cls()

    def _stem_run(self, raw: str) -> tuple[str, ...]:
        found = _token_words(raw)
        if self._stemmer is None or not found:
            return found
        with self._stem_lock:  # a PyStemmer object is not safe to share between threads
            stems: list[str] = self._stemmer.stemWords(found)
        return tuple(stems)

    def terms(self, text: str) -> list[str]:
        """The terms a text is matched by: its words, stemmed."""
        out: list[str] = []
        for raw in _WORD.findall(_prepare(text, self.max_chars)):
            out.extend(self._run_terms(raw))
        return out

    @property
    def vocabulary(self) -> dict[str, int]:
        """Term -> column, as learnt by the last ``fit``."""
        return dict(self._fitted.vocab)

    def fit(self, corpus: Sequence[str]) -> None:
        """Learn the vocabulary and the BM25 weights of each corpus text (its embedding)."""
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(t, len(vocab)) for t in self.terms(text)] for text in corpus]
        n_docs, n_terms = len(ids), len(vocab)
        if n_terms == 0:
            matrix = sp.csr_matrix((n_docs, 0), dtype=np.float32)
        else:
            retriever = bm25s.BM25(k1=self.k1, b=self.b, method=self.method, csc_backend="scipy")
            scores = retriever.build_index_from_ids(
                unique_token_ids=list(range(n_terms)), corpus_token_ids=ids, show_progress=False
            )
            csc = sp.csc_matrix(
                (scores["data"], scores["indices"], scores["indptr"]), shape=(n_docs, n_terms)
            )
            matrix = _normalise(sp.csr_matrix(csc, dtype=np.float32))
        documents: dict[str, int] = {}
        for row, text in enumerate(corpus):
            documents.setdefault(text, row)
        self._fitted = _Fitted(vocab, documents, matrix, tuple(corpus))  # one atomic swap

    def query_terms(self, text: str) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
        """One request's row as (columns, weights): ``embed([text])`` without building a
        sparse matrix, for the index's per-request fast path."""
        fitted = self._fitted
        row = fitted.documents.get(text)
        if row is not None:
            start, end = fitted.matrix.indptr[row], fitted.matrix.indptr[row + 1]
            return (
                np.asarray(fitted.matrix.indices[start:end], dtype=np.intp),
                np.asarray(fitted.matrix.data[start:end], dtype=np.float32),
            )
        known = sorted({fitted.vocab[t] for t in self.terms(text) if t in fitted.vocab})
        weight = 1.0 / np.sqrt(len(known)) if known else 0.0
        return np.asarray(known, dtype=np.intp), np.full(len(known), weight, dtype=np.float32)

    def embed(self, texts: Sequence[str]) -> sp.csr_matrix:
        """One L2-normalised sparse row per text; a corpus text gets its BM25 row.

        Any other text is a request: its known terms, equally weighted. A text with no
        known term is a zero row.
        """
        fitted = self._fitted
        if len(texts) == len(fitted.corpus) and tuple(texts) == fitted.corpus:
            return fitted.matrix.copy()  # the corpus itself, as the index asks after a fit
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        vocab, matrix = fitted.vocab, fitted.matrix
        for i, text in enumerate(texts):
            row = fitted.documents.get(text)
            if row is not None:
                start, end = matrix.indptr[row], matrix.indptr[row + 1]
                cols.extend(matrix.indices[start:end].tolist())
                vals.extend(matrix.data[start:end].tolist())
                rows.extend([i] * (end - start))
                continue
            known = sorted({vocab[t] for t in self.terms(text) if t in vocab})
            cols.extend(known)
            vals.extend([1.0] * len(known))
            rows.extend([i] * len(known))
        shape = (len(texts), len(vocab))
        out = sp.csr_matrix(
            (np.asarray(vals, dtype=np.float32), (np.asarray(rows), np.asarray(cols))),
            shape=shape,
            dtype=np.float32,
        )
        return _normalise(out)


def _normalise(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Scale each row to unit length (zero rows stay zero)."""
    matrix.sum_duplicates()
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1), dtype=np.float64)).ravel()
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ matrix, dtype=np.float32)
