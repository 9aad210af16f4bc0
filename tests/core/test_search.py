import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest
import scipy.sparse as sp

from selfeng.core.embedder import Embedder
from selfeng.core.search import ToolIndex
from selfeng.core.search_documents import Document, fingerprint


class Letters(Embedder):
    """A dense, corpus-independent embedder: letter counts, L2-normalised; counts its work."""

    name = "letters"
    corpus_dependent = False

    def __init__(self) -> None:
        self.embedded: list[str] = []
        self.fits = 0

    def fit(self, corpus: Sequence[str]) -> None:
        self.fits += 1

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.embedded.extend(texts)
        out = np.zeros((len(texts), 26), dtype=np.float32)
        for i, text in enumerate(texts):
            for c in text.lower():
                if "a" <= c <= "z":
                    out[i, ord(c) - 97] += 1
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1
        result: npt.NDArray[np.float32] = out / norms
        return result


class Words(Embedder):
    """A sparse, corpus-dependent embedder: a vocabulary of whole words learnt by ``fit``."""

    name = "words"

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.fitted: list[list[str]] = []

    def fit(self, corpus: Sequence[str]) -> None:
        self.fitted.append(list(corpus))
        self.vocab = {}
        for text in corpus:
            for w in text.split():
                self.vocab.setdefault(w, len(self.vocab))

    def embed(self, texts: Sequence[str]) -> sp.csr_matrix:
        rows, cols = [], []
        for i, text in enumerate(texts):
            known = {self.vocab[w] for w in text.split() if w in self.vocab}
            rows.extend([i] * len(known))
            cols.extend(sorted(known))
        m = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)),
            shape=(len(texts), len(self.vocab)),
        )
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1))).ravel()
        norms[norms == 0] = 1
        return sp.csr_matrix(sp.diags(1 / norms) @ m)


class Fixed(Embedder):
    """Rows chosen by the test: the query is row 0 of ``vectors``, documents the rest."""

    name = "fixed"
    corpus_dependent = False

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors

    def fit(self, corpus: Sequence[str]) -> None:
        pass

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return np.asarray([self.vectors[t] for t in texts], dtype=np.float32)


DOCS = {
    "reverse": "reverse a string",
    "upper": "convert text to upper case",
    "sum": "sum of numbers",
}


def test_search_ranks_best_first_with_similarity_in_range() -> None:
    index = ToolIndex(Words(), DOCS)
    hits = index.search("reverse the string", k=3)
    assert hits[0][0] == "reverse"
    assert all(0.0 < s <= 1.0 for _, s in hits)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_documents_with_no_similarity_are_not_candidates() -> None:
    index = ToolIndex(Words(), DOCS)
    [(name, score)] = index.search("reverse", k=10)
    assert name == "reverse"
    assert score == pytest.approx(1 / np.sqrt(3))
    assert index.search("nothing known here", k=10) == []
    assert index.search("", k=10) == []


def test_k_limits_and_ties_break_by_id() -> None:
    docs = {"b": "same words", "a": "same words", "c": "same words", "d": "other"}
    index = ToolIndex(Words(), docs)
    assert [d for d, _ in index.search("same", k=2)] == ["a", "b"]
    assert [d for d, _ in index.search("same", k=10)] == ["a", "b", "c"]
    assert index.search("same", k=0) == []


def test_an_empty_index_finds_nothing() -> None:
    index = ToolIndex(Words())
    assert index.search("anything") == []
    assert index.build({}) is True
    assert index.search("anything") == []
    assert len(index) == 0


def test_rebuild_only_when_documents_change() -> None:
    embedder = Words()
    index = ToolIndex(embedder)
    assert index.build(DOCS) is True
    assert index.build(dict(reversed(DOCS.items()))) is False  # same content, other order
    assert len(embedder.fitted) == 1
    assert index.build({**DOCS, "sum": "sum of a list of numbers"}) is True
    assert len(embedder.fitted) == 2
    assert sorted(embedder.fitted[-1]) == sorted(
        [DOCS["reverse"], DOCS["upper"], "sum of a list of numbers"]
    )
    assert index.ids == ("reverse", "sum", "upper")


def test_fingerprint_depends_on_embedder_ids_and_texts() -> None:
    base = fingerprint("lexical", DOCS)
    assert fingerprint("minilm", DOCS) != base
    assert fingerprint("lexical", {**DOCS, "x": ""}) != base
    assert fingerprint("lexical", {"a": ["one", "two"]}) != fingerprint("lexical", {"a": "one two"})
    assert fingerprint("lexical", {"a": "b", "c": "d"}) != fingerprint(
        "lexical", {"a": "bc", "": "d"}
    )
    plain = Document((("x", 1.0),))
    assert fingerprint("lexical", {"a": plain}) == fingerprint("lexical", {"a": "x"})
    for other in (
        Document((("x", 0.5),)),
        Document((("x", 1.0),), uses=("y",)),
        Document((("x", 1.0),), rejected=("y",)),
    ):
        assert fingerprint("lexical", {"a": other}) != fingerprint("lexical", {"a": plain})
    assert fingerprint("lexical", DOCS, 0.5) != fingerprint("lexical", DOCS, 0.7)


