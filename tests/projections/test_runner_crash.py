"""Kill a real process mid-fold, resume, and find every event counted exactly once: with the
projection store in SQLite, and in PostgreSQL (a real server)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from selfeng.core.backends import open_store
from selfeng.core.mapper import append_events
from selfeng.infra.log.sqlite import SqliteLog
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


_COUNT = "SELECT events FROM {}checkpoints WHERE fork = 'main' AND projection = 'events'"


def _stored_events(store_url: str) -> int:
    """The events the store's latest checkpoint of ``events`` has counted (0 before any)."""
    if store_url.startswith("sqlite:"):
        try:
            conn = sqlite3.connect(store_url.removeprefix("sqlite:///"), timeout=5)
            row = conn.execute(_COUNT.format("")).fetchone()
            conn.close()
        except sqlite3.Error:
            return 0
        return int(row[0]) if row else 0
    import psycopg

    from selfeng.infra.store.postgres import split_url

    conninfo, options = split_url(store_url)
    try:
        with psycopg.connect(conninfo) as pg:
            found = pg.execute(_COUNT.format(options["schema"] + ".")).fetchone()
    except psycopg.Error:
        return 0
    return int(found[0]) if found else 0


def _kill_midway(log_url: str, store_url: str, beyond: int) -> int:
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
        seen = _stored_events(store_url)
        if seen > beyond:
            break
        time.sleep(0.002)
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    return seen


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty projection store: a SQLite file, or a schema of a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    return str(request.getfixturevalue("postgres_store_url"))


def test_a_killed_fold_resumes_without_losing_or_double_counting(
    tmp_path: Path, store_url: str
) -> None:
    log_url = f"sqlite:///{tmp_path}/log.db"
    events = _events()
    with SqliteLog.from_url(log_url) as log:
        for i in range(0, N_EVENTS, 1000):
            append_events(log, events[i : i + 1000])
        append_events(log, events[:1000])  # a retried batch: a no-op

    kills = []
    for beyond in (N_EVENTS // 10, N_EVENTS // 3, (2 * N_EVENTS) // 3):
        kills.append(_kill_midway(log_url, store_url, beyond))
    assert any(0 < k < N_EVENTS for k in kills), f"never killed mid-run: {kills}"

    with SqliteLog.from_url(log_url) as log, open_store(store_url) as store:
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
