"""A faust-streaming worker folds the log's projections to the embedded fold's state.

The worker runs in a subprocess (``python -m selfeng.infra.faust URL``) against the test
broker; its tables are read back from their changelog topics and compared, projection by
projection, with ``rebuild`` over the same Kafka log. Then the worker is stopped, more
events are appended and a new worker, which recovers its tables from the changelogs,
folds only the rest.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

pytest.importorskip("faust", reason="the faust extra is not installed")

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient

from selfeng.consumers.ports import decoded_history
from selfeng.core.mapper import append_events
from selfeng.core.positions import PartitionPosition
from selfeng.infra.faust.app import FaustFold
from selfeng.infra.faust.envelope import pack
from selfeng.infra.faust.names import FaustNames
from selfeng.infra.faust.read import read_fold
from selfeng.infra.log.kafka import KafkaLog
from selfeng.infra.log.kafka_dedupe import DedupeWindow
from selfeng.projections.base import MAIN
from selfeng.projections.catalog import default_projections
from selfeng.projections.replay import json_differences, rebuild
from selfeng.projections.runner import ProjectionRunner
from selfeng.schemas import (
    Event,
    FeedbackApplied,
    FeedbackGiven,
    RequestCompleted,
    RequestReceived,
)
from tests.infra.faust_events import request_events

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

WAIT_SECONDS = 40.0


@pytest.fixture
def url(kafka_bootstrap: str, kafka_namespace: str) -> Iterator[str]:
    """A fresh namespace on the test broker; its topics are deleted afterwards."""
    yield f"kafka://{kafka_bootstrap}?namespace={kafka_namespace}&partitions=3&session_timeout_ms=6000"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        mine = [t for t in admin.list_topics() if t.startswith(f"{kafka_namespace}.")]
        if mine:
            admin.delete_topics(mine)
    finally:
        admin.close()


class Worker:
    """A faust worker in a subprocess, its output in a file."""

    def __init__(self, url: str, output: Path, *, serve_from: Path | None = None) -> None:
        """``serve_from``: answer requests and run the learners instead (``selfeng faust
        serve``), with this home."""
        self.output = output
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        extra = []
        if serve_from is not None:
            extra = ["--serve"]
            env |= {"SELFENG_HOME": str(serve_from), "SELFENG_SANDBOX": "subprocess://"}
        with output.open("ab") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "selfeng.infra.faust", url, "info", *extra],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(
                f"the faust worker exited with {self.process.returncode}:\n"
                + self.output.read_text(errors="replace")[-4000:]
            )

    def kill(self) -> None:
        """kill -9, the whole process group."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _append(log: KafkaLog, events: list[Event]) -> None:
    for start in range(0, len(events), 400):
        append_events(log, events[start : start + 400])


def _foreign_messages(log: KafkaLog, bootstrap: str, copy_of: int = 0) -> None:
    """A message from a client that sets no headers and is not an event, and a second
    copy of the ``copy_of``-th appended record (a producer's retry): both are read the same
    way by both."""
    records = [r for batch in log.read() for r in batch.records]
    first = records[copy_of]
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        requests = log.topics.physical("selfeng.requests")
        producer.send(requests, key=b"foreign", value=b"not an event")
        producer.send(
            log.topics.physical(first.topic),
            key=first.key.encode(),
            value=first.data,
            partition=first.partition,
            timestamp_ms=first.timestamp_ms,
            headers=[
                ("type", first.type.encode()),
                ("schema_version", str(first.version).encode()),
                ("event_id", first.event_id),
            ],
        )
        producer.flush()
    finally:
        producer.close()


def _wait_for(url: str, log: KafkaLog, worker: Worker) -> ProjectionRunner:
    """The worker's tables once their checkpoints cover the whole log."""
    head = log.head()
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        worker.check_alive()
        folded = read_fold(url, log=log)
        if folded.position.is_at_or_after(head) and not folded.rebuilt:
            return folded
        if time.monotonic() > deadline:
            output = worker.output.read_text(errors="replace")[-4000:]
            pytest.fail(
                f"the faust worker reached {folded.position} of {head} in "
                f"{WAIT_SECONDS:.0f} s ({folded.rebuilt or 'tables present'}):\n{output}"
            )
        time.sleep(0.5)


