"""Running the steps a request's decisions chose, and building the answer from them.

The request handler (``selfeng.consumers.request_handler``) decides every step of a request
first; then this runs them: ``ArgumentsExtracted`` and a ``CacheHit`` (a fresh result of a
deterministic tool) or a ``ToolExecuted`` (a sandbox run) each (``selfeng.consumers.executing``);
a step whose tool fails on its arguments (it raises) is tried with the next candidate that also
fit. A run of steps whose tools are the members of a registered composite, fed the same way, is
answered by the composite in one call. Steps whose output no later step takes are the answer's
parts: one part is the answer, several (a request with independent questions) are all answered.

Also here: what every step of one request reads and appends to (``RequestContext``), and
``StepFailed``, which ends a request whose step could not be answered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue

from selfeng.consumers.deciding import Decider, Decision, Weighed
from selfeng.consumers.executing import (
    EventIds,
    Executor,
    HandlerState,
    Outcome,
    Run,
    record_of,
)
from selfeng.consumers.search import ToolSearch
from selfeng.core.arguments import extract, template
from selfeng.core.evidence_words import asks_quantity, gives_word, is_quantity
from selfeng.core.planning import PlanStep
from selfeng.core.policies import policy_float
from selfeng.core.values import format_value, json_type, shown
from selfeng.projections.patterns import Criteria, meets
from selfeng.projections.registry import VersionRecord
from selfeng.schemas import ArgumentsExtracted, RequestReceived, Step


class StepFailed(Exception):
    """A step could not be answered; the outcome says why."""


@dataclass(frozen=True)
class RequestContext:
    """One request being answered: what every step reads, and where it appends."""

    received: RequestReceived
    state: HandlerState
    ids: EventIds
    out: Outcome


class StepRunner:
    """Runs a request's decided steps with their chosen tools (or a composite of them)."""

    def __init__(self, executor: Executor, decider: Decider, search: ToolSearch) -> None:
        """``executor`` runs a tool; ``decider`` knows the tools' wordings (to extract the
        arguments of a fallback or a composite's members); ``search`` the composites."""
        self.executor = executor
        self.decider = decider
        self.search = search

    def run(
        self,
        req: RequestContext,
        decisions: list[Decision],
        first_previous: JsonValue | None,
        first_context: dict[str, JsonValue],
    ) -> None:
        """Run ``decisions`` (every step of the request, each with a chosen tool) and put
        the answer in ``req.out``; ``first_previous`` and ``first_context`` are what the
        first step may take from the session's previous answer. Raises ``StepFailed`` when
        a step cannot be answered (``req.out`` says why)."""
        state, out = req.state, req.out
        learn_at = policy_float(state.policies, "learning.min_confidence")
        # a step is a part of the answer unless the next one works on its output and was
        # not asked as well as it ("to miles, then to feet" against "and *also* to feet")
        feeds_next = [
            i + 1 < len(decisions)
            and decisions[i + 1].picked.uses_previous
            and not decisions[i + 1].step.also
            for i in range(len(decisions))
        ]
        outputs: dict[int, Any] = {}
        previous: JsonValue | None = first_previous
        at = 0
        while at < len(decisions):
            composite = self._composite_at(decisions, at, state)
            if composite is not None:
                length = len(composite[2]["spec"]["composition"])
                result = self._run_composite(req, decisions[at : at + length], composite, previous)
                last = at + length - 1
                confidence = min(d.picked.evidence.confidence for d in decisions[at : last + 1])
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
        req: RequestContext,
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
        counting = asks_quantity(decision.step.text)
        for weighed in [decision.chosen, *decision.fallbacks]:
            run = self._try(req, decision, weighed, previous, context)
            if run.ok and counting and not is_quantity(run.value):
                # "how many items are in {...}" answered with the list itself: no answer
                kind = gives_word(json_type(run.value))
                first_error = first_error or (
                    f"the request asks how many, and {weighed.candidate.tool} gave {kind}, "
                    "not a number"
                )
                continue
            if run.ok:
                del out.steps[steps_before:-1]  # a tool that failed before it: not a step
                if weighed is decision.chosen:
                    self._check_rivals(req, decision, run, previous, context)
                return run.value, weighed
            first_error = first_error or run.error
            if run.kind not in {"bad_arguments", "exception"}:
                break  # a timeout, a limit or a sandbox failure: another tool would fare alike
        del out.steps[steps_before + 1 :]  # the answer's step is the chosen tool's failure
        out.answer = first_error or "the tool failed"
        out.reason = out.answer
        raise StepFailed

    def _check_rivals(
        self,
        req: RequestContext,
        decision: Decision,
        run: Run,
        previous: JsonValue | None,
        context: dict[str, JsonValue],
    ) -> None:
        """Run the pure tools that fit the step as well as the chosen one; when one answers
        otherwise, which answer is meant is a guess ("count sheep": 1 word, 5 characters),
        so the step fails and says so. Their runs are events of the request, not steps."""
        out = req.out
        assert decision.chosen is not None
        for rival in decision.rivals:
            kept = len(out.steps)
            other = self._try(req, decision, rival, previous, context)
            del out.steps[kept:]
            if other.ok and not _same(other.value, run.value):
                chosen, tool = decision.chosen.candidate.tool, rival.candidate.tool
                out.answer = (
                    f"“{shown(decision.step.text)}” fits {chosen} and {tool} equally well, "
                    f"and they answer differently ({format_value(run.value)} and "
                    f"{format_value(other.value)}): say which is meant"
                )
                out.reason = f"{chosen} and {tool} fit equally and disagree"
                raise StepFailed

    def _try(
        self,
        req: RequestContext,
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
                producer=self.executor.producer,
            )
        )
        if extraction.missing or extraction.mistyped:
            names = ", ".join([*extraction.missing, *extraction.mistyped])
            return Run(
                error=f"I could not find a value for {names} in “{shown(decision.step.text)}” "
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
        self, decisions: list[Decision], at: int, state: HandlerState
    ) -> tuple[str, int, VersionRecord] | None:
        """The longest registered composite whose members the steps from ``at`` chose, fed
        the same way (each later member takes the previous output exactly when its step
        does) and at the versions chosen, whose pattern meets the composite-promotion
        policy of the arm answering (``composite.*``, on the arm's own patterns)."""
        composites = self.search.composites
        criteria = Criteria.of(state.policies) if composites else None
        for length in range(len(decisions) - at, 1, -1):
            run = decisions[at : at + length]
            if any(d.step.also for d in run[1:]):
                continue  # a composite answers with its last output only
            tools = tuple(d.picked.candidate.tool for d in run)
            found = composites.get(tools)
            if found is None:
                continue
            patterns = state.patterns
            if patterns is not None and criteria and not meets(patterns, tools, criteria):
                continue
            members = found[2]["spec"]["composition"]
            if all(
                m["version"] == d.picked.candidate.version
                and (j == 0 or (m["handoff"] is not None) == d.picked.uses_previous)
                for j, (m, d) in enumerate(zip(members, run, strict=True))
            ):
                return found
        return None

    def _run_composite(
        self,
        req: RequestContext,
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
                producer=self.executor.producer,
            )
        )
        if missing:
            out.answer = (
                f"I could not find a value for {', '.join(missing)} in “{shown(text)}” "
                f"(the tool {name} needs it)."
            )
            out.reason = out.answer
            raise StepFailed
        phrase = " and ".join(template(d.read, d.picked.extraction) for d in segment)
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
            raise StepFailed
        return run.value


def _same(a: JsonValue, b: JsonValue) -> bool:
    """Whether two answers agree: numbers to nine significant digits (one tool rounds its
    result to ten decimals, another does not), anything else exactly (a yes is no 1)."""
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)  # two bools: True is 1.0
    return a == b
