"""Answering a request with a plan of calls: one learnt before, or one an LLM makes now.

Two ways the request handler answers besides its own step-by-step decision:

- **A learnt plan.** A request with exactly the shape of one an LLM's plan answered before
  (``selfeng.projections.plans``: no bad rating outweighing its uses) is answered by the
  same calls with its own values, offline, before anything else is tried.
- **An LLM's plan.** Where no registered tool, weighed offline, accounts for the request,
  and an LLM is configured, the LLM plans with tool calls (``selfeng.consumers.llm_planner``).

Either way every call is checked before anything runs: the tool is active, every required
argument has a value of its type (a value the plan gives that the tool does not take is
dropped). Each call gets a ``ToolSearched`` saying where it came from, an
``ArgumentsExtracted`` (``extractor``: ``template`` or ``llm:<model>``) and its run. The
calls are independent (their arguments are values), so each call's result is a part of the
answer. Their steps are learnt (``Step.confident``) unless a user rates the answer bad.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue

from selfeng.consumers.executing import EventIds, Executor, HandlerState, Outcome, record_of
from selfeng.consumers.llm_planner import LLMPlanner, Plan, function_spec
from selfeng.consumers.search import ToolSearch
from selfeng.core.plan_templates import TemplateCall, literal_words, match, plan_template
from selfeng.core.policies import policy_float, policy_int
from selfeng.core.scanning import scan
from selfeng.core.step_text import search_text
from selfeng.core.values import coerce, format_value
from selfeng.projections.plans import PlansState, best_variant
from selfeng.projections.registry import active_tools
from selfeng.schemas import (
    ArgumentsExtracted,
    Candidate,
    Evidence,
    RequestReceived,
    Step,
    ToolSearched,
)


@dataclass
class Call:
    """One checked call of a plan."""

    tool: str
    version: int
    arguments: dict[str, JsonValue]


class PlanIndex:
    """The learnt plans' templates by the words they must contain, rebuilt when the plans
    projection changes, so finding the plans a request may match costs a few lookups."""

    def __init__(self) -> None:
        self._seen: tuple[int, int] | None = None
        self._by_word: dict[str, list[str]] = {}
        self._wordless: list[str] = []

    def candidates(self, state: PlansState, text: str) -> list[str]:
        """Templates whose words all occur in ``text`` (then test them with ``match``)."""
        seen = (id(state), state["revision"])
        if seen != self._seen:
            self._by_word, self._wordless = {}, []
            for template in state["plans"]:
                words = literal_words(template)
                if not words:
                    self._wordless.append(template)
                    continue
                key = max(words, key=lambda w: (len(w), w))
                self._by_word.setdefault(key, []).append(template)
            self._seen = seen
        request_words = literal_words(text)
        found = [t for w in request_words for t in self._by_word.get(w, ())]
        return sorted(set(found + self._wordless), key=lambda t: (-len(t), t))


def learnt_plan(
    index: PlanIndex, state: HandlerState, text: str
) -> tuple[str, list[Call], int] | None:
    """(template, checked calls, confirmed uses) of a learnt plan for this request."""
    if state.plans is None:
        return None
    active = active_tools(state.registry)
    for template in index.candidates(state.plans, text):
        values = match(template, text)
        variant = best_variant(state.plans, template) if values is not None else None
        if values is None or variant is None:
            continue
        calls: list[Call] = []
        for data in variant["calls"]:
            call = TemplateCall.from_json(data)
            if call.tool not in active:
                break
            version, record = active[call.tool]
            raw: dict[str, JsonValue] = dict(call.constants)
            raw.update({p: _slot_value(values.get(n, "")) for p, n in call.slots.items()})
            checked = check_arguments(record["spec"].get("parameters", {}), raw)
            if isinstance(checked, str):
                break
            calls.append(Call(call.tool, version, checked))
        else:
            return template, calls, variant["uses"]
    return None


def _slot_value(text: str) -> JsonValue:
    """A slot's text as the value it holds: a number when it is one number, else the text."""
    tokens = scan(text).tokens
    if len(tokens) == 1 and tokens[0].kind == "number" and tokens[0].text.strip() == text.strip():
        return tokens[0].value
    return text


def check_arguments(
    parameters: Mapping[str, Any], given: Mapping[str, JsonValue]
) -> dict[str, JsonValue] | str:
    """The arguments in their parameters' types, or why they do not fit."""
    properties: Mapping[str, Any] = parameters.get("properties", {}) or {}
    required = parameters.get("required", list(properties))
    out: dict[str, JsonValue] = {}
    for name, value in given.items():
        schema = properties.get(name)
        if schema is None:
            continue  # a value the tool does not take
        coerced, problem = coerce(value, schema)
        if problem is not None:
            return f"{name}: {problem}"
        out[name] = coerced
    missing = [name for name in required if name not in out]
    if missing:
        return f"no value for {', '.join(missing)}"
    return out


