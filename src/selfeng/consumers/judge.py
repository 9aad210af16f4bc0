"""The experiment judge: concludes the running A/B test once the evidence is in.

After every tenth completed request served by an arm (and each rating), the judge compares
every arm with the control on the experiment's metric with an always-valid sequential test
(``selfeng.core.sequential``: the mSPRT), so looking after every request keeps the false
positive rate at ``alpha`` (split between the arms when there are several). It waits until
every arm has ``min_samples`` requests. An arm wins when it is significantly better on the
metric and no guardrail metric is significantly worse; the control wins when every other arm
is significantly worse (or fails a guardrail); once every arm has ``max_samples`` requests
with no verdict, the experiment ends with no winner and the control's policies stay.

The conclusion is one atomic append: ``ExperimentConcluded`` with the statistics, a
``PolicyChanged`` for each policy the winning arm pinned (none when the control wins), and
``ForkDropped`` for the arms' forks. Its ids derive from the experiment's start, and it is
appended only while the experiment's key holds nothing newer than what the judge read, so a
second judge, or a person stopping the experiment meanwhile, never makes it conclude twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import JsonValue

from selfeng.consumers.learner import Learner
from selfeng.core.log import ConcurrencyConflict
from selfeng.core.sequential import Comparison, compare
from selfeng.projections.experiments import (
    METRICS,
    Experiment,
    ExperimentsState,
    moments,
    summary,
)
from selfeng.schemas import (
    Event,
    ExperimentConcluded,
    ExperimentStarted,
    FeedbackGiven,
    ForkCreated,
    ForkDropped,
    PolicyChanged,
    RequestCompleted,
)
from selfeng.schemas.ids import derived_uuid7

TAU_PROPORTION = 0.05
"""The mixing scale of the test for a proportion: most ready for differences of about five
points."""
LOOK_EVERY = 10
"""The judge looks after every this many completed requests served by an arm (per process)."""
TAU_EFFECT = 0.25
"""The mixing scale for a mean (latency, tokens), in units of the arms' standard deviation."""


def comparison(experiment: Experiment, arm: str, metric: str, alpha: float) -> Comparison:
    """The sequential test of ``arm`` against the control on ``metric``."""
    spec = METRICS[metric]
    control = moments(experiment["outcomes"][experiment["control"]], metric)
    other = moments(experiment["outcomes"][arm], metric)
    if spec.proportion:
        tau = TAU_PROPORTION
    else:
        spread = (control.variance + other.variance) / 2
        tau = TAU_EFFECT * max(spread**0.5, 1e-6)
    return compare(control, other, alpha=alpha, tau=tau, proportion=spec.proportion)


def _better(metric: str, difference: float) -> bool:
    return difference > 0 if METRICS[metric].higher_is_better else difference < 0


@dataclass
class Verdict:
    """What the statistics say now: a winner (an arm, or None for no difference), why, and
    the numbers; ``final`` is False while the experiment should go on."""

    final: bool
    winner: str | None = None
    reason: str = ""
    stats: dict[str, JsonValue] = field(default_factory=dict)


