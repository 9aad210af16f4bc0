"""The request handler: RequestReceived -> search -> arguments -> cache or sandbox -> answer.

For each step of the request's plan it appends ToolSearched and ArgumentsExtracted, then a
CacheHit (a fresh result of a deterministic tool) or a ToolExecuted (a run in the sandbox);
then ResponseSynthesized and RequestCompleted. Every event carries the request's correlation
id and the policy arm used. When no tool scores above the threshold it asks for one
(ToolSynthesisRequested) and says honestly that it has none yet. A failure of any kind (no
value for a parameter, a tool that raises or hangs, a sandbox that cannot start) ends the
request with a clear answer and the failure in the log; nothing raises to the caller.

Every step is searched first; when a run of consecutive steps chose the members of a
registered composite tool (fed the same way), that run is answered by the composite in one
sandbox call (and from the cache when it is deterministic). After the previous step's tool,
the skill graph moves a near-tie candidate that has worked after it before to the front.

The handler returns events; the caller appends them in one batch. Their ids derive from the
request's event id (and from the attempt, when a request is answered again after a tool was
written for it), so handling the same request twice (a worker restarted between append and
commit) stores nothing twice.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import JsonValue

from selfeng.consumers.search import ToolSearch
from selfeng.core.arguments import extract, format_value, template
from selfeng.core.planning import PlanStep, plan
from selfeng.core.sandbox import Limits, Sandbox, SandboxUnavailable
from selfeng.projections.cache import CacheState, lookup
from selfeng.projections.registry import RegistryState, VersionRecord, active_tools
from selfeng.projections.skill_graph import SkillGraphState, prefer_chains
from selfeng.schemas import (
    ArgumentsExtracted,
    CacheHit,
    Candidate,
    Event,
    RequestCompleted,
    RequestReceived,
    ResponseSynthesized,
    Step,
    ToolExecuted,
    ToolSearched,
    ToolSynthesisRequested,
)
from selfeng.schemas.ids import derived_uuid7

MAX_PROMPT = 20_000
"""Characters of a prompt the handler reads; a longer one is answered with a refusal."""


@dataclass
class HandlerState:
    """What the handler reads: the projections of the request's policy arm."""

    policies: Mapping[str, JsonValue]
    registry: RegistryState
    cache: CacheState
    skill_graph: SkillGraphState | None = None
    writes_tools: bool = False
    """A synthesizer with an LLM will write a missing tool (and answer again)."""


@dataclass
class _Outcome:
    events: list[Event] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    answer: str = ""
    value: JsonValue = None
    ok: bool = False
    awaiting_tool: bool = False


