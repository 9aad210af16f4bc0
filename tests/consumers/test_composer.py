"""Patterns become composite tools within the request that proves them, and are then used."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import JsonValue

from selfeng.app import Selfeng
from selfeng.consumers.composer import CompositeLearner, PatternDetector
from selfeng.core.composition import MemberTool, RecordedRun, build_composite
from selfeng.schemas import (
    CacheHit,
    CompositeRegistered,
    Event,
    PatternDetected,
    PolicyChanged,
    RequestCompleted,
    RequestReceived,
    ToolExecuted,
    ToolProposed,
    ToolRegistered,
)
from tests.consumers.conftest import seeded_app

SCENARIO = "Calculate 25% of 100 and reverse the result"


@pytest.fixture
def app() -> Iterator[Selfeng]:
    with seeded_app() as opened:
        yield opened


def ask(app: Selfeng, prompt: str) -> list[Event]:
    received = RequestReceived(prompt=prompt, client="test", answered_inline=True)
    app.append([received])
    return app.handle(received)


def completed(events: list[Event]) -> RequestCompleted:
    return [e for e in events if isinstance(e, RequestCompleted)][-1]


def of_type(app: Selfeng, kind: type[Event]) -> list[Event]:
    from selfeng.core.mapper import from_record

    return [
        from_record(r)
        for batch in app.log.read(types=[kind.model_fields["type"].default])
        for r in batch.records
    ]


def test_the_third_run_creates_a_composite_and_the_fourth_uses_it(app: Selfeng) -> None:
    first = ask(app, SCENARIO)
    assert completed(first).answer == "52"
    assert [s.tool for s in completed(first).steps] == ["percent_of", "reverse_string"]
    assert completed(first).steps[1].handoff == "text"
    second = ask(app, SCENARIO)
    assert not any(isinstance(e, PatternDetected) for e in second)
    third = ask(app, SCENARIO)
    learnt = [e.type for e in third if not e.type.startswith(("Tool", "Request", "Argu", "Res"))]
    assert learnt[-3:] == ["PatternDetected", "CompositeProposed", "CompositeRegistered"] or (
        "CompositeRegistered" in learnt
    )
    registered = [e for e in third if isinstance(e, CompositeRegistered)]
    assert len(registered) == 1
    assert registered[0].tool == "percent_of_then_reverse_string"
    assert registered[0].members == ("percent_of@1", "reverse_string@1")
    proposal = next(e for e in third if isinstance(e, ToolProposed))
    assert proposal.origin == "composite"
    assert proposal.spec.composition[1].handoff == "text"
    assert proposal.tests.count("def test_recorded_run_") == 3

    fourth = ask(app, SCENARIO)
    done = completed(fourth)
    assert done.ok
    assert done.answer == "52"
    assert done.tools == ("percent_of_then_reverse_string@1",)
    executed = [e for e in fourth if isinstance(e, ToolExecuted)]
    assert [e.tool for e in executed] == ["percent_of_then_reverse_string"]
    assert executed[0].cacheable
    fifth = ask(app, SCENARIO)
    assert completed(fifth).cached
    assert [e.tool for e in fifth if isinstance(e, CacheHit)] == ["percent_of_then_reverse_string"]


def test_the_composite_generalises_to_other_values(app: Selfeng) -> None:
    for _ in range(3):
        ask(app, SCENARIO)
    events = ask(app, "Calculate 12.5% of 80 and reverse the result")
    done = completed(events)
    assert done.tools == ("percent_of_then_reverse_string@1",)
    assert done.answer == "01"


def test_a_pattern_is_announced_once(app: Selfeng) -> None:
    for _ in range(5):
        ask(app, SCENARIO)
    assert len(of_type(app, PatternDetected)) == 1
    assert len(of_type(app, CompositeRegistered)) == 1


def test_reacting_twice_stores_nothing_twice(app: Selfeng) -> None:
    for _ in range(3):
        ask(app, SCENARIO)
    detected = of_type(app, PatternDetected)[0]
    before = sum(len(b.records) for b in app.log.read())
    again = CompositeLearner(app.ports).react(detected)
    assert again == []  # the composite with these members is registered already
    completed_events = of_type(app, RequestCompleted)
    PatternDetector(app.ports).react(completed_events[2])
    assert sum(len(b.records) for b in app.log.read()) == before


def test_the_promotion_policy_is_read_from_the_log(app: Selfeng) -> None:
    app.append([PolicyChanged(name="composite.min_frequency", value=5, version=1)])
    for _ in range(4):
        ask(app, SCENARIO)
    assert of_type(app, CompositeRegistered) == []
    ask(app, SCENARIO)
    assert len(of_type(app, CompositeRegistered)) == 1


def test_failed_requests_keep_a_pattern_below_the_success_rate(app: Selfeng) -> None:
    # "reverse the result" of a failing divide: the pair is seen but never succeeds
    for _ in range(3):
        ask(app, "Divide 1 by 0 and reverse the result")
    assert of_type(app, PatternDetected) == []


def test_build_composite_refuses_without_evidence() -> None:
    member = MemberTool("a", 1, {"parameters": {"properties": {"x": {"type": "number"}}}}, "")
    with pytest.raises(ValueError, match="recorded run"):
        build_composite([member, member], [None, "x"], [], pattern_id="a>a")
    with pytest.raises(ValueError, match="two members"):
        build_composite([member], [None], [RecordedRun("r", ({"x": 1},), 1)], pattern_id="a")


def test_a_composite_is_registered_only_when_its_recorded_runs_pass(app: Selfeng) -> None:
    from selfeng.consumers.verifier import verify

    registry = app.registry()
    members = [
        MemberTool(
            name,
            1,
            registry["tools"][name]["versions"]["1"]["spec"],
            registry["tools"][name]["versions"]["1"]["code"],
        )
        for name in ("percent_of", "reverse_string")
    ]
    good = RecordedRun("r1", ({"percent": 25.0, "value": 100.0}, {"text": "25"}), "52")
    wrong = RecordedRun("r2", ({"percent": 50.0, "value": 10.0}, {"text": "5"}), "6")
    ok = build_composite(members, [None, "text"], [good], pattern_id="p")
    bad = build_composite(members, [None, "text"], [good, wrong], pattern_id="p")
    assert ok.code == build_composite(members, [None, "text"], [good], pattern_id="p").code
    for composite, registered in ((ok, True), (bad, False)):
        proposal = ToolProposed(
            tool=composite.name,
            version=1,
            spec=composite.spec,
            code=composite.code,
            tests=composite.tests,
            origin="composite",
        )
        outcome = verify(proposal, app.sandbox)
        assert any(isinstance(e, ToolRegistered) for e in outcome) is registered


@pytest.mark.parametrize(
    "value",
    [
        25.0,
        0.12,
        3,
        -7,
        True,
        None,
        [1, "ñ", 2.5],
        {"a": 1, "b": [True]},
        "x y",
        1e21,
        64 ** (1 / 3),
        float("inf"),
    ],
)
@pytest.mark.parametrize("kind", ["string", "number", "integer", "array", "any"])
def test_the_composite_hands_off_values_as_the_handler_does(value: JsonValue, kind: str) -> None:
    from selfeng.core.values import coerce

    member = MemberTool("a", 1, {"parameters": {"properties": {"x": {"type": kind}}}}, "")
    source = build_composite(
        [member, member], [None, "x"], [RecordedRun("r", ({"x": 1}, {}), 1)], pattern_id="p"
    ).code
    namespace: dict[str, object] = {}
    exec(compile(source, "<composite>", "exec"), namespace)
    handoff = namespace["_handoff"]
    assert callable(handoff)
    assert handoff(value, kind) == coerce(value, {"type": kind})[0]


REVERSE_V2 = '''"""Reversal, written another way."""


def reverse_string(text: str) -> str:
    """Reverse a string or text: its characters in reverse order.

    Args:
        text: the text to reverse.
    """
    return "".join(reversed(text))


def test_reverses() -> None:
    assert reverse_string("hello") == "olleh"
'''


def test_a_new_member_version_builds_the_composite_again(app: Selfeng) -> None:
    from selfeng.core.tooldef import parse_tool

    for _ in range(3):
        ask(app, SCENARIO)
    app.add_tool(parse_tool(REVERSE_V2, "reverse_string"))
    registered = of_type(app, CompositeRegistered)
    assert [e.members for e in registered] == [  # type: ignore[attr-defined]
        ("percent_of@1", "reverse_string@1"),
        ("percent_of@1", "reverse_string@2"),
    ]
    done = completed(ask(app, SCENARIO))
    assert done.tools == ("percent_of_then_reverse_string@2",)
    assert done.answer == "52"


def test_a_stale_composite_is_not_used(app: Selfeng) -> None:
    from selfeng.consumers.request_handler import RequestHandler
    from selfeng.consumers.search import ToolSearch
    from selfeng.core.tooldef import parse_tool

    for _ in range(3):
        ask(app, SCENARIO)
    # register v2 of a member without letting the learners react: the composite is stale
    broken = REVERSE_V2.replace('"".join(reversed(text))', "text[::-1].upper()").replace(
        '"olleh"', '"OLLEH"'
    )
    learners = app.learners
    app.__dict__["learners"] = []
    try:
        app.add_tool(parse_tool(broken, "reverse_string"))
    finally:
        app.__dict__["learners"] = learners
    handler = RequestHandler(lambda: app.sandbox, ToolSearch(app.embedder))
    received = RequestReceived(prompt=SCENARIO, answered_inline=True)
    events = handler.handle(received, app.handler_state())
    assert completed(events).tools == ("percent_of@1", "reverse_string@2")


def test_an_arm_promotes_by_its_own_criteria_and_main_does_not_use_that_composite(
    app: Selfeng,
) -> None:
    from selfeng.schemas import ForkCreated

    app.append([ForkCreated(fork="loose", policies={"composite.min_frequency": 2})])

    def ask_arm(prompt: str) -> list[Event]:
        received = RequestReceived(
            prompt=prompt, client="test", answered_inline=True, policy_arm="loose"
        )
        app.append([received])
        return app.handle(received)

    ask_arm(SCENARIO)
    second = ask_arm(SCENARIO)  # two of the arm's requests meet the arm's criteria
    assert [e.tool for e in second if isinstance(e, CompositeRegistered)] == [
        "percent_of_then_reverse_string"
    ]
    # main has seen none of them, and its criteria ask for 3: it answers step by step
    in_main = completed(ask(app, SCENARIO))
    assert in_main.tools == ("percent_of@1", "reverse_string@1")
    assert completed(ask_arm("Calculate 10% of 90 and reverse the result")).tools == (
        "percent_of_then_reverse_string@1",
    )
    ask(app, SCENARIO)
    assert completed(ask(app, SCENARIO)).tools == ("percent_of@1", "reverse_string@1")
    # the third request of main's own met main's criteria: now main uses it
    assert completed(ask(app, "Calculate 20% of 60 and reverse the result")).tools == (
        "percent_of_then_reverse_string@1",
    )
    assert len(of_type(app, PatternDetected)) == 1  # announced once, by the arm
