import random

from selfeng.core.records import StoredRecord
from selfeng.projections.base import FoldContext, ForkSpec
from selfeng.projections.events import (
    WINDOW_MINUTES,
    EventCounts,
    EventCountsState,
    recent_rate,
)

CTX = FoldContext(ForkSpec(), lambda name: None)


def rec(type_: str, topic: str, ts_ms: int) -> StoredRecord:
    return StoredRecord(b"", topic, "k", type_, 1, b"", ts_ms, 0, 0)


def test_counts_by_type_topic_and_span() -> None:
    p = EventCounts()
    state = p.initial()
    for r in [
        rec("RequestReceived", "selfeng.requests", 120_000),
        rec("ToolRegistered", "selfeng.tools", 60_000),
        rec("RequestReceived", "selfeng.requests", 180_000),
        rec("", "selfeng.requests", 200_000),
    ]:
        state = p.apply(state, r, CTX)
    assert state["total"] == 4
    assert state["by_type"] == {"RequestReceived": 2, "ToolRegistered": 1, "(no type)": 1}
    assert state["by_topic"] == {"selfeng.requests": 3, "selfeng.tools": 1}
    assert (state["first_ms"], state["last_ms"]) == (60_000, 200_000)
    assert state["per_minute"] == {1: 1, 2: 1, 3: 2}
    assert p.dump(state)["per_minute"] == {"1": 1, "2": 1, "3": 2}
    assert p.load(p.dump(state)) == state
    assert recent_rate(state, minutes=5) == 4 / 300


def test_the_throughput_window_is_bounded() -> None:
    p = EventCounts()
    state = p.initial()
    for minute in range(0, 3 * WINDOW_MINUTES, 7):
        state = p.apply(state, rec("T", "t", minute * 60_000), CTX)
    newest = max(int(m) for m in state["per_minute"])
    assert min(int(m) for m in state["per_minute"]) > newest - WINDOW_MINUTES
    assert len(state["per_minute"]) <= WINDOW_MINUTES // 7 + 1


def one_by_one(records: list[StoredRecord]) -> EventCountsState:
    """The fold written a record at a time, as it was before it took batches."""
    state = EventCounts().initial()
    for r in records:
        state["total"] += 1
        name = r.type or "(no type)"
        state["by_type"][name] = state["by_type"].get(name, 0) + 1
        state["by_topic"][r.topic] = state["by_topic"].get(r.topic, 0) + 1
        ts, last, minute = r.timestamp_ms, state["last_ms"], r.timestamp_ms // 60_000
        if last is None:
            state["first_ms"] = state["last_ms"] = ts
        else:
            state["first_ms"] = min(ts, state["first_ms"])  # type: ignore[type-var]
            if ts > last:
                state["last_ms"] = ts
                if minute > last // 60_000:
                    EventCounts._trim(state["per_minute"], minute)
            elif minute <= last // 60_000 - WINDOW_MINUTES:
                continue
        state["per_minute"][minute] = state["per_minute"].get(minute, 0) + 1
    return state


def test_a_batch_counts_as_its_records_one_by_one() -> None:
    """The fold loop hands the fold whole batches: the counts, the span and the window's
    buckets are those of folding each record in turn, whatever the order or the cuts."""
    rnd = random.Random(7)
    for _ in range(200):
        records = [
            rec(rnd.choice(["A", "B", ""]), rnd.choice(["t1", "t2"]),
                rnd.randrange(0, 3 * WINDOW_MINUTES) * 60_000 + rnd.randrange(60_000))
            for _ in range(rnd.randrange(1, 60))
        ]  # fmt: skip
        p = EventCounts()
        batched, at = p.initial(), 0
        while at < len(records):
            cut = rnd.randrange(1, 20)
            batched = p.apply_batch(batched, records[at : at + cut], CTX)
            at += cut
        expected = one_by_one(records)
        assert batched == expected
        assert list(batched["per_minute"]) == list(expected["per_minute"])  # the same order