class RequestHandler:
    """Answers requests with registered tools; pure apart from running them in the sandbox."""

    def __init__(
        self,
        sandbox: Callable[[], Sandbox],
        search: ToolSearch,
        *,
        clock: Callable[[], float] = time.time,
        producer: str = "selfeng.request-handler",
    ) -> None:
        """``sandbox`` gives the sandbox when a tool must run (it may raise
        ``SandboxUnavailable``: the request then ends with that failure)."""
        self.sandbox = sandbox
        self.search = search
        self.clock = clock
        self.producer = producer

    def handle(
        self,
        received: RequestReceived,
        state: HandlerState,
        *,
        pinned: Mapping[str, str] | None = None,
        attempt: str = "",
    ) -> list[Event]:
        """The events that answer ``received`` (not yet appended).

        ``pinned`` maps a step's text to the tool that must answer it (a tool just written
        for it); ``attempt`` names a second answer of the same request, so its event ids
        differ from the first's.
        """
        started = time.perf_counter()
        ids = _Ids(received, attempt)
        out = _Outcome()
        prompt = received.prompt.strip()
        if not prompt:
            out.answer = "There was no question: ask something, e.g. “What is 25% of 100?”."
        elif len(prompt) > MAX_PROMPT:
            out.answer = (
                f"The request is {len(prompt):,} characters long; I read at most {MAX_PROMPT:,}."
            )
        else:
            self.search.refresh(state.registry)
            steps = plan(prompt, self.search.vocabulary)
            self._run_plan(received, steps, state, ids, out, pinned or {})
        text = out.answer
        response = ResponseSynthesized.following(
            received, event_id=ids.next(), text=text, value=out.value, producer=self.producer
        )
        completed = RequestCompleted.following(
            received,
            event_id=ids.next(),
            ok=out.ok,
            answer=text,
            value=out.value,
            tools=tuple(f"{s.tool}@{s.version}" for s in out.steps),
            steps=tuple(out.steps),
            cached=bool(out.steps) and all(s.cached for s in out.steps),
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            awaiting_tool=out.awaiting_tool,
            producer=self.producer,
        )
        return [*out.events, response, completed]

    def _run_plan(
        self,
        received: RequestReceived,
        steps: list[PlanStep],
        state: HandlerState,
        ids: _Ids,
        out: _Outcome,
        pinned: Mapping[str, str],
    ) -> None:
        chosen = self._choose(received, steps, state, ids, out, pinned)
        if chosen is None:
            return
        previous: JsonValue = None
        at = 0
        while at < len(steps):
            composite = self._composite_at(steps, chosen, at)
            if composite is not None:
                result = self._run_composite(
                    received, steps, at, composite, previous, state, ids, out
                )
                at += len(composite[2]["spec"]["composition"])
            else:
                result = self._run_step(received, steps[at], chosen[at], previous, state, ids, out)
                at += 1
            if result is _FAILED:
                return
            previous = result
        out.ok = True
        out.value = previous
        out.answer = format_value(previous)

    def _choose(
        self,
        received: RequestReceived,
        steps: list[PlanStep],
        state: HandlerState,
        ids: _Ids,
        out: _Outcome,
        pinned: Mapping[str, str],
    ) -> list[Candidate] | None:
        """Search every step (ToolSearched each); None when one has no tool (synthesis asked)."""
        policies = state.policies
        chosen: list[Candidate] = []
        for index, step in enumerate(steps):
            if step.text in pinned:
                candidates = self.search.pinned(step.text, pinned[step.text], policies)
            else:
                candidates = self.search.search(step.text, policies)
                if chosen and step.uses_previous and state.skill_graph is not None:
                    candidates = prefer_chains(candidates, chosen[-1].tool, state.skill_graph)
            out.events.append(
                ToolSearched.following(
                    received,
                    event_id=ids.next(),
                    query=step.text,
                    candidates=tuple(candidates),
                    threshold=float(policies["retrieval.threshold"]),  # type: ignore[arg-type]
                    producer=self.producer,
                )
            )
            if not candidates:
                self._ask_for_tool(received, step, index, state, ids, out)
                return None
            chosen.append(candidates[0])
        return chosen

    def _ask_for_tool(
        self,
        received: RequestReceived,
        step: PlanStep,
        index: int,
        state: HandlerState,
        ids: _Ids,
        out: _Outcome,
    ) -> None:
        policies = state.policies
        out.events.append(
            ToolSynthesisRequested(
                event_id=ids.next(),
                request_id=received.key,
                need=step.text,
                best_score=self.search.best_below(step.text, policies),
                correlation_id=received.event_id,
                causation_id=out.events[-1].event_id,
                producer=self.producer,
            )
        )
        where = f" (step {index + 1}: “{step.text}”)" if index else ""
        if state.writes_tools:
            out.awaiting_tool = True
            out.answer = (
                f"I have no tool for that yet{where}. I am writing one, and will answer with "
                "it once it passes its tests."
            )
        else:
            out.answer = (
                f"I have no tool for that yet{where}. I asked for one to be written; a person "
                f"can add one with `selfeng tools add FILE.py --answer {received.key}`."
            )

    def _composite_at(
        self, steps: list[PlanStep], chosen: list[Candidate], at: int
    ) -> tuple[str, int, VersionRecord] | None:
        """The longest registered composite whose members the steps from ``at`` chose, fed
        the same way (each later member takes the previous output exactly when its step
        works on it) and at the versions chosen."""
        composites = self.search.composites
        for length in range(len(steps) - at, 1, -1):
            run = chosen[at : at + length]
            found = composites.get(tuple(c.tool for c in run))
            if found is None:
                continue
            members = found[2]["spec"]["composition"]
            if all(
                m["version"] == c.version
                and (j == 0 or (m["handoff"] is not None) == steps[at + j].uses_previous)
                for j, (m, c) in enumerate(zip(members, run, strict=True))
            ):
                return found
        return None

    def _run_composite(
        self,
        received: RequestReceived,
        steps: list[PlanStep],
        at: int,
        composite: tuple[str, int, VersionRecord],
        previous: JsonValue,
        state: HandlerState,
        ids: _Ids,
        out: _Outcome,
    ) -> Any:
        name, version, record = composite
        members = record["spec"]["composition"]
        segment = steps[at : at + len(members)]
        arguments: dict[str, JsonValue] = {}
        missing: list[str] = []
        handoff: str | None = None
        for j, (member, step) in enumerate(zip(members, segment, strict=True)):
            feeds: dict[str, str] = member["arguments"]
            member_spec = _record_of(state.registry, member["tool"], member["version"])["spec"]
            parameters = member_spec.get("parameters", {})
            properties = parameters.get("properties", {})
            required = parameters.get("required", list(properties))
            extraction = extract(
                step.text,
                {
                    "type": "object",
                    "properties": {p: properties[p] for p in feeds if p in properties},
                    "required": [p for p in required if p in feeds],
                },
                tool_words=frozenset(member["tool"].split("_")),
                previous=previous if j == 0 else None,
                use_previous=step.uses_previous and j == 0,
            )
            arguments.update({feeds[p]: v for p, v in extraction.arguments.items()})
            missing += [feeds[p] for p in extraction.missing]
            if j == 0 and extraction.handoff is not None:
                handoff = feeds[extraction.handoff]
        text = " and ".join(step.text for step in segment)
        merged = PlanStep(text, segment[0].uses_previous)
        candidate = Candidate(tool=name, version=version, score=1.0, similarity=1.0)
        out.events.append(
            ArgumentsExtracted.following(
                received,
                event_id=ids.next(),
                tool=name,
                version=version,
                arguments=arguments,
                missing=tuple(missing),
                producer=self.producer,
            )
        )
        if missing:
            out.answer = (
                f"I could not find a value for {', '.join(missing)} in “{text}” "
                f"(the tool {name} needs it)."
            )
            return _FAILED
        deterministic = bool(record["spec"].get("deterministic", False))
        return self._execute(
            received, merged, candidate, deterministic, arguments, state, ids, out, handoff
        )

    def _run_step(
        self,
        received: RequestReceived,
        step: PlanStep,
        chosen: Candidate,
        previous: JsonValue,
        state: HandlerState,
        ids: _Ids,
        out: _Outcome,
    ) -> Any:
        _, record = active_tools(state.registry)[chosen.tool]
        spec = record["spec"]
        extraction = extract(
            step.text,
            spec.get("parameters", {}),
            tool_words=frozenset(chosen.tool.split("_")),
            previous=previous,
            use_previous=step.uses_previous,
        )
        out.events.append(
            ArgumentsExtracted.following(
                received,
                event_id=ids.next(),
                tool=chosen.tool,
                version=chosen.version,
                arguments=extraction.arguments,
                missing=tuple(extraction.missing),
                producer=self.producer,
            )
        )
        if extraction.missing:
            names = ", ".join(extraction.missing)
            out.answer = (
                f"I could not find a value for {names} in “{step.text}” "
                f"(the tool {chosen.tool} needs it)."
            )
            return _FAILED
        return self._execute(
            received,
            step,
            chosen,
            bool(spec.get("deterministic", False)),
            extraction.arguments,
            state,
            ids,
            out,
            extraction.handoff,
        )

    def _execute(
        self,
        received: RequestReceived,
        step: PlanStep,
        chosen: Candidate,
        deterministic: bool,
        arguments: dict[str, JsonValue],
        state: HandlerState,
        ids: _Ids,
        out: _Outcome,
        handoff: str | None = None,
    ) -> Any:
        if deterministic:
            ttl = float(state.policies["cache.ttl_seconds"])  # type: ignore[arg-type]
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
                out.steps.append(
                    _step(step, chosen, arguments, ok=True, cached=True, handoff=handoff)
                )
                return entry["value"]
        limits = Limits(
            timeout_s=float(state.policies["sandbox.timeout_seconds"]),  # type: ignore[arg-type]
            memory_mb=int(state.policies["sandbox.memory_mb"]),  # type: ignore[arg-type]
        )
        code = _code_of(state.registry, chosen)
        started = time.perf_counter()
        sandbox_name = "unavailable"
        try:
            sandbox = self.sandbox()
            sandbox_name = sandbox.name
            result = sandbox.run(code, chosen.tool, arguments, limits)
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
        out.steps.append(
            _step(step, chosen, arguments, ok=ok, duration_ms=duration, handoff=handoff)
        )
        if not ok:
            out.answer = f"The tool {chosen.tool} failed: {_one_line(error or kind or 'error')}"
            return _FAILED
        return value


