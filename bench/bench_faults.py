"""Requests answered while a worker is killed with -9 every few seconds, against no kills.

A fresh embedded home (SQLite log and store) with the starter library; ``selfeng worker
--no-learners`` runs as a real process. The benchmark publishes REQUESTS requests
(``RequestReceived`` for a worker to answer, each with new values so none is cached) as fast
as the worker answers them, and every KILL_EVERY seconds kills the worker with SIGKILL and
starts a new one at once. It reports:

- requests answered per second, with and without kills;
- the time to resume: from a restart to the next ``RequestCompleted`` appended;
- duplicates: requests with more than one ``RequestCompleted`` stored, and events stored
  twice (the same event id twice), both of which must be 0;
- lost requests: requests with no ``RequestCompleted`` at the end (must be 0).

Usage: ``python bench/bench_faults.py [REQUESTS] [--kill-every SECONDS]``.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import table
from selfeng.app import Selfeng
from selfeng.core.settings import Settings
from selfeng.schemas import RequestReceived

SELFENG = str(Path(sys.executable).with_name("selfeng"))


@dataclass
class Run:
    """What one run measured."""

    requests: int
    seconds: float = 0.0
    kills: int = 0
    resumes_ms: list[float] = field(default_factory=list)
    duplicate_answers: int = 0
    duplicate_events: int = 0
    lost: int = 0


def _env(home: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SELFENG_")}
    return {**clean, "SELFENG_HOME": str(home), "SELFENG_SANDBOX": "subprocess://"}


def _start(home: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [SELFENG, "worker", "--no-learners"],
        env=_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _completed(app: Selfeng) -> list[str]:
    return [r.key for b in app.log.read(types=["RequestCompleted"]) for r in b.records]


def run(requests: int, kill_every: float | None) -> Run:
    """Publish ``requests`` requests for a worker process; kill it every ``kill_every`` s."""
    out = Run(requests)
    with tempfile.TemporaryDirectory(prefix="selfeng-faults-") as tmp:
        home = Path(tmp)
        settings = Settings.resolve(home=home, sandbox="subprocess://", env={})
        with Selfeng.open(settings) as app:
            app.seed_tools()
            batch = [
                RequestReceived(prompt=f"What is {i + 2} plus {i + 3}?", client="bench")
                for i in range(requests)
            ]
            ids = [r.key for r in batch]
            worker = _start(home)
            started = time.monotonic()
            app.append(batch)
            last_kill = started
            restarted_at: float | None = None
            seen = 0
            try:
                while True:
                    done = _completed(app)
                    if restarted_at is not None and len(done) > seen:
                        out.resumes_ms.append((time.monotonic() - restarted_at) * 1000)
                        restarted_at = None
                    seen = len(done)
                    if len(set(done)) >= requests:
                        break
                    now = time.monotonic()
                    if now - started > 600:
                        break
                    if kill_every is not None and now - last_kill >= kill_every:
                        worker.send_signal(signal.SIGKILL)
                        worker.wait()
                        seen = len(_completed(app))  # all the killed worker appended
                        out.kills += 1
                        worker = _start(home)
                        restarted_at = time.monotonic()
                        last_kill = restarted_at
                    time.sleep(0.02)
                out.seconds = time.monotonic() - started
            finally:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(30)
                except subprocess.TimeoutExpired:
                    worker.kill()
            answers = Counter(_completed(app))
            out.duplicate_answers = sum(1 for n in answers.values() if n > 1)
            out.lost = sum(1 for i in ids if i not in answers)
            every = Counter(r.event_id for b in app.log.read() for r in b.records)
            out.duplicate_events = sum(1 for n in every.values() if n > 1)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requests", nargs="?", type=int, default=600)
    parser.add_argument("--kill-every", type=float, default=2.0)
    args = parser.parse_args()
    rows = []
    for label, every in (
        ("no kills", None),
        (f"kill -9 every {args.kill_every:g} s", args.kill_every),
    ):
        print(f"  {label} ...", file=sys.stderr, flush=True)
        r = run(args.requests, every)
        resume = (
            f"{statistics.median(r.resumes_ms):.0f} / {max(r.resumes_ms):.0f}"
            if r.resumes_ms
            else "-"
        )
        rows.append(
            (
                label,
                f"{r.requests:,}",
                f"{r.requests / r.seconds:.1f}" if r.seconds else "-",
                str(r.kills),
                resume,
                str(r.duplicate_answers),
                str(r.duplicate_events),
                str(r.lost),
            )
        )
    print(
        f"\n{args.requests:,} requests for a `selfeng worker --no-learners` process (SQLite, "
        "subprocess sandbox), each with new values (none cached)\n"
    )
    print(
        table(
            rows,
            (
                "run",
                "requests",
                "answered/s",
                "kills",
                "resume ms p50 / max",
                "answered twice",
                "events stored twice",
                "lost",
            ),
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
