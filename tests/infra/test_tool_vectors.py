"""Tool search through pgvector (a real PostgreSQL): the same answers as the in-process index,
processes sharing the rows without corrupting each other, texts embedded once."""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from psycopg import Connection, sql

from selfeng.consumers.search import ToolSearch
from selfeng.core import backends
from selfeng.core.embedder import Embedder
from selfeng.infra.embed.lexical import LexicalEmbedder
from selfeng.infra.store import tool_vectors
from selfeng.infra.store.postgres import split_url
from selfeng.infra.store.tool_vectors import PgToolVectors
from selfeng.projections.registry import RegistryState
from tests.consumers.test_tool_search import POLICIES, TOOLS, USES, record, registry
from tests.postgres_server import unique_schema, with_schema

pytestmark = pytest.mark.postgres

DIMENSIONS = 64


class Hashing(Embedder):
    """A dense, corpus-independent embedder: words and their letter trigrams hashed into 64
    counts, L2-normalised. Records every text it embeds."""

    name = "hashing"
    corpus_dependent = False

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def fit(self, corpus: Sequence[str]) -> None:
        pass

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.embedded.extend(texts)
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                grams = [word, *(word[j : j + 3] for j in range(max(1, len(word) - 2)))]
                for gram in grams:
                    out[i, int(hashlib.md5(gram.encode()).hexdigest()[:8], 16) % DIMENSIONS] += 1
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        result: npt.NDArray[np.float32] = out / norms
        return result


REJECTED = {
    "convert_length": {"convert the text to capital letters": [1, 5]},
    "count_words": {"count the letters in {text}": [2, 3, 1]},
}
QUERIES = [
    "Convert 10 km to miles",
    "what is the weather forecast in Paris",
    "reverse the string hello",
    "book a flight from Boston to Denver",
    "count the words in this text",
    "count the letters in banana",
    "convert this text to capital letters please",
    "email my landlord that the heating is broken",
    "let Bob know by mail that i am late",
    "shout hello",
    "what is 25% of 80",
    "something about nothing",
    "",
]


@pytest.fixture
def conninfo(postgres_url: str) -> str:
    return split_url(postgres_url)[0]


@pytest.fixture
def schema() -> str:
    return unique_schema()


@pytest.fixture
def vectors(conninfo: str, schema: str) -> Iterator[PgToolVectors]:
    with PgToolVectors(conninfo, schema=schema) as opened:
        yield opened


def in_process(state: RegistryState) -> ToolSearch:
    search = ToolSearch(Hashing(), background=False)
    search.refresh(state)
    return search


def stored(
    vectors: PgToolVectors, state: RegistryState, embedder: Hashing | None = None
) -> ToolSearch:
    search = ToolSearch(embedder or Hashing(), background=False, vectors=vectors)
    assert search.index.store is vectors
    search.refresh(state)
    return search


def full_state() -> RegistryState:
    return registry(phrases=copy.deepcopy(USES), rejected=copy.deepcopy(REJECTED))


def assert_same(
    got: ToolSearch, want: ToolSearch, k: int, queries: Sequence[str] = QUERIES
) -> None:
    """The same candidates, in the same order, with the same scores; where two tools tie
    but for float rounding (pgvector sums in another order), either may come first."""
    for query in queries:
        a = got.ranked(query, POLICIES, k=k)
        b = want.ranked(query, POLICIES, k=k)
        assert len(a) == len(b), query
        for x, y in zip(a, b, strict=True):
            assert x.score == pytest.approx(y.score, abs=1e-5), (query, x.tool)
            assert x.similarity == pytest.approx(y.similarity, abs=1e-5), (query, x.tool)
            if x.tool != y.tool:
                (tied,) = want.pinned(query, x.tool, POLICIES)
                assert tied.score == pytest.approx(y.score, abs=1e-5), (query, x.tool, y.tool)


def docs_rows(conninfo: str, schema: str) -> dict[str, str]:
    """Tool -> key of the rows stored for the ``hashing`` embedder."""
    with Connection.connect(conninfo) as conn:
        row = conn.execute(
            sql.SQL("SELECT name FROM {}.tool_spaces WHERE embedder = 'hashing'").format(
                sql.Identifier(schema)
            )
        ).fetchone()
        assert row is not None
        rows = conn.execute(
            sql.SQL("SELECT tool, key FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(f"tool_docs_{row[0]}")
            )
        ).fetchall()
    return {str(t): str(k) for t, k in rows}


# the same answers ----------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 3, 8])
def test_answers_equal_the_in_process_index(vectors: PgToolVectors, k: int) -> None:
    state = full_state()
    assert_same(stored(vectors, state), in_process(state), k)


