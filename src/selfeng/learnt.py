"""What the learners concluded, and what each conclusion was based on, as data: read by
``selfeng learn`` and by the HTTP API's learning views."""

from __future__ import annotations

from typing import Any

from selfeng.app import Selfeng
from selfeng.core.mapper import DecodeError, from_record
from selfeng.projections.experiments import ExperimentsState
from selfeng.projections.llm_usage import LLMUsageState
from selfeng.projections.patterns import PatternsState, top
from selfeng.projections.views import thaw
from selfeng.schemas import (
    CompositeRegistered,
    Event,
    FailureAnalyzed,
    PatternDetected,
    RepairProposed,
    ToolDeprecated,
    ToolRepaired,
    ToolRolledBack,
)

LEARNT_TYPES = (
    "PatternDetected",
    "CompositeRegistered",
    "FailureAnalyzed",
    "RepairProposed",
    "ToolRepaired",
    "ToolRolledBack",
    "ToolDeprecated",
)


def learnt_events(app: Selfeng) -> list[Event]:
    """The learners' conclusions in the log, oldest first."""
    events: list[Event] = []
    for batch in app.log.read(types=LEARNT_TYPES):
        for record in batch.records:
            try:
                events.append(from_record(record))
            except DecodeError:
                continue
    return events


def summary(app: Selfeng, *, patterns: int = 10) -> dict[str, Any]:
    """Everything ``selfeng learn`` shows, as data."""
    events = learnt_events(app)
    policies = app.policies()
    pattern_state: PatternsState = app.state("patterns")
    usage: LLMUsageState = app.state("llm_usage")
    detected = {e.pattern_id: e for e in events if isinstance(e, PatternDetected)}
    failures: dict[str, int] = {}
    for event in events:
        if isinstance(event, FailureAnalyzed):
            failures[event.kind] = failures.get(event.kind, 0) + 1
    return {
        "policy": {
            name: policies[name]
            for name in (
                "composite.min_frequency",
                "composite.min_success_rate",
                "composite.min_confidence",
            )
        },
        "patterns": [
            {
                "pattern": p.pattern_id,
                "kind": p.kind,
                "support": p.support,
                "success_rate": round(p.success_rate, 3),
                "confidence": round(p.confidence, 3),
                "detected": p.pattern_id in detected,
            }
            for p in top(pattern_state, patterns)
        ],
        "composites": [
            {
                "tool": e.tool,
                "version": e.version,
                "members": list(e.members),
                "pattern": e.pattern_id,
                "based_on": _evidence(detected.get(e.pattern_id)),
                "at": e.occurred_at.isoformat(),
            }
            for e in events
            if isinstance(e, CompositeRegistered)
        ],
        "repairs": [
            {
                "tool": e.tool,
                "from_version": e.from_version,
                "to_version": e.to_version,
                "based_on": _repair_basis(events, e),
                "at": e.occurred_at.isoformat(),
            }
            for e in events
            if isinstance(e, ToolRepaired)
        ],
        "rollbacks": [
            {
                "tool": e.tool,
                "from_version": e.from_version,
                "to_version": e.to_version,
                "reason": e.reason,
                "at": e.occurred_at.isoformat(),
            }
            for e in events
            if isinstance(e, ToolRolledBack)
        ],
        "deprecations": [
            {"tool": e.tool, "version": e.version, "reason": e.reason}
            for e in events
            if isinstance(e, ToolDeprecated)
        ],
        "failures": failures,
        "llm": usage["models"],
        "tuning": tuning_history(app),
    }


def tuning_history(app: Selfeng) -> list[dict[str, Any]]:
    """The auto-tuner's rounds, oldest first: the experiment each started, the candidate it
    tried and the estimate it was started on, and how the judge decided."""
    try:
        experiments: ExperimentsState = app.state("experiments")
    except KeyError:  # an app built without the experiments projection
        return []
    rounds = []
    for name, experiment in experiments["experiments"].items():
        if experiment["started_by"] != "auto-tuner":
            continue
        concluded = experiment["concluded"] or {}
        candidate = {arm: thaw(values) for arm, values in experiment["policies"].items() if values}
        rounds.append(
            {
                "experiment": name,
                "started_at": experiment["started_at"],
                "candidate": candidate,
                "reason": experiment["reason"],
                "status": experiment["status"],
                "winner": concluded.get("winner"),
                "promoted": thaw(concluded.get("promoted") or {}),
                "decision": concluded.get("reason", ""),
            }
        )
    return sorted(rounds, key=lambda r: str(r["started_at"]))


def _evidence(detected: PatternDetected | None) -> str:
    if detected is None:
        return "pattern not in this log"
    return (
        f"{detected.support} requests, {detected.success_rate:.0%} succeeded, "
        f"confidence {detected.confidence:.2f}; tested on {len(detected.request_ids)} recorded runs"
    )


def _repair_basis(events: list[Event], repaired: ToolRepaired) -> str:
    for event in reversed(events):
        if (
            isinstance(event, RepairProposed)
            and event.tool == repaired.tool
            and event.from_version == repaired.from_version
        ):
            return event.rationale or "a fix with a test that reproduces the failure"
    return ""