def test_a_corpus_independent_embedder_embeds_only_new_texts() -> None:
    embedder = Letters()
    index = ToolIndex(embedder, {"a": ["alpha", "first letter"], "b": "beta"})
    assert sorted(embedder.embedded) == ["alpha", "beta", "first letter"]
    embedder.embedded.clear()
    learnt = Document((("alpha", 1.0), ("first letter", 1.0)), uses=("learnt phrase",))
    index.build({"a": learnt, "b": "beta"})
    assert embedder.embedded == ["learnt phrase"]
    assert embedder.fits == 0
    # a confirmed phrasing repeated word for word: at least NEAREST_USE (0.9)
    assert index.match("learnt phrase").confirmed[0] == pytest.approx(1.0)
    (best, score), *_ = index.search("learnt phrase", k=1)
    assert best == "a"
    assert score >= 0.9


def test_texts_of_a_document_are_one_aggregate() -> None:
    # Words: binary rows; the aggregate of "reverse a string" and "flip hello backwards" is
    # their normalised sum, so a request matching part of each scores on both
    index = ToolIndex(Words(), {"t": ["reverse a string", "flip hello backwards"], "u": "hello"})
    (best, score), *_ = index.search("reverse backwards", k=2)
    assert best == "t"
    assert score == pytest.approx(2 / np.sqrt(6) / np.sqrt(2), abs=1e-6)


def test_the_nearest_confirmed_phrasing_counts_however_many_there_are() -> None:
    uses = (*(f"reverse string variant{i}" for i in range(200)), "flip hello backwards")
    index = ToolIndex(
        Words(), {"t": Document((("reverse a string", 1.0),), uses=uses), "u": "hello there"}
    )
    found = index.match("flip hello backwards")
    at = found.position["t"]
    assert found.confirmed[at] == pytest.approx(1.0)
    assert found.similarity[at] == pytest.approx(0.9)
    assert index.search("flip hello backwards", 1)[0][0] == "t"


def test_rejected_phrasings_are_matched_and_reported_not_scored() -> None:
    docs = {
        "t": Document((("convert length units", 1.0),), rejected=("convert {value} to upper",)),
        "u": Document((("upper case text", 1.0),)),
    }
    index = ToolIndex(Words(), docs)
    found = index.match("convert to upper")
    assert found.rejected[found.position["t"]] == pytest.approx(1.0)  # placeholders stripped
    assert found.rejected[found.position["u"]] == 0.0
    assert found.similarity[found.position["t"]] > 0.0  # the caller decides what it costs


def test_prepare_then_install() -> None:
    index = ToolIndex(Words(), {"a": "alpha"})
    prepared = index.prepare({"a": "alpha", "b": "beta"})
    assert prepared is not None
    assert list(index.ids) == ["a"]  # nothing changes until it is installed
    index.install(prepared)
    assert list(index.ids) == ["a", "b"]
    assert "b" in index
    assert index.prepare({"b": "beta", "a": "alpha"}) is None  # the same content


def test_similarity_is_clipped_to_zero_and_one() -> None:
    vectors = {
        "q": [1.0, 0.0],
        "opposite": [-1.0, 0.0],
        "over": [1.0000004, 0.0],
        "half": [0.5, 0.8660254],
    }
    index = ToolIndex(Fixed(vectors), {"o": "opposite", "v": "over", "h": "half"})
    assert index.search("q", k=5) == [("v", 1.0), ("h", pytest.approx(0.5))]
    sims = index.similarities("q")
    assert sims.dtype == np.float32
    assert sims.min() >= 0.0
    assert sims.max() <= 1.0


def test_an_empty_list_of_texts_is_an_empty_document() -> None:
    index = ToolIndex(Letters(), {"none": [], "some": "abc"})
    assert [d for d, _ in index.search("abc")] == ["some"]


def test_indexes_sharing_a_corpus_dependent_embedder_stay_apart() -> None:
    shared = Words()
    first = ToolIndex(shared, {"a": "alpha beta"})
    second = ToolIndex(shared, {"x": "gamma delta epsilon", "y": "zeta"})
    [(name, score)] = first.search("alpha", 5)
    assert name == "a"
    assert score == pytest.approx(1 / np.sqrt(2))
    [(name, score)] = second.search("zeta", 5)
    assert name == "y"
    assert score == pytest.approx(1.0)
    assert shared.vocab == {}  # the index fits copies, never the embedder it was given


def test_searches_during_rebuilds_see_one_consistent_index() -> None:
    index = ToolIndex(Words(), {f"d{i}": f"common word{i}" for i in range(50)})
    errors: list[BaseException] = []
    stop = threading.Event()

    def search() -> None:
        while not stop.is_set():
            try:
                hits = index.search("common word3", 3)
                assert hits[0][0] == "d3"
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
                return

    threads = [threading.Thread(target=search) for _ in range(2)]
    for t in threads:
        t.start()
    for n in range(30):
        index.build({f"d{i}": f"common word{i} {'extra ' * (n % 3)}" for i in range(50 + n)})
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
