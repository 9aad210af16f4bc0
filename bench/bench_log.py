"""Embedded log and replay throughput, side by side with bare sqlite3 and `eventsourcing`.

Run: ``python bench/bench_log.py [EVENTS] [ROUNDS]`` (default 1,000,000 events, best of 2
rounds). Prints a Markdown table. Everything is measured in the same run on the same
machine with the same event bytes, each store in a fresh directory deleted afterwards:

- appends in batches of 1,000 and one event per transaction (durable: WAL,
  synchronous=NORMAL for selfeng and bare sqlite3; `eventsourcing` keeps its own default,
  synchronous=FULL);
- reading every record back, and reading and decoding every event;
- rebuilding every projection from the whole log (replay), with peak traced memory;
- the same on a bare sqlite3 table without any index but the rowid (the limit), and on the
  `eventsourcing` library's SQLite store (what a user might pick instead).
"""

from __future__ import annotations

import functools
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import request_events, table
from selfeng.core.mapper import from_record, to_record
from selfeng.core.records import NewRecord
from selfeng.infra.log.sqlite import SqliteLog
from selfeng.projections.base import MAIN
from selfeng.projections.catalog import default_projections
from selfeng.projections.replay import rebuild

SINGLE = 20_000  # one-per-transaction appends are slow everywhere: measure fewer
Results = dict[str, float]


@contextmanager
def fresh_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="selfeng-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def rate(n: int, fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


# -- bare sqlite3 ------------------------------------------------------------------------------

BARE_INSERT = "INSERT INTO events VALUES (NULL, ?, ?, ?, ?, ?, ?, ?)"


def bare_open(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path / "bare.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE events (position INTEGER PRIMARY KEY, event_id BLOB, topic TEXT,"
        " key TEXT, type TEXT, version INTEGER, data BLOB, timestamp_ms INTEGER)"
    )
    return conn


def bare_append(conn: sqlite3.Connection, records: list[NewRecord], size: int) -> None:
    for i in range(0, len(records), size):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(BARE_INSERT, records[i : i + size])
        conn.execute("COMMIT")


def bare_read_decode(conn: sqlite3.Connection) -> int:
    n, last = 0, 0
    while True:
        rows = conn.execute(
            "SELECT position, data FROM events WHERE position > ? ORDER BY position LIMIT 1000",
            (last,),
        ).fetchall()
        if not rows:
            return n
        for _, data in rows:
            orjson.loads(data)
        n += len(rows)
        last = rows[-1][0]


def bare_round(records: list[NewRecord], singles: list[NewRecord]) -> Results:
    with fresh_dir() as path:
        conn = bare_open(path)
        out = {
            "append_batch": rate(len(records), lambda: bare_append(conn, records, 1000)),
            "append_single": rate(len(singles), lambda: bare_append(conn, singles, 1)),
            "read_decode": rate(len(records) + len(singles), lambda: bare_read_decode(conn)),
        }
        conn.close()
    return out


def best(rounds: list[Results]) -> Results:
    """The best rate of each measurement over the rounds (other numbers: the last round's)."""
    out = dict(rounds[-1])
    for name in out:
        if name not in {"replay_peak_mb", "state_kb"}:
            out[name] = max(r[name] for r in rounds)
    return out


# -- selfeng -------------------------------------------------------------------------------------


def selfeng_append(log: SqliteLog, records: list[NewRecord], size: int) -> None:
    for i in range(0, len(records), size):
        log.append(records[i : i + size])


def read_all(log: SqliteLog) -> int:
    return sum(len(batch.records) for batch in log.read())


def read_decode_all(log: SqliteLog) -> int:
    n = 0
    for batch in log.read():
        for record in batch.records:
            from_record(record)
            n += 1
    return n