def verdict(experiment: Experiment, *, detailed: bool = False) -> Verdict:
    """The judge's reading of an experiment's outcomes (pure). The statistics are filled in
    when the verdict is final, or when ``detailed`` asks for them (the judge looks after
    every request: most looks conclude nothing and need none)."""
    control = experiment["control"]
    others = [arm for arm in experiment["arms"] if arm != control]
    alpha = experiment["alpha"] / max(1, len(others))
    metric = experiment["metric"]
    counts = [experiment["outcomes"][arm]["n"] for arm in experiment["arms"]]
    tests: dict[str, JsonValue] = {}
    better: list[tuple[float, str]] = []
    worse: list[str] = []
    notes: dict[str, str] = {}
    early = min(counts) < experiment["min_samples"]
    for arm in others if detailed or not early else ():
        main = comparison(experiment, arm, metric, alpha)
        guards = {g: comparison(experiment, arm, g, alpha) for g in experiment["guardrails"]}
        failed = [g for g, c in guards.items() if c.significant and not _better(g, c.difference)]
        tests[arm] = {
            metric: main.as_dict(),
            "guardrails": {g: c.as_dict() for g, c in guards.items()},
        }
        if failed:
            worse.append(arm)
            notes[arm] = f"{arm} is significantly worse on guardrail {', '.join(failed)}"
        elif main.significant and _better(metric, main.difference):
            better.append((abs(main.difference), arm))
            notes[arm] = (
                f"{arm} is significantly better on {metric} ({main.difference:+.4f}, "
                f"always-valid p {main.p_value:.4g})"
            )
        elif main.significant:
            worse.append(arm)
            notes[arm] = f"{arm} is significantly worse on {metric} ({main.difference:+.4f})"
    if early:
        ruling = Verdict(False, reason="fewer than min_samples in an arm")
    elif better:
        winner = max(better)[1]
        ruling = Verdict(True, winner, notes[winner] + "; guardrails held")
    elif len(worse) == len(others):
        ruling = Verdict(True, control, "; ".join(notes[arm] for arm in worse))
    elif min(counts) >= experiment["max_samples"]:
        ruling = Verdict(
            True,
            None,
            f"every arm reached max_samples ({experiment['max_samples']}) with no significant "
            f"difference on {metric}: the control's policies stay",
        )
    else:
        ruling = Verdict(False, reason="no significant difference yet")
    if ruling.final or detailed:
        ruling.stats = {
            "test": "mSPRT, normal mixture",
            "tau_proportion": TAU_PROPORTION,
            "alpha": experiment["alpha"],
            "alpha_per_arm": alpha,
            "metric": metric,
            "arms": {arm: dict(summary(o)) for arm, o in experiment["outcomes"].items()},
            "tests": tests,
        }
    return ruling


def conclusion(
    name: str,
    experiment: Experiment,
    ruling: Verdict,
    *,
    decided_by: str,
    event_id: Callable[[str], uuid.UUID] | None = None,
) -> list[Event]:
    """The events that end an experiment: ExperimentConcluded, the winner's PolicyChanged
    (none when the control or no arm won) and ForkDropped for the arms' forks. ``event_id``
    gives each event's id from a name (for ids derived from a cause)."""

    def ids(part: str) -> dict[str, uuid.UUID]:
        return {"event_id": event_id(part)} if event_id is not None else {}

    winner = ruling.winner
    promoted: dict[str, JsonValue] = (
        dict(experiment["policies"].get(winner, {}))
        if winner is not None and winner != experiment["control"]
        else {}
    )
    events: list[Event] = [
        ExperimentConcluded(
            experiment=name,
            stats=ruling.stats,
            winner=winner,
            reason=ruling.reason,
            decided_by=decided_by,
            promoted=promoted,
            **ids("concluded"),
        )
    ]
    for policy, value in promoted.items():
        events.append(
            PolicyChanged(
                name=policy,
                value=value,
                reason=f"experiment {name}: arm {winner} won ({ruling.reason})",
                changed_by=decided_by,
                **ids(f"policy:{policy}"),
            )
        )
    for fork in experiment["arms"].values():
        if fork != "main":
            events.append(ForkDropped(fork=fork, **ids(f"fork:{fork}")))
    return events


def opening(
    name: str,
    arms: Mapping[str, Mapping[str, JsonValue]],
    control: str,
    split: Mapping[str, float],
    *,
    event_id: Callable[[str], uuid.UUID] | None = None,
    **design: Any,
) -> list[Event]:
    """The events that start an experiment: a ``ForkCreated`` per arm (``NAME.ARM``; the
    control's pins nothing) and the ``ExperimentStarted`` naming them (``design``: metric,
    guardrails, min_samples, max_samples, alpha, reason, started_by)."""

    def ids(part: str) -> dict[str, uuid.UUID]:
        return {"event_id": event_id(part)} if event_id is not None else {}

    forks = {arm: f"{name}.{arm}" for arm in arms}
    events: list[Event] = [
        ForkCreated(
            fork=fork,
            policies=dict(arms[arm]),
            reason=f"arm {arm} of experiment {name}",
            **ids(f"fork:{fork}"),
        )
        for arm, fork in forks.items()
    ]
    events.append(
        ExperimentStarted(
            experiment=name,
            arms=forks,
            split=dict(split),
            policies={arm: dict(pins) for arm, pins in arms.items() if pins},
            control=control,
            **design,
            **ids("started"),
        )
    )
    return events


