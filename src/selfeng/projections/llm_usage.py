"""LLM usage: calls and tokens per budget subject and per model, folded from LLMCalled.

The cost-limit policies are enforced against this fold: a subject (a request, or a tool
being repaired) may make ``cost.max_llm_calls_per_request`` calls and spend
``cost.max_tokens_per_request`` tokens. It also keeps the ids of the calls made, so that a
learner that crashed after a call and runs again reuses the recorded answer instead of
paying for a second one.

Subjects are kept for ``RETENTION`` (:mod:`.retention`): one with no call within 30 days of
the newest call seen is forgotten (its budget with it: a request asked again a month later
starts afresh), so the state is bounded by a month of traffic. Per-model totals are kept
for ever (there are few models).
"""

from __future__ import annotations

from typing import TypedDict

from selfeng.projections.base import FoldContext, Projection, add_ms
from selfeng.projections.retention import Retention, forget
from selfeng.schemas import Event, LLMCalled

RETENTION = Retention(days=30)
"""How long a subject's usage is kept after its last call."""


class SubjectUsage(TypedDict):
    """What one subject has spent."""

    calls: int
    tokens: int
    failed: int
    calls_by_purpose: dict[str, int]
    ids: list[str]
    last_ms: int


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
    newest_day: int | None  # the day of the newest call seen (days since 1970, UTC)


class LLMUsageProjection(Projection[LLMUsageState]):
    """Calls, tokens and latency of the LLM, per subject and per model."""

    name = "llm_usage"
    version = 2
    handles = (LLMCalled,)
    tables = ("subjects", "models")

    def initial(self) -> LLMUsageState:
        return LLMUsageState(subjects={}, models={}, newest_day=None)

    def apply(self, state: LLMUsageState, event: Event, ctx: FoldContext) -> LLMUsageState:
        assert isinstance(event, LLMCalled)
        self._add_to_model(state, event)
        at_ms = int(event.occurred_at.timestamp() * 1000)
        if RETENTION.expired(state["newest_day"], at_ms):
            return state  # its subject is forgotten already
        state["newest_day"], moved = RETENTION.advance(state["newest_day"], at_ms)
        if moved:
            horizon = RETENTION.horizon_ms(state["newest_day"]) or 0
            forget(state["subjects"], lambda usage: usage["last_ms"] >= horizon)
        subject = state["subjects"].setdefault(
            event.subject,
            SubjectUsage(calls=0, tokens=0, failed=0, calls_by_purpose={}, ids=[], last_ms=at_ms),
        )
        subject["last_ms"] = max(subject["last_ms"], at_ms)
        subject["calls"] += 1
        subject["tokens"] += event.total_tokens
        subject["failed"] += 0 if event.ok else 1
        by_purpose = subject["calls_by_purpose"]
        by_purpose[event.purpose] = by_purpose.get(event.purpose, 0) + 1
        subject["ids"].append(str(event.event_id))
        return state

    @staticmethod
    def _add_to_model(state: LLMUsageState, event: LLMCalled) -> None:
        model = state["models"].setdefault(
            event.model,
            ModelUsage(calls=0, prompt_tokens=0, completion_tokens=0, latency_ms=0.0, failed=0),
        )
        model["calls"] += 1
        model["prompt_tokens"] += event.prompt_tokens
        model["completion_tokens"] += event.completion_tokens
        model["latency_ms"] = add_ms(model["latency_ms"], event.latency_ms)
        model["failed"] += 0 if event.ok else 1


def usage_of(state: LLMUsageState, subject: str) -> SubjectUsage:
    """A subject's usage (zeros when it never called the model)."""
    return state["subjects"].get(subject) or SubjectUsage(
        last_ms=0, calls=0, tokens=0, failed=0, calls_by_purpose={}, ids=[]
    )
