"""The cache TTL counterfactual: the log's cache lookups replayed under another TTL, and the
auto-tuner's round that puts a better TTL to an experiment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import JsonValue

from selfeng.consumers.cache_replay import CacheHistory, Lookup, cache_history, hit_rate
from selfeng.consumers.counterfactual import Simulation, Tally
from selfeng.consumers.tuner import Tuner, ttl_candidates
from selfeng.core.mapper import append_events
from selfeng.core.policies import default_values
from selfeng.infra.log.memory import MemoryLog
from selfeng.projections.cache import cache_key
from selfeng.schemas import (
    CacheHit,
    Event,
    ExperimentStarted,
    FeedbackApplied,
    RequestCompleted,
    ToolExecuted,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def history(*lookups: tuple[float, str], drops: Sequence[tuple[float, str]] = ()) -> CacheHistory:
    """Lookups (seconds after T0, key), one request each, all computing on a miss."""
    return CacheHistory(
        lookups=[Lookup(int(at * 1000), key, f"r{i}", True) for i, (at, key) in enumerate(lookups)],
        drops=[(int(at * 1000), (key,)) for at, key in drops],
        requests=[f"r{i}" for i in range(len(lookups))],
    )


def test_a_lookup_hits_what_was_computed_within_the_ttl() -> None:
    seen = history((0, "k"), (100, "k"), (5000, "k"), (5001, "other"))
    assert hit_rate(seen, 3600) == 1 / 4  # 100 s after; 5000 s is past an hour
    assert hit_rate(seen, 7200) == 2 / 4  # a hit does not make the entry newer
    assert hit_rate(seen, 50) == 0.0


def test_a_bad_rating_drops_what_was_computed_before_it() -> None:
    seen = history((0, "k"), (100, "k"), (200, "k"), drops=[(50, "k")])
    assert hit_rate(seen, 3600) == 1 / 3  # 100 s recomputes; 200 s hits that


def test_a_request_with_a_tool_that_is_not_deterministic_is_never_served_from_the_cache() -> None:
    seen = history((0, "k"), (10, "k"))
    seen.uncached_runs.add("r1")
    assert hit_rate(seen, 3600) == 0.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_the_history_is_read_from_the_log() -> None:
    log = MemoryLog()
    args: dict[str, JsonValue] = {"text": "abc"}
    key = cache_key("to_uppercase", 1, args)
    ran = {"tool": "to_uppercase", "version": 1, "arguments": args, "duration_ms": 1.0}
    events: list[Event] = [
        ToolExecuted(key="a", ok=True, cacheable=True, sandbox="x", occurred_at=at(0), **ran),
        RequestCompleted(key="a", ok=True, answer="A", occurred_at=at(0)),
        CacheHit(key="b", tool="to_uppercase", version=1, cache_key=key, occurred_at=at(60)),
        RequestCompleted(key="b", ok=True, answer="A", cached=True, occurred_at=at(60)),
        ToolExecuted(key="c", ok=True, cacheable=False, sandbox="x", occurred_at=at(70), **ran),
        RequestCompleted(key="c", ok=True, answer="A", occurred_at=at(70)),
        FeedbackApplied(
            key="b",
            rating="bad",
            feedback_id="f",
            answer_id="x",
            cache_keys=(key,),
            occurred_at=at(80),
        ),
        ToolExecuted(key="d", ok=True, cacheable=True, sandbox="x", occurred_at=at(90), **ran),
        RequestCompleted(key="d", ok=True, answer="A", occurred_at=at(90)),
    ]
    append_events(log, events)
    seen = cache_history(log, 3)
    assert seen.requests == ["b", "c", "d"]
    assert seen.recorded_cached == 1
    assert seen.uncached_runs == {"c"}
    t0 = int(T0.timestamp() * 1000)
    lookups = [(lk.at_ms - t0, lk.request) for lk in seen.lookups]
    assert lookups == [(0, "a"), (60000, "b"), (90000, "d")]
    assert seen.drops == [(t0 + 80000, (key,))]
    assert hit_rate(seen, 3600) == 1 / 3  # b hits; d recomputes after the drop


class FakePorts:
    """What the tuner reads: policies, counts, experiments, the two counterfactuals."""

    def __init__(self, ttl: float, cache: CacheHistory) -> None:
        self.values: dict[str, JsonValue] = {
            **default_values(),
            "cache.ttl_seconds": ttl,
            "tuning.every_requests": 4,
            "tuning.window": 10,
        }
        self.cache = cache
        self.recorded: list[Event] = []

    def policies(self, arm: str | None = None) -> Mapping[str, JsonValue]:
        return self.values

    def state(self, projection: str, arm: str | None = None) -> Any:
        if projection == "events":
            return {"by_type": {"RequestCompleted": 4}}
        return {"experiments": {}, "running": [], "requests": {}}

    def counterfactual(
        self, candidates: Sequence[Mapping[str, JsonValue]], last: int
    ) -> list[Simulation]:
        same = Tally(requests=10, answered=8)  # no candidate changes the answers
        return [Simulation(dict(c), same, Tally(requests=10, answered=8), []) for c in candidates]

    def cache_history(self, last: int) -> CacheHistory:
        return self.cache

    def answers(self, last: int) -> list[RequestCompleted]:
        return []  # nothing for the composite criteria to save

    def record(self, events: Sequence[Event], **_: Any) -> list[Event]:
        self.recorded += events
        return list(events)


def test_when_no_candidate_improves_the_answers_a_round_tries_the_cache_ttl() -> None:
    # the same lookup every 90 minutes: an hour misses every time; a hit does not make the
    # entry newer, so two hours hit every other time and four hours two times in three
    repeated = history(*[(i * 5400, "k") for i in range(10)])
    ports = FakePorts(3600, repeated)
    assert ttl_candidates(ports.values) == [
        {"cache.ttl_seconds": 1800.0},
        {"cache.ttl_seconds": 7200.0},
        {"cache.ttl_seconds": 14400.0},
    ]
    done = RequestCompleted(key="r", ok=True, answer="A")
    started = [e for e in Tuner(ports).react(done) if isinstance(e, ExperimentStarted)]  # type: ignore[arg-type]
    assert [e.experiment for e in started] == ["tune-1"]
    (experiment,) = started
    assert experiment.metric == "cache_hit_rate"
    assert experiment.guardrails == ("wrong_rate", "success_rate")
    assert experiment.policies == {"candidate": {"cache.ttl_seconds": 14400.0}}
    assert "cache hit rate" in experiment.reason
    gains = {k: v["gain"] for k, v in experiment.evidence.items() if isinstance(v, dict)}
    assert gains == {
        "cache.ttl_seconds=1800.0": 0.0,
        "cache.ttl_seconds=7200.0": 0.5,
        "cache.ttl_seconds=14400.0": 0.6,
    }


def test_no_experiment_when_a_longer_ttl_would_not_hit_more() -> None:
    apart = history(*[(i * 10**6, f"k{i}") for i in range(10)])  # every lookup a new key
    ports = FakePorts(3600, apart)
    assert Tuner(ports).react(RequestCompleted(key="r", ok=True, answer="A")) == []  # type: ignore[arg-type]
