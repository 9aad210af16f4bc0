"""Kill a real process mid-fold, resume, and find every event counted exactly once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson

from selfeng.core.mapper import append_events
from selfeng.infra.sqlite_log import SqliteLog
from selfeng.infra.sqlite_store import SqliteStore
from selfeng.projections.base import MAIN
from selfeng.projections.catalog import default_projections
from selfeng.projections.replay import rebuild
from selfeng.projections.runner import ProjectionRunner
from selfeng.schemas import Event, FeedbackGiven, PolicyChanged, RequestReceived

ROOT = Path(__file__).resolve().parents[2]
N_EVENTS = 40_000


def _events() -> list[Event]:
    events: list[Event] = []
    for i in range(N_EVENTS // 4):
        events.append(RequestReceived(prompt=f"q{i}"))
        events.append(FeedbackGiven(key=f"r{i}", rating="good" if i % 3 else "bad"))
        events.append(PolicyChanged(name="retrieval.threshold", value=round(0.1 + (i % 8) / 10, 2)))
        events.append(PolicyChanged(name="team.counter", value=i))
    return events


def _stored_events(store_path: Path) -> int:
    try:
        conn = sqlite3.connect(store_path, timeout=5)
        row = conn.execute(
            "SELECT events FROM checkpoints WHERE fork = 'main' AND projection = 'events'"
        ).fetchone()
        conn.close()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row else 0


def _kill_midway(log_url: str, store_url: str, store_path: Path, beyond: int) -> int:
    """Start the worker, SIGKILL it once its checkpoint passes ``beyond``; return that count."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.projections.crash_worker", log_url, store_url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.monotonic() + 60
    seen = 0
    while time.monotonic() < deadline and worker.poll() is None:
        seen = _stored_events(store_path)
        if seen > beyond:
            break
        time.sleep(0.002)
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    return seen


def test_a_killed_fold_resumes_without_losing_or_double_counting(tmp_path: Path) -> None:
    log_url = f"sqlite:///{tmp_path}/log.db"
    store_path = tmp_path / "store.db"
    store_url = f"sqlite:///{store_path}"
    events = _events()
    with SqliteLog.from_url(log_url) as log:
        for i in range(0, N_EVENTS, 1000):
            append_events(log, events[i : i + 1000])
        append_events(log, events[:1000])  # a retried batch: a no-op

    kills = []
    for beyond in (N_EVENTS // 10, N_EVENTS // 3, (2 * N_EVENTS) // 3):
        kills.append(_kill_midway(log_url, store_url, store_path, beyond))
    assert any(0 < k < N_EVENTS for k in kills), f"never killed mid-run: {kills}"

    with SqliteLog.from_url(log_url) as log, SqliteStore(store_path) as store:
        resumed = ProjectionRunner(log, store, default_projections(MAIN))
        resumed.catch_up()
        fresh = rebuild(log, default_projections, MAIN)
        counts = resumed.dumped("events")
        assert counts["total"] == N_EVENTS
        assert counts["by_type"]["FeedbackGiven"] == N_EVENTS // 4
        for name in ("events", "policies"):
            assert orjson.dumps(resumed.dumped(name), option=orjson.OPT_SORT_KEYS) == orjson.dumps(
                fresh.dumped(name), option=orjson.OPT_SORT_KEYS
            ), name
        counter = resumed.dumped("policies")["policies"]["team.counter"]
        assert counter["version"] == N_EVENTS // 4
