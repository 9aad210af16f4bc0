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

Then the steps run (``selfeng.consumers.step_runner``): each with its chosen tool, or with
the next candidate that also fit when that tool fails on its arguments; a run of steps whose
tools are the members of a registered composite is answered by the composite in one call.
Steps whose output no later step takes are the answer's parts: one part is the answer,
several (a request with independent questions) are all answered. A follow-up in a session
("Now reverse the result") works on the session's previous answer.

The handler returns events; the caller appends them in one batch. Their ids derive from the
request's event id (and from the attempt, when a request is answered again after a tool was
written for it), so handling the same request twice stores nothing twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from pydantic import JsonValue

from selfeng.consumers.deciding import (
    OPERATION_NOUNS,
    Decider,
    Decision,
    predicted_output,
    refers_back,
)
from selfeng.consumers.executing import EventIds, Executor, HandlerState, Outcome
from selfeng.consumers.llm_planner import LLMPlanner
from selfeng.consumers.planned import PlannedAnswers
from selfeng.consumers.search import ToolSearch
from selfeng.consumers.step_runner import RequestContext, StepFailed, StepRunner
from selfeng.core.follow_ups import (
    bare_number_for,
    continued,
    included_with,
    made_into,
    restate,
)
from selfeng.core.planning import PlanStep, plan
from selfeng.core.policies import policy_float
from selfeng.core.retractions import taken_back
from selfeng.core.sandbox import Sandbox
from selfeng.core.scanning import scan
from selfeng.core.values import format_value, shown
from selfeng.projections.registry import active_tools, rejected_answer
from selfeng.projections.sessions import SessionAnswer, previous_answer
from selfeng.schemas import (
    Event,
    RequestCompleted,
    RequestReceived,
    ResponseSynthesized,
    ToolSearched,
    ToolSynthesisRequested,
)

__all__ = ["MAX_PROMPT", "HandlerState", "RequestHandler"]

