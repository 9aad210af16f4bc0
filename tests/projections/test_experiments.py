"""The experiments fold: arms' outcomes, assignment, refused designs, order independence."""

from __future__ import annotations

import random
from collections import Counter

from selfeng.core.mapper import append_events
from selfeng.infra.log.memory import MemoryLog
from selfeng.projections.base import MAIN, FoldContext
from selfeng.projections.experiments import (
    Assigner,
    ExperimentsProjection,
    ExperimentsState,
    assign,
    moments,
    summary,
)
from selfeng.projections.replay import rebuild
from selfeng.schemas import (
    Event,
    ExperimentConcluded,
    ExperimentStarted,
    FeedbackGiven,
    LLMCalled,
    RequestCompleted,
)
from tests.projections.helpers import interleave

ARMS = {"control": "e1.control", "lenient": "e1.lenient"}


def started(name: str = "e1", **kwargs: object) -> ExperimentStarted:
    fields: dict[str, object] = {
        "experiment": name,
        "arms": {arm: f"{name}.{arm}" for arm in ARMS},
        "split": {"control": 0.5, "lenient": 0.5},
        "guardrails": ("wrong_rate",),
        "policies": {"lenient": {"retrieval.threshold": 0.3}},
        **kwargs,
    }
    return ExperimentStarted.model_validate(fields)


def completed(key: str, arm: str | None, ok: bool = True, **kwargs: object) -> RequestCompleted:
    return RequestCompleted.model_validate(
        {"key": key, "ok": ok, "answer": "a", "policy_arm": arm, "duration_ms": 2.5, **kwargs}
    )


def fold(events: list[Event]) -> ExperimentsState:
    projection = ExperimentsProjection()
    state = projection.initial()
    ctx = FoldContext(MAIN, lambda name: None)
    for event in events:
        state = projection.apply(state, event, ctx)
    return state


def test_outcomes_are_kept_per_arm() -> None:
    state = fold(
        [
            started(),
            completed("r1", "e1.control"),
            completed("r2", "e1.lenient", cached=True),
            completed("r3", "e1.lenient", ok=False),
            FeedbackGiven(key="r2", rating="bad"),
            completed("r4", None),
            completed("r5", "elsewhere"),
        ]
    )
    experiment = state["experiments"]["e1"]
    assert experiment["status"] == "running"
    assert state["running"] == ["e1"]
    control, lenient = (summary(experiment["outcomes"][arm]) for arm in ARMS)
    assert control == {**control, "requests": 1, "success_rate": 1.0, "latency_ms": 2.5}
    assert lenient["requests"] == 2
    assert lenient["success_rate"] == 0.0  # one abstained, one answered and rated bad
    assert lenient["wrong_rate"] == 0.5
    assert lenient["abstention_rate"] == 0.5
    assert lenient["cache_hit_rate"] == 0.5
    assert "r4" not in state["requests"]


def test_a_good_rating_after_a_bad_one_restores_success() -> None:
    state = fold(
        [
            started(),
            completed("r1", "e1.lenient"),
            FeedbackGiven(key="r1", rating="bad"),
            FeedbackGiven(key="r1", rating="good"),
        ]
    )
    assert summary(state["experiments"]["e1"]["outcomes"]["lenient"])["success_rate"] == 1.0


def test_llm_calls_count_whether_folded_before_or_after_the_answer() -> None:
    call = LLMCalled(
        subject="r1",
        purpose="planning",
        attempt=1,
        model="m",
        messages=(),
        prompt_tokens=90,
        completion_tokens=10,
    )
    for events in (
        [call, started(), completed("r1", "e1.control")],
        [started(), completed("r1", "e1.control"), call],
    ):
        outcome = fold(list(events))["experiments"]["e1"]["outcomes"]["control"]
        assert (outcome["llm_calls"], outcome["llm_tokens"]) == (1, 100)
        assert moments(outcome, "llm_tokens").mean == 100


def test_a_request_folded_before_its_experiment_counts() -> None:
    state = fold([completed("r1", "e1.lenient"), started()])
    assert state["experiments"]["e1"]["outcomes"]["lenient"]["n"] == 1


def test_invalid_designs_are_refused_with_the_reason() -> None:
    cases = {
        "one": started("one", arms={"control": "one.control"}, split={"control": 1.0}),
        "split": started("split", split={"control": 0.7, "lenient": 0.7}),
        "metric": started("metric", metric="happiness"),
        "shared": started("shared", arms={"control": "x", "lenient": "x"}),
    }
    state = fold(list(cases.values()))
    reasons = {name: e["refused"] for name, e in state["experiments"].items()}
    assert all(e["status"] == "refused" for e in state["experiments"].values())
    assert "two arms" in reasons["one"]
    assert "sum to 1" in reasons["split"]
    assert "happiness" in reasons["metric"]
    assert "fork of its own" in reasons["shared"]
    assert state["running"] == []


def test_a_conclusion_stops_assignment_and_is_kept() -> None:
    state = fold([started(), ExperimentConcluded(experiment="e1", winner="lenient", reason="won")])
    assert state["running"] == []
    assert state["experiments"]["e1"]["concluded"]["winner"] == "lenient"  # type: ignore[index]
    assert assign(state, "s1") is None


def test_assignment_is_sticky_and_follows_the_split() -> None:
    state = fold([started(split={"control": 0.8, "lenient": 0.2})])
    first = [assign(state, f"session-{i}") for i in range(4000)]
    assert first == [assign(state, f"session-{i}") for i in range(4000)]
    shares = Counter(a[1] for a in first if a is not None)
    assert abs(shares["lenient"] / 4000 - 0.2) < 0.03
    assert {a[2] for a in first if a is not None} == {"e1.control", "e1.lenient"}


def test_an_assigner_reads_the_designs_again_when_the_running_experiments_change() -> None:
    """The request path's ``Assigner`` keeps the running experiments' designs: it assigns
    as ``assign`` does, and follows a conclusion and a new start."""
    assigner = Assigner()
    running = fold([started(split={"control": 0.8, "lenient": 0.2})])
    assert [assigner(running, f"s{i}") for i in range(500)] == [
        assign(running, f"s{i}") for i in range(500)
    ]
    concluded = fold([started(), ExperimentConcluded(experiment="e1", winner=None)])
    assert assigner(concluded, "s1") is None
    other = fold([started(), ExperimentConcluded(experiment="e1"), started("e2")])
    found = assigner(other, "s1")
    assert found is not None
    assert found[0] == "e2"
    assert found[2].startswith("e2.")


def test_the_fold_does_not_depend_on_the_interleaving_of_keys() -> None:
    rnd = random.Random(3)
    events: list[Event] = [started()]
    for i in range(60):
        arm = rnd.choice(list(ARMS.values()))
        events.append(completed(f"r{i}", arm, ok=rnd.random() < 0.7, cached=rnd.random() < 0.3))
        if rnd.random() < 0.3:
            events.append(FeedbackGiven(key=f"r{i}", rating=rnd.choice(["good", "bad"])))
    events.append(ExperimentConcluded(experiment="e1", winner=None))
    dumps = []
    for order in (events, interleave(events, rnd), interleave(events, rnd)):
        log = MemoryLog()
        append_events(log, order)
        dumps.append(
            rebuild(log, lambda fork: [ExperimentsProjection()], MAIN).dumped("experiments")[
                "experiments"
            ]
        )
    assert dumps[0] == dumps[1] == dumps[2]
