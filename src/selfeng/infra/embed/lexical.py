"""``lexical``: the default embedder, BM25 over the tool documents, offline and light.

No model, no download: a vocabulary learnt from the tool documents. **Texts** (``fit`` and
``embed``, the generic embedder port): each document becomes its row of BM25 term weights
(computed by ``bm25s``: idf times saturated, length-normalised term frequency),
L2-normalised; any other text (a request) becomes the indicator of the terms it has that
the vocabulary knows, L2-normalised. Their dot product is the document's BM25 score for the
request divided by the length of the document's weight vector and the square root of the
number of known request terms: BM25's ranking for one request, cosine-normalised so that it
lies in [0, 1]. A request that repeats a tool's description scores near 1; one that shares
no word with any tool scores 0 (words the vocabulary does not know match nothing).

**Whole documents** (``fit_documents``, what the tool index uses): each tool is one
document, the weighted words of its name, description, parameters and confirmed phrasings,
and a request's similarity to it is the document's BM25 score for the request (idf times
saturated, length-normalised term frequency, over the request's distinct words) divided by
a constant per request: ``SCALE`` times the idf of a word only one document has, times the
square root of the request's word count (a word no document has counting
``UNKNOWN_SHARE``). So for one request tools are ranked exactly as BM25 ranks them, and the
number means the same from one request to the next; it is clipped to [0, 1]. The same fit
compares a request with short phrasings one by one (confirmed and rejected ones): the
cosine of their idf-weighted words. The fit is a new object; the embedder is not changed,
so one embedder serves any number of indexes and threads.

Words are Unicode word runs, folded to ASCII where they have an ASCII form (``café`` ->
``cafe``), lower-cased, split at ``snake_case`` and ``camelCase`` joints (keeping the whole
identifier too, so ``ResNet50`` finds both ``resnet50`` and ``resnet``), with English stop
words and request fillers (``what``, ``please``...) dropped and the rest stemmed (Snowball,
through PyStemmer). Numbers are arguments, not descriptions, and are dropped; ``%`` reads
as ``percent``. Single letters are dropped too, except a capital standing alone: it is an
abbreviation (``F``, ``C``, ``K``) a request may name a unit by. Runs of Chinese, Japanese
or Korean characters become character bigrams.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal

import bm25s
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

from selfeng.core.embedder import Embedder, WeightedTexts

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

UNKNOWN_SHARE: Final[float] = 0.5
"""How much a request word that no document has counts against a match, as a share of a
word that only one document has (an argument value is such a word, so it is not a full one)."""

SCALE: Final[float] = 2.0
"""A document's BM25 score for a request is divided by ``SCALE`` times the weight of a word
only it has: one such word matched once, at average length, is half of that word's share."""

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
    for raw, unit in _runs(text, max_chars):
        out.extend((raw.lower(),) if unit else _token_words(raw))
    return out


def _runs(text: str, max_chars: int) -> Iterator[tuple[str, bool]]:
    """The text's word runs, each with whether it is a unit's single letter: a letter right
    after a number ("40 c", "5 m"), and the one it is converted to ("40 c *to f*", "20c *in
    f*")."""
    unit_next = last_unit = False
    for raw in _WORD.findall(_prepare(text, max_chars)):
        unit = unit_next and _unit_letter(raw)
        yield raw, unit
        unit_next = not unit and (raw.isdigit() or (last_unit and raw.lower() in _CONVERTING))
        last_unit = unit or _GLUED_UNIT.fullmatch(raw) is not None


_GLUED_UNIT = re.compile(r"[0-9]+[^\W\d_]")


_CONVERTING = frozenset({"to", "in", "into"})


