"""Shared pieces of the benchmarks: realistic events, timing, and table printing."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from selfeng.schemas import (
    Event,
    PolicyChanged,
    RequestCompleted,
    RequestReceived,
    ToolExecuted,
    ToolSearched,
    uuid7,
)
from selfeng.schemas.requests import Candidate


def request_events(n: int) -> Iterator[Event]:
    """``n`` events shaped like the request path: about eight per request id, in order."""
    produced = 0
    while produced < n:
        rid = str(uuid7())
        received = RequestReceived(key=rid, prompt="Calculate 25% of 100 and reverse the result")
        chain: list[Event] = [
            received,
            ToolSearched.following(
                received,
                query=received.prompt,
                threshold=0.4,
                candidates=(
                    Candidate(
                        tool="percent",
                        version=1,
                        score=0.91,
                        similarity=0.88,
                        success_rate=1.0,
                        frequency=0.4,
                    ),
                ),
            ),
            ToolExecuted.following(
                received,
                tool="percent",
                version=1,
                arguments={"percent": 25, "of": 100},
                ok=True,
                result=25.0,
                duration_ms=1.7,
                sandbox="subprocess",
            ),
            ToolExecuted.following(
                received,
                tool="reverse",
                version=1,
                arguments={"text": "25.0"},
                ok=True,
                result="0.52",
                duration_ms=1.1,
                sandbox="subprocess",
            ),
            RequestCompleted.following(
                received,
                ok=True,
                answer="0.52",
                value="0.52",
                tools=("percent@1", "reverse@1"),
                duration_ms=4.2,
            ),
        ]
        if produced % 1000 == 0:
            chain.append(PolicyChanged(name="cache.ttl_seconds", value=3600 + produced % 7))
        for event in chain:
            if produced < n:
                produced += 1
                yield event


@contextmanager
def timed(results: dict[str, float], name: str) -> Iterator[None]:
    """Record the wall-clock seconds of a block under ``name``."""
    start = time.perf_counter()
    yield
    results[name] = time.perf_counter() - start


def best_of(runs: int, fn: Callable[[], float]) -> float:
    """The best of several runs of a rate measurement (rates: higher is better)."""
    return max(fn() for _ in range(runs))


def median(values: list[float]) -> float:
    """The median."""
    return statistics.median(values)


def table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> str:
    """A Markdown table."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join(
        [
            line(header),
            "|" + "|".join("-" * (w + 2) for w in widths) + "|",
            *(line(r) for r in rows),
        ]
    )
