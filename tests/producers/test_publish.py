import orjson

from selfeng.core.mapper import from_record
from selfeng.infra.log.memory import MemoryLog
from selfeng.producers.publish import publish
from selfeng.schemas import DeadLetter, RequestReceived


def test_valid_messages_are_appended_and_invalid_ones_dead_lettered() -> None:
    log = MemoryLog()
    messages = [
        orjson.dumps({"type": "RequestReceived", "prompt": "What is 25% of 100?"}),
        b'{"type": "RequestReceived", "prompt": "trunc',
        orjson.dumps({"type": "Mystery", "key": "k"}),
        orjson.dumps({"type": "RequestReceived", "prompt": "hi", "promt": "typo"}),
    ]
    report = publish(log, messages, client="test-client")
    assert len(report.accepted) == 1
    assert [d.error for d in report.dead_letters] == ["invalid_json", "unknown_type", "validation"]
    events = [from_record(r) for b in log.read() for r in b.records]
    assert isinstance(events[0], RequestReceived)
    letters = [e for e in events if isinstance(e, DeadLetter)]
    assert [letter.raw for letter in letters] == messages[1:]
    assert all(letter.source == "publish:test-client" for letter in letters)
    assert all(
        r.topic == "selfeng.deadletter" for b in log.read(types={"DeadLetter"}) for r in b.records
    )


def test_publishing_the_same_event_twice_stores_it_once() -> None:
    log = MemoryLog()
    event = RequestReceived(prompt="once")
    publish(log, [event.model_dump_json().encode()])
    publish(log, [event.model_dump_json().encode()])
    assert log.head().offset == 1
