"""Tool synthesis: per request that found no tool, what was tried and how it ended.

Folds the synthesis requests (ToolSynthesisRequested, keyed by request id), the tools the
LLM proposed for them (ToolProposed with origin ``llm``, joined by the request's correlation
id) and their verdicts (ToolVerified / ToolRejected), the LLM calls charged to them
(LLMCalled, purpose ``synthesis``) and how the request ended (RequestCompleted).

These events live on three topics and several keys, which Kafka interleaves arbitrarily, so
each kind is kept apart, keyed by what orders it, and joined at read time (``pending``,
``details``): the state is the same whatever the cross-key order. A proposal's verdict has
the proposal's key (the tool), so it always comes after it. Only completions of requests
that once failed without running a tool are kept (a request that is answered at the first
try never needed a tool written): the later ok answer of such a request has its key and its
topic, so it comes after the failure.

Rows are kept for ``RETENTION`` (:mod:`.retention`): a request's rows go when nothing
about it happened within 30 days of the newest event seen, so the state is bounded by the
traffic of a month, not by the length of the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from selfeng.projections.base import FoldContext, Projection
from selfeng.projections.retention import DAY_MS, Retention, forget
from selfeng.schemas import (
    Event,
    LLMCalled,
    RequestCompleted,
    ToolProposed,
    ToolRejected,
    ToolSynthesisRequested,
    ToolVerified,
)

SYNTHESIZER = "selfeng.learner.synthesizer"
"""The producer of the synthesizer's events (its honest give-up answer among them)."""
MAX_OUTPUT = 2000
"""Characters of a rejected proposal's test output kept."""
RETENTION = Retention(days=30)
"""How long a request's rows are kept after the last thing that happened to it."""


class RequestRecord(TypedDict):
    """A synthesis request: what is needed."""

    need: str
    best_score: float | None
    at: str
    correlation_id: str | None
    event_id: str


class AnswerRecord(TypedDict):
    """How a request that once found no tool ended (so far)."""

    at: str  # when it first failed without running a tool
    answered_by: list[str] | None  # the tools of its first ok answer
    answered_at: str | None
    gave_up: str | None  # the synthesizer's honest answer, when it gave up
    gave_up_at: str | None


class ProposalRecord(TypedDict):
    """A tool the LLM wrote for a request, and its verdict."""

    tool: str
    version: int
    at: str
    status: str  # proposed, verified or rejected
    reason: str | None
    output: str
    passed: int
    failed: int
    event_id: str
    cause: str | None  # the event it followed (the LLM call that wrote it)


class CallRecord(TypedDict):
    """One LLM call charged to a synthesis."""

    attempt: int
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    ok: bool
    error: str | None
    at: str
    event_id: str


class SynthesisState(TypedDict):
    """Each kind of event apart, keyed by what orders it; joined when read."""

    requests: dict[str, RequestRecord]  # request id -> its latest synthesis request
    answers: dict[str, AnswerRecord]  # request id -> how it ended
    proposals: dict[str, dict[str, ProposalRecord]]  # correlation id -> tool@version -> it
    calls: dict[str, list[CallRecord]]  # request id -> its synthesis LLM calls
    newest_day: int | None  # the day of the newest event seen (days since 1970, UTC)


class SynthesisProjection(Projection[SynthesisState]):
    """Synthesis requests, the tools written for them, their LLM cost and their outcome."""

    name = "synthesis"
    version = 2
    handles = (
        ToolSynthesisRequested,
        ToolProposed,
        ToolVerified,
        ToolRejected,
        LLMCalled,
        RequestCompleted,
    )
    tables = ("requests", "answers", "proposals", "calls")

    def initial(self) -> SynthesisState:
        return SynthesisState(requests={}, answers={}, proposals={}, calls={}, newest_day=None)

    def apply(self, state: SynthesisState, event: Event, ctx: FoldContext) -> SynthesisState:
        at_ms = int(event.occurred_at.timestamp() * 1000)
        newest = state["newest_day"]
        if newest is None or at_ms // DAY_MS != newest:  # not the usual case: the newest day's
            if RETENTION.expired(newest, at_ms):
                return state
            state["newest_day"], moved = RETENTION.advance(newest, at_ms)
            if moved:
                _forget_inactive(state)
        match event:
            # the frequent type first: each case is a type check
            case RequestCompleted(ok=False) if not event.steps:
                at = _iso(event)
                answer = state["answers"].setdefault(event.key, _new_answer(at))
                if event.producer == SYNTHESIZER:
                    answer["gave_up"], answer["gave_up_at"] = event.answer, at
            case RequestCompleted(ok=True):
                known = state["answers"].get(event.key)
                if known is not None and known["answered_by"] is None:
                    known["answered_by"], known["answered_at"] = list(event.tools), _iso(event)
            case ToolSynthesisRequested(request_id=request_id):
                state["requests"][request_id] = RequestRecord(
                    need=event.need,
                    best_score=event.best_score,
                    at=_iso(event),
                    correlation_id=_str(event.correlation_id),
                    event_id=str(event.event_id),
                )
            case ToolProposed(origin="llm") if event.correlation_id is not None:
                by_key = state["proposals"].setdefault(str(event.correlation_id), {})
                by_key[f"{event.tool}@{event.version}"] = ProposalRecord(
                    tool=event.tool,
                    version=event.version,
                    at=_iso(event),
                    status="proposed",
                    reason=None,
                    output="",
                    passed=0,
                    failed=0,
                    event_id=str(event.event_id),
                    cause=_str(event.causation_id),
                )
            case ToolVerified() | ToolRejected():
                proposal = (
                    state["proposals"]
                    .get(_str(event.correlation_id) or "", {})
                    .get(f"{event.tool}@{event.version}")
                )
                if proposal is None:
                    return state  # not a proposal of the LLM's for a request
                report = event.report
                proposal["status"] = "verified" if isinstance(event, ToolVerified) else "rejected"
                proposal["reason"] = event.reason if isinstance(event, ToolRejected) else None
                proposal["output"] = report.output[-MAX_OUTPUT:] if report else ""
                proposal["passed"] = report.passed if report else 0
                proposal["failed"] = report.failed if report else 0
            case LLMCalled(purpose="synthesis"):
                state["calls"].setdefault(event.subject, []).append(
                    CallRecord(
                        attempt=event.attempt,
                        model=event.model,
                        prompt_tokens=event.prompt_tokens,
                        completion_tokens=event.completion_tokens,
                        latency_ms=event.latency_ms,
                        ok=event.ok,
                        error=event.error,
                        at=_iso(event),
                        event_id=str(event.event_id),
                    )
                )
        return state


