"""Retention: tables that gain a row per request keep a month of traffic, in any fold order."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from selfeng.projections.base import MAIN, FoldContext, Projection
from selfeng.projections.llm_usage import LLMUsageProjection, LLMUsageState, usage_of
from selfeng.projections.retention import DAY_MS, Retention
from selfeng.projections.synthesis import SynthesisProjection, SynthesisState, details
from selfeng.schemas import ChatMessage, Event, LLMCalled, RequestCompleted, ToolSynthesisRequested
from tests.projections.helpers import interleave

START = datetime(2026, 1, 1, 12, tzinfo=UTC)


def on_day(day: float) -> datetime:
    return START + timedelta(days=day)


def synthesis_events(request: str, day: float) -> list[Event]:
    """A request that found no tool, an LLM call for it, and its failed answer."""
    return [
        ToolSynthesisRequested(request_id=request, need=f"do {request}", occurred_at=on_day(day)),
        LLMCalled(
            subject=request,
            purpose="synthesis",
            model="m",
            messages=(ChatMessage(role="user", content="write it"),),
            prompt_tokens=10,
            completion_tokens=5,
            occurred_at=on_day(day + 0.01),
        ),
        RequestCompleted(key=request, ok=False, answer="no tool", occurred_at=on_day(day + 0.02)),
    ]


def fold(projection: Projection[Any], events: list[Event]) -> Any:
    state = projection.initial()
    ctx = FoldContext(MAIN, lambda name: None)
    for event in events:
        if event.type in projection.type_names():
            state = projection.apply(state, event, ctx)
    return state


def test_the_horizon_moves_with_the_newest_day_seen() -> None:
    month = Retention(days=30)
    assert month.horizon_ms(None) is None
    newest, moved = month.advance(None, 40 * DAY_MS + 5)
    assert (newest, moved) == (40, False)  # the first day seen forgets nothing
    assert month.advance(newest, 40 * DAY_MS + 9) == (40, False)
    assert month.advance(newest, 41 * DAY_MS) == (41, True)
    assert month.expired(40, 9 * DAY_MS)
    assert not month.expired(40, 10 * DAY_MS)


def test_synthesis_forgets_requests_a_month_older_than_the_newest_event() -> None:
    events = [*synthesis_events("old", 0), *synthesis_events("mid", 10)]
    events += synthesis_events("new", 31)
    state: SynthesisState = fold(SynthesisProjection(), events)
    assert (
        set(state["requests"])
        == set(state["answers"])
        == set(state["calls"])
        == {
            "mid",
            "new",
        }
    )
    assert details(state, "old") is None
    mid = details(state, "mid")
    assert mid is not None
    assert mid.attempts == 1
    # a late event about a forgotten request changes nothing
    late = fold(SynthesisProjection(), [*events, *synthesis_events("old", 0.2)])
    assert late == state


def test_llm_usage_forgets_subjects_but_keeps_model_totals() -> None:
    events = [e for r, d in (("a", 0), ("b", 20), ("c", 45)) for e in synthesis_events(r, d)]
    state: LLMUsageState = fold(LLMUsageProjection(), events)
    assert set(state["subjects"]) == {"b", "c"}
    assert usage_of(state, "a")["calls"] == 0
    assert usage_of(state, "b")["tokens"] == 15
    assert state["models"]["m"]["calls"] == 3


def test_rows_kept_do_not_depend_on_the_order_keys_are_folded_in() -> None:
    """Kafka interleaves keys: any order whose lag stays under the window folds equal."""
    rnd = random.Random(7)
    days = [rnd.uniform(0, 120) for _ in range(60)]
    ordered = [e for i, d in enumerate(sorted(days)) for e in synthesis_events(f"r{i}", d)]
    expected = [fold(p, ordered) for p in (SynthesisProjection(), LLMUsageProjection())]
    assert 0 < len(expected[0]["requests"]) < 60  # some were forgotten, some kept
    for _ in range(20):
        # each block of ten days is delivered in an arbitrary interleaving of its keys
        shuffled: list[Event] = []
        for block in range(13):
            inside = [
                e for e in ordered if block * 10 <= (e.occurred_at - START).days < block * 10 + 10
            ]
            shuffled += interleave(inside, rnd)
        assert len(shuffled) == len(ordered)
        got = [fold(p, shuffled) for p in (SynthesisProjection(), LLMUsageProjection())]
        assert got == expected
