"""Policies, forks and experiments: current values with their full version history.

Version 1 of every known policy is its default. Each PolicyChanged adds a version; a value
that the policy does not accept is kept in the history as rejected and changes nothing.
In a fork, pinned policies keep the fork's value; the log's changes to them are recorded in
the history as not applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from pydantic import JsonValue

from selfeng.core.policies import POLICIES, validate_policy
from selfeng.projections.base import FoldContext, ForkSpec, Projection
from selfeng.schemas import (
    Event,
    ExperimentConcluded,
    ExperimentStarted,
    ForkCreated,
    ForkDropped,
    PolicyChanged,
    PolicyRolledBack,
)


class HistoryEntry(TypedDict):
    """One version of a policy, or a change that was not applied."""

    version: int | None
    value: JsonValue
    by: str
    reason: str
    at: str | None
    event_id: str | None
    applied: bool


class PolicyRecord(TypedDict):
    """A policy's value in force, its version and history."""

    value: JsonValue
    version: int
    pinned: bool
    history: list[HistoryEntry]


class PoliciesState(TypedDict):
    """The state of the policies projection."""

    policies: dict[str, PolicyRecord]
    forks: dict[str, dict[str, Any]]
    experiments: dict[str, dict[str, Any]]


def _entry(
    version: int | None,
    value: JsonValue,
    by: str,
    reason: str,
    event: Event | None = None,
    applied: bool = True,
) -> HistoryEntry:
    return HistoryEntry(
        version=version,
        value=value,
        by=by,
        reason=reason,
        at=event.occurred_at.isoformat() if event else None,
        event_id=str(event.event_id) if event else None,
        applied=applied,
    )


class PoliciesProjection(Projection[PoliciesState]):
    """Policy values and history, forks and experiments."""

    name = "policies"
    version = 3  # 2: fork pins and retrieval.weights are checked like any change; 3: the
    # search weights retrieval.use_weight and retrieval.nearest_use
    reads_policies = True  # its state is the fork's own: pinned values win
    handles = (
        PolicyChanged,
        PolicyRolledBack,
        ForkCreated,
        ForkDropped,
        ExperimentStarted,
        ExperimentConcluded,
    )

    def __init__(self, fork: ForkSpec | None = None) -> None:
        self.fork = fork or ForkSpec()

    def initial(self) -> PoliciesState:
        policies: dict[str, PolicyRecord] = {}
        for name, spec in POLICIES.items():
            policies[name] = PolicyRecord(
                value=spec.default,
                version=1,
                pinned=False,
                history=[_entry(1, spec.default, "default", spec.description)],
            )
        pinned, rejected = checked_pins(self.fork.policies)
        for name, why in rejected.items():
            record = policies.setdefault(
                name, PolicyRecord(value=None, version=0, pinned=False, history=[])
            )
            value = self.fork.policies[name]
            record["history"].append(
                _entry(None, value, "fork", f"not pinned: {why}", applied=False)
            )
        for name, value in pinned.items():
            record = policies.setdefault(
                name, PolicyRecord(value=None, version=0, pinned=False, history=[])
            )
            record["version"] += 1
            record["value"] = value
            record["pinned"] = True
            record["history"].append(
                _entry(record["version"], value, "fork", f"pinned in fork {self.fork.name!r}")
            )
        return PoliciesState(policies=policies, forks={}, experiments={})

    def apply(self, state: PoliciesState, event: Event, ctx: FoldContext) -> PoliciesState:
        match event:
            case PolicyChanged(name=name, value=value, reason=reason, changed_by=by):
                self._change(state, name, value, by, reason, event)
            case PolicyRolledBack(name=name, to_version=to_version, reason=reason):
                record = state["policies"].get(name)
                target = None
                if record is not None:
                    target = next(
                        (h for h in record["history"] if h["version"] == to_version), None
                    )
                if target is None:
                    self._not_applied(
                        state,
                        name,
                        None,
                        "rollback",
                        f"no version {to_version} to roll back to",
                        event,
                    )
                else:
                    why = reason or f"rolled back to version {to_version}"
                    self._change(state, name, target["value"], "rollback", why, event)
            case ForkCreated(fork=fork, policies=policies, reason=reason):
                pinned, rejected = checked_pins(policies)
                state["forks"][fork] = {
                    "policies": pinned,
                    "rejected": rejected,
                    "reason": reason,
                    "created_at": event.occurred_at.isoformat(),
                    "dropped_at": None,
                }
            case ForkDropped(fork=fork):
                if fork in state["forks"]:
                    state["forks"][fork]["dropped_at"] = event.occurred_at.isoformat()
            case ExperimentStarted(experiment=name, arms=arms, split=split, metric=metric):
                state["experiments"][name] = {
                    "arms": arms,
                    "split": split,
                    "metric": metric,
                    "started_at": event.occurred_at.isoformat(),
                    "concluded": None,
                }
            case ExperimentConcluded(experiment=name, stats=stats, winner=winner):
                experiment = state["experiments"].setdefault(name, {"arms": {}, "split": {}})
                experiment["concluded"] = {
                    "stats": stats,
                    "winner": winner,
                    "at": event.occurred_at.isoformat(),
                }
        return state

    def _change(
        self,
        state: PoliciesState,
        name: str,
        value: JsonValue,
        by: str,
        reason: str,
        event: Event,
    ) -> None:
        record = state["policies"].setdefault(
            name, PolicyRecord(value=None, version=0, pinned=False, history=[])
        )
        if record["pinned"]:
            self._not_applied(
                state, name, value, by, f"pinned in fork {self.fork.name!r}: {reason}", event
            )
            return
        try:
            value = validate_policy(name, value)
        except ValueError as exc:
            self._not_applied(state, name, value, by, f"rejected: {exc}", event)
            return
        record["version"] += 1
        record["value"] = value
        record["history"].append(_entry(record["version"], value, by, reason, event))

    @staticmethod
    def _not_applied(
        state: PoliciesState, name: str, value: JsonValue, by: str, reason: str, event: Event
    ) -> None:
        record = state["policies"].setdefault(
            name, PolicyRecord(value=None, version=0, pinned=False, history=[])
        )
        record["history"].append(_entry(None, value, by, reason, event, applied=False))


def checked_pins(policies: Mapping[str, JsonValue]) -> tuple[dict[str, JsonValue], dict[str, str]]:
    """A fork's policy values split into those accepted (in canonical form) and those
    refused, with the reason: a client may publish any ForkCreated, and an invalid value is
    recorded, never pinned (nor does it stop a fold)."""
    pinned: dict[str, JsonValue] = {}
    rejected: dict[str, str] = {}
    for name, value in policies.items():
        try:
            pinned[name] = validate_policy(name, value)
        except ValueError as exc:
            rejected[name] = str(exc)
    return pinned, rejected


def policy_values(state: PoliciesState) -> dict[str, JsonValue]:
    """The value in force of every policy."""
    return {name: record["value"] for name, record in state["policies"].items()}


def live_forks(state: PoliciesState) -> list[ForkSpec]:
    """The forks that exist and have not been dropped."""
    return [fork for name in sorted(state["forks"]) if (fork := live_fork(state, name))]


def live_fork(state: PoliciesState, name: str) -> ForkSpec | None:
    """The fork ``name``, if it exists and has not been dropped."""
    info = state["forks"].get(name)
    if info is None or info["dropped_at"] is not None:
        return None
    return ForkSpec(name, dict(info["policies"]))