def _unit_letter(raw: str) -> bool:
    return len(raw) == 1 and raw.isascii() and raw.isalpha() and raw.lower() not in STOPWORDS


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
    if len(raw) == 1 and raw.isascii() and raw.isupper() and raw.lower() not in STOPWORDS:
        out.append(raw.lower())  # a capital on its own is an abbreviation: F, C, K
    else:
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
        self._words = _Words(self.terms)  # document words -> ids, for fit_documents

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
        for raw, unit in _runs(text, self.max_chars):
            out.extend((raw.lower(),) if unit else self._run_terms(raw))
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

    def fit_documents(
        self, documents: Sequence[WeightedTexts], phrasings: Sequence[str] = ()
    ) -> LexicalDocuments:
        """BM25 over whole documents: each one's weighted texts counted as one document.

        A word of a text of weight ``w`` counts ``w`` times in its document's term frequency
        and length. ``self`` is not changed (the vocabulary lives in the returned fit), so
        one embedder serves any number of indexes and threads.
        """
        words = self._words
        if len(words) > MAX_WORDS:  # fits under way keep the one they started with
            words = self._words = _Words(self.terms)
        n_docs = len(documents)
        pieces: list[npt.NDArray[np.int64]] = []
        owners: list[int] = []
        counts: list[float] = []
        for doc, texts in enumerate(documents):
            for text, weight in texts:
                ids = words.of(text)
                if ids.size and weight > 0:
                    pieces.append(ids)
                    owners.append(doc)
                    counts.append(weight)
        phrase_ids = [words.of(text) for text in phrasings]
        every = np.concatenate([*pieces, *phrase_ids]) if pieces or phrase_ids else _NO_IDS
        columns = np.unique(every)  # the embedder's ids of this fit's words, sorted
        n_terms = columns.size
        if pieces:
            sizes = np.fromiter((p.size for p in pieces), dtype=np.int64, count=len(pieces))
            tf = sp.csr_matrix(
                (
                    np.repeat(np.asarray(counts, dtype=np.float64), sizes),
                    (
                        np.repeat(np.asarray(owners, dtype=np.int64), sizes),
                        np.searchsorted(columns, np.concatenate(pieces)),
                    ),
                ),
                shape=(n_docs, n_terms),
            )
        else:
            tf = sp.csr_matrix((n_docs, n_terms), dtype=np.float64)
        tf.sum_duplicates()
        lengths = np.asarray(tf.sum(axis=1), dtype=np.float64).ravel()
        average = float(lengths.mean()) if n_docs and lengths.any() else 1.0
        df = np.bincount(tf.indices, minlength=n_terms)
        idf, idf_max = _idf(self.method, n_docs, df)
        idf[df == 0] = idf_max  # words only phrasings have: as rare as can be
        row_of = np.repeat(np.arange(n_docs), np.diff(tf.indptr))
        norm = self.k1 * (1.0 - self.b + self.b * lengths[row_of] / average)
        weights = sp.csr_matrix(
            (idf[tf.indices] * tf.data * (self.k1 + 1.0) / (tf.data + norm), tf.indices, tf.indptr),
            shape=tf.shape,
            dtype=np.float32,
        ).tocsc()
        return LexicalDocuments(
            columns=columns,
            weights=weights,
            idf=idf.astype(np.float32),
            idf_max=idf_max,
            phrasings=_unit_rows(phrase_ids, columns, idf).tocsc(),
            term_id=words.ids.get,
            terms=self.terms,
        )

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


_NO_IDS: Final[npt.NDArray[np.int64]] = np.zeros(0, dtype=np.int64)

MAX_WORDS: Final[int] = 2_000_000
"""Distinct document words an embedder numbers before it starts a fresh numbering (words
of phrasings keep coming; the ids of a fit are its own, so nothing is lost but a cache)."""


class _Words:
    """A growing numbering of document words, and each text's words as ids (cached, so a
    rebuild after one more phrasing reads no other text again)."""

    def __init__(self, terms: Callable[[str], list[str]]) -> None:
        self.ids: dict[str, int] = {}
        self._terms = terms
        self._lock = threading.Lock()
        self.of: Callable[[str], npt.NDArray[np.int64]] = lru_cache(maxsize=262_144)(self._of)

    def __len__(self) -> int:
        return len(self.ids)

    def _of(self, text: str) -> npt.NDArray[np.int64]:
        found = self._terms(text)
        with self._lock:
            out = [self.ids.setdefault(t, len(self.ids)) for t in found]
        return np.asarray(out, dtype=np.int64)


