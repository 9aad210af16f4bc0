"""Projections over the Kafka log: the same folds, the same state as on the embedded log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

pytest.importorskip("kafka", reason="kafka-python is not installed: pip install 'selfeng[kafka]'")

from selfeng.agent import Agent
from selfeng.app import Selfeng
from selfeng.consumers.worker import Worker
from selfeng.core.backends import open_sandbox
from selfeng.core.mapper import append_events, from_record
from selfeng.core.positions import PartitionPosition
from selfeng.core.settings import Settings
from selfeng.infra.log.kafka import KafkaLog
from selfeng.infra.log.memory import MemoryLog
from selfeng.infra.store.memory import MemoryStore
from selfeng.infra.store.sqlite import SqliteStore
from selfeng.projections.base import MAIN
from selfeng.projections.catalog import default_projections
from selfeng.projections.engine import ProjectionEngine
from selfeng.projections.replay import rebuild, state_at, verify
from selfeng.projections.runner import ProjectionRunner
from selfeng.schemas import (
    DeadLetter,
    Event,
    ExperimentConcluded,
    FeedbackGiven,
    ForkCreated,
    PolicyChanged,
    RequestCompleted,
    RequestReceived,
    ToolRegistered,
)
from tests.kafka_broker import unique_namespace
from tests.projections.helpers import raw_record
from tests.projections.test_arms import cached, design, ran

pytestmark = pytest.mark.kafka


@pytest.fixture
def kafka_log(kafka_bootstrap: str) -> Iterator[KafkaLog]:
    with KafkaLog.from_url(f"kafka://{kafka_bootstrap}?namespace={unique_namespace()}") as log:
        yield log


def history() -> list[Event]:
    events: list[Event] = []
    for i in range(60):
        events.append(RequestReceived(key=f"r{i % 9}", prompt=f"q{i}"))
        events.append(FeedbackGiven(key=f"r{i % 9}", rating="good" if i % 4 else "bad"))
        if i % 10 == 0:
            events.append(PolicyChanged(name="retrieval.threshold", value=0.3 + i / 200))
            events.append(ToolRegistered(tool=f"t{i}", version=1))
    return events


def dumped(runner: ProjectionRunner) -> dict[str, bytes]:
    return {n: orjson.dumps(runner.dumped(n), option=orjson.OPT_SORT_KEYS) for n in runner.names()}


def test_kafka_and_the_embedded_log_fold_to_the_same_state(kafka_log: KafkaLog) -> None:
    events = history()
    app = Selfeng(kafka_log, MemoryStore())
    for i in range(0, len(events), 25):
        app.append(events[i : i + 25])
    on_kafka = rebuild(kafka_log, default_projections, MAIN)
    memory = MemoryLog()
    Selfeng(memory, MemoryStore()).append(events)
    assert dumped(on_kafka) == dumped(rebuild(memory, default_projections, MAIN))
    assert on_kafka.dumped("events")["total"] == len(events)


def test_checkpoints_hold_partition_positions_and_resume(
    kafka_log: KafkaLog, tmp_path: Path
) -> None:
    store = SqliteStore(tmp_path / "store.db")
    app = Selfeng(kafka_log, store)
    app.append(history()[:50])
    first = ProjectionRunner(kafka_log, store, default_projections(MAIN))
    first.catch_up()
    saved = store.load("main", "events")
    assert saved is not None
    assert isinstance(saved.position, PartitionPosition)
    app.append(history()[50:])
    again = ProjectionRunner(kafka_log, store, default_projections(MAIN))
    assert again.catch_up() == len(history()) - 50
    assert again.dumped("events")["total"] == len(history())


def test_replay_forks_and_time_travel_on_kafka(kafka_log: KafkaLog) -> None:
    app = Selfeng(kafka_log, MemoryStore())
    app.append([PolicyChanged(name="cache.ttl_seconds", value=60)])
    before = kafka_log.head()
    app.append([PolicyChanged(name="cache.ttl_seconds", value=120), *history()[:20]])
    app.append([ForkCreated(fork="short", policies={"cache.ttl_seconds": 5})])
    app.engine.catch_up()
    assert all(r.equal for r in verify(app.engine))
    assert all(r.equal for r in verify(app.engine, "short"))
    assert app.engine.state("policies", "short")["policies"]["cache.ttl_seconds"]["value"] == 5
    then = state_at(app.engine, "policies", before)
    assert then["policies"]["cache.ttl_seconds"]["value"] == 60
    assert app.engine.state("policies")["policies"]["cache.ttl_seconds"]["value"] == 120


def test_a_broken_record_on_kafka_is_dead_lettered_once(kafka_bootstrap: str) -> None:
    url = f"kafka://{kafka_bootstrap}?namespace={unique_namespace()}"
    with KafkaLog.from_url(url) as log:
        log.append([raw_record("PolicyChanged", b'{"type": "PolicyChanged", "na')])
        app = Selfeng(log, MemoryStore())
        app.append([PolicyChanged(name="retrieval.top_k", value=3)])
        app.engine.catch_up()
        assert app.engine.state("policies")["policies"]["retrieval.top_k"]["value"] == 3
    with KafkaLog.from_url(url) as log:  # a restarted process rebuilds from scratch
        Selfeng(log, MemoryStore()).engine.catch_up()
        letters = [r for b in log.read(types={"DeadLetter"}) for r in b.records]
    assert len(letters) == 1
    letter = from_record(letters[0])
    assert isinstance(letter, DeadLetter)
    assert letter.raw == b'{"type": "PolicyChanged", "na'
    assert letter.error == "invalid_json"


def test_arms_are_kept_apart_on_kafka(kafka_log: KafkaLog) -> None:
    """Partition positions: a fork seeded from main, an arm's lessons held and released at
    the conclusion, and replay equal to live in every fork."""
    engine = ProjectionEngine(kafka_log, MemoryStore())
    append_events(kafka_log, [ran(f"main {i}") for i in range(12)])
    append_events(kafka_log, [ran(f"early {i}", "e1.lenient") for i in range(5)])
    engine.catch_up()
    append_events(kafka_log, [*design(), ran("control", "e1.control")])
    engine.catch_up()
    mains = {f"main {i}" for i in range(12)}
    early = {f"early {i}" for i in range(5)}
    assert cached(engine) == mains
    assert cached(engine, "e1.lenient") == mains | early
    assert cached(engine, "e1.control") == mains | {"control"}
    assert all(r.equal for fork in ("main", "e1.lenient") for r in verify(engine, fork))
    append_events(kafka_log, [ExperimentConcluded(experiment="e1", winner="lenient")])
    assert cached(engine) == mains | early
    assert all(r.equal for r in verify(engine))


def test_what_a_process_appends_on_kafka_is_folded_without_reading_it_back(
    kafka_bootstrap: str,
) -> None:
    """A runner folds this process's appends at once when they are the next records of
    their partitions; another process's record in between is a gap, read back as usual."""
    url = f"kafka://{kafka_bootstrap}?namespace={unique_namespace()}"
    with KafkaLog.from_url(url) as log, KafkaLog.from_url(url) as other:
        append_events(log, history()[:12])
        runner = ProjectionRunner(log, None, default_projections(MAIN))
        runner.catch_up()
        mine: list[Event] = [
            RequestReceived(key="mine", prompt="a"),
            FeedbackGiven(key="mine", rating="good"),
        ]
        stored = append_events(log, mine)
        assert runner.fold_appended(stored, mine)
        assert all(runner.position.covers(record) for record in stored)
        append_events(other, [FeedbackGiven(key="mine", rating="bad")])  # same partition
        later: list[Event] = [FeedbackGiven(key="mine", rating="good")]
        stored = append_events(log, later)
        assert not runner.fold_appended(stored, later)  # the other's record comes first
        assert not runner.position.covers(stored[0])
        runner.catch_up()
        assert dumped(runner) == dumped(rebuild(log, default_projections, MAIN))
        given = sum(isinstance(e, FeedbackGiven) for e in history()[:12])
        assert runner.dumped("events")["by_type"]["FeedbackGiven"] == given + 3


