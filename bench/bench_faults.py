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

With ``--kafka`` the log is Kafka (the broker named by ``SELFENG_TEST_KAFKA=host:port``, else
a tansu broker started for the run): two workers in one consumer group, each with its own
home (its own projection store), and every KILL_EVERY seconds one of them, in turn, is
killed with SIGKILL and started again. Events stored twice are then counted with a bare
kafka-python consumer (every record's ``event_id`` header), and ``selfeng replay`` checks
each worker's live projections against a fold of the log from the start.

Usage: ``python bench/bench_faults.py [REQUESTS] [--kill-every SECONDS] [--kafka]``.
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
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    replay_equal: str = "-"


def _env(home: Path, log: str | None = None) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SELFENG_")}
    env = {**clean, "SELFENG_HOME": str(home), "SELFENG_SANDBOX": "subprocess://"}
    if log is not None:
        env["SELFENG_LOG"] = log
    return env


def _start(home: Path, log: str | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [SELFENG, "worker", "--no-learners"],
        env=_env(home, log),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def _replay_equal(home: Path, log: str | None = None) -> bool:
    done = subprocess.run(
        [SELFENG, "replay", "--json"], env=_env(home, log), capture_output=True, timeout=600
    )
    return done.returncode == 0


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
                _stop(worker)
            answers = Counter(_completed(app))
            out.duplicate_answers = sum(1 for n in answers.values() if n > 1)
            out.lost = sum(1 for i in ids if i not in answers)
            every = Counter(r.event_id for b in app.log.read() for r in b.records)
            out.duplicate_events = sum(1 for n in every.values() if n > 1)
        out.replay_equal = "yes" if _replay_equal(home) else "NO"
    return out


def run_kafka(requests: int, kill_every: float | None, bootstrap: str) -> Run:
    """Two workers on one Kafka group; kill one of them, in turn, every ``kill_every`` s."""
    out = Run(requests)
    namespace = f"faults{uuid.uuid4().hex[:10]}"
    url = f"kafka://{bootstrap}?namespace={namespace}&session_timeout_ms=6000"
    with tempfile.TemporaryDirectory(prefix="selfeng-faults-") as tmp:
        homes = [Path(tmp) / "a", Path(tmp) / "b"]
        settings = Settings.resolve(home=homes[0], log=url, sandbox="subprocess://", env={})
        with Selfeng.open(settings) as app:
            app.seed_tools()
            batch = [
                RequestReceived(prompt=f"What is {i + 2} plus {i + 3}?", client="bench")
                for i in range(requests)
            ]
            ids = [r.key for r in batch]
            workers = [_start(home, url) for home in homes]
            time.sleep(3)  # both join the group before the load starts
            started = time.monotonic()
            app.append(batch)
            last_kill, turn = started, 0
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
                    if now - started > 900:
                        break
                    if kill_every is not None and now - last_kill >= kill_every:
                        victim = turn % 2
                        workers[victim].send_signal(signal.SIGKILL)
                        workers[victim].wait()
                        out.kills += 1
                        workers[victim] = _start(homes[victim], url)
                        restarted_at = time.monotonic()
                        last_kill, turn = restarted_at, turn + 1
                    time.sleep(0.05)
                out.seconds = time.monotonic() - started
            finally:
                for worker in workers:
                    _stop(worker)
            answers = Counter(_completed(app))
            out.lost = sum(1 for i in ids if i not in answers)
            physical = _raw_event_ids(bootstrap, namespace)
            twice = {i for i, n in physical.items() if n > 1}
            out.duplicate_events = len(twice)
            completed_ids = _raw_event_ids(bootstrap, namespace, "RequestCompleted")
            out.duplicate_answers = sum(1 for n in completed_ids.values() if n > 1)
        out.replay_equal = "/".join("yes" if _replay_equal(home, url) else "NO" for home in homes)
    return out


def _raw_event_ids(bootstrap: str, namespace: str, type_name: str = "") -> Counter[bytes]:
    """Every record's ``event_id`` header in the namespace, read by a bare consumer."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    topics = [t for t in consumer.topics() if t.startswith(namespace + ".")]
    parts = [tp for t in topics for tp in _partitions_of(consumer, t)]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    ends = consumer.end_offsets(parts)
    counts: Counter[bytes] = Counter()
    idle = 0
    while idle < 5:
        got = consumer.poll(timeout_ms=1000)
        idle = 0 if got else idle + 1
        for messages in got.values():
            for m in messages:
                headers = dict(m.headers or ())
                if not type_name or headers.get("type") == type_name.encode():
                    counts[headers.get("event_id", b"")] += 1
        if all(consumer.position(tp) >= ends[tp] for tp in parts):
            break
    consumer.close()
    return counts


def _partitions_of(consumer: Any, topic: str) -> list[Any]:
    from kafka import TopicPartition

    return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requests", nargs="?", type=int, default=600)
    parser.add_argument("--kill-every", type=float, default=2.0)
    parser.add_argument("--kafka", action="store_true", help="two workers on a Kafka log")
    args = parser.parse_args()
    broker = None
    if args.kafka:
        from selfeng.infra.log.tansu import TansuBroker

        external = os.environ.get("SELFENG_TEST_KAFKA", "").strip()
        broker = None if external else TansuBroker().start()
        bootstrap = external or (broker.bootstrap if broker else "")
    rows = []
    try:
        for label, every in (
            ("no kills", None),
            (f"kill -9 every {args.kill_every:g} s", args.kill_every),
        ):
            print(f"  {label} ...", file=sys.stderr, flush=True)
            r = (
                run_kafka(args.requests, every, bootstrap)
                if args.kafka
                else run(args.requests, every)
            )
            rows.append(_row(label, r))
    finally:
        if broker is not None:
            broker.stop()
    where = (
        "two `selfeng worker --no-learners` processes in one group (Kafka, tansu)"
        if args.kafka
        else "a `selfeng worker --no-learners` process (SQLite"
    )
    print(
        f"\n{args.requests:,} requests for {where}, subprocess sandbox), each with new values "
        "(none cached)\n"
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
                "replay equal",
            ),
        )
    )
    return 0


def _row(label: str, r: Run) -> tuple[str, ...]:
    resume = (
        f"{statistics.median(r.resumes_ms):.0f} / {max(r.resumes_ms):.0f}" if r.resumes_ms else "-"
    )
    return (
        label,
        f"{r.requests:,}",
        f"{r.requests / r.seconds:.1f}" if r.seconds else "-",
        str(r.kills),
        resume,
        str(r.duplicate_answers),
        str(r.duplicate_events),
        str(r.lost),
        r.replay_equal,
    )


if __name__ == "__main__":
    raise SystemExit(main())
