"""Killed workers: every request gets exactly one answer, nothing is stored or folded twice.

Real ``selfeng worker`` processes, killed with SIGKILL while they answer: two on one Kafka
consumer group (the other takes the dead one's partitions), and one on the embedded log
(restarted). Afterwards a bare consumer counts what the broker holds, and ``selfeng replay``
checks each worker's live projections against a fold of the log from the start.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest

from selfeng.app import Selfeng
from selfeng.consumers.worker import Worker
from selfeng.core.log import GroupConsumer, GroupRebalanced, RecordBatch
from selfeng.core.positions import Position
from selfeng.core.records import StoredRecord
from selfeng.core.settings import Settings
from selfeng.schemas import RequestReceived
from tests.consumers.conftest import running, seeded_app, wait_until
from tests.consumers.test_worker import SELFENG, env
from tests.kafka_broker import unique_namespace

REQUESTS = 120


def _requests(n: int) -> list[RequestReceived]:
    return [RequestReceived(prompt=f"What is {i + 2} plus {i + 7}?", client="t") for i in range(n)]


def _worker(home: Path, log: str | None = None) -> subprocess.Popen[bytes]:
    variables = env(home) | ({"SELFENG_LOG": log} if log else {})
    return subprocess.Popen(
        [SELFENG, "worker", "--no-learners"],
        env=variables,
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


def _replay_is_equal(home: Path, log: str | None = None) -> str:
    """``selfeng replay``'s verdict for a worker's home: "" when live equals replay."""
    variables = env(home) | ({"SELFENG_LOG": log} if log else {})
    done = subprocess.run(
        [SELFENG, "replay"], env=variables, capture_output=True, text=True, timeout=300
    )
    return "" if done.returncode == 0 else done.stdout + done.stderr


def _answered_at_least(app: Selfeng, n: int) -> bool:
    return len(_answers(app)) >= n


def _answers(app: Selfeng) -> Counter[str]:
    return Counter(r.key for b in app.log.read(types=["RequestCompleted"]) for r in b.records)


def _raw_ids(bootstrap: str, namespace: str) -> Counter[tuple[bytes, bytes]]:
    """(type, event id) of every record the broker holds in ``namespace``, as stored."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [
            TopicPartition(t, p)
            for t in consumer.topics()
            if t.startswith(namespace + ".")
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        counts: Counter[tuple[bytes, bytes]] = Counter()
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            assert time.monotonic() < deadline, "the broker stopped answering"
            for messages in consumer.poll(timeout_ms=500).values():
                for m in messages:
                    headers = dict(m.headers or ())
                    counts[(headers.get("type", b""), headers.get("event_id", b""))] += 1
        return counts
    finally:
        consumer.close()


@pytest.mark.kafka
def test_two_kafka_workers_one_killed_answer_each_request_once(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    namespace = unique_namespace("crash")
    url = f"kafka://{kafka_bootstrap}?namespace={namespace}&session_timeout_ms=6000"
    homes = [tmp_path / "a", tmp_path / "b"]
    settings = Settings.resolve(home=homes[0], log=url, sandbox="subprocess://", env={})
    with Selfeng.open(settings) as app:
        app.seed_tools()
        requests = _requests(REQUESTS)
        keys = {r.key for r in requests}
        workers = [_worker(home, url) for home in homes]
        try:
            time.sleep(3)  # both join the group before the load starts
            app.append(requests)
            for turn, share in enumerate((5, 3, 2)):
                assert wait_until(partial(_answered_at_least, app, REQUESTS // share), 120)
                victim = turn % 2  # each in turn, mid-batch, without a word
                workers[victim].send_signal(signal.SIGKILL)
                workers[victim].wait()
                workers[victim] = _worker(homes[victim], url)  # a new process, a rebalance
            assert wait_until(lambda: set(_answers(app)) >= keys, timeout=240)
            time.sleep(2)  # a second answer would be appended by now
        finally:
            for worker in workers:
                _stop(worker)
        answers = _answers(app)
        assert set(answers) == keys
        assert set(answers.values()) == {1}
    stored = _raw_ids(kafka_bootstrap, namespace)
    completed = [n for (kind, _), n in stored.items() if kind == b"RequestCompleted"]
    assert len(completed) == REQUESTS
    assert [key for key, n in stored.items() if n > 1] == []
    for home in homes:
        assert _replay_is_equal(home, url) == ""


def test_a_sqlite_worker_killed_and_restarted_answers_each_request_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = Settings.resolve(home=home, sandbox="subprocess://", env={})
    with Selfeng.open(settings) as app:
        app.seed_tools()
        requests = _requests(REQUESTS)
        keys = {r.key for r in requests}
        worker = _worker(home)
        try:
            app.append(requests)
            for share in (4, 2):
                assert wait_until(partial(_answered_at_least, app, REQUESTS // share), 120)
                worker.send_signal(signal.SIGKILL)
                worker.wait()
                worker = _worker(home)
            assert wait_until(lambda: set(_answers(app)) >= keys, timeout=240)
        finally:
            _stop(worker)
        answers = _answers(app)
        assert set(answers) == keys
        assert set(answers.values()) == {1}
        every = Counter(r.event_id for b in app.log.read() for r in b.records)
        assert max(every.values()) == 1
    assert _replay_is_equal(home) == ""


def test_a_request_polled_again_after_a_crash_is_not_answered_twice() -> None:
    with seeded_app() as app:
        (request,) = _requests(1)
        (record,) = app.append([request])
        worker = Worker(app, learners=False)
        worker.process(record)
        answered = app.log.key_version(request.key)
        assert answered > 1  # the answer is under the request's key
        worker.process(record, maybe_handled=True)  # polled again: the log says answered
        assert worker.already_answered == 1
        assert app.log.key_version(request.key) == answered
        worker.process(record)  # the worker's own first delivery is never checked
        assert worker.handled == 2


class _RebalancedOnce(GroupConsumer):
    """A real memory-log member whose first commit finds the group rebalanced (as a Kafka
    member's does when the group moved its partitions while it was handling a batch)."""

    def __init__(self, join: Callable[[], GroupConsumer]) -> None:
        self.join = join
        self.inner = join()
        self.refused = 0

    def poll(self, timeout: float = 1.0, max_records: int = 1000) -> RecordBatch:
        return self.inner.poll(timeout, max_records)

    def commit(self, position: Position | None = None) -> None:
        if not self.refused:
            self.refused += 1
            self.inner.close()
            self.inner = self.join()  # the new owner starts from the committed position
            raise GroupRebalanced("the group rebalanced")
        self.inner.commit(position)

    def may_be_handled(self, record: StoredRecord) -> bool:
        return self.inner.may_be_handled(record)

    def close(self) -> None:
        self.inner.close()


def test_a_rebalance_during_a_batch_does_not_stop_the_worker() -> None:
    with seeded_app() as app:
        joined: list[_RebalancedOnce] = []
        real_consumer = app.log.consumer

        def consumer(group: str, **kwargs: Any) -> GroupConsumer:
            joined.append(_RebalancedOnce(partial(real_consumer, group, **kwargs)))
            return joined[-1]

        with app.log.consumer("selfeng.worker") as seen:  # the seeding is behind the group
            seen.commit(app.log.head())
        requests = _requests(3)
        app.append(requests)
        work = Worker(app, learners=False)
        with patch.object(app.log, "consumer", consumer), running(work) as thread:
            assert wait_until(lambda: set(_answers(app)) >= {r.key for r in requests})
            assert thread.is_alive()
        assert joined[0].refused == 1
        assert set(_answers(app).values()) == {1}
        assert work.already_answered == 1  # the one handled before the refused commit