class PlannedAnswers:
    """Answers requests with learnt plans and with the LLM's plans."""

    def __init__(
        self,
        executor: Executor,
        search: ToolSearch,
        planner: Callable[[], LLMPlanner | None],
    ) -> None:
        self.executor = executor
        self.search = search
        self.planner = planner
        self.index = PlanIndex()

    def from_learnt_plan(
        self, received: RequestReceived, state: HandlerState, ids: EventIds, out: Outcome
    ) -> bool:
        """Answer with a learnt plan of this request's shape; False when there is none."""
        found = learnt_plan(self.index, state, received.prompt)
        if found is None:
            return False
        template, calls, uses = found
        reason = f"a learnt plan for this shape of request ({uses} confirmed uses): {template}"
        self._run(received, state, ids, out, calls, "template", reason)
        return True

    def from_llm(
        self,
        received: RequestReceived,
        state: HandlerState,
        ids: EventIds,
        out: Outcome,
        *,
        weighed: Sequence[str] = (),
        previous: JsonValue | None = None,
    ) -> str | None:
        """Answer with the LLM's plan. None when it answered (``out`` says how it went);
        otherwise why not (no LLM, no call, a plan that does not fit)."""
        planner = self.planner()
        if planner is None:
            return "no LLM is configured"
        active = {
            name: found
            for name, found in active_tools(state.registry).items()
            if not found[1]["spec"].get("composition")
        }
        limit = policy_int(state.policies, "llm.max_tools")
        names = [n for n in weighed if n in active]
        for candidate in self.search.ranked(search_text(received.prompt), state.policies, k=limit):
            if candidate.tool in active and candidate.tool not in names:
                names.append(candidate.tool)
        # then the rest, so a small registry is offered whole
        names += sorted(n for n in active if n not in names)
        names = names[:limit]
        functions = [function_spec(name, active[name][1]["spec"]) for name in names]
        if not functions:
            return "there is no registered tool to plan with"
        plan: Plan = planner.plan(received, functions, previous=previous)
        if not plan.calls:
            return f"the LLM planned no call: {plan.said}" if plan.said else "the LLM made no call"
        calls: list[Call] = []
        for call in plan.calls:
            if call.name not in active:
                return f"the LLM's plan calls {call.name}, which is not registered"
            version, record = active[call.name]
            checked = check_arguments(record["spec"].get("parameters", {}), call.arguments)
            if isinstance(checked, str):
                return f"the LLM's call of {call.name} does not fit: {checked}"
            calls.append(Call(call.name, version, checked))
        called = plan.recorded[0].event_id if plan.recorded else None
        reason = f"planned by the LLM ({plan.model}, LLMCalled {called})"
        self._run(received, state, ids, out, calls, f"llm:{plan.model}", reason)
        return None

    def _run(
        self,
        received: RequestReceived,
        state: HandlerState,
        ids: EventIds,
        out: Outcome,
        calls: Sequence[Call],
        planner: str,
        reason: str,
    ) -> None:
        learn_at = policy_float(state.policies, "learning.min_confidence")
        text = received.prompt.strip()
        results: list[Any] = []
        for index, call in enumerate(calls):
            out.events.append(
                ToolSearched.following(
                    received,
                    event_id=ids.next(),
                    query=text,
                    candidates=(
                        Candidate(tool=call.tool, version=call.version, score=1.0, similarity=1.0),
                    ),
                    threshold=policy_float(state.policies, "retrieval.threshold"),
                    step=index,
                    evidence=(
                        Evidence(
                            tool=call.tool,
                            version=call.version,
                            confidence=1.0,
                            coverage=1.0,
                            arguments=call.arguments,
                            accepted=True,
                            reason=reason,
                        ),
                    ),
                    chosen=call.tool,
                    producer=self.executor.producer,
                )
            )
            out.events.append(
                ArgumentsExtracted.following(
                    received,
                    event_id=ids.next(),
                    tool=call.tool,
                    version=call.version,
                    arguments=call.arguments,
                    extractor=planner,
                    step=index,
                    confidence=1.0,
                    producer=self.executor.producer,
                )
            )
            step = Step(
                query=text,
                template=call_phrase(text, call.arguments),
                tool=call.tool,
                version=call.version,
                ok=False,
                confidence=1.0,
                confident=learn_at <= 1.0,
                planner=planner,
            )
            record_of(state.registry, call.tool, call.version)  # the tool is there
            run = self.executor.execute(received, step, call.arguments, state, ids, out)
            if not run.ok:
                out.answer = out.reason = run.error or "the tool failed"
                return
            results.append(run.value)
        out.ok = True
        if len(results) == 1:
            out.value = results[0]
            out.answer = format_value(results[0])
        else:
            out.value = results
            out.answer = "\n".join(
                f"{call.tool}: {format_value(result)}"
                for call, result in zip(calls, results, strict=True)
            )


def call_phrase(text: str, arguments: Mapping[str, JsonValue]) -> str:
    """A request's wording with one call's argument values replaced by ``{param}``: what
    the call's tool learns to be asked by."""
    template, calls = plan_template(text, [("", 0, arguments)])
    names = {str(number): param for param, number in calls[0].slots.items()}
    for number, param in names.items():
        template = template.replace("{" + number + "}", "{" + param + "}")
    return template
