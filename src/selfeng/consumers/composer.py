"""Pattern detection and the composite learner.

The pattern detector reacts to each RequestCompleted: the patterns projection has just
folded it, and any tool sequence of that request that now meets the composite-promotion
policy is announced once (PatternDetected, appended only while the pattern's key has no
event, so two reactions cannot announce it twice).

The composite learner reacts to PatternDetected (and to a member's new active version: a
composite embeds its members' code, so it is built again): it reads the requests that formed
the pattern from the log (what each member was given and what the last one returned), builds a
composite that embeds the members' registered code (no LLM), proposes it with those runs as
its tests, and registers it only when they pass in the sandbox (CompositeProposed,
ToolProposed, ToolVerified, ToolRegistered, CompositeRegistered). The request handler then
answers a matching request with one sandbox call instead of several.

Under an experiment, the promotion policy (``composite.*``) is the arm's: a request an arm
answered is checked against that arm's policy over that arm's own patterns (its fork folds
its requests, main holds them back). A composite is an artifact every arm can see, built
once some arm's policy promotes its pattern; it *answers* only where the arm answering has
a policy its pattern meets (see ``StepRunner._composite_at``), so an arm trying looser
criteria changes nothing main answers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue

from selfeng.consumers.learner import Learner
from selfeng.consumers.verifier import verify
from selfeng.core.composition import MemberTool, RecordedRun, build_composite, composite_name
from selfeng.core.log import ConcurrencyConflict
from selfeng.core.sandbox import SandboxUnavailable
from selfeng.projections.patterns import Criteria, PatternsState, pattern_of, promotable
from selfeng.projections.registry import active_tools, next_version
from selfeng.schemas import (
    ArgumentsExtracted,
    CacheHit,
    CompositeProposed,
    CompositeRegistered,
    Event,
    PatternDetected,
    RequestCompleted,
    ToolExecuted,
    ToolProposed,
    ToolRegistered,
    ToolRejected,
    ToolRolledBack,
)

logger = logging.getLogger(__name__)

PRODUCER = "selfeng.learner.composites"
"""The producer of the composite learner's events."""

MAX_TEST_RUNS = 10
"""Recorded runs a composite is tested with (the most recent ones)."""


class PatternDetector(Learner):
    """Announces tool sequences that crossed the composite-promotion policy."""

    name = "patterns"
    reacts_to = frozenset({"RequestCompleted"})

    def wants(self, event: Event) -> bool:
        return isinstance(event, RequestCompleted) and len(event.steps) >= 2

    def react(self, event: Event) -> list[Event]:
        assert isinstance(event, RequestCompleted)
        # the arm that answered: its promotion policy, over its own requests' patterns
        served = self.ports.handler_state(event.policy_arm)
        state: PatternsState | None = served.patterns
        if state is None:
            state = self.ports.state("patterns")
        criteria = Criteria.of(served.policies)
        found = promotable(
            state,
            min_frequency=criteria.min_frequency,
            min_success_rate=criteria.min_success_rate,
            min_confidence=criteria.min_confidence,
            within=[step.tool for step in event.steps],
        )
        out: list[Event] = []
        for pattern in found:
            detected = PatternDetected.following(
                event,
                event_id=self.event_id(event, pattern.pattern_id),
                pattern_id=pattern.pattern_id,
                tools=pattern.tools,
                kind=pattern.kind,
                support=pattern.support,
                success_rate=round(pattern.success_rate, 4),
                confidence=round(pattern.confidence, 4),
                request_ids=pattern.evidence,
                producer="selfeng.learner.patterns",
            )
            try:
                out += self.ports.record([detected], expected_versions={pattern.pattern_id: 0})
            except ConcurrencyConflict:  # announced already, by another reaction
                continue
        return out


@dataclass
class _StepRun:
    tool: str
    arguments: dict[str, JsonValue]
    result: JsonValue
    handoff: str | None