MAX_PROMPT = 20_000
"""Characters of a prompt the handler reads; a longer one is answered with a refusal."""
MAX_STEPS = 12
"""Steps of one request's plan the handler answers; a longer plan is refused."""


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
        self.runner = StepRunner(self.executor, self.decider, search)

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
        elif (marker := taken_back(prompt)) is not None:
            out.answer = (
                f"The request takes back part of what it asks (“{marker}”), and which part "
                "stands would be a guess: ask again with only what you mean."
            )
            out.reason = "the request corrects itself"
        else:
            self.search.refresh(state.registry, state.policies)
            self.decider.wordings.refresh(state.registry)
            # misspelt words read as the tools' ("farenheit"): the steps' queries show it
            prompt, _ = self.decider.wordings.spelling.respelled(prompt)
            steps = plan(prompt, self.search.vocabulary)
            if len(steps) > MAX_STEPS:
                out.answer = (
                    f"The request has {len(steps)} parts; I answer at most {MAX_STEPS} at once."
                )
                out.reason = "too many parts"
            else:
                try:
                    self._answer(RequestContext(received, state, ids, out), steps, pinned or {})
                except StepFailed:
                    out.ok = False
                if out.ok and rejected_answer(state.registry, received.prompt, out.answer):
                    # whichever tool gave it: a user rated this answer to this request bad
                    out.ok, out.value = False, None
                    out.reason = "this answer to this request was rated bad"
                    out.answer = (
                        f"The answer I find, “{shown(out.answer)}”, is one you rated bad for "
                        "this request, and I have no other."
                    )
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
        req: RequestContext,
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
            pinned_tool = pinned.get(step.text)
            written = continued(step.text) if index == 0 and session is not None else None
            if written is not None:
                step = PlanStep(written, uses_previous=True)  # "minus 10": the answer before
            decision = self.decider.decide(
                index,
                step,
                state.policies,
                state.registry,
                previous=previous,
                context=context,
                previous_tool=previous_tool,
                skill_graph=state.skill_graph,
                pinned=pinned_tool,
            )
            if index == 0 and len(steps) == 1 and session is not None and pinned_tool is None:
                decision = self._follow_up(req, step, session, decision)
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
                raise StepFailed
            decisions.append(decision)
            record = active_tools(state.registry)[decision.chosen.candidate.tool][1]
            previous = predicted_output(record)
            context = dict(decision.chosen.extraction.arguments)
            previous_tool = decision.chosen.candidate.tool
        self.runner.run(req, decisions, first_previous, first_context)

    def _follow_up(
        self, req: RequestContext, step: PlanStep, session: SessionAnswer, decision: Decision
    ) -> Decision:
        """A follow-up that leaves out what the session's previous request said ("What
        about 20 km?", "And the median?"), decided as written out in full; ``decision`` (the
        step as asked) when it does not read as one or the full text is not answered.

        The full text comes first: "and 25%?" after "What is 15% of 200?" asks for 25% of
        200, not 25% of the answer 30 (a follow-up that only continues, "times 5", has a word
        the previous request did not, and is not restated)."""
        pointing = refers_back(step.text)
        earlier = session.get("query", "")
        values = made_into(step.text, earlier)
        if values is not None:  # "make that 25%" after "15% of 80": 25% of 80
            return self._remade(req, decision, values, earlier, session)
        chosen = decision.chosen
        if chosen is not None and chosen.extraction.handoff is not None:
            included = included_with(step.text, session["value"], session["arguments"])
            if included is not None:  # "and with 12 added?" after the mean of 3, 6, 9
                return _asked_back(decision, included)
        if pointing and pointing.lower().removeprefix("the ") not in OPERATION_NOUNS:
            if _text_or_its_count(decision, session):
                return _asked_back(
                    decision,
                    f"“{pointing}” may be the text the previous request was about or the "
                    f"number it answered ({format_value(session['value'])}): which one?",
                )
            return decision  # "and lowercase it": the previous answer, as it says
        unsaid = bare_number_for(step.text, earlier)
        if unsaid is not None:  # "and 20?" after "15 percent of 250"
            return _asked_back(decision, unsaid)
        # "and the sum?" after "mean of 4, 8, 15": a new question about the same values
        restated = restate(step.text, earlier, session.get("arguments", {}))
        if restated is None or restated == step.text:
            if not pointing and self._asked_again(decision, earlier):
                return _asked_back(
                    decision,
                    "it asks the previous question again another way without saying of "
                    "what: the previous answer, or the previous request's values?",
                )
            return decision
        full = self._in_full(req, restated)
        return full if full.chosen is not None else decision

    def _in_full(self, req: RequestContext, restated: str) -> Decision:
        """The decision for a follow-up written out in full: on its own values, not the
        previous answer."""
        state = req.state
        return self.decider.decide(
            0,
            PlanStep(restated, uses_previous=False),
            state.policies,
            state.registry,
            previous=None,
            skill_graph=state.skill_graph,
        )

    def _remade(
        self,
        req: RequestContext,
        decision: Decision,
        values: str,
        earlier: str,
        session: SessionAnswer,
    ) -> Decision:
        """A follow-up that gives values to take the place of the previous request's
        (``earlier``: "make that 25%"), decided as the previous request written out with
        them; asked back when it cannot be written out one way, or the written-out request
        is not answered."""
        unsaid = bare_number_for(values, earlier)
        if unsaid is not None:  # "make it 20" after "15 percent of 250"
            return _asked_back(decision, unsaid)
        restated = restate(values, earlier, session.get("arguments", {}))
        if restated is not None and restated != values:
            full = self._in_full(req, restated)
            if full.chosen is not None:
                return full
        return _asked_back(
            decision,
            f"“{values}” may take the place of a value of the previous request "
            f"(“{shown(earlier)}”) or work on its answer: which one?",
        )

    def _asked_again(self, decision: Decision, earlier_query: str) -> bool:
        """Whether a follow-up that names no value took the previous answer for a tool the
        previous request asked for by name: "and cubed?" after "what's 3 squared" asks for
        3 cubed (the question again, another way), not the answer 9 cubed, where "and
        rounded?" after "10 divided by 3" continues from the answer."""
        chosen = decision.chosen
        if chosen is None or not chosen.uses_previous:
            return False
        if any(not took for took in chosen.extraction.took.values()):
            # a conversion that continues from the unit the answer is in ("what about in
            # kelvin" after "and 40?" to fahrenheit): the same quantity either way
            return False
        wording = self.decider.wordings.by_tool.get(chosen.candidate.tool)
        if wording is None:
            return False
        # any token's word: "squared" is read as a number (the exponent 2)
        return any(t.word and wording.matches(t.word)[0] for t in scan(earlier_query).tokens)

    def _searched(self, req: RequestContext, decision: Decision) -> ToolSearched:
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
        req: RequestContext,
        decision: Decision,
        total: int,
    ) -> None:
        received, state, ids, out = req.received, req.state, req.ids, req.out
        where = f" (part {decision.index + 1}: “{shown(decision.step.text)}”)" if total > 1 else ""
        out.reason = decision.reason
        if decision.failure == "missing":
            out.answer = _sentence(decision.reason)
            return
        if decision.failure in {"reference", "ambiguous"}:
            out.answer = _sentence(decision.reason[0].upper() + decision.reason[1:])
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


def _asked_back(decision: Decision, reason: str) -> Decision:
    """``decision`` declined as a question back to the asker: it can be read more than one
    way, and ``reason`` asks which."""
    decision.fallbacks, decision.rivals = [], []
    decision.chosen, decision.failure, decision.reason = None, "ambiguous", reason
    return decision


def _text_or_its_count(decision: Decision, session: SessionAnswer) -> bool:
    """Whether "it" hands a number the previous request found in a text ("how many letters
    in 'apple'") to a parameter that takes text ("reverse it"): the text or the number?"""
    chosen = decision.chosen
    if chosen is None or chosen.extraction.handoff is None:
        return False
    value = chosen.extraction.arguments.get(chosen.extraction.handoff)
    if not isinstance(value, str) or isinstance(session["value"], str):
        return False
    return any(isinstance(v, str) for v in session["arguments"].values())


def _sentence(text: str) -> str:
    """``text`` ended as a sentence: a full stop, unless it asks a question."""
    return text if text.endswith("?") else text + "."
