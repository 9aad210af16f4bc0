"""Experiments: A/B tests between policy arms, and the outcomes of each arm's requests.

``ExperimentStarted`` names the arms (each served by a fork), the traffic split, the metric
compared and the guardrails. While an experiment runs, every request is assigned an arm
(``assign``: a hash of its session id, or its request id without a session, so a session
keeps its arm) and carries the arm's fork as ``policy_arm`` on its events. This fold reads
those events and keeps, per arm, what the judge compares: requests completed, answered,
rated bad after being answered (confidently wrong), abstained on, served from the cache,
latency, LLM calls and tokens. Sums are whole numbers (microseconds for latency), so the
state is the same in every fold order.

Every arm, the control included, is a fork of its own (the control's pins nothing, so it
answers as main does), so a request's ``policy_arm`` names its experiment and arm whatever
else runs. A request folded before its experiment's start (Kafka interleaves topics) is
counted when the start arrives; requests keep counting after the conclusion (the judge's
statistics at the time are in ``ExperimentConcluded``), so the sums do not depend on the
order of keys. An ``ExperimentStarted`` that is not valid is recorded as refused with the
reason, and never stops a fold.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Literal, TypedDict, cast

from pydantic import JsonValue

from selfeng.core.sequential import Moments
from selfeng.projections.base import FoldContext, Projection
from selfeng.schemas import (
    Event,
    ExperimentConcluded,
    ExperimentStarted,
    FeedbackGiven,
    LLMCalled,
    RequestCompleted,
)

MAX_REQUESTS = 200_000
"""Request rows kept (the oldest go first): enough to apply a late rating to its arm."""


@dataclass(frozen=True)
class Metric:
    """A metric an experiment can compare arms on."""

    name: str
    proportion: bool
    """Whether it is the share of requests with an outcome (a mean of 0/1)."""
    higher_is_better: bool
    description: str


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("success_rate", True, True, "answered and not rated bad, per request"),
        Metric("wrong_rate", True, False, "answered and then rated bad, per request"),
        Metric("abstention_rate", True, False, "not answered, per request"),
        Metric("cache_hit_rate", True, True, "answered wholly from the cache, per request"),
        Metric("latency_ms", False, False, "the handler's time per request"),
        Metric("llm_calls", False, False, "LLM calls per request"),
        Metric("llm_tokens", False, False, "LLM tokens per request"),
    )
}
"""The metrics, by name."""


class ArmOutcome(TypedDict):
    """What an arm's completed requests did, as whole-number sums."""

    n: int
    ok: int
    wrong: int
    cached: int
    latency_us: int
    latency_us2: int
    llm_calls: int
    llm_calls2: int
    llm_tokens: int
    llm_tokens2: int


Status = Literal["running", "concluded", "refused"]


class Experiment(TypedDict):
    """One experiment: its design, status and the outcomes per arm."""

    arms: dict[str, str]
    split: dict[str, float]
    control: str
    metric: str
    guardrails: list[str]
    policies: dict[str, dict[str, JsonValue]]
    min_samples: int
    max_samples: int
    alpha: float
    reason: str
    started_by: str
    started_at: str
    started_id: str
    status: Status
    refused: str
    concluded: dict[str, JsonValue] | None
    outcomes: dict[str, ArmOutcome]


class RequestRow(TypedDict):
    """One request served by an arm: the arm and what it contributes to the arm's sums."""

    label: str | None
    experiment: str | None
    arm: str | None
    completed: bool
    ok: bool
    wrong: bool
    cached: bool
    latency_us: int
    llm_calls: int
    llm_tokens: int


class ExperimentsState(TypedDict):
    """Experiments by name, the rows of requests served by an arm, the ones running."""

    experiments: dict[str, Experiment]
    requests: dict[str, RequestRow]
    running: list[str]


def _empty_outcome() -> ArmOutcome:
    return ArmOutcome(
        n=0,
        ok=0,
        wrong=0,
        cached=0,
        latency_us=0,
        latency_us2=0,
        llm_calls=0,
        llm_calls2=0,
        llm_tokens=0,
        llm_tokens2=0,
    )


def _new_row() -> RequestRow:
    return RequestRow(
        label=None,
        experiment=None,
        arm=None,
        completed=False,
        ok=False,
        wrong=False,
        cached=False,
        latency_us=0,
        llm_calls=0,
        llm_tokens=0,
    )


def design_problem(event: ExperimentStarted) -> str:
    """Why an experiment's design is not valid, or "" when it is."""
    if len(event.arms) < 2:
        return "an experiment needs at least two arms"
    if event.control not in event.arms:
        return f"the control {event.control!r} is not one of the arms"
    if len(set(event.arms.values())) != len(event.arms):
        return "every arm needs a fork of its own"
    if set(event.split) != set(event.arms):
        return "the split must give a share to every arm, and to nothing else"
    shares = list(event.split.values())
    if any(not math.isfinite(s) or s < 0 for s in shares) or abs(math.fsum(shares) - 1) > 1e-6:
        return "the split's shares must be positive and sum to 1"
    for metric in (event.metric, *event.guardrails):
        if metric not in METRICS:
            return f"no metric {metric!r} (known: {', '.join(METRICS)})"
    if event.max_samples < event.min_samples:
        return "max_samples is below min_samples"
    return ""


