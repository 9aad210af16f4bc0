"""The request handler: RequestReceived -> plan -> decide from evidence -> run -> answer.

A wrong answer is worse than "I don't know". The handler plans the request into steps
(``selfeng.core.planning``), and for each step weighs the searched candidates
(``selfeng.consumers.deciding``): a tool answers a step only when it and the arguments found
account for the step (confidence at least ``answer.min_confidence``). Each step's
``ToolSearched`` records the candidates and the evidence for and against each. A request of
the exact shape of one an LLM's plan answered before is answered by that learnt plan first
(``selfeng.consumers.planned``). When a step has no tool that fits and an LLM is configured,
the LLM plans the whole request with tool calls; otherwise, or when it finds no call, the
request is not answered: a missing value is named, a reference to an earlier answer that
does not exist is explained, and otherwise the handler abstains honestly and asks for a tool
(``ToolSynthesisRequested`` with the reason). Nothing runs until every step is decided, so a
request part that no tool answers never gets a partial answer passed off as a whole one.

Then the steps run: ``ArgumentsExtracted`` and a ``CacheHit`` (a fresh result of a
deterministic tool) or a ``ToolExecuted`` (a sandbox run) each; a step whose tool fails on
its arguments (it raises) is tried with the next candidate that also fit. A run of steps
whose tools are the members of a registered composite, fed the same way, is answered by the
composite in one call. Steps whose output no later step takes are the answer's parts: one
part is the answer, several (a request with independent questions) are all answered. A
follow-up in a session ("Now reverse the result") works on the session's previous answer.

The handler returns events; the caller appends them in one batch. Their ids derive from the
request's event id (and from the attempt, when a request is answered again after a tool was
written for it), so handling the same request twice stores nothing twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue

from selfeng.consumers.deciding import Decider, Decision, Weighed, predicted_output
from selfeng.consumers.executing import (
    EventIds,
    Executor,
    HandlerState,
    Outcome,
    Run,
    record_of,
)
from selfeng.consumers.llm_planner import LLMPlanner
from selfeng.consumers.planned import PlannedAnswers
from selfeng.consumers.search import ToolSearch
from selfeng.core.arguments import extract, template
from selfeng.core.planning import PlanStep, plan
from selfeng.core.policies import policy_float
from selfeng.core.sandbox import Sandbox
from selfeng.core.values import format_value
from selfeng.projections.registry import VersionRecord, active_tools
from selfeng.projections.sessions import previous_answer
from selfeng.schemas import (
    ArgumentsExtracted,
    Event,
    RequestCompleted,
    RequestReceived,
    ResponseSynthesized,
    Step,
    ToolSearched,
    ToolSynthesisRequested,
)

__all__ = ["MAX_PROMPT", "HandlerState", "RequestHandler"]

MAX_PROMPT = 20_000
"""Characters of a prompt the handler reads; a longer one is answered with a refusal."""
MAX_STEPS = 12
"""Steps of one request's plan the handler answers; a longer plan is refused."""


class _Failed(Exception):
    """A step could not be answered; the outcome says why."""


@dataclass(frozen=True)
class _Request:
    """One request being answered: what every step reads, and where it appends."""

    received: RequestReceived
    state: HandlerState
    ids: EventIds
    out: Outcome


