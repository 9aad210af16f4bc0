"""Running a chosen tool for a request: from the execution cache, or in the sandbox.

Shared by every way a request is answered (the offline decision, a learnt plan, an LLM's
plan): a deterministic tool's fresh cached result is a ``CacheHit``; otherwise the tool runs
in the sandbox and the run is a ``ToolExecuted``, successful or not. Each run adds a
``Step`` to the answer. Also here: the answer being built (``Outcome``), the request's
derived event ids (``EventIds``) and what the handler reads (``HandlerState``).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import JsonValue

from selfeng.core.policies import policy_float, policy_int
from selfeng.core.sandbox import Limits, Sandbox, SandboxUnavailable
from selfeng.projections.cache import CacheState, lookup
from selfeng.projections.patterns import PatternsState
from selfeng.projections.plans import PlansState
from selfeng.projections.registry import RegistryState, VersionRecord
from selfeng.projections.sessions import SessionsState
from selfeng.projections.skill_graph import SkillGraphState
from selfeng.schemas import CacheHit, Candidate, Event, RequestReceived, Step, ToolExecuted
from selfeng.schemas.ids import derived_uuid7


@dataclass
class HandlerState:
    """What the handler reads: the projections of the request's policy arm."""

    policies: Mapping[str, JsonValue]
    registry: RegistryState
    cache: CacheState
    skill_graph: SkillGraphState | None = None
    sessions: SessionsState | None = None
    plans: PlansState | None = None
    patterns: PatternsState | None = None
    """The arm's tool-sequence counts: a composite answers only while its pattern meets the
    arm's promotion policy in them (None: every registered composite answers)."""
    writes_tools: bool = False
    """A synthesizer with an LLM will write a missing tool (and answer again)."""
    arm: str | None = None
    """The fork whose policies these are (None: main)."""
    arm_note: str = ""
    """Why the arm a request asked for is not the one answering (say, a dropped fork)."""


@dataclass
class Outcome:
    """The answer being built: its events, steps, text and value."""

    events: list[Event] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    answer: str = ""
    value: JsonValue = None
    ok: bool = False
    awaiting_tool: bool = False
    reason: str = ""


class EventIds:
    """Event ids derived from the request's, in order."""

    def __init__(self, received: RequestReceived, attempt: str = "") -> None:
        self._ms = int(received.occurred_at.timestamp() * 1000)
        self._base = str(received.event_id)
        self._attempt = attempt
        self._n = 0

    def next(self) -> uuid.UUID:
        """The next id."""
        self._n += 1
        if self._attempt:
            return derived_uuid7(self._ms, self._base, self._attempt, str(self._n))
        return derived_uuid7(self._ms, self._base, str(self._n))


@dataclass(frozen=True)
class Run:
    """What one run gave: the result, or the error and its kind."""

    value: Any = None
    error: str | None = None
    kind: str | None = None

    @property
    def ok(self) -> bool:
        """Whether it gave a result."""
        return self.error is None


class Executor:
    """Runs tools for requests: the cache first for deterministic tools, else the sandbox."""

    def __init__(
        self, sandbox: Callable[[], Sandbox], clock: Callable[[], float], producer: str
    ) -> None:
        self.sandbox = sandbox
        self.clock = clock
        self.producer = producer

    def execute(
        self,
        received: RequestReceived,
        step: Step,
        arguments: dict[str, JsonValue],
        state: HandlerState,
        ids: EventIds,
        out: Outcome,
    ) -> Run:
        """Run ``step``'s tool with ``arguments``; the step (with how it went) is added to
        ``out.steps`` and its events to ``out.events``."""
        chosen = Candidate(tool=step.tool, version=step.version, score=1.0, similarity=1.0)
        record = record_of(state.registry, step.tool, step.version)
        deterministic = bool(record["spec"].get("deterministic", False))
        step = step.model_copy(update={"arguments": arguments})
        if deterministic:
            ttl = policy_float(state.policies, "cache.ttl_seconds")
            key, entry = lookup(
                state.cache, chosen.tool, chosen.version, arguments, int(self.clock() * 1000), ttl
            )
            if entry is not None:
                out.events.append(
                    CacheHit.following(
                        received,
                        event_id=ids.next(),
                        tool=chosen.tool,
                        version=chosen.version,
                        cache_key=key,
                        result=entry["value"],
                        source_event_id=entry["event_id"],
                        producer=self.producer,
                    )
                )
                out.steps.append(step.model_copy(update={"ok": True, "cached": True}))
                return Run(value=entry["value"])
        limits = Limits(
            timeout_s=policy_float(state.policies, "sandbox.timeout_seconds"),
            memory_mb=policy_int(state.policies, "sandbox.memory_mb"),
        )
        started = time.perf_counter()
        sandbox_name = "unavailable"
        try:
            sandbox = self.sandbox()
            sandbox_name = sandbox.name
            result = sandbox.run(record["code"], chosen.tool, arguments, limits)
            ok, value, error, kind = result.ok, result.value, result.error, result.error_kind
            sandbox_name = result.sandbox or sandbox_name
        except SandboxUnavailable as exc:
            ok, value, error, kind = False, None, f"the sandbox could not start: {exc}", "sandbox"
        duration = round((time.perf_counter() - started) * 1000, 3)
        out.events.append(
            ToolExecuted.following(
                received,
                event_id=ids.next(),
                tool=chosen.tool,
                version=chosen.version,
                arguments=arguments,
                ok=ok,
                result=value if ok else None,
                error=error,
                error_kind=kind,
                duration_ms=duration,
                sandbox=sandbox_name,
                cacheable=deterministic,
                producer=self.producer,
            )
        )
        out.steps.append(step.model_copy(update={"ok": ok, "duration_ms": duration}))
        if not ok:
            message = f"The tool {chosen.tool} failed: {one_line(error or kind or 'error')}"
            return Run(error=message, kind=kind or "exception")
        return Run(value=value)


def record_of(registry: RegistryState, tool: str, version: int) -> VersionRecord:
    """A tool version's record."""
    return registry["tools"][tool]["versions"][str(version)]


def one_line(text: str) -> str:
    """A message on one line, at most 300 characters."""
    line = re.sub(r"\s+", " ", text).strip()
    return line if len(line) <= 300 else line[:297] + "..."