def _assert_same(folded: ProjectionRunner, log: KafkaLog) -> None:
    expected = rebuild(log, default_projections, MAIN)
    names = [p.name for p in default_projections(MAIN)]
    assert folded.names() == names
    differences = {
        name: json_differences(expected.dumped(name), folded.dumped(name), limit=5)
        for name in names
    }
    assert {n: d for n, d in differences.items() if d} == {}
    for name in names:
        assert folded.events_applied(name) == expected.events_applied(name), name


def test_a_faust_worker_folds_every_projection_like_the_embedded_runner(
    url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    events = request_events(400)
    with KafkaLog.from_url(url) as log:
        _append(log, events[:1600])
        _foreign_messages(log, kafka_bootstrap)
        worker = Worker(url, tmp_path / "worker.log")
        try:
            folded = _wait_for(url, log, worker)
            _assert_same(folded, log)
            first = folded.position
        finally:
            worker.stop()
        assert worker.process.returncode == 0, worker.output.read_text(errors="replace")[-4000:]

        # a new worker recovers the tables from their changelogs and folds only the rest,
        # including a retried copy of an event the first worker folded (read back on start)
        _append(log, events[1600:])
        _foreign_messages(log, kafka_bootstrap, copy_of=100)
        again = Worker(url, tmp_path / "worker.log")
        try:
            folded = _wait_for(url, log, again)
            _assert_same(folded, log)
        finally:
            again.stop()
        assert isinstance(first, PartitionPosition)
        assert folded.position != first


def test_records_the_route_skipped_are_read_from_the_log(url: str) -> None:
    """On a restart the route's consumer once resumed one offset past the last record it
    had routed, so the first new record of a partition never reached the fold (one run in
    ten). The fold's position is the truth: a first record further on than it in its
    partition makes the fold read the records between from the log itself."""
    events = request_events(60)
    with KafkaLog.from_url(url) as log:
        _append(log, events)
        names = FaustNames.from_url(url)
        fold = FaustFold(
            cast(Any, None),
            names,
            log,
            default_projections,
            {p.name: {} for p in default_projections(MAIN)},
            DedupeWindow(names.settings.dedupe_window),
        )
        pairs = [(r.event_id, r) for batch in log.read() for r in batch.records]
        by_partition: dict[tuple[str, int], list[int]] = {}
        for i, (_, r) in enumerate(pairs):
            by_partition.setdefault((r.topic, r.partition), []).append(i)
        # the first half of each partition is folded, then the route skips one record of
        # each partition (that has records after it) and hands over the rest
        first = sorted(i for ids in by_partition.values() for i in ids[: len(ids) // 2])
        skipped = {ids[len(ids) // 2] for ids in by_partition.values() if len(ids) > 2}
        assert len(skipped) >= 2
        rest = [i for i in range(len(pairs)) if i not in first and i not in skipped]
        fold.fold_message(pack([pairs[i] for i in first]))
        fold.forget()  # a restart: the fold is loaded again from its tables
        folded = fold.fold_message(pack([pairs[i] for i in rest]))
        assert folded == len(rest) + len(skipped)
        runner = fold.current()
        expected = rebuild(log, default_projections, MAIN)
        for name in runner.names():
            assert json_differences(expected.dumped(name), runner.dumped(name)) == [], name


def _folder(workers: list[Worker]) -> Worker:
    """The worker that loaded the fold last (the one folding now)."""

    def last_load(worker: Worker) -> str:
        lines = [
            line
            for line in worker.output.read_text(errors="replace").splitlines()
            if "faust fold loaded" in line
        ]
        return lines[-1][:25] if lines else ""

    return max(workers, key=last_load)


def test_when_the_folding_worker_is_killed_the_other_takes_over_and_counts_nothing_twice(
    url: str, tmp_path: Path
) -> None:
    events = request_events(900)
    with KafkaLog.from_url(url) as log:
        _append(log, events[:1500])
        workers = [Worker(url, tmp_path / "first.log")]
        try:
            folded = _wait_for(url, log, workers[0])
            workers.append(Worker(url, tmp_path / "second.log"))  # joins, stands by
            time.sleep(8)  # the group rebalances; the fold partition goes to one of them
            _append(log, events[1500:2500])
            # kill -9 the folding worker once it has folded part of what is new; the rest is
            # appended after the kill, so the survivor always has some of the fold to do
            # (the whole of it, appended at once, was sometimes folded before the kill)
            deadline = time.monotonic() + WAIT_SECONDS
            while read_fold(url, log=log).position == folded.position:
                assert time.monotonic() < deadline, "nothing new was folded in time"
            killed = _folder(workers)
            killed.kill()
            _append(log, events[2500:])
            survivor = next(w for w in workers if w is not killed)
            resumed_at = read_fold(url, log=log).position
            folded = _wait_for(url, log, survivor)
            _assert_same(folded, log)
            assert resumed_at != folded.position  # the kill came before the fold's end
        finally:
            for worker in workers:
                worker.stop()


SERVE_SECONDS = 180.0  # a fresh home seeds the starter library first (its tests run)


def _answers(log: KafkaLog, keys: list[str], worker: Worker) -> dict[str, list[RequestCompleted]]:
    """Each request's final answers, once every request has one."""
    deadline = time.monotonic() + SERVE_SECONDS
    while True:
        worker.check_alive()
        found = {
            key: [
                e
                for e in decoded_history(log, key)
                if isinstance(e, RequestCompleted) and not e.awaiting_tool
            ]
            for key in keys
        }
        if all(found.values()):
            return found
        if time.monotonic() > deadline:
            pytest.fail(
                f"unanswered after {SERVE_SECONDS:.0f} s: {[k for k, v in found.items() if not v]}"
                + worker.output.read_text(errors="replace")[-4000:]
            )
        time.sleep(0.5)


def _answered(log: KafkaLog, requests: list[RequestReceived]) -> int:
    return sum(
        any(isinstance(e, RequestCompleted) for e in decoded_history(log, r.key)) for r in requests
    )


def test_a_serving_faust_worker_answers_requests_runs_the_learners_and_answers_once(
    url: str, tmp_path: Path
) -> None:
    asked = {"What is 25% of 100?": 25, "Reverse the string faust": "tsuaf", "What is 2+3?": 5}
    with KafkaLog.from_url(url) as log:
        worker = Worker(url, tmp_path / "serve.log", serve_from=tmp_path / "home")
        try:
            first = [RequestReceived(prompt=p, client="kafka") for p in asked]
            _append(log, list(first))
            answers = _answers(log, [r.key for r in first], worker)
            for received in first:
                (done,) = answers[received.key]
                assert done.ok, done.reason
                assert done.value == asked[received.prompt]
            # a learner runs as an agent too: a rating is applied by the feedback learner
            rated = first[0].key
            _append(log, [FeedbackGiven(key=rated, rating="good")])
            deadline = time.monotonic() + SERVE_SECONDS
            while not any(isinstance(e, FeedbackApplied) for e in decoded_history(log, rated)):
                worker.check_alive()
                assert time.monotonic() < deadline, "the rating was not applied"
                time.sleep(0.5)
            # kill -9 with requests in flight; the next worker answers each exactly once
            second = [
                RequestReceived(prompt=f"What is {i}% of 200?", client="kafka") for i in range(40)
            ]
            _append(log, list(second))
            deadline = time.monotonic() + SERVE_SECONDS
            while not _answered(log, second[:1]):
                worker.check_alive()
                assert time.monotonic() < deadline, "nothing of the second batch was answered"
                time.sleep(0.05)
            worker.kill()
            assert _answered(log, second) < len(second)  # the kill came mid-batch
            worker = Worker(url, tmp_path / "serve2.log", serve_from=tmp_path / "home")
            answers = _answers(log, [r.key for r in [*first, *second]], worker)
            assert {key: len(done) for key, done in answers.items()} == {
                r.key: 1 for r in [*first, *second]
            }
            for i, received in enumerate(second):
                assert answers[received.key][0].value == 2 * i
        finally:
            worker.stop()