class ExperimentsProjection(Projection[ExperimentsState]):
    """Experiments and the outcomes of their arms."""

    name = "experiments"
    version = 1
    handles = (ExperimentStarted, ExperimentConcluded, RequestCompleted, FeedbackGiven, LLMCalled)
    armed_only = frozenset({"RequestCompleted"})  # an arm's answers are the outcomes
    tables = ("experiments", "requests")

    def initial(self) -> ExperimentsState:
        return ExperimentsState(experiments={}, requests={}, running=[])

    def apply(self, state: ExperimentsState, event: Event, ctx: FoldContext) -> ExperimentsState:
        match event:
            case ExperimentStarted():
                self._started(state, event)
            case ExperimentConcluded(experiment=name):
                experiment = state["experiments"].get(name)
                if experiment is not None and experiment["status"] == "running":
                    experiment["status"] = "concluded"
                    experiment["concluded"] = {
                        "winner": event.winner,
                        "reason": event.reason,
                        "decided_by": event.decided_by,
                        "promoted": event.promoted,
                        "stats": event.stats,
                        "at": event.occurred_at.isoformat(),
                    }
                    state["running"] = [n for n in state["running"] if n != name]
            case RequestCompleted(policy_arm=str(label)):
                row = self._row(state, event.key)
                found = arm_of(state, label) if row["arm"] is None else None
                self._update(
                    state,
                    event.key,
                    row,
                    label=label,
                    experiment=found[0] if found else row["experiment"],
                    arm=found[1] if found else row["arm"],
                    completed=True,
                    ok=event.ok,
                    wrong=row["wrong"] and event.ok,
                    cached=event.cached,
                    latency_us=round(event.duration_ms * 1000),
                )
            case FeedbackGiven(rating=rating):
                rated = state["requests"].get(event.key)
                if rated is not None:
                    self._update(state, event.key, rated, wrong=rating == "bad" and rated["ok"])
            case LLMCalled(subject=subject):
                row = self._row(state, subject)
                self._update(
                    state,
                    subject,
                    row,
                    llm_calls=row["llm_calls"] + 1,
                    llm_tokens=row["llm_tokens"] + event.prompt_tokens + event.completion_tokens,
                )
        return state

    def _started(self, state: ExperimentsState, event: ExperimentStarted) -> None:
        name = event.experiment
        if name in state["experiments"]:
            return  # a name is used once: its record stays as it was
        problem = design_problem(event)
        state["experiments"][name] = Experiment(
            arms=dict(event.arms),
            split=dict(event.split),
            control=event.control,
            metric=event.metric,
            guardrails=list(event.guardrails),
            policies={arm: dict(values) for arm, values in event.policies.items()},
            min_samples=event.min_samples,
            max_samples=event.max_samples,
            alpha=event.alpha,
            reason=event.reason,
            started_by=event.started_by,
            started_at=event.occurred_at.isoformat(),
            started_id=str(event.event_id),
            status="refused" if problem else "running",
            refused=problem,
            concluded=None,
            outcomes={arm: _empty_outcome() for arm in event.arms},
        )
        if problem:
            return
        state["running"] = sorted([*state["running"], name])
        # requests its arms served that were folded first (Kafka interleaves topics)
        labels = {fork: arm for arm, fork in event.arms.items()}
        for key, row in list(state["requests"].items()):
            label = row["label"]
            if (
                row["arm"] is None
                and label in labels
                and arm_of(state, label)
                == (
                    name,
                    labels[label],
                )
            ):
                self._update(state, key, row, experiment=name, arm=labels[label])

    @staticmethod
    def _row(state: ExperimentsState, key: str) -> RequestRow:
        """A request's row, or a new one (not stored until it is updated)."""
        requests = state["requests"]
        row = requests.get(key)
        if row is not None:
            return row
        while len(requests) >= MAX_REQUESTS:
            del requests[next(iter(requests))]
        return _new_row()

    @staticmethod
    def _update(
        state: ExperimentsState, key: str, row: RequestRow, **changes: object
    ) -> RequestRow:
        """Set a request's row, moving its contribution in its arm's sums; the new row."""
        outcome = _outcome_of(state, row)
        if outcome is not None:
            _add(outcome, row, -1)
        updated: dict[str, object] = {**row, **changes}
        new = cast("RequestRow", updated)
        state["requests"][key] = new
        outcome = _outcome_of(state, new)
        if outcome is not None:
            _add(outcome, new, 1)
        return new