_FAILED = object()


def _step(
    step: PlanStep,
    chosen: Candidate,
    arguments: dict[str, JsonValue],
    *,
    ok: bool,
    cached: bool = False,
    duration_ms: float = 0.0,
    handoff: str | None = None,
) -> Step:
    return Step(
        query=step.text,
        template=template(step.text, arguments),
        tool=chosen.tool,
        version=chosen.version,
        ok=ok,
        cached=cached,
        duration_ms=duration_ms,
        handoff=handoff,
    )


def _record_of(registry: RegistryState, tool: str, version: int) -> VersionRecord:
    return registry["tools"][tool]["versions"][str(version)]


def _code_of(registry: RegistryState, chosen: Candidate) -> str:
    return _record_of(registry, chosen.tool, chosen.version)["code"]


def _one_line(text: str) -> str:
    line = re.sub(r"\s+", " ", text).strip()
    return line if len(line) <= 300 else line[:297] + "..."


class _Ids:
    """Event ids derived from the request's, in order."""

    def __init__(self, received: RequestReceived, attempt: str = "") -> None:
        self._ms = int(received.occurred_at.timestamp() * 1000)
        self._base = str(received.event_id)
        self._attempt = attempt
        self._n = 0

    def next(self) -> Any:
        self._n += 1
        if self._attempt:
            return derived_uuid7(self._ms, self._base, self._attempt, str(self._n))
        return derived_uuid7(self._ms, self._base, str(self._n))