class CompositeLearner(Learner):
    """Builds, tests and registers a composite tool for each detected pattern, and builds it
    again when one of its members gets another active version (registered, repaired or
    rolled back): a composite embeds its members' code, so a stale one is not used."""

    name = "composites"
    reacts_to = frozenset({"PatternDetected", "ToolRegistered", "ToolRolledBack"})

    def react(self, event: Event) -> list[Event]:
        if isinstance(event, PatternDetected):
            return self._compose(event, event)
        assert isinstance(event, ToolRegistered | ToolRolledBack)
        out: list[Event] = []
        for tools in self._stale_composites(event.tool):
            for detected in self.ports.history(pattern_of(tools)):
                if isinstance(detected, PatternDetected):
                    out += self._compose(detected, event)
                    break
        return out

    def _stale_composites(self, member: str) -> list[tuple[str, ...]]:
        """The member lists of active composites that embed another version of ``member``
        than its active one."""
        active = active_tools(self.ports.registry())
        if member not in active:
            return []
        version = active[member][0]
        stale = []
        for _, record in active.values():
            composition = record["spec"].get("composition") or []
            if any(m["tool"] == member and m["version"] != version for m in composition):
                stale.append(tuple(m["tool"] for m in composition))
        return stale

    def _compose(self, pattern: PatternDetected, cause: Event) -> list[Event]:
        """Build, test and register the composite of ``pattern``'s tools at their active
        versions; ``cause`` is the event reacted to (the ids derive from it)."""
        registry = self.ports.registry()
        active = active_tools(registry)
        missing = [tool for tool in pattern.tools if tool not in active]
        if missing:
            logger.info("pattern %s: %s not registered", pattern.pattern_id, ", ".join(missing))
            return []
        name = composite_name(pattern.tools)
        members = [
            MemberTool(tool, active[tool][0], active[tool][1]["spec"], active[tool][1]["code"])
            for tool in pattern.tools
        ]
        if name in active and _same_members(active[name][1]["spec"], members):
            return []
        handoffs, runs = self._evidence(pattern)
        if not runs:
            logger.info("pattern %s: no recorded run to test a composite with", pattern.pattern_id)
            return []
        composite = build_composite(members, handoffs, runs, pattern_id=pattern.pattern_id)
        member_names = tuple(f"{m.tool}@{m.version}" for m in members)
        announced = CompositeProposed.following(
            cause,
            event_id=self.event_id(cause, name, "proposed"),
            tool=composite.name,
            members=member_names,
            pattern_id=pattern.pattern_id,
            producer=PRODUCER,
        )
        proposal = ToolProposed.following(
            cause,
            event_id=self.event_id(cause, name, "tool"),
            tool=composite.name,
            version=next_version(registry, composite.name),
            spec=composite.spec,
            code=composite.code,
            tests=composite.tests,
            origin="composite",
            producer=PRODUCER,
        )
        out = self.ports.record([announced, proposal])
        stored = out[-1]
        assert isinstance(stored, ToolProposed)
        try:
            outcome = verify(stored, self.ports.sandbox)
        except SandboxUnavailable as exc:
            outcome = [
                ToolRejected.following(
                    stored,
                    event_id=self.event_id(cause, name, "rejected"),
                    tool=stored.tool,
                    version=stored.version,
                    reason=f"the sandbox could not start: {exc}",
                )
            ]
        out += self.ports.record(outcome)
        if any(isinstance(e, ToolRegistered) for e in outcome):
            out += self.ports.record(
                [
                    CompositeRegistered.following(
                        cause,
                        event_id=self.event_id(cause, name, "registered"),
                        tool=stored.tool,
                        version=stored.version,
                        members=member_names,
                        pattern_id=pattern.pattern_id,
                        producer=PRODUCER,
                    )
                ]
            )
        return out

    def _evidence(self, event: PatternDetected) -> tuple[list[str | None], list[RecordedRun]]:
        """The hand-off parameters and the recorded runs of the pattern, from the log."""
        handoffs: list[str | None] | None = None
        runs: list[RecordedRun] = []
        for request_id in reversed(event.request_ids):
            steps = _request_steps(self.ports.history(request_id))
            at = _find_run([s.tool for s in steps], event.tools)
            if at is None:
                continue
            window = steps[at : at + len(event.tools)]
            shape = [None, *(s.handoff for s in window[1:])]
            if handoffs is None:
                handoffs = shape
            if shape != handoffs:
                continue  # fed differently from the runs already kept
            runs.append(
                RecordedRun(
                    request_id=request_id,
                    arguments=tuple(s.arguments for s in window),
                    result=window[-1].result,
                )
            )
            if len(runs) >= MAX_TEST_RUNS:
                break
        return handoffs or [], runs


def _request_steps(events: Sequence[Event]) -> list[_StepRun]:
    """The steps of a request's last successful answer: arguments, result, hand-off."""
    steps: list[_StepRun] = []
    # by plan step, then tool: a retry with the same tool replaces its run, and a rival's
    # run (a tool that fitted as well, run to check the answer) is kept beside the step's
    runs: dict[int, dict[str, _StepRun]] = {}
    pending: ArgumentsExtracted | None = None
    for event in events:
        if isinstance(event, ArgumentsExtracted):
            pending = event
        elif isinstance(event, ToolExecuted | CacheHit) and pending is not None:
            ok = event.ok if isinstance(event, ToolExecuted) else True
            runs.setdefault(pending.step, {})[pending.tool] = _StepRun(
                tool=pending.tool,
                arguments=dict(pending.arguments),
                result=event.result if ok else None,
                handoff=None,
            )
            pending = None
        elif isinstance(event, RequestCompleted):
            by_step = [runs[k] for k in sorted(runs)]
            if event.ok and len(event.steps) == len(by_step):
                found = [tools.get(s.tool) for tools, s in zip(by_step, event.steps, strict=True)]
                current = [run for run in found if run is not None]
                if len(current) == len(found):
                    for run, step in zip(current, event.steps, strict=True):
                        run.handoff = step.handoff
                    steps = current
            runs, pending = {}, None
    return steps


def _find_run(sequence: Sequence[str], run: Sequence[str]) -> int | None:
    for i in range(len(sequence) - len(run) + 1):
        if tuple(sequence[i : i + len(run)]) == tuple(run):
            return i
    return None


def _same_members(spec: dict[str, Any], members: Sequence[MemberTool]) -> bool:
    composition = spec.get("composition") or []
    have = [(m.get("tool"), m.get("version")) for m in composition]
    return have == [(m.tool, m.version) for m in members]