def test_a_request_path_catch_up_reads_kafka_once_per_staleness_window(
    kafka_bootstrap: str,
) -> None:
    """Within the log's staleness a lazy catch-up that may be stale (the request path's) does
    not fetch: what other processes appended shows at the next read. Any other reads."""
    url = f"kafka://{kafka_bootstrap}?namespace={unique_namespace()}"
    with (
        KafkaLog.from_url(f"{url}&staleness_ms=600000") as log,
        KafkaLog.from_url(url) as other,
    ):
        assert log.staleness == 600.0
        assert other.staleness == 0.2  # the default
        runner = ProjectionRunner(log, None, default_projections(MAIN))
        runner.catch_up()

        def threshold() -> object:
            return runner.state("policies")["policies"]["retrieval.threshold"]["value"]

        before = threshold()
        append_events(other, [PolicyChanged(name="retrieval.threshold", value=0.55)])
        assert runner.catch_up(lazy=True, stale_ok=True) == 0
        assert threshold() == before
        assert runner.catch_up(lazy=True) == 1
        assert threshold() == 0.55
        append_events(other, [PolicyChanged(name="retrieval.threshold", value=0.6)])
        assert runner.catch_up(lazy=True, stale_ok=True) == 0
        assert runner.catch_up() == 1
        assert threshold() == 0.6