def test_shallow_requests_ask_again_deeper_and_still_equal(
    vectors: PgToolVectors, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One candidate per result: the nearest rows alone often do not settle the order (a
    tool found by a phrasing, another lowered by a rejection), so the index is asked again."""
    state = full_state()
    pg = stored(vectors, state)
    pg.index.min_depth = 1
    pg.index.depth_per_result = 1
    depths: list[int] = []
    nearest_rows = vectors.nearest_rows

    def recorded(*args: Any, **kwargs: Any) -> Any:
        depths.append(args[2])
        return nearest_rows(*args, **kwargs)

    monkeypatch.setattr(vectors, "nearest_rows", recorded)
    memory = in_process(state)
    for k in (1, 2, 3):
        assert_same(pg, memory, k)
    assert 1 in depths
    assert 4 in depths  # asked again, four times deeper
    exclude = {"convert_length"}
    for query in QUERIES:
        got = [c.tool for c in pg.ranked(query, POLICIES, k=2, exclude=exclude)]
        assert got == [c.tool for c in memory.ranked(query, POLICIES, k=2, exclude=exclude)]


def test_requests_deeper_than_ef_search_raise_it_or_scan_exactly(
    conninfo: str, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HNSW returns at most ``hnsw.ef_search`` rows: deeper, it is raised for the request;
    past pgvector's ceiling (1,000; 3 here), the rows are scanned exactly."""
    monkeypatch.setattr(tool_vectors, "MAX_EF_SEARCH", 3)
    state = full_state()
    memory = in_process(state)
    with PgToolVectors(conninfo, schema=schema, ef_search=1) as vectors:
        pg = stored(vectors, state)
        pg.index.min_depth = 1
        pg.index.depth_per_result = 1
        for k in (1, 2, 3):  # depths 1 (as set), 2 and 3 (raised), 4 and 16 (exact)
            assert_same(pg, memory, k)


def test_pinned_threshold_and_best_below_equal(vectors: PgToolVectors) -> None:
    state = full_state()
    pg, memory = stored(vectors, state), in_process(state)
    for query in QUERIES:
        for tool in ("to_uppercase", "send_email", "convert_length", "no_such_tool"):
            a, b = pg.pinned(query, tool, POLICIES), memory.pinned(query, tool, POLICIES)
            assert [c.tool for c in a] == [c.tool for c in b]
            assert [c.score for c in a] == pytest.approx([c.score for c in b], abs=1e-5)
        cut = {**POLICIES, "retrieval.threshold": 0.3}
        assert [c.tool for c in pg.search(query, cut)] == [
            c.tool for c in memory.search(query, cut)
        ]
        below = memory.best_below(query, POLICIES)
        assert pg.best_below(query, POLICIES) == (None if below is None else pytest.approx(below))


def test_a_larger_registry_through_the_hnsw_index_equals_the_in_process_one(
    conninfo: str, schema: str
) -> None:
    """600 tools: loaded in bulk (the HNSW index built after), then searched through it.
    HNSW is approximate: at the default ``ef_search`` (40) it misses a 9th nearest tool of
    one of these queries (hashed words score many tools alike); at 400 it finds them all."""
    vectors = PgToolVectors(conninfo, schema=schema, ef_search=400)
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(400)]
    tools = {
        f"tool_{i}": (" ".join(rng.choice(words, 6)), {"value": " ".join(rng.choice(words, 2))})
        for i in range(600)
    }
    phrases = {
        f"tool_{i}": {" ".join(rng.choice(words, 4)) + " {value}": [1, 1, 1]}
        for i in range(0, 600, 3)
    }
    rejected = {f"tool_{i}": {" ".join(rng.choice(words, 4)): [1, 1]} for i in range(0, 600, 7)}
    state = registry(phrases=phrases, rejected=rejected, tools=tools)
    pg, memory = stored(vectors, state), in_process(state)
    assert len(docs_rows(conninfo, schema)) == 600
    with Connection.connect(conninfo) as conn:
        indexes = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND indexdef LIKE '%%hnsw%%'",
            (schema,),
        ).fetchall()
    assert len(indexes) == 2  # aggregates and phrasings, the first built after the load
    queries = [" ".join(rng.choice(words, 4)) for _ in range(40)]
    for k in (1, 5, 10):
        assert_same(pg, memory, k, queries)
    for query in queries[:10]:  # a match is settled: exact for every candidate
        found, everything = pg.index.match(query, depth=5), memory.index.match(query)
        assert found.unsettled is None
        assert len(found.ids) >= 5
        for i, tool in enumerate(found.ids):
            want = everything.similarity[everything.position[tool]]
            assert found.similarity[i] == pytest.approx(want, abs=1e-5)
    vectors.close()


# processes sharing the rows ------------------------------------------------------------------