class RequestHandler:
    """Answers requests with registered tools; pure apart from running them in the sandbox."""

    def __init__(
        self,
        sandbox: Callable[[], Sandbox],
        search: ToolSearch,
        *,
        clock: Callable[[], float] = time.time,
        producer: str = "selfeng.request-handler",
        planner: Callable[[], LLMPlanner | None] = lambda: None,
    ) -> None:
        """``sandbox`` gives the sandbox when a tool must run (it may raise
        ``SandboxUnavailable``: the request then ends with that failure); ``planner`` gives
        the LLM planner, or None when no LLM is configured."""
        self.sandbox = sandbox
        self.search = search
        self.decider = Decider(search)
        self.clock = clock
        self.producer = producer
        self.executor = Executor(sandbox, clock, producer)
        self.planned = PlannedAnswers(self.executor, search, planner)

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
        for it), if it fits; ``attempt`` names a second answer of the same request, so its
        event ids differ from the first's.
        """
        started = time.perf_counter()
        ids = EventIds(received, attempt)
        out = Outcome()
        prompt = received.prompt.strip()
        if not prompt:
            out.answer = "There was no question: ask something, e.g. “What is 25% of 100?”."
            out.reason = "empty request"
        elif len(prompt) > MAX_PROMPT:
            out.answer = (
                f"The request is {len(prompt):,} characters long; I read at most {MAX_PROMPT:,}."
            )
            out.reason = "request too long"
        else:
            self.search.refresh(state.registry)
            steps = plan(prompt, self.search.vocabulary)
            if len(steps) > MAX_STEPS:
                out.answer = (
                    f"The request has {len(steps)} parts; I answer at most {MAX_STEPS} at once."
                )
                out.reason = "too many parts"
            else:
                try:
                    self._answer(_Request(received, state, ids, out), steps, pinned or {})
                except _Failed:
                    out.ok = False
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
            session_id=received.session_id,
            confidence=min((s.confidence for s in out.steps), default=0.0) if out.ok else 0.0,
            reason="" if out.ok else out.reason,
            policy_arm=state.arm,
            arm_note=state.arm_note,
            producer=self.producer,
        )
        return [*out.events, response, completed]

    # -- deciding ----------------------------------------------------------------------------

    def _answer(
        self,
        req: _Request,
        steps: list[PlanStep],
        pinned: Mapping[str, str],
    ) -> None:
        received, state, ids, out = req.received, req.state, req.ids, req.out
        session = (
            previous_answer(state.sessions, received.session_id, before=received.key)
            if state.sessions is not None
            else None
        )
        first_previous: JsonValue | None = session["value"] if session is not None else None
        first_context: dict[str, JsonValue] = (
            dict(session.get("arguments", {})) if session is not None else {}
        )
        if not pinned and self.planned.from_learnt_plan(received, state, ids, out):
            return
        decisions: list[Decision] = []
        previous: JsonValue | None = first_previous
        context: dict[str, JsonValue] = first_context
        previous_tool: str | None = None
        for index, step in enumerate(steps):
            decision = self.decider.decide(
                index,
                step,
                state.policies,
                state.registry,
                previous=previous,
                context=context,
                previous_tool=previous_tool,
                skill_graph=state.skill_graph,
                pinned=pinned.get(step.text),
            )
            out.events.append(self._searched(req, decision))
            if decision.chosen is None:
                if not pinned:
                    weighed = [w.candidate.tool for w in decision.weighed]
                    why_not = self.planned.from_llm(
                        received, state, ids, out, weighed=weighed, previous=first_previous
                    )
                    if why_not is None:
                        return  # the LLM's plan answered (or failed running: out says)
                    if why_not != "no LLM is configured":
                        decision.reason += f"; {why_not}"
                self._not_answered(req, decision, len(steps))
                raise _Failed
            decisions.append(decision)
            record = active_tools(state.registry)[decision.chosen.candidate.tool][1]
            previous = predicted_output(record)
            context = dict(decision.chosen.extraction.arguments)
            previous_tool = decision.chosen.candidate.tool
        self._run(req, decisions, first_previous, first_context)

    def _searched(self, req: _Request, decision: Decision) -> ToolSearched:
        policies = req.state.policies
        return ToolSearched.following(
            req.received,
            event_id=req.ids.next(),
            query=decision.step.text,
            candidates=tuple(decision.candidates),
            threshold=policy_float(policies, "retrieval.threshold"),
            step=decision.index,
            evidence=decision.evidence,
            chosen=decision.chosen.candidate.tool if decision.chosen is not None else None,
            min_confidence=policy_float(policies, "answer.min_confidence"),
            producer=self.producer,
        )

    def _not_answered(
        self,
        req: _Request,
        decision: Decision,
        total: int,
    ) -> None:
        received, state, ids, out = req.received, req.state, req.ids, req.out
        where = f" (part {decision.index + 1}: “{decision.step.text}”)" if total > 1 else ""
        out.reason = decision.reason
        if decision.failure == "missing":
            out.answer = decision.reason + "."
            return
        if decision.failure == "reference":
            out.answer = decision.reason[0].upper() + decision.reason[1:] + "."
            return
        best = decision.weighed[0].candidate.score if decision.weighed else None
        out.events.append(
            ToolSynthesisRequested(
                event_id=ids.next(),
                request_id=received.key,
                need=decision.step.text,
                best_score=best,
                reason=decision.reason,
                correlation_id=received.event_id,
                causation_id=out.events[-1].event_id,
                producer=self.producer,
            )
        )
        why = f" ({decision.reason})"
        if state.writes_tools:
            out.awaiting_tool = True
            out.answer = (
                f"I have no tool for that yet{where}{why}. I am writing one, and will answer "
                "with it once it passes its tests."
            )
        else:
            out.answer = (
                f"I have no tool for that yet{where}{why}. I asked for one to be written; a "
                f"person can add one with `selfeng tools add FILE.py --answer {received.key}`."
            )

    # -- running -----------------------------------------------------------------------------

    def _run(
        self,
        req: _Request,
        decisions: list[Decision],
        first_previous: JsonValue | None,
        first_context: dict[str, JsonValue],
    ) -> None:
        state, out = req.state, req.out
        learn_at = policy_float(state.policies, "learning.min_confidence")
        feeds_next = [
            i + 1 < len(decisions) and decisions[i + 1].chosen.uses_previous  # type: ignore[union-attr]
            for i in range(len(decisions))
        ]
        outputs: dict[int, Any] = {}
        previous: JsonValue | None = first_previous
        at = 0
        while at < len(decisions):
            composite = self._composite_at(decisions, at)
            if composite is not None:
                length = len(composite[2]["spec"]["composition"])
                result = self._run_composite(req, decisions[at : at + length], composite, previous)
                last = at + length - 1
                confidence = min(d.chosen.evidence.confidence for d in decisions[at : last + 1])  # type: ignore[union-attr]
                self._finish_step(out, confidence, learn_at, answer=not feeds_next[last])
                outputs[last] = result
                at += length
            else:
                context = dict(out.steps[-1].arguments) if out.steps else first_context
                result, used = self._run_step(req, decisions[at], previous, context)
                confidence = used.evidence.confidence
                self._finish_step(out, confidence, learn_at, answer=not feeds_next[at])
                outputs[at] = result
                at += 1
            previous = result
        parts = [i for i in sorted(outputs) if not feeds_next[i]]
        out.ok = True
        if len(parts) == 1:
            out.value = outputs[parts[0]]
            out.answer = format_value(out.value)
        else:
            out.value = [outputs[i] for i in parts]
            out.answer = "\n".join(
                f"{decisions[i].step.text}: {format_value(outputs[i])}" for i in parts
            )

    @staticmethod
    def _finish_step(out: Outcome, confidence: float, learn_at: float, *, answer: bool) -> None:
        step = out.steps[-1]
        out.steps[-1] = step.model_copy(
            update={
                "confidence": round(confidence, 4),
                "confident": step.ok and confidence >= learn_at,
                "answer": answer,
            }
        )

    def _run_step(
        self,
        req: _Request,
        decision: Decision,
        previous: JsonValue | None,
        context: dict[str, JsonValue],
    ) -> tuple[Any, Weighed]:
        """Run a step's chosen tool; when it refuses its arguments, the next candidate that
        fit the step. The result and the candidate that gave it."""
        out = req.out
        assert decision.chosen is not None
        first_error: str | None = None
        steps_before = len(out.steps)
        for weighed in [decision.chosen, *decision.fallbacks]:
            run = self._try(req, decision, weighed, previous, context)
            if run.ok:
                del out.steps[steps_before:-1]  # a tool that failed before it: not a step
                return run.value, weighed
            first_error = first_error or run.error
            if run.kind not in {"bad_arguments", "exception"}:
                break  # a timeout, a limit or a sandbox failure: another tool would fare alike
        del out.steps[steps_before + 1 :]  # the answer's step is the chosen tool's failure
        out.answer = first_error or "the tool failed"
        out.reason = out.answer
        raise _Failed

    def _try(
        self,
        req: _Request,
        decision: Decision,
        weighed: Weighed,
        previous: JsonValue | None,
        context: dict[str, JsonValue],
    ) -> Run:
        """Run one candidate for a step."""
        received, state, ids, out = req.received, req.state, req.ids, req.out
        chosen = weighed.candidate
        record = record_of(state.registry, chosen.tool, chosen.version)
        parameters = record["spec"].get("parameters", {}) or {}
        wording = self.decider.wordings.by_tool.get(chosen.tool)
        foreign = self.decider.wordings.foreign(chosen.tool)
        if weighed.uses_previous:
            extraction = extract(
                decision.read,
                parameters,
                wording,
                previous=previous,
                use_previous=True,
                context=context,
                foreign=foreign,
            )
        else:
            extraction = extract(decision.read, parameters, wording, foreign=foreign)
        out.events.append(
            ArgumentsExtracted.following(
                received,
                event_id=ids.next(),
                tool=chosen.tool,
                version=chosen.version,
                arguments=extraction.arguments,
                missing=tuple(extraction.missing),
                step=decision.index,
                confidence=weighed.evidence.confidence,
                producer=self.producer,
            )
        )
        if extraction.missing or extraction.mistyped:
            names = ", ".join([*extraction.missing, *extraction.mistyped])
            return Run(
                error=f"I could not find a value for {names} in “{decision.step.text}” "
                f"(the tool {chosen.tool} needs it).",
                kind="missing",
            )
        step = Step(
            query=decision.step.text,
            template=template(decision.read, extraction),
            tool=chosen.tool,
            version=chosen.version,
            ok=False,
            handoff=extraction.handoff,
        )
        return self.executor.execute(received, step, extraction.arguments, state, ids, out)

    def _composite_at(
        self, decisions: list[Decision], at: int
    ) -> tuple[str, int, VersionRecord] | None:
        """The longest registered composite whose members the steps from ``at`` chose, fed
        the same way (each later member takes the previous output exactly when its step
        does) and at the versions chosen."""
        composites = self.search.composites
        for length in range(len(decisions) - at, 1, -1):
            run = decisions[at : at + length]
            found = composites.get(tuple(d.chosen.candidate.tool for d in run))  # type: ignore[union-attr]
            if found is None:
                continue
            members = found[2]["spec"]["composition"]
            if all(
                m["version"] == d.chosen.candidate.version  # type: ignore[union-attr]
                and (j == 0 or (m["handoff"] is not None) == d.chosen.uses_previous)  # type: ignore[union-attr]
                for j, (m, d) in enumerate(zip(members, run, strict=True))
            ):
                return found
        return None

    def _run_composite(
        self,
        req: _Request,
        segment: list[Decision],
        composite: tuple[str, int, VersionRecord],
        previous: JsonValue | None,
    ) -> Any:
        received, state, ids, out = req.received, req.state, req.ids, req.out
        name, version, record = composite
        members = record["spec"]["composition"]
        arguments: dict[str, JsonValue] = {}
        missing: list[str] = []
        handoff: str | None = None
        for j, (member, decision) in enumerate(zip(members, segment, strict=True)):
            feeds: dict[str, str] = member["arguments"]
            member_spec = record_of(state.registry, member["tool"], member["version"])["spec"]
            parameters = member_spec.get("parameters", {})
            properties = parameters.get("properties", {})
            required = parameters.get("required", list(properties))
            uses = decision.chosen is not None and decision.chosen.uses_previous and j == 0
            extraction = extract(
                decision.read,
                {
                    "type": "object",
                    "properties": {p: properties[p] for p in feeds if p in properties},
                    "required": [p for p in required if p in feeds],
                },
                self.decider.wordings.by_tool.get(member["tool"]),
                previous=previous if uses else None,
                use_previous=uses,
            )
            arguments.update({feeds[p]: v for p, v in extraction.arguments.items()})
            missing += [feeds[p] for p in extraction.missing]
            if j == 0 and extraction.handoff is not None:
                handoff = feeds[extraction.handoff]
        text = " and ".join(d.step.text for d in segment)
        merged = PlanStep(text, segment[0].step.uses_previous)
        out.events.append(
            ArgumentsExtracted.following(
                received,
                event_id=ids.next(),
                tool=name,
                version=version,
                arguments=arguments,
                missing=tuple(missing),
                step=segment[0].index,
                producer=self.producer,
            )
        )
        if missing:
            out.answer = (
                f"I could not find a value for {', '.join(missing)} in “{text}” "
                f"(the tool {name} needs it)."
            )
            out.reason = out.answer
            raise _Failed
        phrase = " and ".join(
            template(d.read, d.chosen.extraction)  # type: ignore[union-attr]
            for d in segment
        )
        step = Step(
            query=merged.text,
            template=phrase,
            tool=name,
            version=version,
            ok=False,
            handoff=handoff,
        )
        run = self.executor.execute(received, step, arguments, state, ids, out)
        if not run.ok:
            out.answer = out.reason = run.error or "the tool failed"
            raise _Failed
        return run.value