def test_a_request_in_a_session_is_answered_from_state_read_to_the_end(
    kafka_bootstrap: str,
) -> None:
    """Two processes on one log, each allowed stale state for a long while: the second
    still continues the session the first answered a moment ago (a worker answering the
    next request of a session reads the log first)."""
    url = f"kafka://{kafka_bootstrap}?namespace={unique_namespace()}&staleness_ms=600000"

    def process() -> Selfeng:
        return Selfeng(
            KafkaLog.from_url(url),
            MemoryStore(),
            settings=Settings.resolve(env={}),
            sandbox=open_sandbox("subprocess://"),
            llm=None,
        )

    with process() as first, process() as second:
        first.seed_tools()
        second.engine.main.catch_up()  # read to the end just now: within its staleness
        assert Agent(first).ask("What is 25% of 80?", session_id="s-kafka").value == 20
        asking = Agent(second, seed=False)  # the first seeded: nothing to look up here
        follow_up = asking.ask("Now reverse the result", session_id="s-kafka")
        assert follow_up.ok, follow_up.text
        assert follow_up.text == "02"
        # without a session, within its staleness, the second does not read what is new
        first.append([PolicyChanged(name="retrieval.threshold", value=0.55)])
        assert asking.ask("What is 3 plus 4?").value == 7
        policies = second.engine.main.state("policies")["policies"]
        assert policies["retrieval.threshold"]["value"] != 0.55


def test_a_worker_folds_the_request_it_consumed_and_its_answer_without_reading_them(
    kafka_bootstrap: str,
) -> None:
    """A client's request is the record before the worker's answer in its partition: the
    worker folds the request it consumed, so its answer is folded as it is appended, and its
    state holds the answer before it reads the log again."""
    url = f"kafka://{kafka_bootstrap}?namespace={unique_namespace()}&staleness_ms=600000"

    def process() -> Selfeng:
        return Selfeng(
            KafkaLog.from_url(url),
            MemoryStore(),
            settings=Settings.resolve(env={}),
            sandbox=open_sandbox("subprocess://"),
            llm=None,
        )

    with process() as client, process() as serving:
        client.seed_tools()
        serving.engine.main.catch_up()
        request = RequestReceived(prompt="What is 6 times 7?")
        (record,) = client.append([request])
        Worker(serving).process(record)
        runner = serving.engine.main
        completed = [
            r
            for b in serving.log.read(types=["RequestCompleted"])
            for r in b.records
            if r.key == request.key
        ]
        assert len(completed) == 1
        assert runner.position.covers(record)
        assert runner.position.covers(completed[0])  # folded without a read
        answer = from_record(completed[0])
        assert isinstance(answer, RequestCompleted)
        assert answer.value == 42