class Judge(Learner):
    """Reacts to the outcomes of a running experiment's requests; concludes it when the
    sequential test (or the maximum samples) says so."""

    name: ClassVar[str] = "judge"
    reacts_to: ClassVar[frozenset[str]] = frozenset({"RequestCompleted", "FeedbackGiven"})

    _since_look: int = 0

    def wants(self, event: Event) -> bool:
        """Every ``LOOK_EVERY``-th completed request served by an arm, and every rating (the
        sequential test is valid whatever the schedule of looks; looking less often only
        delays a verdict by at most that many requests)."""
        if isinstance(event, FeedbackGiven):
            return True
        if not isinstance(event, RequestCompleted) or event.policy_arm is None:
            return False
        self._since_look = (self._since_look + 1) % LOOK_EVERY
        return self._since_look == 0

    def react(self, event: Event) -> list[Event]:
        """Conclude each running experiment whose statistics allow it; otherwise nothing."""
        try:
            state: ExperimentsState = self.ports.state("experiments")
        except KeyError:  # a runtime without the experiments projection
            return []
        out: list[Event] = []
        for name in list(state["running"]):
            experiment = state["experiments"].get(name)
            if experiment is not None and verdict(experiment).final:
                out += self._conclude(name, event)  # most looks conclude nothing
        return out

    def _conclude(self, name: str, event: Event) -> list[Event]:
        version = self.ports.key_version(name)  # before reading again: a stop since conflicts
        state: ExperimentsState = self.ports.state("experiments")
        experiment = state["experiments"].get(name)
        if experiment is None or experiment["status"] != "running":
            return []
        ruling = verdict(experiment)
        if not ruling.final:
            return []
        ms = int(event.occurred_at.timestamp() * 1000)
        started = experiment["started_id"]
        events = conclusion(
            name,
            experiment,
            ruling,
            decided_by="experiment-judge",
            event_id=lambda part: derived_uuid7(ms, started, self.name, part),
        )
        try:
            return self.ports.record(events, expected_versions={name: version})
        except ConcurrencyConflict:
            return []  # concluded or stopped meanwhile


def describe(name: str, experiment: Experiment) -> dict[str, JsonValue]:
    """An experiment as JSON-able data: its design, arms with their outcomes so far, status,
    the statistics now (while it runs) and the verdict (`selfeng experiment show --json`,
    `GET /v1/experiments`)."""
    arms: dict[str, JsonValue] = {
        arm: {
            "fork": fork,
            "split": experiment["split"].get(arm, 0.0),
            "policies": dict(experiment["policies"].get(arm, {})),
            **summary(experiment["outcomes"][arm]),
        }
        for arm, fork in experiment["arms"].items()
    }
    out: dict[str, JsonValue] = {
        "experiment": name,
        "status": experiment["status"],
        "metric": experiment["metric"],
        "guardrails": list(experiment["guardrails"]),
        "control": experiment["control"],
        "min_samples": experiment["min_samples"],
        "max_samples": experiment["max_samples"],
        "alpha": experiment["alpha"],
        "started_at": experiment["started_at"],
        "started_by": experiment["started_by"],
        "reason": experiment["reason"],
        "arms": arms,
    }
    if experiment["status"] == "refused":
        out["refused"] = experiment["refused"]
    if experiment["status"] == "running":
        ruling = verdict(experiment, detailed=True)
        out["now"] = {"reason": ruling.reason, "tests": ruling.stats.get("tests", {})}
    out["concluded"] = experiment["concluded"]
    return out