def test_two_processes_with_different_views_share_rows_and_embed_each_text_once(
    conninfo: str, schema: str
) -> None:
    older = full_state()
    newer = copy.deepcopy(older)
    newer["phrases"]["to_uppercase"] = {"shout {text}": [2, 1, 1]}  # learnt since
    newer["tools"]["percent_of"]["active"] = None  # retired since
    newer["tools"]["translate_text"] = {
        "active": 1,
        "history": [],
        "versions": {"1": record("Translate a text into another language.", {"text": "t"})},
    }
    first, second = Hashing(), Hashing()
    with PgToolVectors(conninfo, schema=schema) as a, PgToolVectors(conninfo, schema=schema) as b:
        behind = stored(a, older, first)
        before = docs_rows(conninfo, schema)
        ahead = stored(b, newer, second)
        after = docs_rows(conninfo, schema)
        assert after["to_uppercase"] != before["to_uppercase"]
        assert {t for t in after if after[t] != before.get(t)} == {"to_uppercase", "translate_text"}
        assert second.embedded  # what only the newer view holds...
        assert not set(second.embedded) & set(first.embedded)  # ...and nothing else
        assert "shout" in second.embedded
        # the newer process rewrote to_uppercase's row: the older one scores its own content
        assert_same(behind, in_process(older), 8)
        assert_same(ahead, in_process(newer), 8)
        assert "percent_of" in docs_rows(conninfo, schema)  # the older view still has it
        # the older process catches up: nothing to embed, the same answers
        first.embedded.clear()
        behind.refresh(newer)
        assert first.embedded == []
        assert_same(behind, in_process(newer), 8)


def test_a_retired_tool_stops_being_returned_and_its_row_goes(conninfo: str, schema: str) -> None:
    state = full_state()
    with PgToolVectors(conninfo, schema=schema) as vectors:
        search = ToolSearch(Hashing(), vectors=vectors)  # rebuilds in the background
        search.refresh(state)
        request = "convert 10 km to miles"
        assert search.ranked(request, POLICIES, k=1)[0].tool == "convert_length"
        state = copy.deepcopy(state)
        state["tools"]["convert_length"]["active"] = None
        state["revision"] += 1
        search.refresh(state)
        assert "convert_length" not in [c.tool for c in search.ranked(request, POLICIES, k=8)]
        assert search.pinned(request, "convert_length", POLICIES) == []
        assert search.wait(10)
        assert "convert_length" not in search.index
        assert "convert_length" not in docs_rows(conninfo, schema)
        assert_same(search, in_process(state), 8)


def test_a_restarted_process_reuses_the_stored_rows(conninfo: str, schema: str) -> None:
    state = full_state()
    with PgToolVectors(conninfo, schema=schema) as vectors:
        stored(vectors, state)
    rows = docs_rows(conninfo, schema)
    embedder = Hashing()
    with PgToolVectors(conninfo, schema=schema) as vectors:
        search = stored(vectors, state, embedder)
        assert embedder.embedded == []  # nothing embedded, nothing written
        assert docs_rows(conninfo, schema) == rows
        assert_same(search, in_process(state), 8)


# wiring --------------------------------------------------------------------------------------


def test_tool_vectors_are_opened_for_a_postgres_store_and_a_dense_embedder(
    postgres_url: str,
) -> None:
    url = with_schema(postgres_url, unique_schema())
    opened = backends.open_tool_vectors(url, Hashing())
    assert isinstance(opened, PgToolVectors)
    opened.close()
    assert backends.open_tool_vectors(url, LexicalEmbedder()) is None  # BM25: in process
    assert backends.open_tool_vectors("sqlite:///x.db", Hashing()) is None
    assert backends.open_tool_vectors("memory://", Hashing()) is None


def test_a_database_that_cannot_keep_them_leaves_search_in_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("WARNING"):
        found = backends.open_tool_vectors("postgresql://me:secret@127.0.0.1:1/none", Hashing())
    assert found is None
    assert "tool search runs in process" in caplog.text
    assert "secret" not in caplog.text


def test_the_app_searches_through_pgvector_on_a_postgres_store(postgres_url: str) -> None:
    from selfeng.app import Selfeng
    from selfeng.infra.log.memory import MemoryLog

    url = with_schema(postgres_url, unique_schema())
    with Selfeng(MemoryLog(), backends.open_store(url), embedder=Hashing(), llm=None) as app:
        assert isinstance(app.handler.search.index.store, PgToolVectors)
        found: Any = app.handler.search.index.store
        assert found.schema == split_url(url)[1]["schema"]


def test_tools_of_the_seed_registry_are_found(vectors: PgToolVectors) -> None:
    state = registry(tools=TOOLS)
    assert stored(vectors, state).ranked("reverse the string hello", POLICIES, k=1)[0].tool == (
        "reverse_string"
    )
