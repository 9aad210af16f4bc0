from datetime import UTC, datetime

from selfeng.projections.base import FoldContext, ForkSpec
from selfeng.projections.cache import CacheProjection, CacheState, cache_key, lookup
from selfeng.schemas import Event, ToolExecuted

CTX = FoldContext(ForkSpec(), lambda name: None)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)


def run(tool: str, ok: bool = True, x: int = 1) -> ToolExecuted:
    return ToolExecuted(
        key="r",
        tool=tool,
        version=1,
        arguments={"x": x, "y": "z"},
        ok=ok,
        result=x * 10 if ok else None,
        duration_ms=1.0,
        sandbox="s",
        occurred_at=T0,
        cacheable=tool == "pure",
    )


def fold(events: list[Event]) -> CacheState:
    p = CacheProjection()
    state = p.initial()
    for e in events:
        state = p.apply(state, e, CTX)
    return state


def test_only_successful_runs_of_deterministic_tools_are_cached() -> None:
    state = fold([run("pure"), run("clock"), run("pure", ok=False, x=2)])
    assert len(state["entries"]) == 1
    key, entry = lookup(state, "pure", 1, {"y": "z", "x": 1}, T0_MS + 1000, 3600)
    assert entry is not None
    assert entry["value"] == 10
    assert key == cache_key("pure", 1, {"x": 1, "y": "z"})


def test_entries_expire_with_the_ttl_at_lookup() -> None:
    state = fold([run("pure")])
    assert lookup(state, "pure", 1, {"x": 1, "y": "z"}, T0_MS + 3_600_000, 3600)[1] is not None
    assert lookup(state, "pure", 1, {"x": 1, "y": "z"}, T0_MS + 3_600_001, 3600)[1] is None


def test_the_key_depends_on_tool_version_and_arguments() -> None:
    base = cache_key("t", 1, {"a": 1})
    assert cache_key("t", 2, {"a": 1}) != base
    assert cache_key("u", 1, {"a": 1}) != base
    assert cache_key("t", 1, {"a": 2}) != base
    assert cache_key("t", 1, {"a": 1.0}) != cache_key("t", 1, {"a": "1"})


def test_the_newest_result_wins_in_any_fold_order() -> None:
    old = run("pure").model_copy(update={"result": 1})
    new = run("pure").model_copy(update={"result": 2, "occurred_at": T0.replace(second=5)})
    assert fold([old, new])["entries"] == fold([new, old])["entries"]
    (entry,) = fold([new, old])["entries"].values()
    assert entry["value"] == 2
