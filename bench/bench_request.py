"""Request latency on the embedded default: cached answers, the warm sandbox pool, a cold
sandbox, and (if installed) LangGraph answering a cached one-node graph, in the same run.

Run: ``python bench/bench_request.py [REQUESTS]`` (default 300 per measurement). Every event
of every request is durably appended to a SQLite log (WAL, synchronous=NORMAL) before the
answer returns; timings are the client's view of ``Agent.ask`` in a warm process.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import table
from selfeng.agent import Agent
from selfeng.app import Selfeng
from selfeng.core.settings import Settings


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


def timed(n: int, fn: Callable[[int], object]) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - start) * 1000)
    return out


def measure(sandbox_url: str, n: int) -> dict[str, tuple[float, float]]:
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="selfeng-bench-") as tmp:
        settings = Settings.resolve(home=Path(tmp), sandbox=sandbox_url, env={})
        with Selfeng.open(settings) as app:
            app.seed_tools()
            agent = Agent(app, client="bench")
            agent.ask("What is 25% of 100?")  # warm: index built, pool started, cache filled
            agent.ask("What is 26% of 100?")

            def cached(i: int) -> None:
                assert agent.ask("What is 25% of 100?").cached

            def executed(i: int) -> None:
                answer = agent.ask(f"What is {i + 1000}% of 3?")
                assert answer.ok
                assert not answer.cached

            results["cached"] = percentiles(timed(n, cached))
            results["sandbox"] = percentiles(timed(n, executed))
    return results


def langgraph_cached(n: int) -> tuple[float, float] | None:
    try:
        from langgraph.cache.memory import InMemoryCache
        from langgraph.graph import END, START, StateGraph
        from langgraph.types import CachePolicy
    except ImportError:
        return None
    from typing import TypedDict

    class State(TypedDict):
        x: int

    def node(state: State) -> State:
        return {"x": state["x"] * 2}

    builder = StateGraph(State)
    builder.add_node("double", node, cache_policy=CachePolicy())
    builder.add_edge(START, "double")
    builder.add_edge("double", END)
    graph = builder.compile(cache=InMemoryCache())
    graph.invoke({"x": 21})
    return percentiles(timed(n, lambda i: graph.invoke({"x": 21})))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    rows = []
    for url in ("bwrap://", "subprocess://"):
        try:
            warm = measure(url, n)
        except Exception as exc:  # a sandbox that does not work here: say so and go on
            print(f"{url}: skipped ({exc})", file=sys.stderr)
            continue
        cold = measure(url.replace("://", "://?workers=0"), max(20, n // 10))
        name = url.removesuffix("://")
        rows.append((f"cached answer ({name})", *(f"{v:.2f}" for v in warm["cached"])))
        rows.append(
            (f"answer through the warm pool ({name})", *(f"{v:.2f}" for v in warm["sandbox"]))
        )
        rows.append(
            (f"answer through a cold sandbox ({name})", *(f"{v:.2f}" for v in cold["sandbox"]))
        )
    graph = langgraph_cached(n)
    if graph is not None:
        rows.append(
            ("LangGraph, cached one-node graph (in memory, no log)", *(f"{v:.2f}" for v in graph))
        )
    else:
        print("langgraph is not installed: its row is left out", file=sys.stderr)
    print(f"\n{n} requests per row, warm process, every event durably appended (SQLite WAL)\n")
    print(table(rows, ("request", "p50 ms", "p95 ms")))


if __name__ == "__main__":
    main()
