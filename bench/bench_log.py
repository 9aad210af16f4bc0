"""Embedded log and replay throughput, side by side with bare sqlite3 and `eventsourcing`.

Run: ``python bench/bench_log.py [EVENTS]`` (default 1,000,000). Prints a Markdown table.
Everything is measured in the same run on the same machine, with the same event bytes:

- appends in batches of 1,000 and one event per transaction (durable: WAL, synchronous=NORMAL);
- reading every record back, and reading and decoding every event;
- rebuilding every projection from the whole log (replay), with peak memory;
- the same appends and reads on a bare sqlite3 table (the limit), and on the `eventsourcing`
  library's SQLite store (what a user might pick instead).
"""

from __future__ import annotations

import os
import resource
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import request_events, table
from selfeng.core.mapper import from_record, to_record
from selfeng.core.records import NewRecord
from selfeng.infra.sqlite_log import SqliteLog
from selfeng.projections.base import MAIN
from selfeng.projections.catalog import default_projections
from selfeng.projections.replay import rebuild

SINGLE = 20_000  # one-per-transaction appends are slow everywhere; measure fewer


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f} events/s"


def bench_bare(tmp: Path, records: list[NewRecord]) -> dict[str, float]:
    """The limit: a plain table with the same columns and no index but the rowid."""
    out: dict[str, float] = {}
    conn = sqlite3.connect(tmp / "bare.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE events (position INTEGER PRIMARY KEY, event_id BLOB, topic TEXT,"
        " key TEXT, type TEXT, version INTEGER, timestamp_ms INTEGER, data BLOB)"
    )
    rows = [
        (r.event_id, r.topic, r.key, r.type, r.version, r.timestamp_ms, r.data) for r in records
    ]
    insert = "INSERT INTO events VALUES (NULL, ?, ?, ?, ?, ?, ?, ?)"
    start = time.perf_counter()
    for i in range(0, len(rows), 1000):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(insert, rows[i : i + 1000])
        conn.execute("COMMIT")
    out["append_batch"] = len(rows) / (time.perf_counter() - start)
    start = time.perf_counter()
    for row in rows[:SINGLE]:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(insert, row)
        conn.execute("COMMIT")
    out["append_single"] = SINGLE / (time.perf_counter() - start)
    start = time.perf_counter()
    n, last = 0, 0
    while True:
        got = conn.execute(
            "SELECT position, data FROM events WHERE position > ? ORDER BY position LIMIT 1000",
            (last,),
        ).fetchall()
        if not got:
            break
        for _, data in got:
            orjson.loads(data)
        n += len(got)
        last = got[-1][0]
    out["read_decode"] = n / (time.perf_counter() - start)
    conn.close()
    return out


