from selfeng.core.records import StoredRecord
from selfeng.projections.base import FoldContext, ForkSpec
from selfeng.projections.events import WINDOW_MINUTES, EventCounts, recent_rate

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
