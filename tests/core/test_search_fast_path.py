"""The lexical index's per-request path: BM25 over aggregate documents, exactly, normalised
by a constant per request (so it orders tools as BM25 does)."""

from __future__ import annotations

import bm25s
import numpy as np
import pytest

from selfeng.core.search import ToolIndex
from selfeng.core.search_documents import Document
from selfeng.infra.embed.lexical import SCALE, UNKNOWN_SHARE, LexicalEmbedder

DOCS: dict[str, str | Document] = {
    "percent_of": Document(
        (("percent of", 1.0), ("what percent % of a value is", 1.0)),
        uses=("what is percent of", "percentage of a number"),
    ),
    "reverse_string": "reverse string: a text's characters in reverse order",
    "convert_length": "convert length: km, miles, feet between units",
    "count_words": "count the words of a text, or of a string",
}
REQUESTS = [
    "What is 25% of 100?",
    "reverse the string hello",
    "convert 10 km to miles",
    "count the words of this string of text",
    "percentage of the text length in km",
]


def reference(embedder: LexicalEmbedder, query: str) -> np.ndarray:
    """bm25s over the same terms, each document's texts written one after the other (its
    ``lucene`` variant leaves out BM25's constant factor ``k1 + 1``, put back here)."""
    corpus = [embedder.terms(_text(DOCS[doc_id])) for doc_id in sorted(DOCS)]
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(t, len(vocab)) for t in doc] for doc in corpus]
    retriever = bm25s.BM25(k1=embedder.k1, b=embedder.b, method="lucene")
    retriever.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
    known = [vocab[t] for t in dict.fromkeys(embedder.terms(query)) if t in vocab]
    if not known:
        return np.zeros(len(DOCS))
    scores = np.asarray(retriever.get_scores(known), dtype=np.float64)
    return scores * (embedder.k1 + 1.0)


def _text(doc: str | Document) -> str:
    if isinstance(doc, str):
        return doc
    return " ".join([*(t for t, _ in doc.fields), *doc.uses])


def test_scores_are_bm25_normalised_per_request() -> None:
    embedder = LexicalEmbedder()
    # uses counted like the fields, and no nearest-use term: the aggregate alone
    index = ToolIndex(embedder, DOCS, use_weight=1.0, nearest_use=0.0)
    idf_max = float(np.log1p((len(DOCS) - 0.5) / 1.5))
    vocabulary = {t for doc in DOCS.values() for t in embedder.terms(_text(doc))}
    for query in REQUESTS:
        wanted = set(embedder.terms(query))
        known, unknown = len(wanted & vocabulary), len(wanted - vocabulary)
        expected = reference(embedder, query) / (
            SCALE * idf_max * np.sqrt(known + UNKNOWN_SHARE * unknown)
        )
        np.testing.assert_allclose(index.similarities(query), np.clip(expected, 0, 1), atol=1e-5)
        best = index.ids[int(np.argmax(expected))]
        assert index.search(query, 1)[0][0] == best


def test_weights_scale_a_texts_words() -> None:
    embedder = LexicalEmbedder()

    def index(weight: float) -> ToolIndex:
        return ToolIndex(
            embedder, {"a": Document((("alpha beta", 1.0), ("gamma", weight))), "b": "beta"}
        )

    light, heavy = index(0.25), index(4.0)
    assert heavy.similarities("gamma")[0] > light.similarities("gamma")[0] > 0
    assert index(0.0).search("gamma") == []


def test_a_request_of_unknown_words_finds_nothing() -> None:
    index = ToolIndex(LexicalEmbedder(), DOCS)
    assert index.search("zebra quokka", 3) == []
    assert index.search("", 3) == []


def test_a_confirmed_phrasing_repeated_scores_at_least_nine_tenths() -> None:
    index = ToolIndex(LexicalEmbedder(), DOCS)
    ((best, score),) = index.search("percentage of a number", 1)
    assert best == "percent_of"
    assert score >= 0.9 - 1e-6


def test_words_known_only_from_rejected_phrasings_resemble_but_do_not_score() -> None:
    docs: dict[str, str | Document] = {
        "a": Document((("reverse a string", 1.0),), rejected=("flip {text} upside down",)),
        "b": "count words",
    }
    index = ToolIndex(LexicalEmbedder(), docs)
    found = index.match("flip it upside down")
    assert found.rejected[found.position["a"]] == pytest.approx(1.0, abs=1e-6)
    assert found.similarity.max() == 0.0