def bench_selfeng(tmp: Path, records: list[NewRecord]) -> dict[str, float]:
    out: dict[str, float] = {}
    log = SqliteLog(tmp / "selfeng.db")
    start = time.perf_counter()
    for i in range(0, len(records), 1000):
        log.append(records[i : i + 1000])
    out["append_batch"] = len(records) / (time.perf_counter() - start)
    singles = [to_record(e) for e in request_events(SINGLE)]
    start = time.perf_counter()
    for record in singles:
        log.append([record])
    out["append_single"] = SINGLE / (time.perf_counter() - start)
    total = len(records) + SINGLE
    start = time.perf_counter()
    n = sum(len(batch.records) for batch in log.read())
    out["read"] = n / (time.perf_counter() - start)
    assert n == total
    start = time.perf_counter()
    n = 0
    for batch in log.read():
        for record in batch.records:
            from_record(record)
            n += 1
    out["read_decode"] = n / (time.perf_counter() - start)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    start = time.perf_counter()
    runner = rebuild(log, default_projections, MAIN)
    out["replay"] = total / (time.perf_counter() - start)
    out["replay_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    out["replay_state_kb"] = sum(len(orjson.dumps(runner.dumped(p))) for p in runner.names()) / 1024
    out["rss_growth_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert runner.dumped("events")["total"] == total
    # Replay speed without tracemalloc's overhead:
    start = time.perf_counter()
    rebuild(log, default_projections, MAIN)
    out["replay"] = total / (time.perf_counter() - start)
    log.close()
    return out


def bench_eventsourcing(tmp: Path, payloads: list[bytes]) -> dict[str, float] | None:
    try:
        from eventsourcing.application import Application
        from eventsourcing.domain import Aggregate, event
    except ImportError:
        return None

    class Stream(Aggregate):
        @event("Happened")
        def happen(self, data: str) -> None:
            pass

    out: dict[str, float] = {}
    os.environ["PERSISTENCE_MODULE"] = "eventsourcing.sqlite"
    os.environ["SQLITE_DBNAME"] = str(tmp / "eventsourcing.db")
    app: Application = Application()
    texts = [p.decode() for p in payloads]
    start = time.perf_counter()
    for text in texts[: SINGLE // 4]:
        agg = Stream()
        agg.happen(text)
        app.save(agg)  # two events per save (created + happened), one transaction
    out["append_single"] = (SINGLE // 4) * 2 / (time.perf_counter() - start)
    start = time.perf_counter()
    saved = 0
    for i in range(0, len(texts), 100):
        agg = Stream()
        for text in texts[i : i + 99]:
            agg.happen(text)
        app.save(agg)
        saved += 1 + len(texts[i : i + 99])
    out["append_batch"] = saved / (time.perf_counter() - start)
    recorder, mapper = app.recorder, app.mapper
    start = time.perf_counter()
    n, position = 0, 1
    while True:
        got = recorder.select_notifications(position, 1000)
        if not got:
            break
        for notification in got:
            mapper.to_domain_event(notification)
        n += len(got)
        position = got[-1].id + 1
    out["read_decode"] = n / (time.perf_counter() - start)
    app.close()
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    print(f"building {n:,} events ...", file=sys.stderr)
    records = [to_record(e) for e in request_events(n)]
    size = sum(len(r.data) for r in records) / n
    with tempfile.TemporaryDirectory(prefix="selfeng-bench-") as tmp_name:
        tmp = Path(tmp_name)
        print("bare sqlite3 ...", file=sys.stderr)
        bare = bench_bare(tmp, records)
        print("selfeng sqlite log ...", file=sys.stderr)
        ours = bench_selfeng(tmp, records)
        print("eventsourcing ...", file=sys.stderr)
        es = bench_eventsourcing(tmp, [r.data for r in records])
    print(
        f"\n{n:,} request-path events, {size:.0f} bytes of JSON each, "
        f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, "
        f"{os.cpu_count()} cores\n"
    )
    es = es or {}

    def cell(results: dict[str, float], name: str, suffix: str = "") -> str:
        return f"{results[name]:,.0f}{suffix}" if name in results else "-"

    rows = [
        (
            "append, batches of 1,000",
            cell(ours, "append_batch"),
            cell(bare, "append_batch"),
            cell(es, "append_batch", " (100 per save)"),
        ),
        (
            "append, one per transaction",
            cell(ours, "append_single"),
            cell(bare, "append_single"),
            cell(es, "append_single"),
        ),
        ("read records", cell(ours, "read"), "-", "-"),
        (
            "read and decode events",
            cell(ours, "read_decode"),
            cell(bare, "read_decode", " (orjson)"),
            cell(es, "read_decode", " (read and map)"),
        ),
        ("replay: rebuild all projections", cell(ours, "replay"), "-", "-"),
    ]
    print(table(rows, ("events/s", "selfeng SQLite log", "bare sqlite3", "eventsourcing 9.5")))
    print(
        f"\nreplay peak traced memory: {ours['replay_peak_mb']:.1f} MB for "
        f"{n + SINGLE:,} events (projection state {ours['replay_state_kb']:.0f} KB)"
    )


if __name__ == "__main__":
    main()
