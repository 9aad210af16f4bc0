"""No one record stops a worker: poison is retried, then dead-lettered, and the rest is served."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from selfeng.agent import Agent
from selfeng.app import Selfeng
from selfeng.consumers.worker import MAX_ATTEMPTS, Worker
from selfeng.core.mapper import from_record
from selfeng.core.records import NewRecord
from selfeng.core.settings import Settings
from selfeng.schemas import DeadLetter, Event, RequestCompleted, RequestReceived
from selfeng.schemas.ops import MAX_DEAD_LETTER_BYTES
from tests.consumers.conftest import running, wait_until
from tests.kafka_broker import kafka_bootstrap, unique_namespace  # noqa: F401


class Broken:
    """A learner that fails on every answer with a 7 in it."""

    name = "broken"
    reacts_to = frozenset({"RequestCompleted"})

    def __init__(self) -> None:
        self.calls = 0

    def wants(self, event: Event) -> bool:
        return isinstance(event, RequestCompleted)

    def react(self, event: Event) -> list[Event]:
        assert isinstance(event, RequestCompleted)
        if "7" in event.answer:
            self.calls += 1
            raise RuntimeError("boom")
        return []


def dead_letters(app: Selfeng) -> list[DeadLetter]:
    found = [from_record(r) for b in app.log.read(types=["DeadLetter"]) for r in b.records]
    return [d for d in found if isinstance(d, DeadLetter)]


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    settings = Settings.resolve(home=tmp_path, sandbox="subprocess://", env={})
    with Selfeng.open(settings) as app:
        app.seed_tools()
    return settings


@pytest.fixture
def worker(home: Settings) -> Iterator[tuple[Selfeng, Worker, Broken, threading.Thread]]:
    app = Selfeng.open(home)
    broken = Broken()
    app.learners.append(broken)  # type: ignore[arg-type]
    work = Worker(app)
    try:
        with running(work) as thread:
            yield app, work, broken, thread
    finally:
        app.close()


def test_a_record_whose_handling_keeps_failing_is_dead_lettered_and_passed(
    home: Settings, worker: tuple[Selfeng, Worker, Broken, threading.Thread]
) -> None:
    _, work, broken, thread = worker
    with Selfeng.open(home) as client:
        agent = Agent(client, worker=True)
        assert agent.ask("What is 3 + 4?", timeout=60).text == "7"  # the learner fails on it
        after = agent.ask("What is 2 + 2?", timeout=60)
        assert after.ok
        assert after.text == "4"
        assert wait_until(
            lambda: any(d.group == "selfeng.learner.broken" for d in dead_letters(client))
        )
        (letter,) = [d for d in dead_letters(client) if d.group == "selfeng.learner.broken"]
        assert letter.error == "handler_failed"
        assert letter.attempts == MAX_ATTEMPTS
        assert "RuntimeError: boom" in letter.reason
        assert letter.claimed_type == "RequestCompleted"
        assert from_record_bytes(letter.raw).type == "RequestCompleted"  # the record, whole
    assert broken.calls == MAX_ATTEMPTS
    assert work.dead_lettered == 1
    assert thread.is_alive()


def from_record_bytes(raw: bytes) -> RequestCompleted:
    return RequestCompleted.model_validate_json(raw)


def test_a_request_that_is_not_a_valid_event_is_dead_lettered_not_skipped(
    home: Settings, worker: tuple[Selfeng, Worker, Broken, threading.Thread]
) -> None:
    _, _, _, thread = worker
    garbage = NewRecord(
        event_id=b"\x07" * 16,
        topic="selfeng.requests",
        key="bad",
        type="RequestReceived",
        version=1,
        data=b'{"type": "RequestReceived", "prompt": 42}',
        timestamp_ms=0,
    )
    with Selfeng.open(home) as client:
        client.log.append([garbage])
        answer = Agent(client, worker=True).ask("What is 2 + 2?", timeout=60)
        assert answer.text == "4"
        assert wait_until(
            lambda: any(d.claimed_type == "RequestReceived" for d in dead_letters(client))
        )
        letters = [d for d in dead_letters(client) if d.claimed_type == "RequestReceived"]
        assert len(letters) == 1  # the worker's and the projections' are one (same id)
        assert letters[0].error == "validation"
        assert letters[0].raw == garbage.data
    assert thread.is_alive()


def test_a_request_for_an_unknown_arm_is_answered_by_main_and_says_so(home: Settings) -> None:
    with Selfeng.open(home) as app:
        events = app.handle(
            RequestReceived(prompt="What is 2 + 2?", client="t", policy_arm="nosuch")
        )
        completed = next(e for e in events if isinstance(e, RequestCompleted))
        assert completed.ok
        assert completed.answer == "4"
        assert completed.policy_arm is None
        assert "no fork 'nosuch'" in completed.arm_note


def test_a_huge_foreign_record_on_kafka_is_dead_lettered_by_reference(
    kafka_bootstrap: str,  # noqa: F811
) -> None:
    from kafka import KafkaProducer

    namespace = unique_namespace()
    url = f"kafka://{kafka_bootstrap}?namespace={namespace}&session_timeout_ms=6000"
    settings = Settings.resolve(log=url, store="memory://", sandbox="subprocess://", env={})
    with Selfeng.open(settings) as app:
        app.seed_tools()
        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, max_request_size=2**20)
        body = orjson.dumps({"type": "RequestReceived", "prompt": 42, "padding": "x" * 900_000})
        producer.send(f"{namespace}.selfeng.requests", value=body, partition=0)
        producer.flush()
        producer.close()
        app.engine.catch_up()  # folds past it (the DeadLetter fits: the bytes stay in place)
        answer = Agent(app).ask("What is 2 + 2?")
        assert answer.text == "4"
        work = Worker(app, learners=False)
        with running(work):
            assert wait_until(lambda: any(d.raw_ref is not None for d in dead_letters(app)))
        assert not work.dead_lettered  # it was not a handling failure: it is no valid event
        letter = next(d for d in dead_letters(app) if d.raw_ref is not None)
        assert letter.raw_ref is not None
        assert letter.raw_ref.size == len(body) > MAX_DEAD_LETTER_BYTES
        assert letter.raw_ref.topic == "selfeng.requests"
        assert letter.raw_ref.offset is not None
        assert len(letter.raw) == 1024


def test_a_bad_record_of_a_type_no_projection_folds_is_dead_lettered(home: Settings) -> None:
    with Selfeng.open(home) as app:
        app.log.append(
            [
                NewRecord(
                    event_id=b"\x08" * 16,
                    topic="selfeng.requests",
                    key="r1",
                    type="ResponseSynthesized",
                    version=1,
                    data=b'{"type": "ResponseSynthesized", "text": []}',
                    timestamp_ms=0,
                )
            ]
        )
        app.engine.main.catch_up()
        (letter,) = dead_letters(app)
        assert letter.claimed_type == "ResponseSynthesized"
        assert letter.error == "validation"


_REQUEST = b'{"type": "RequestReceived", '
POISON: list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]] = [
    # (what, value, key, headers)
    ("not JSON", b"\x00\xffnot json", None, []),
    ("a JSON array", b"[1, 2, 3]", None, []),
    ("an unknown type", b'{"type": "Nope", "x": 1}', None, []),
    ("a wrong field type", _REQUEST + b'"prompt": 42}', None, []),
    ("no prompt", _REQUEST + b'"client": "raw"}', None, []),
    ("a newer schema", _REQUEST + b'"prompt": "hi", "schema_version": 99}', None, []),
    ("an empty value", b"", None, []),
    ("no value, only a key", None, b"k", []),
    ("garbage headers", _REQUEST + b'"prompt": 7}', None, [("type", b"\xff"), ("event_id", b"x")]),
    ("a key not the event's", _REQUEST + b'"prompt": "hi", "key": "a"}', b"b", []),
]


def test_poison_of_every_kind_from_a_raw_kafka_client_is_dead_lettered_once(
    kafka_bootstrap: str,  # noqa: F811
) -> None:
    from kafka import KafkaProducer

    namespace = unique_namespace()
    url = f"kafka://{kafka_bootstrap}?namespace={namespace}&session_timeout_ms=6000"
    settings = Settings.resolve(log=url, store="memory://", sandbox="subprocess://", env={})
    with Selfeng.open(settings) as app:
        app.seed_tools()
        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
        topic = f"{namespace}.selfeng.requests"
        for _, value, key, headers in POISON:
            producer.send(topic, value=value, key=key, headers=headers, partition=0)
        valid = [RequestReceived(prompt=f"What is {n} + {n}?", client="raw") for n in range(3)]
        for request in valid:
            body = request.__pydantic_serializer__.to_json(request)
            producer.send(topic, value=body, key=request.key.encode(), partition=1)
        producer.flush()
        producer.close()
        keys = {r.key for r in valid}

        def answered() -> set[str]:
            return {
                r.key for b in app.log.read(types=["RequestCompleted"]) for r in b.records
            } & keys

        def poisoned() -> list[DeadLetter]:
            return [d for d in dead_letters(app) if d.source.startswith("selfeng.requests/0@")]

        work = Worker(app, learners=False)
        with running(work):
            assert wait_until(lambda: answered() == keys)
            app.engine.catch_up()  # the projections meet the records no worker consumes
            assert wait_until(lambda: len(poisoned()) >= len(POISON), timeout=30)
        letters = poisoned()
        assert sorted(d.source for d in letters) == sorted({d.source for d in letters})
        assert len(letters) == len(POISON), [(d.source, d.error) for d in letters]
        assert not work.dead_lettered  # none of them is a handling failure


def test_a_bad_record_never_hides_a_valid_one_with_its_id_and_a_retry_counts_once(
    kafka_bootstrap: str,  # noqa: F811
) -> None:
    from kafka import KafkaProducer

    namespace = unique_namespace()
    url = f"kafka://{kafka_bootstrap}?namespace={namespace}&session_timeout_ms=6000"
    settings = Settings.resolve(log=url, store="memory://", sandbox="subprocess://", env={})
    with Selfeng.open(settings) as app:
        app.seed_tools()
        request = RequestReceived(prompt="What is 20 + 22?", client="raw")
        valid = request.__pydantic_serializer__.to_json(request)
        bad = orjson.dumps(
            {"type": "RequestReceived", "event_id": str(request.event_id), "prompt": 42}
        )
        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
        topic = f"{namespace}.selfeng.requests"
        key = request.key.encode()
        for value in (bad, valid, valid):  # no headers: the ids come from the bodies
            producer.send(topic, value=value, key=key)
        producer.flush()
        producer.close()

        def answers() -> list[str]:
            return [
                r.key
                for b in app.log.read(types=["RequestCompleted"])
                for r in b.records
                if r.key == request.key
            ]

        work = Worker(app, learners=False)
        with running(work):
            assert wait_until(lambda: answers() == [request.key])
            assert wait_until(lambda: len(dead_letters(app)) == 1, timeout=30)
            time.sleep(1)  # the retry (the third record) would be answered by now
        assert answers() == [request.key]
        assert work.handled == 1
        (letter,) = dead_letters(app)
        assert letter.error == "validation"


def test_a_request_without_id_or_key_from_a_raw_client_is_answered_once(
    kafka_bootstrap: str,  # noqa: F811
) -> None:
    from kafka import KafkaProducer

    from selfeng.infra.log.kafka import KafkaLog

    namespace = unique_namespace()
    url = f"kafka://{kafka_bootstrap}?namespace={namespace}&session_timeout_ms=6000"
    settings = Settings.resolve(log=url, store="memory://", sandbox="subprocess://", env={})
    with Selfeng.open(settings) as app:
        app.seed_tools()
        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
        body = b'{"type": "RequestReceived", "prompt": "What is 30 + 12?"}'  # no id, no key
        producer.send(f"{namespace}.selfeng.requests", value=body).get()
        producer.close()

        def completed() -> list[RequestCompleted]:
            events = [
                from_record(r) for b in app.log.read(types=["RequestCompleted"]) for r in b.records
            ]
            return [e for e in events if isinstance(e, RequestCompleted)]

        work = Worker(app, learners=False)
        with running(work):
            assert wait_until(lambda: len(completed()) == 1)
            time.sleep(1)
        (answer,) = completed()
        assert answer.answer == "42"
        requests = [r for b in app.log.read(types=["RequestReceived"]) for r in b.records]
        (request,) = [r for r in requests if r.data == body]
        with KafkaLog.from_url(url) as other:  # another reader derives the same id
            again = [r for b in other.read(types=["RequestReceived"]) for r in b.records]
        assert [r.event_id for r in again if r.data == body] == [request.event_id]
        assert from_record(request).key == answer.key
