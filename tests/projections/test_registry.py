import pytest

from selfeng.core.tooldef import parse_tool
from selfeng.projections.base import FoldContext, ForkSpec
from selfeng.projections.registry import (
    RegistryProjection,
    RegistryState,
    active_tools,
    next_version,
    stats_of,
    success_rate,
)
from selfeng.projections.views import frozen
from selfeng.schemas import (
    CacheHit,
    Event,
    RequestCompleted,
    Step,
    TestReport,
    ToolDeprecated,
    ToolExecuted,
    ToolProposed,
    ToolRegistered,
    ToolRejected,
    ToolRolledBack,
    ToolVerified,
)
from selfeng.seed_tools import seed_sources

CTX = FoldContext(ForkSpec(), lambda name: None)
REVERSE = parse_tool(seed_sources()["reverse_string"])


def proposed(version: int) -> ToolProposed:
    return ToolProposed(
        tool="reverse_string",
        version=version,
        spec=REVERSE.spec,
        code=REVERSE.code,
        tests=REVERSE.tests,
        origin="seed",
    )


def fold(events: list[Event]) -> RegistryState:
    projection = RegistryProjection()
    state = projection.initial()
    for e in events:
        state = projection.apply(state, e, CTX)
    return state


def report(passed: int, failed: int = 0) -> TestReport:
    return TestReport(passed=passed, failed=failed)


def test_a_tool_is_usable_only_once_registered() -> None:
    state = fold([proposed(1)])
    assert active_tools(state) == {}
    assert next_version(state, "reverse_string") == 2
    state = fold(
        [
            proposed(1),
            ToolVerified(tool="reverse_string", version=1, report=report(2)),
            ToolRegistered(tool="reverse_string", version=1),
        ]
    )
    assert list(active_tools(state)) == ["reverse_string"]
    assert state["tools"]["reverse_string"]["versions"]["1"]["status"] == "registered"
    assert [h["what"] for h in state["tools"]["reverse_string"]["history"]] == [
        "proposed",
        "verified",
        "active",
    ]


def test_a_rejected_version_keeps_its_report_and_the_old_one_stays_active() -> None:
    state = fold(
        [
            proposed(1),
            ToolRegistered(tool="reverse_string", version=1),
            proposed(2),
            ToolRejected(
                tool="reverse_string", version=2, reason="1 of 2 tests failed", report=report(1, 1)
            ),
        ]
    )
    tool = state["tools"]["reverse_string"]
    assert tool["active"] == 1
    assert tool["versions"]["2"]["status"] == "rejected"
    assert tool["versions"]["2"]["report"]["failed"] == 1  # type: ignore[index]


def test_executions_and_cache_hits_make_per_version_stats() -> None:
    state = fold(
        [
            proposed(1),
            ToolRegistered(tool="reverse_string", version=1),
            ToolExecuted(
                key="r1",
                tool="reverse_string",
                version=1,
                ok=True,
                result="olleh",
                duration_ms=2.0,
                sandbox="subprocess",
            ),
            ToolExecuted(
                key="r2",
                tool="reverse_string",
                version=1,
                ok=False,
                error="boom",
                error_kind="exception",
                duration_ms=4.0,
                sandbox="subprocess",
            ),
            CacheHit(key="r3", tool="reverse_string", version=1, cache_key="k"),
        ]
    )
    stats = stats_of(state, "reverse_string", 1)
    assert (stats["executions"], stats["successes"], stats["cache_hits"]) == (2, 1, 1)
    assert stats["total_ms"] == 6.0
    assert success_rate(stats) == 0.5


def test_confident_answers_teach_phrasings() -> None:
    step = Step(
        query="Flip  the word Hello", tool="reverse_string", version=1, ok=True, confident=True
    )
    unsure = step.model_copy(update={"query": "mirror Hello", "confident": False})
    failed = Step(query="mirror it", tool="reverse_string", version=1, ok=False, confident=True)
    state = fold(
        [
            proposed(1),
            ToolRegistered(tool="reverse_string", version=1),
            RequestCompleted(key="r1", ok=True, answer="olleH", steps=(step,)),
            RequestCompleted(key="r2", ok=True, answer="olleH", steps=(step,)),
            RequestCompleted(key="r3", ok=False, answer="no", steps=(failed,)),
            RequestCompleted(key="r4", ok=True, answer="olleH", steps=(unsure,)),
        ]
    )
    phrases = state["phrases"]["reverse_string"]
    assert list(phrases) == ["flip the word hello"]  # not the unsure one, nor the failed one
    assert phrases["flip the word hello"][0] == 2
    assert stats_of(state, "reverse_string", 1)["confirmed"] == 2


def test_deprecation_and_rollback_move_the_active_version() -> None:
    state = fold(
        [
            proposed(1),
            ToolRegistered(tool="reverse_string", version=1),
            proposed(2),
            ToolRegistered(tool="reverse_string", version=2),
            ToolDeprecated(tool="reverse_string", version=2, reason="slow"),
        ]
    )
    assert state["tools"]["reverse_string"]["active"] == 1
    state = fold(
        [
            proposed(1),
            ToolRegistered(tool="reverse_string", version=1),
            proposed(2),
            ToolRegistered(tool="reverse_string", version=2),
            ToolRolledBack(tool="reverse_string", from_version=2, to_version=1, reason="bug"),
        ]
    )
    assert state["tools"]["reverse_string"]["active"] == 1
    state = fold(
        [
            proposed(1),
            ToolRegistered(tool="reverse_string", version=1),
            ToolDeprecated(tool="reverse_string", reason="gone"),
        ]
    )
    assert active_tools(state) == {}


def test_latency_sums_do_not_depend_on_the_fold_order() -> None:
    durations = [0.1, 0.2, 0.3, 1e-3, 12.345678, 7.7]
    runs = [
        ToolExecuted(
            key="r", tool="reverse_string", version=1, ok=True, duration_ms=ms, sandbox="s"
        )
        for ms in durations
    ]
    forward = fold(list(runs))["stats"]["reverse_string@1"]["total_ms"]
    backward = fold(list(reversed(runs)))["stats"]["reverse_string@1"]["total_ms"]
    assert forward == backward
    assert abs(forward - sum(durations)) < 1e-3


def test_active_tools_of_a_view_hands_out_read_only_records_as_they_were_read() -> None:
    """Read from a read-only view (as every reader outside a fold is), the records handed
    out refuse changes and stay as they were when a later fold changes the live state."""
    projection = RegistryProjection()
    state = fold(
        [
            proposed(1),
            ToolVerified(tool="reverse_string", version=1, report=report(2)),
            ToolRegistered(tool="reverse_string", version=1),
        ]
    )
    active = active_tools(frozen(state))
    version, record = active["reverse_string"]
    assert version == 1
    assert record["status"] == "registered"
    with pytest.raises(TypeError, match="read-only"):
        record["status"] = "deprecated"
    with pytest.raises(TypeError, match="read-only"):
        record["spec"]["description"] = "changed"
    projection.apply(state, ToolDeprecated(tool="reverse_string", version=1, reason="x"), CTX)
    assert record["status"] == "registered"  # the view as it was read
    assert active_tools(frozen(state)) == {}
    assert active_tools(state) == {}
