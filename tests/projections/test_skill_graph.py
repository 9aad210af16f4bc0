"""The skill graph: typed nodes, hand-off edges, the planner's preference, replay."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from selfeng.core.mapper import append_events
from selfeng.infra.log.memory import MemoryLog
from selfeng.infra.store.memory import MemoryStore
from selfeng.projections.base import MAIN, AnyProjection, FoldContext, ForkSpec
from selfeng.projections.engine import ProjectionEngine
from selfeng.projections.policies import PoliciesProjection
from selfeng.projections.replay import rebuild, verify
from selfeng.projections.skill_graph import (
    SkillGraphProjection,
    SkillGraphState,
    accepts,
    chains,
    edge_weight,
    prefer_chains,
    successors,
)
from selfeng.schemas import (
    Candidate,
    Event,
    RequestCompleted,
    Step,
    ToolDeprecated,
    ToolProposed,
    ToolRegistered,
    ToolRejected,
    ToolRolledBack,
    ToolSpec,
    uuid7,
)
from tests.projections.helpers import interleave

CTX = FoldContext(ForkSpec(), lambda name: None)


def proposed(
    tool: str,
    version: int = 1,
    inputs: dict[str, Any] | None = None,
    output: dict[str, Any] | None = None,
) -> ToolProposed:
    parameters = {"type": "object", "properties": inputs if inputs is not None else {}}
    spec = ToolSpec(description="d", parameters=parameters, returns=output or {})
    return ToolProposed(tool=tool, version=version, spec=spec, code="", tests="")


def step(tool: str, ok: bool = True, handoff: str | None = None) -> Step:
    return Step(query=f"use {tool}", tool=tool, version=1, ok=ok, handoff=handoff, confident=True)


def request(*steps: Step, ok: bool = True, key: str | None = None) -> RequestCompleted:
    return RequestCompleted(key=key or str(uuid7()), ok=ok, answer="x", steps=steps)


def handoff(a: str, b: str, *, ok: bool = True, request_ok: bool = True) -> RequestCompleted:
    return request(step(a), step(b, ok=ok, handoff="text"), ok=request_ok)


def fold(events: Iterable[Event]) -> SkillGraphState:
    projection = SkillGraphProjection()
    state = projection.initial()
    for event in events:
        state = projection.apply(state, event, CTX)
    return state


def candidate(tool: str, score: float) -> Candidate:
    return Candidate(tool=tool, version=1, score=score, similarity=score)


def tools_of(candidates: Sequence[Candidate]) -> list[str]:
    return [c.tool for c in candidates]


# nodes


def test_a_node_keeps_each_versions_schemas_and_status() -> None:
    state = fold(
        [
            proposed("a", 1, {"text": {"type": "string"}}, {"type": "integer"}),
            ToolRegistered(tool="a", version=1),
            proposed("a", 2, {"n": {"type": "number"}}, {"type": "array"}),
        ]
    )
    node = state["tools"]["a"]
    assert node["active"] == 1
    assert node["versions"]["1"] == {
        "inputs": {"type": "object", "properties": {"text": {"type": "string"}}},
        "output": {"type": "integer"},
        "status": "registered",
    }
    assert node["versions"]["2"]["status"] == "proposed"
    assert node["versions"]["2"]["output"] == {"type": "array"}


def test_the_active_version_follows_register_rollback_and_deprecation() -> None:
    events: list[Event] = [
        proposed("a", 1),
        ToolRegistered(tool="a", version=1),
        proposed("a", 2),
        ToolRegistered(tool="a", version=2),
        proposed("a", 3),
        ToolRegistered(tool="a", version=3),
    ]
    assert fold(events)["tools"]["a"]["active"] == 3
    events.append(ToolRolledBack(tool="a", from_version=3, to_version=1, reason="broke"))
    assert fold(events)["tools"]["a"]["active"] == 1
    events.append(ToolDeprecated(tool="a", version=1, reason="old"))
    state = fold(events)
    assert state["tools"]["a"]["active"] == 3  # the highest registered version left
    assert state["tools"]["a"]["versions"]["1"]["status"] == "deprecated"
    events.append(ToolDeprecated(tool="a", version=2, reason="old"))
    assert fold(events)["tools"]["a"]["active"] == 3  # not the active one: it stays
    events.append(ToolDeprecated(tool="a", reason="gone"))
    state = fold(events)
    assert state["tools"]["a"]["active"] is None
    assert {r["status"] for r in state["tools"]["a"]["versions"].values()} == {"deprecated"}


def test_a_rejected_version_is_not_usable() -> None:
    state = fold(
        [
            proposed("a", 1),
            ToolRegistered(tool="a", version=1),
            proposed("a", 2),
            ToolRejected(tool="a", version=2, reason="tests failed"),
            ToolDeprecated(tool="a", reason="gone"),
        ]
    )
    assert state["tools"]["a"]["versions"]["2"]["status"] == "rejected"
    assert state["tools"]["a"]["active"] is None
    state = fold(
        [
            proposed("b", 1),
            ToolRegistered(tool="b", version=1),
            proposed("b", 2),
            ToolRegistered(tool="b", version=2),
            ToolRejected(tool="b", version=2, reason="found broken"),
        ]
    )
    assert state["tools"]["b"]["active"] == 1


def test_a_version_registered_without_a_proposal_has_open_schemas() -> None:
    state = fold([ToolRegistered(tool="c", version=4)])
    assert state["tools"]["c"] == {
        "active": 4,
        "versions": {"4": {"inputs": {}, "output": {}, "status": "registered"}},
    }


def test_events_of_unknown_tools_change_nothing() -> None:
    state = fold(
        [ToolDeprecated(tool="x", reason="r"), ToolRejected(tool="x", version=1, reason="r")]
    )
    assert state == {"tools": {}, "edges": {}}


# edges


def test_hand_offs_are_counted_as_successes_failures_and_later_failures() -> None:
    state = fold(
        [
            handoff("a", "b"),
            handoff("a", "b"),
            handoff("a", "b", ok=False, request_ok=False),
            handoff("a", "b", request_ok=False),
        ]
    )
    edge = state["edges"]["a>b"]
    assert (edge["successes"], edge["failures"], edge["later_failures"]) == (2, 1, 1)
    assert edge["weight"] == pytest.approx(1.0)
    assert edge_weight(state, "a", "b") == pytest.approx(1.0)


def test_only_steps_that_took_the_previous_output_make_edges() -> None:
    state = fold(
        [
            request(step("a"), step("b")),  # b did not use a's output
            request(step("a", ok=False), step("c", handoff="x")),  # nothing was handed over
            request(step("a"), step("b", handoff="t"), step("c"), step("d", handoff="u")),
        ]
    )
    assert sorted(state["edges"]) == ["a>b", "c>d"]
    assert state["edges"]["c>d"]["param"] == "u"


def test_the_receiving_parameter_is_counted_per_parameter() -> None:
    events = [
        request(step("a"), step("b", handoff="text")),
        request(step("a"), step("b", handoff="value")),
        request(step("a"), step("b", handoff="value")),
    ]
    for order in (events, events[::-1]):
        edge = fold(order)["edges"]["a>b"]
        assert edge["params"] == {"text": 1, "value": 2}
        assert edge["param"] == "value"
    assert fold(events[:2])["edges"]["a>b"]["param"] == "text"  # a tie goes by name


@pytest.mark.parametrize(
    ("successes", "failures", "later", "weight"),
    [
        (0, 0, 0, 0.0),
        (3, 0, 0, 3.0),
        (3, 1, 0, 1.5),
        (3, 2, 5, 1.0),
        (0, 4, 0, 0.0),
        (1, 0, 9, 1.0),
    ],
)
def test_weight_is_successes_decayed_by_failures(
    successes: int, failures: int, later: int, weight: float
) -> None:
    events = (
        [handoff("a", "b") for _ in range(successes)]
        + [handoff("a", "b", ok=False) for _ in range(failures)]
        + [handoff("a", "b", request_ok=False) for _ in range(later)]
    )
    state = fold(events)
    assert edge_weight(state, "a", "b") == pytest.approx(weight)
    assert edge_weight(state, "b", "a") == 0.0


def test_successors_are_best_first() -> None:
    state = fold(
        [
            handoff("a", "b"),
            handoff("a", "c"),
            handoff("a", "c"),
            handoff("a", "d", ok=False),
            handoff("a", "e"),
            handoff("b", "c"),
        ]
    )
    assert successors(state, "a") == [("c", 2.0), ("b", 1.0), ("e", 1.0), ("d", 0.0)]
    assert successors(state, "z") == []


def test_chains_score_a_path_by_its_weakest_hand_off() -> None:
    state = fold(
        [handoff("a", "b")]
        + [handoff("a", "c") for _ in range(3)]
        + [handoff("c", "d") for _ in range(2)]
        + [handoff("d", "a"), handoff("b", "e", ok=False)]
    )
    assert chains(state, "a") == [
        (["a", "c"], 3.0),
        (["a", "c", "d"], 2.0),
        (["a", "b"], 1.0),
    ]
    assert chains(state, "a", max_length=2) == [(["a", "c"], 3.0), (["a", "b"], 1.0)]
    assert chains(state, "a", min_weight=1.0) == [(["a", "c"], 3.0), (["a", "c", "d"], 2.0)]
    assert chains(state, "c") == [
        (["c", "d"], 2.0),
        (["c", "d", "a", "b"], 1.0),  # equal scores: the longer first
        (["c", "d", "a"], 1.0),
    ]


# accepts


@pytest.mark.parametrize(
    ("param", "value", "expected"),
    [
        ({"type": "string"}, {"type": "integer"}, True),
        ({"type": "string"}, {"type": "object"}, True),
        ({"type": "number"}, {"type": "integer"}, True),
        ({"type": "number"}, {"type": "number"}, True),
        ({"type": "number"}, {"type": "string"}, False),
        ({"type": "integer"}, {"type": "integer"}, True),
        ({"type": "integer"}, {"type": "number"}, False),
        ({"type": "array"}, {"type": "array", "items": {"type": "string"}}, True),
        ({"type": "array"}, {"type": "string"}, False),
        ({"type": "boolean"}, {"type": "integer"}, False),
        ({"type": "object"}, {"type": "object"}, True),
        ({}, {"type": "array"}, True),  # missing parameter type
        ({"type": "integer"}, {}, True),  # missing value type
        ({"type": "decimal"}, {"type": "string"}, True),  # unknown type
        ({"type": "integer"}, {"type": "tensor"}, True),
        ({"type": ["integer", "null"]}, {"type": "integer"}, True),
        ({"type": ["array", "null"]}, {"type": "number"}, False),
    ],
)
def test_accepts_follows_json_types(
    param: dict[str, Any], value: dict[str, Any], expected: bool
) -> None:
    state = fold([proposed("b", 1, {"x": param}), ToolRegistered(tool="b", version=1)])
    assert accepts(state, "b", value) is expected


def test_accepts_reads_the_active_version() -> None:
    events: list[Event] = [
        proposed("b", 1, {"n": {"type": "integer"}}),
        ToolRegistered(tool="b", version=1),
        proposed("b", 2, {"n": {"type": "integer"}, "s": {"type": "string"}}),
    ]
    assert not accepts(fold(events), "b", {"type": "array"})
    events.append(ToolRegistered(tool="b", version=2))
    assert accepts(fold(events), "b", {"type": "array"})
    assert accepts(fold(events), "unknown", {"type": "array"})
    no_parameters = fold([proposed("c", 1, {}), ToolRegistered(tool="c", version=1)])
    assert not accepts(no_parameters, "c", {"type": "string"})


# prefer_chains


def chained_state() -> SkillGraphState:
    """prev returns an integer; b and c take integers, s takes only arrays."""
    return fold(
        [
            proposed("prev", 1, {"q": {"type": "string"}}, {"type": "integer"}),
            ToolRegistered(tool="prev", version=1),
            proposed("b", 1, {"n": {"type": "integer"}}),
            ToolRegistered(tool="b", version=1),
            proposed("c", 1, {"n": {"type": "number"}}),
            ToolRegistered(tool="c", version=1),
            proposed("s", 1, {"xs": {"type": "array"}}),
            ToolRegistered(tool="s", version=1),
            handoff("prev", "c"),
            handoff("prev", "c"),
            handoff("prev", "b"),
            handoff("prev", "s"),
            handoff("prev", "s"),
            handoff("prev", "s"),
        ]
    )


def test_prefer_chains_moves_the_proven_hand_off_first_within_the_margin() -> None:
    state = chained_state()
    given = [candidate("a", 0.9), candidate("b", 0.85), candidate("c", 0.82), candidate("d", 0.5)]
    assert tools_of(prefer_chains(given, "prev", state)) == ["c", "a", "b", "d"]
    assert tools_of(given) == ["a", "b", "c", "d"]  # a new list
    # c is outside a narrower margin: b, the only proven one inside, goes first
    assert tools_of(prefer_chains(given, "prev", state, margin=0.06)) == ["b", "a", "c", "d"]
    assert tools_of(prefer_chains(given, "prev", state, margin=0.0)) == ["a", "b", "c", "d"]


def test_prefer_chains_needs_positive_evidence() -> None:
    state = chained_state()
    given = [candidate("a", 0.9), candidate("b", 0.85)]
    assert prefer_chains(given, None, state) == given
    assert prefer_chains(given, "other", state) == given  # no edges from it
    failed = fold([handoff("prev", "b", ok=False), handoff("prev", "b", request_ok=False)])
    assert prefer_chains(given, "prev", failed) == given  # only failures: weight 0
    assert prefer_chains([], "prev", state) == []
    # a type mismatch alone is no evidence: s (arrays only) stays first when prev>b only failed
    typed_failures = fold(
        [
            proposed("prev", 1, {"q": {"type": "string"}}, {"type": "integer"}),
            ToolRegistered(tool="prev", version=1),
            proposed("s", 1, {"xs": {"type": "array"}}),
            ToolRegistered(tool="s", version=1),
            handoff("prev", "b", ok=False),
        ]
    )
    given = [candidate("s", 0.9), candidate("b", 0.88)]
    assert prefer_chains(given, "prev", typed_failures) == given


def test_prefer_chains_puts_candidates_that_cannot_take_the_output_last_in_the_group() -> None:
    state = chained_state()
    # s has the heaviest edge from prev but takes only arrays, and prev returns an integer
    given = [candidate("s", 0.9), candidate("a", 0.88), candidate("b", 0.86), candidate("z", 0.1)]
    assert tools_of(prefer_chains(given, "prev", state)) == ["b", "a", "s", "z"]


def test_prefer_chains_keeps_candidates_outside_the_margin_in_place() -> None:
    state = chained_state()
    given = [candidate("a", 0.9), candidate("d", 0.2), candidate("c", 0.85), candidate("e", 0.1)]
    assert tools_of(prefer_chains(given, "prev", state)) == ["c", "d", "a", "e"]


def test_prefer_chains_ties_keep_the_given_order() -> None:
    state = fold([handoff("p", "x"), handoff("p", "y")])
    given = [candidate("a", 0.9), candidate("y", 0.9), candidate("x", 0.9)]
    assert tools_of(prefer_chains(given, "p", state)) == ["y", "a", "x"]


# order independence and replay

TOOLS = ["a", "b", "c"]
SCHEMAS: list[dict[str, Any]] = [{}, {"type": "string"}, {"type": "integer"}, {"type": "array"}]


@st.composite
def graph_events(draw: st.DrawFn) -> Event:
    tool = draw(st.sampled_from(TOOLS))
    version = draw(st.integers(1, 3))
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return proposed(
            tool,
            version,
            {"x": draw(st.sampled_from(SCHEMAS))},
            draw(st.sampled_from(SCHEMAS)),
        )
    if kind == 1:
        return ToolRegistered(tool=tool, version=version)
    if kind == 2:
        return ToolRejected(tool=tool, version=version, reason="r")
    if kind == 3:
        return ToolDeprecated(tool=tool, version=draw(st.none() | st.just(version)), reason="r")
    if kind == 4:
        return ToolRolledBack(tool=tool, from_version=version, to_version=1, reason="r")
    steps = draw(
        st.lists(
            st.builds(
                Step,
                query=st.just("q"),
                tool=st.sampled_from(TOOLS),
                version=st.just(1),
                ok=st.booleans(),
                handoff=st.sampled_from([None, "x", "y"]),
            ),
            max_size=4,
        )
    )
    return RequestCompleted(
        key=draw(st.sampled_from("pqrs")), ok=draw(st.booleans()), answer="x", steps=tuple(steps)
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(graph_events(), max_size=50), st.randoms(use_true_random=False))
def test_only_the_order_within_a_key_matters(stream: list[Event], rnd: random.Random) -> None:
    shuffled = interleave(stream, rnd)
    assert sorted(e.event_id for e in shuffled) == sorted(e.event_id for e in stream)
    assert fold(shuffled) == fold(stream)


def projections(fork: ForkSpec) -> list[AnyProjection]:
    return [PoliciesProjection(fork), SkillGraphProjection()]


def test_replay_through_the_engine_equals_the_live_state() -> None:
    stream: list[Event] = [
        proposed("a", 1, {"q": {"type": "string"}}, {"type": "integer"}),
        ToolRegistered(tool="a", version=1),
        proposed("b", 1, {"n": {"type": "integer"}}, {"type": "string"}),
        ToolRegistered(tool="b", version=1),
        *(handoff("a", "b") for _ in range(5)),
        handoff("a", "b", ok=False),
        proposed("b", 2, {"n": {"type": "number"}}),
        ToolRegistered(tool="b", version=2),
        handoff("b", "a", request_ok=False),
        ToolRolledBack(tool="b", from_version=2, to_version=1, reason="slow"),
        ToolDeprecated(tool="a", reason="gone"),
        request(step("a"), step("b", handoff="n"), step("a", handoff="q")),
    ]
    log, store = MemoryLog(), MemoryStore()
    for start in range(0, len(stream), 4):
        append_events(log, stream[start : start + 4])
        # a new engine each time: the state must survive the store round trip
        ProjectionEngine(log, store, projections, checkpoint_every=3).catch_up()
    engine = ProjectionEngine(log, store, projections)
    live = engine.state("skill_graph")
    assert live == rebuild(log, projections, MAIN).dumped("skill_graph")
    assert live == fold(stream)
    assert all(result.equal for result in verify(engine))
    assert live["tools"]["b"]["active"] == 1
    assert live["tools"]["a"]["active"] is None
    assert edge_weight(live, "a", "b") == pytest.approx(6 / 2)