def _outcome_of(state: ExperimentsState, row: RequestRow) -> ArmOutcome | None:
    """The sums a completed row counts in: its arm's."""
    if not row["completed"] or row["experiment"] is None or row["arm"] is None:
        return None
    experiment = state["experiments"].get(row["experiment"])
    if experiment is None:
        return None
    return experiment["outcomes"].get(row["arm"])


def _add(outcome: ArmOutcome, row: RequestRow, sign: int) -> None:
    outcome["n"] += sign
    outcome["ok"] += sign * row["ok"]
    outcome["wrong"] += sign * row["wrong"]
    outcome["cached"] += sign * row["cached"]
    outcome["latency_us"] += sign * row["latency_us"]
    outcome["latency_us2"] += sign * row["latency_us"] ** 2
    outcome["llm_calls"] += sign * row["llm_calls"]
    outcome["llm_calls2"] += sign * row["llm_calls"] ** 2
    outcome["llm_tokens"] += sign * row["llm_tokens"]
    outcome["llm_tokens2"] += sign * row["llm_tokens"] ** 2


def arm_of(state: ExperimentsState, label: str) -> tuple[str, str] | None:
    """The experiment and arm whose fork is ``label`` (a running experiment's first, then
    a concluded one's: a request may be folded after its experiment's conclusion)."""
    experiments = state["experiments"]
    running = list(state["running"])
    found = _arm_among(experiments, running, label)
    if found is None:
        found = _arm_among(experiments, sorted(n for n in experiments if n not in running), label)
    return found


def _arm_among(
    experiments: dict[str, Experiment], names: list[str], label: str
) -> tuple[str, str] | None:
    for name in names:
        experiment = experiments[name]
        if experiment["status"] == "refused":
            continue
        for arm, fork in experiment["arms"].items():
            if fork == label:
                return name, arm
    return None


def bucket(experiment: str, unit: str) -> float:
    """Where ``unit`` (a session or request id) falls in [0, 1) for ``experiment``: the same
    every time, and independent between experiments."""
    digest = hashlib.sha256(f"{experiment}\x00{unit}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign(state: ExperimentsState, unit: str) -> tuple[str, str, str] | None:
    """The arm that serves ``unit`` (a session or request id): (experiment, arm, the fork
    that is its ``policy_arm``), or None when no experiment runs. With several running, the
    unit falls in one of them (by its hash), then in one of its arms by the split."""
    return Assigner()(state, unit)


@dataclass(frozen=True)
class Design:
    """What assigning a unit to an experiment's arms reads: set when it starts."""

    split: tuple[tuple[str, float], ...]
    control: str
    arms: dict[str, str]


class Assigner:
    """``assign``, reading each running experiment's design once, not at every request (a
    design is set when the experiment starts, and a name is used once)."""

    def __init__(self) -> None:
        # the running experiments and their designs, replaced as one (threads share it)
        self._plan: tuple[tuple[str, ...], dict[str, Design]] = ((), {})

    def __call__(self, state: ExperimentsState, unit: str) -> tuple[str, str, str] | None:
        running = tuple(state["running"])  # a copy: a request thread reads while a fold writes
        if not running:
            return None
        known, designs = self._plan
        if running != known:
            designs = {}
            for name in running:
                experiment = state["experiments"].get(name)
                if experiment is not None:
                    split = tuple(experiment["split"].items())
                    designs[name] = Design(split, experiment["control"], dict(experiment["arms"]))
            self._plan = (running, designs)
        name = running[int(bucket("", unit) * len(running))] if len(running) > 1 else running[0]
        design = designs.get(name)
        if design is None:
            return None
        point = bucket(name, unit)
        cumulative = 0.0
        chosen = design.control
        for arm, share in design.split:
            cumulative += share
            if point < cumulative:
                chosen = arm
                break
        return name, chosen, design.arms[chosen]


def moments(outcome: ArmOutcome, metric: str) -> Moments:
    """An arm's count, sum and sum of squares for a metric."""
    n = outcome["n"]
    match metric:
        case "success_rate":
            good = outcome["ok"] - outcome["wrong"]
            return Moments(n, good, good)
        case "wrong_rate":
            return Moments(n, outcome["wrong"], outcome["wrong"])
        case "abstention_rate":
            return Moments(n, n - outcome["ok"], n - outcome["ok"])
        case "cache_hit_rate":
            return Moments(n, outcome["cached"], outcome["cached"])
        case "latency_ms":
            return Moments(n, outcome["latency_us"] / 1e3, outcome["latency_us2"] / 1e6)
        case "llm_calls":
            return Moments(n, outcome["llm_calls"], outcome["llm_calls2"])
        case "llm_tokens":
            return Moments(n, outcome["llm_tokens"], outcome["llm_tokens2"])
    raise KeyError(f"no metric {metric!r}")


def summary(outcome: ArmOutcome) -> dict[str, float | int]:
    """Every metric's value for an arm, and its request count."""
    out: dict[str, float | int] = {"requests": outcome["n"]}
    for name in METRICS:
        out[name] = round(moments(outcome, name).mean, 6)
    return out