def _iso(event: Event) -> str:
    return event.occurred_at.isoformat()  # only where a row keeps it: a tenth of this fold


def _str(value: object | None) -> str | None:
    return None if value is None else str(value)


def _new_answer(at: str = "") -> AnswerRecord:
    return AnswerRecord(at=at, answered_by=None, answered_at=None, gave_up=None, gave_up_at=None)


def _forget_inactive(state: SynthesisState) -> None:
    """Delete the rows of requests with nothing within ``RETENTION`` of the newest day."""
    horizon = RETENTION.horizon_ms(state["newest_day"])
    if horizon is None:
        return

    def recent(*times: str | None) -> bool:
        return any(t and datetime.fromisoformat(t).timestamp() * 1000 >= horizon for t in times)

    forget(state["requests"], lambda r: recent(r["at"]))
    forget(state["answers"], lambda a: recent(a["at"], a["answered_at"], a["gave_up_at"]))
    forget(state["proposals"], lambda by_key: recent(*(p["at"] for p in by_key.values())))
    forget(state["calls"], lambda calls: recent(*(c["at"] for c in calls)))


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PendingSynthesis:
    """A request still waiting for a tool."""

    request_id: str
    """The request."""
    need: str
    """What the missing tool should do."""
    requested_at: str
    """When the tool was asked for (ISO 8601)."""
    status: str
    """Where it stands, for a person."""
    attempts: int
    """LLM attempts made so far."""


@dataclass(frozen=True)
class SynthesisDetails:
    """Everything recorded about one synthesis request, joined."""

    request_id: str
    need: str
    best_score: float | None
    requested_at: str
    correlation_id: str | None
    answered: bool
    """Whether the request has since been answered with a tool result."""
    answered_by: tuple[str, ...]
    """The tools of that answer (``name@version``)."""
    gave_up: str | None
    """The synthesizer's honest answer, when it gave up."""
    proposals: tuple[ProposalRecord, ...]
    """The tools the LLM wrote for it, in order."""
    calls: tuple[CallRecord, ...]
    """Its synthesis LLM calls, in order."""

    @property
    def attempts(self) -> int:
        """LLM attempts made (one call each)."""
        return len(self.calls)

    @property
    def tokens(self) -> int:
        """Tokens spent on it."""
        return sum(c["prompt_tokens"] + c["completion_tokens"] for c in self.calls)

    @property
    def models(self) -> tuple[str, ...]:
        """The models that answered."""
        return tuple(sorted({c["model"] for c in self.calls}))


def details(state: SynthesisState, request_id: str) -> SynthesisDetails | None:
    """The joined record of one synthesis request, or None when there was none."""
    request = state["requests"].get(request_id)
    if request is None:
        return None
    answer = state["answers"].get(request_id) or _new_answer()
    proposals = state["proposals"].get(request["correlation_id"] or "", {})
    calls = state["calls"].get(request_id, [])
    return SynthesisDetails(
        request_id=request_id,
        need=request["need"],
        best_score=request["best_score"],
        requested_at=request["at"],
        correlation_id=request["correlation_id"],
        answered=answer["answered_by"] is not None,
        answered_by=tuple(answer["answered_by"] or ()),
        gave_up=answer["gave_up"],
        proposals=tuple(sorted(proposals.values(), key=lambda p: (p["at"], p["event_id"]))),
        calls=tuple(sorted(calls, key=lambda c: (c["at"], c["attempt"], c["event_id"]))),
    )


def pending(state: SynthesisState, *, llm_configured: bool = False) -> list[PendingSynthesis]:
    """The synthesis requests not answered yet, oldest first.

    ``llm_configured``: whether a model is configured now, to say why one that no model was
    asked about is waiting.
    """
    out = []
    for request_id in state["requests"]:
        found = details(state, request_id)
        if found is None or found.answered:
            continue
        if found.gave_up is not None:
            status = f"gave up after {found.attempts} attempt{'s' if found.attempts != 1 else ''}"
        elif found.calls:
            status = "in progress"
        elif llm_configured:
            status = "waiting for the synthesizer"
        else:
            status = "waiting for a tool (no LLM configured)"
        out.append(
            PendingSynthesis(request_id, found.need, found.requested_at, status, found.attempts)
        )
    return sorted(out, key=lambda p: (p.requested_at, p.request_id))
