"""What a learner is, and how learners call the LLM within the cost limits.

A learner reacts to events of some types by appending events of its own. It is given
``LearnerPorts`` (``selfeng.consumers.ports``: read-only views of the tables, the log, the
sandbox and the LLM), not the runtime. On the embedded
default the runtime calls it right after the events it reacts to are appended (so a single
``selfeng ask`` already learns); under ``selfeng worker`` each learner is a consumer group
of its own with its own tracked position. Either way a learner appends with ids derived
from the event it reacts to, so reacting twice to one event (a worker restarted between
append and commit, or an in-process learner and a worker both reacting) stores its output
once.
"""

from __future__ import annotations

import logging
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from selfeng.consumers.ports import LearnerPorts
from selfeng.core.llm import LLM, LLMError, estimate_prompt_tokens
from selfeng.core.policies import policy_int
from selfeng.projections.llm_usage import LLMUsageState, usage_of
from selfeng.schemas import ChatMessage, Event, LLMCalled
from selfeng.schemas.ids import derived_uuid7
from selfeng.schemas.learning import FunctionSpec, LLMPurpose, ToolChoice

logger = logging.getLogger(__name__)

MIN_ANSWER_TOKENS = 256
"""A call is not made when fewer tokens than this would be left for the answer."""


class Learner(ABC):
    """Reacts to events by appending what it learnt."""

    name: ClassVar[str]
    """Stable name; ``selfeng worker`` tracks its position as group ``selfeng.learner.<name>``."""
    reacts_to: ClassVar[frozenset[str]]
    """Event types it reacts to."""

    def __init__(self, ports: LearnerPorts) -> None:
        self.ports = ports

    def wants(self, event: Event) -> bool:
        """Whether it reacts to ``event`` (by default: to every event of its types)."""
        return event.type in self.reacts_to

    @abstractmethod
    def react(self, event: Event) -> list[Event]:
        """Append what ``event`` teaches; return the events appended (as the log holds them)."""

    def event_id(self, cause: Event, *parts: str) -> uuid.UUID:
        """An id derived from the event reacted to, so a second reaction stores nothing new."""
        ms = int(cause.occurred_at.timestamp() * 1000)
        return derived_uuid7(ms, str(cause.event_id), self.name, *parts)


class BudgetExhausted(Exception):
    """A call would go over a cost limit; the message says which."""


class LLMCaller:
    """Calls the LLM for a subject within its budget and records every call as LLMCalled."""

    def __init__(self, ports: LearnerPorts, llm: LLM, *, producer: str) -> None:
        self.ports = ports
        self.llm = llm
        self.producer = producer

    def call(
        self,
        messages: Sequence[ChatMessage],
        *,
        subject: str,
        purpose: LLMPurpose,
        attempt: int,
        cause: Event,
        max_answer_tokens: int = 2000,
        tools: Sequence[FunctionSpec] | None = None,
        tool_choice: ToolChoice | None = None,
        record_specs: bool = True,
    ) -> LLMCalled:
        """The recorded call (``ok`` False when the model failed).

        ``tools`` offers functions the model may call (``tool_choice``: whether it must);
        the calls it made are the event's ``tool_calls``, and a call the adapter could not
        parse is a failed call. A call already in the log (same subject, purpose, attempt
        and cause) is returned as recorded, tool calls included, not made again. Raises
        BudgetExhausted when the subject has used its calls or would go over its tokens.
        With ``record_specs`` False the event names the functions offered without their
        schemas (registered tools: their specs are in the log already, and a planning call
        offering dozens of them would otherwise store every schema again each time).
        """
        ms = int(cause.occurred_at.timestamp() * 1000)
        event_id = derived_uuid7(ms, str(cause.event_id), "llm", subject, purpose, str(attempt))
        usage_state: LLMUsageState = self.ports.state("llm_usage")
        usage = usage_of(usage_state, subject)
        if str(event_id) in usage["ids"]:
            recorded = self._recorded(subject, event_id)
            if recorded is not None:
                return recorded
        policies = self.ports.policies()
        max_calls = policy_int(policies, "cost.max_llm_calls_per_request")
        max_tokens = policy_int(policies, "cost.max_tokens_per_request")
        if usage["calls"] >= max_calls:
            raise BudgetExhausted(
                f"it has made {usage['calls']} LLM calls, the limit "
                f"(cost.max_llm_calls_per_request = {max_calls})"
            )
        offered = tuple(tools or ())
        prompt = estimate_prompt_tokens(messages, offered)
        room = max_tokens - usage["tokens"] - prompt
        if room < MIN_ANSWER_TOKENS:
            raise BudgetExhausted(
                f"it has spent {usage['tokens']:,} of its {max_tokens:,} tokens "
                f"(cost.max_tokens_per_request) and the next prompt is about {prompt:,}"
            )
        common = {
            "event_id": event_id,
            "subject": subject,
            "purpose": purpose,
            "attempt": attempt,
            "messages": tuple(messages),
            "tools": offered
            if record_specs
            else tuple(FunctionSpec(name=spec.name) for spec in offered),
            "tool_choice": tool_choice if offered else None,
            "producer": self.producer,
        }
        started = time.perf_counter()
        try:
            answer_tokens = min(max_answer_tokens, room)
            if offered:
                completion = self.llm.complete(
                    messages, max_tokens=answer_tokens, tools=offered, tool_choice=tool_choice
                )
            else:  # the call an LLM written before tool calling still accepts
                completion = self.llm.complete(messages, max_tokens=answer_tokens)
        except LLMError as exc:
            event = LLMCalled.following(
                cause,
                **common,
                model=self.llm.model,
                prompt_tokens=prompt,
                latency_ms=round((time.perf_counter() - started) * 1000, 3),
                ok=False,
                error=str(exc),
            )
        else:
            event = LLMCalled.following(
                cause,
                **common,
                model=completion.model,
                response=completion.text,
                tool_calls=completion.tool_calls,
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
                latency_ms=round(completion.latency_ms, 3),
            )
        stored = self.ports.record([event])[0]
        assert isinstance(stored, LLMCalled)
        return stored

    def _recorded(self, subject: str, event_id: uuid.UUID) -> LLMCalled | None:
        for event in self.ports.history(subject):
            if event.event_id == event_id and isinstance(event, LLMCalled):
                return event
        return None
