"""The LLM planner: where the offline planner is not confident, an LLM plans with tool calls.

The request handler asks it when no registered tool, weighed offline, accounts for a
request. It offers the model the registered tools that best match the request as functions
(their JSON Schemas; ``llm.max_tools``) and asks it to call the ones that answer the request,
in order, with arguments from the request; or to call none and say why. The call is an
``LLMCalled`` event (purpose ``planning``) charged to the request's budget
(``cost.max_llm_calls_per_request``, ``cost.max_tokens_per_request``), and a request handled
again reuses the recorded plan instead of paying twice.

What the model decides is checked like any other plan before it runs: each call must name
an offered tool and give every required argument a value of its type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import JsonValue

from selfeng.consumers.learner import BudgetExhausted, LLMCaller
from selfeng.consumers.ports import LearnerPorts
from selfeng.core.values import format_value
from selfeng.schemas import ChatMessage, FunctionSpec, LLMCalled, RequestReceived, ToolCall

PRODUCER = "selfeng.request-handler.planner"
"""The producer of the planner's LLMCalled events."""

SYSTEM = """You plan for a tool-using agent. Answer the user's request by calling the \
functions offered: call every function the request needs, in the order they must run, with \
each argument's value taken from the request (or from the previous answer, when the request \
refers to it). Call only functions that do what the request asks. If no offered function \
can answer the request, or a value it needs is not given, call none and say why in one \
sentence."""


@dataclass
class Plan:
    """What the LLM planned for a request."""

    model: str = ""
    """The model that planned, as the server named it."""
    calls: list[ToolCall] = field(default_factory=list)
    """The calls, in order (empty: it found none to make)."""
    said: str = ""
    """What it said instead, or why it could not plan (budget, failure)."""
    recorded: list[LLMCalled] = field(default_factory=list)
    """The LLMCalled event (as the log holds it)."""


class LLMPlanner:
    """Plans requests through the LLM port, within the request's cost limits."""

    def __init__(self, ports: LearnerPorts) -> None:
        self.ports = ports

    def plan(
        self,
        received: RequestReceived,
        functions: Sequence[FunctionSpec],
        *,
        previous: JsonValue | None = None,
        attempt: int = 1,
    ) -> Plan:
        """The LLM's plan for ``received`` with ``functions`` offered."""
        llm = self.ports.llm
        if llm is None:
            return Plan(said="no LLM is configured")
        user = received.prompt.strip()
        if previous is not None:
            user += f"\n\n(The previous answer in this conversation was: {format_value(previous)})"
        messages = [
            ChatMessage(role="system", content=SYSTEM),
            ChatMessage(role="user", content=user),
        ]
        caller = LLMCaller(self.ports, llm, producer=PRODUCER)
        try:
            called = caller.call(
                messages,
                subject=received.key,
                purpose="planning",
                attempt=attempt,
                cause=received,
                tools=functions,
                tool_choice="auto",
                max_answer_tokens=1000,
                record_specs=False,  # registered tools: their specs are in the log
            )
        except BudgetExhausted as exc:
            return Plan(said=f"a cost limit stopped the LLM: {exc}")
        if not called.ok:
            said = f"the LLM failed: {called.error}"
            return Plan(model=called.model, said=said, recorded=[called])
        return Plan(
            model=called.model,
            calls=list(called.tool_calls),
            said=called.response.strip(),
            recorded=[called],
        )


def function_spec(name: str, spec: dict[str, object]) -> FunctionSpec:
    """A registered tool's spec as a function offered to the model."""
    parameters = spec.get("parameters") or {"type": "object", "properties": {}}
    return FunctionSpec(
        name=name,
        description=str(spec.get("description", ""))[:1000],
        parameters=parameters,
    )
