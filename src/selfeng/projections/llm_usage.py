"""LLM usage: calls and tokens per budget subject and per model, folded from LLMCalled.

The cost-limit policies are enforced against this fold: a subject (a request, or a tool
being repaired) may make ``cost.max_llm_calls_per_request`` calls and spend
``cost.max_tokens_per_request`` tokens. It also keeps the ids of the calls made, so that a
learner that crashed after a call and runs again reuses the recorded answer instead of
paying for a second one.
"""

from __future__ import annotations

from typing import TypedDict

from selfeng.projections.base import FoldContext, Projection, add_ms
from selfeng.schemas import Event, LLMCalled


class SubjectUsage(TypedDict):
    """What one subject has spent."""

    calls: int
    tokens: int
    failed: int
    calls_by_purpose: dict[str, int]
    ids: list[str]


class ModelUsage(TypedDict):
    """What one model has been asked."""

    calls: int
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    failed: int


class LLMUsageState(TypedDict):
    """Usage per subject and per model."""

    subjects: dict[str, SubjectUsage]
    models: dict[str, ModelUsage]


class LLMUsageProjection(Projection[LLMUsageState]):
    """Calls, tokens and latency of the LLM, per subject and per model."""

    name = "llm_usage"
    handles = (LLMCalled,)
    tables = ("subjects", "models")

    def initial(self) -> LLMUsageState:
        return LLMUsageState(subjects={}, models={})

    def apply(self, state: LLMUsageState, event: Event, ctx: FoldContext) -> LLMUsageState:
        assert isinstance(event, LLMCalled)
        subject = state["subjects"].setdefault(
            event.subject,
            SubjectUsage(calls=0, tokens=0, failed=0, calls_by_purpose={}, ids=[]),
        )
        subject["calls"] += 1
        subject["tokens"] += event.total_tokens
        subject["failed"] += 0 if event.ok else 1
        by_purpose = subject["calls_by_purpose"]
        by_purpose[event.purpose] = by_purpose.get(event.purpose, 0) + 1
        subject["ids"].append(str(event.event_id))
        model = state["models"].setdefault(
            event.model,
            ModelUsage(calls=0, prompt_tokens=0, completion_tokens=0, latency_ms=0.0, failed=0),
        )
        model["calls"] += 1
        model["prompt_tokens"] += event.prompt_tokens
        model["completion_tokens"] += event.completion_tokens
        model["latency_ms"] = add_ms(model["latency_ms"], event.latency_ms)
        model["failed"] += 0 if event.ok else 1
        return state


def usage_of(state: LLMUsageState, subject: str) -> SubjectUsage:
    """A subject's usage (zeros when it never called the model)."""
    return state["subjects"].get(subject) or SubjectUsage(
        calls=0, tokens=0, failed=0, calls_by_purpose={}, ids=[]
    )