def selfeng_round(records: list[NewRecord], singles: list[NewRecord]) -> Results:
    total = len(records) + len(singles)
    with fresh_dir() as path:
        log = SqliteLog(path / "log.db")
        out = {
            "append_batch": rate(len(records), lambda: selfeng_append(log, records, 1000)),
            "append_single": rate(len(singles), lambda: selfeng_append(log, singles, 1)),
            "read": rate(total, lambda: read_all(log)),
            "read_decode": rate(total, lambda: read_decode_all(log)),
            "replay": rate(total, lambda: rebuild(log, default_projections, MAIN)),
        }
        tracemalloc.start()
        runner = rebuild(log, default_projections, MAIN)
        out["replay_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        assert runner.dumped("events")["total"] == total
        state = sum(len(orjson.dumps(runner.dumped(p))) for p in runner.names())
        out["state_kb"] = state / 1024
        log.close()
    return out


# -- eventsourcing ------------------------------------------------------------------------------


@functools.cache
def eventsourcing_aggregate() -> type[Any]:
    """An aggregate with one event type (defined once: eventsourcing registers its topic)."""
    from eventsourcing.domain import Aggregate, event

    class Stream(Aggregate):
        @event("Happened")
        def happen(self, data: str) -> None:
            pass

    return Stream


def eventsourcing_round(texts: list[str]) -> Results:
    from uuid import UUID

    from eventsourcing.application import Application

    Stream = eventsourcing_aggregate()
    with fresh_dir() as path:
        os.environ["PERSISTENCE_MODULE"] = "eventsourcing.sqlite"
        os.environ["SQLITE_DBNAME"] = str(path / "eventsourcing.db")
        app: Application[UUID] = Application()

        def save_hundreds() -> None:
            for i in range(0, len(texts), 100):
                agg = Stream()  # its creation is the first of the hundred events
                for text in texts[i : i + 99]:
                    agg.happen(text)
                app.save(agg)

        def save_singles() -> None:
            for _ in range(SINGLE):
                app.save(Stream())  # one event (the creation) per save

        def read_and_map() -> None:
            position = 1
            while got := app.recorder.select_notifications(position, 1000):
                for notification in got:
                    app.mapper.to_domain_event(notification)
                position = got[-1].id + 1

        saved = len(texts) // 100 * 100
        out = {
            "append_batch": rate(saved, save_hundreds),
            "append_single": rate(SINGLE, save_singles),
            "read_decode": rate(saved + SINGLE, read_and_map),
        }
        app.close()
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    print(f"building {n:,} events ...", file=sys.stderr)
    records = [to_record(e) for e in request_events(n)]
    singles = [to_record(e) for e in request_events(SINGLE)]
    size = sum(len(r.data) for r in records) / n
    print("selfeng SQLite log ...", file=sys.stderr)
    ours = best([selfeng_round(records, singles) for _ in range(rounds)])
    print("bare sqlite3 ...", file=sys.stderr)
    bare = best([bare_round(records, singles) for _ in range(rounds)])
    print("eventsourcing ...", file=sys.stderr)
    texts = [r.data.decode() for r in records]
    try:
        es = best([eventsourcing_round(texts) for _ in range(rounds)])
    except ImportError:
        print("eventsourcing is not installed: skipped", file=sys.stderr)
        es = {}

    def cell(results: Results, name: str, suffix: str = "") -> str:
        return f"{results[name]:,.0f}{suffix}" if name in results else "-"

    print(
        f"\n{n:,} request-path events ({size:.0f} bytes of JSON each), best of {rounds}; "
        f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, "
        f"{os.cpu_count()} cores\n"
    )
    rows = [
        ("append, batches of 1,000", cell(ours, "append_batch"), cell(bare, "append_batch"),
         cell(es, "append_batch", " (100 per save)")),
        ("append, one per transaction", cell(ours, "append_single"),
         cell(bare, "append_single"), cell(es, "append_single")),
        ("read records", cell(ours, "read"), "-", "-"),
        ("read and decode events", cell(ours, "read_decode"),
         cell(bare, "read_decode", " (orjson)"), cell(es, "read_decode", " (read and map)")),
        ("replay: rebuild all projections", cell(ours, "replay"), "-", "-"),
    ]  # fmt: skip
    print(table(rows, ("events/s", "selfeng SQLite log", "bare sqlite3", "eventsourcing 9.5")))
    print(
        f"\nreplay of {n + SINGLE:,} events: peak traced memory {ours['replay_peak_mb']:.1f} MB, "
        f"projection state {ours['state_kb']:.0f} KB"
    )


if __name__ == "__main__":
    main()
