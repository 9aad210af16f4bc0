"""Tool vectors in a real PostgreSQL with pgvector: HNSW search against an exact scan."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from selfeng.infra.store.postgres import split_url
from selfeng.infra.store.vectors import PgVectorIndex
from tests.postgres_server import unique_schema

pytestmark = pytest.mark.postgres

DIMENSIONS = 32


@pytest.fixture
def index(postgres_url: str) -> Iterator[PgVectorIndex]:
    conninfo, _ = split_url(postgres_url)
    with PgVectorIndex(conninfo, schema=unique_schema(), dimensions=DIMENSIONS) as made:
        yield made


def _vectors(n: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, DIMENSIONS)).astype(np.float32)


def test_the_nearest_tool_is_found_and_replaced_rows_move(index: PgVectorIndex) -> None:
    vectors = _vectors(50)
    assert index.load((f"tool{i}", "v1", v) for i, v in enumerate(vectors)) == 50
    assert len(index) == 50
    (best, similarity), *_ = index.search(vectors[7], k=3)
    assert best == "tool7"
    assert similarity == pytest.approx(1.0, abs=1e-5)
    index.upsert([("tool7", "v2", -vectors[7])])  # the tool's wording changed
    assert index.fingerprints()["tool7"] == "v2"
    assert index.search(vectors[7], k=1)[0][0] != "tool7"
    index.remove(["tool3"])
    assert "tool3" not in index.fingerprints()
    assert len(index) == 49


def test_hnsw_recall_against_an_exact_scan(index: PgVectorIndex) -> None:
    vectors = _vectors(2000)
    index.load((f"t{i}", "v", v) for i, v in enumerate(vectors))
    queries = _vectors(20, seed=11)
    found = [
        len({i for i, _ in index.search(q, 10)} & {i for i, _ in index.exact(q, 10)}) / 10
        for q in queries
    ]
    assert sum(found) / len(found) >= 0.9


def test_a_vector_of_another_size_is_refused(index: PgVectorIndex) -> None:
    with pytest.raises(ValueError, match="this index holds 32"):
        index.upsert([("x", "v", np.zeros(8))])


def test_names_are_checked(postgres_url: str) -> None:
    conninfo, _ = split_url(postgres_url)
    with pytest.raises(ValueError, match="lower-case"):
        PgVectorIndex(conninfo, schema="Robert'); DROP TABLE x;--")
