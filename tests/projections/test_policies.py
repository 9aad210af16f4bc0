from selfeng.projections.base import FoldContext, ForkSpec
from selfeng.projections.policies import (
    PoliciesProjection,
    PoliciesState,
    live_forks,
    policy_values,
)
from selfeng.schemas import (
    Event,
    ExperimentConcluded,
    ExperimentStarted,
    ForkCreated,
    ForkDropped,
    PolicyChanged,
    PolicyRolledBack,
)


def fold(events: list[Event], fork: ForkSpec | None = None) -> PoliciesState:
    projection = PoliciesProjection(fork)
    state = projection.initial()
    ctx = FoldContext(projection.fork, lambda name: state["policies"][name]["value"])
    for event in events:
        state = projection.apply(state, event, ctx)
    return state


def test_defaults_are_version_one() -> None:
    state = fold([])
    record = state["policies"]["retrieval.threshold"]
    assert (record["value"], record["version"]) == (0.2, 1)
    assert record["history"][0]["by"] == "default"


def test_changes_add_versions_and_rejections_change_nothing() -> None:
    state = fold(
        [
            PolicyChanged(name="retrieval.threshold", value=0.5, reason="fewer matches"),
            PolicyChanged(name="retrieval.threshold", value=7, reason="typo"),
            PolicyChanged(name="retrieval.threshold", value=0.6, changed_by="auto-tuner"),
        ]
    )
    record = state["policies"]["retrieval.threshold"]
    assert (record["value"], record["version"]) == (0.6, 3)
    assert [h["version"] for h in record["history"]] == [1, 2, None, 3]
    rejected = record["history"][2]
    assert rejected["applied"] is False
    assert "rejected" in rejected["reason"]
    assert record["history"][3]["by"] == "auto-tuner"


def test_rollback_restores_an_earlier_value_as_a_new_version() -> None:
    state = fold(
        [
            PolicyChanged(name="cache.ttl_seconds", value=60),
            PolicyRolledBack(name="cache.ttl_seconds", to_version=1, reason="too short"),
            PolicyRolledBack(name="cache.ttl_seconds", to_version=99),
        ]
    )
    record = state["policies"]["cache.ttl_seconds"]
    assert (record["value"], record["version"]) == (3600, 3)
    assert record["history"][-1]["applied"] is False


def test_unknown_policies_are_kept() -> None:
    state = fold([PolicyChanged(name="team.mode", value="fast")])
    assert policy_values(state)["team.mode"] == "fast"


def test_a_fork_pins_its_values_against_the_log() -> None:
    fork = ForkSpec("strict", {"retrieval.threshold": 0.9})
    state = fold([PolicyChanged(name="retrieval.threshold", value=0.5)], fork)
    record = state["policies"]["retrieval.threshold"]
    assert record["value"] == 0.9
    assert record["pinned"] is True
    assert record["history"][-1]["applied"] is False
    assert "pinned" in record["history"][-1]["reason"]


def test_forks_and_experiments_are_tracked() -> None:
    state = fold(
        [
            ForkCreated(fork="a", policies={"retrieval.threshold": 0.3}),
            ForkCreated(fork="b"),
            ForkDropped(fork="b"),
            ExperimentStarted(
                experiment="e1",
                arms={"control": "main", "low": "a"},
                split={"control": 0.5, "low": 0.5},
            ),
            ExperimentConcluded(experiment="e1", stats={"p_value": 0.01}, winner="low"),
        ]
    )
    assert [f.name for f in live_forks(state)] == ["a"]
    assert live_forks(state)[0].policies == {"retrieval.threshold": 0.3}
    assert state["experiments"]["e1"]["concluded"]["winner"] == "low"


def test_a_fork_pins_only_valid_values_and_records_the_others() -> None:
    state = fold(
        [
            ForkCreated(
                fork="odd",
                policies={
                    "retrieval.threshold": 7,
                    "retrieval.treshold": 0.3,
                    "cache.ttl_seconds": 60,
                },
            )
        ]
    )
    fork = state["forks"]["odd"]
    assert fork["policies"] == {"cache.ttl_seconds": 60}
    assert set(fork["rejected"]) == {"retrieval.threshold", "retrieval.treshold"}
    assert "did you mean retrieval.threshold" in fork["rejected"]["retrieval.treshold"]
    [spec] = live_forks(state)
    in_fork = fold([], ForkSpec("odd", {"retrieval.threshold": 7, "cache.ttl_seconds": 60}))
    threshold = in_fork["policies"]["retrieval.threshold"]
    assert (threshold["value"], threshold["pinned"]) == (0.2, False)
    assert threshold["history"][-1]["applied"] is False
    assert "not pinned" in threshold["history"][-1]["reason"]
    assert in_fork["policies"]["cache.ttl_seconds"]["value"] == 60
    assert spec.policies == {"cache.ttl_seconds": 60}


def test_incomplete_weights_change_nothing() -> None:
    state = fold([PolicyChanged(name="retrieval.weights", value={"similarity": 0.5})])
    record = state["policies"]["retrieval.weights"]
    assert record["version"] == 1
    assert "weights must name" in record["history"][-1]["reason"]