def _idf(
    method: str, n_docs: int, df: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], float]:
    """Each word's idf over ``n_docs`` documents, and the idf of a word only one has."""

    def of(d: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if method == "robertson":
            return np.maximum(np.log((n_docs - d + 0.5) / (d + 0.5)), 0.0)
        if method == "atire":
            return np.log(n_docs / np.maximum(d, 1.0))
        return np.log1p((n_docs - d + 0.5) / (d + 0.5))

    idf = of(df.astype(np.float64))
    top = float(of(np.ones(1))[0]) if n_docs else 1.0
    return idf, top if top > 0 else 1.0


def _unit_rows(
    texts: Sequence[npt.NDArray[np.int64]],
    columns: npt.NDArray[np.int64],
    idf: npt.NDArray[np.float64],
) -> sp.csr_matrix:
    """Each text's distinct words, weighted by their idf, L2-normalised (zero rows for none)."""
    sizes = np.fromiter((t.size for t in texts), dtype=np.int64, count=len(texts))
    if not sizes.sum():
        return sp.csr_matrix((len(texts), columns.size), dtype=np.float32)
    rows = np.repeat(np.arange(len(texts), dtype=np.int64), sizes)
    cols = np.searchsorted(columns, np.concatenate(texts))
    pairs = np.unique(rows * columns.size + cols)  # each word once per text
    rows, cols = pairs // columns.size, pairs % columns.size
    out = sp.csr_matrix(
        (idf[cols], (rows, cols)), shape=(len(texts), columns.size), dtype=np.float32
    )
    return _normalise(out)


@dataclass(frozen=True)
class LexicalDocuments:
    """A BM25 fit over whole documents and a set of phrasings (see ``fit_documents``).

    A request's similarity to a document is the document's BM25 score for the request's
    distinct words, divided by ``SCALE`` times the weight of a word only one document has
    and by the square root of the number of words the request has (a word no document has
    counting ``UNKNOWN_SHARE``), clipped to [0, 1]. For one request this orders documents
    exactly as BM25 does; across requests it means the same thing: about 0.5 is a request of
    a few words, each found once in the document; a request that shares only words many
    documents have, or is mostly words none has, scores little.

    A request's resemblance to a phrasing is the cosine of their idf-weighted words (a
    request word that neither the documents nor the phrasings have counts ``UNKNOWN_SHARE``
    of the rarest weight), so 1 is the same words and 0 none in common.
    """

    columns: npt.NDArray[np.int64]
    """The embedder's ids of this fit's words, sorted (column ``j`` is ``columns[j]``)."""
    weights: sp.csc_matrix
    """Documents x words: BM25 weights (idf times saturated, length-normalised frequency)."""
    idf: npt.NDArray[np.float32]
    """Each word's idf over the documents (the rarest weight for words only phrasings have)."""
    idf_max: float
    """The idf of a word only one document has."""
    phrasings: sp.csc_matrix
    """Phrasings x words: idf-weighted, L2-normalised."""
    term_id: Callable[[str], int | None]
    terms: Callable[[str], list[str]]

    def _split(self, query: str) -> tuple[npt.NDArray[np.intp], int]:
        """The request's distinct known words as columns, and how many it has that are not."""
        wanted = dict.fromkeys(self.terms(query))
        known: list[int] = []
        for term in wanted:
            gid = self.term_id(term)
            if gid is None:
                continue
            at = int(np.searchsorted(self.columns, gid))
            if at < self.columns.size and self.columns[at] == gid:
                known.append(at)
        return np.asarray(sorted(known), dtype=np.intp), len(wanted) - len(known)

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        """Normalised BM25 of the request against each document, in [0, 1]."""
        cols, unknown = self._split(query)
        # words only phrasings have are known to the fit but in no document
        in_docs = int(np.count_nonzero(np.diff(self.weights.indptr)[cols])) if cols.size else 0
        if in_docs == 0:
            return np.zeros(self.weights.shape[0], dtype=np.float32)
        outside = unknown + cols.size - in_docs
        scale = SCALE * self.idf_max * float(np.sqrt(in_docs + UNKNOWN_SHARE * outside))
        scores = _gather(self.weights, cols, None) / scale
        result: npt.NDArray[np.float32] = np.clip(scores, 0.0, 1.0).astype(np.float32)
        return result

    def resemblances(self, query: str) -> npt.NDArray[np.float32]:
        """Cosine of the request's idf-weighted words with each phrasing's, in [0, 1]."""
        if self.phrasings.shape[0] == 0:
            return np.zeros(0, dtype=np.float32)
        cols, unknown = self._split(query)
        if not cols.size:
            return np.zeros(self.phrasings.shape[0], dtype=np.float32)
        weights = self.idf[cols].astype(np.float64)
        norm = float(np.sqrt(np.sum(weights**2) + UNKNOWN_SHARE * unknown * self.idf_max**2))
        result: npt.NDArray[np.float32] = np.clip(
            _gather(self.phrasings, cols, weights / norm), 0.0, 1.0
        ).astype(np.float32)
        return result


def _gather(
    matrix: sp.csc_matrix,
    cols: npt.NDArray[np.intp],
    weights: npt.NDArray[np.float64] | None,
) -> npt.NDArray[np.float64]:
    """``matrix[:, cols] @ weights`` (weights 1 when None), touching only those columns."""
    out = np.zeros(matrix.shape[0], dtype=np.float64)
    indptr, indices, data = matrix.indptr, matrix.indices, matrix.data
    for k, col in enumerate(cols):
        start, end = indptr[col], indptr[col + 1]
        if weights is None:
            out[indices[start:end]] += data[start:end]
        else:
            out[indices[start:end]] += weights[k] * data[start:end]
    return out
