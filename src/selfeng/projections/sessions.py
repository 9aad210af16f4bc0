"""Sessions: the answers of each conversation, so a follow-up can use the previous one.

"Now reverse the result" or "Multiply it by 3" in a session refers to the session's
previous answer. The fold keeps, per session, its newest answers (the request, when it was
completed, its value, the text and arguments of the step that gave it, and whether it was
answered), and marks an answer a user rated bad so
that it is never reused. Answers are ordered by their completion time and request id, so the
state is the same whatever order requests of one session arrive in from different
partitions.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

from pydantic import JsonValue

from selfeng.projections.base import FoldContext, Projection
from selfeng.schemas import Event, FeedbackApplied, RequestCompleted

MAX_ANSWERS = 8
"""Answers kept per session (the newest)."""
MAX_SESSIONS = 20_000
"""Sessions kept; past it, those whose last answer is oldest are forgotten."""


class SessionAnswer(TypedDict):
    """One answer of a session."""

    request_id: str
    at_ms: int
    ok: bool
    value: JsonValue
    rejected: bool
    arguments: dict[str, JsonValue]  # of the step that gave the value
    query: NotRequired[str]  # that step's text (version 2)


class Session(TypedDict):
    """A conversation's newest answers, oldest first."""

    answers: list[SessionAnswer]
    last_ms: int


class SessionsState(TypedDict):
    """Sessions by id."""

    sessions: dict[str, Session]


class SessionsProjection(Projection[SessionsState]):
    """The newest answers of each session."""

    name = "sessions"
    version = 2
    handles = (RequestCompleted, FeedbackApplied)
    arm_scoped = True
    tables = ("sessions",)

    def initial(self) -> SessionsState:
        return SessionsState(sessions={})

    def apply(self, state: SessionsState, event: Event, ctx: FoldContext) -> SessionsState:
        sessions = state["sessions"]
        match event:
            case RequestCompleted(session_id=str(sid), awaiting_tool=False):
                at = int(event.occurred_at.timestamp() * 1000)
                session = sessions.setdefault(sid, Session(answers=[], last_ms=at))
                answers = [a for a in session["answers"] if a["request_id"] != event.key]
                last = [s for s in event.steps if s.answer] or list(event.steps)
                answers.append(
                    SessionAnswer(
                        request_id=event.key,
                        at_ms=at,
                        ok=event.ok,
                        value=event.value,
                        rejected=False,
                        arguments=dict(last[-1].arguments) if last else {},
                        query=last[-1].query if last else "",
                    )
                )
                answers.sort(key=lambda a: (a["at_ms"], a["request_id"]))
                session["answers"] = answers[-MAX_ANSWERS:]
                session["last_ms"] = max(session["last_ms"], at)
                if len(sessions) > MAX_SESSIONS:
                    oldest = min(sessions, key=lambda s: (sessions[s]["last_ms"], s))
                    del sessions[oldest]
            case FeedbackApplied(session_id=str(sid), rating=rating):
                rated = sessions.get(sid)
                if rated is not None:
                    for answer in rated["answers"]:
                        if answer["request_id"] == event.key:
                            answer["rejected"] = rating == "bad"
        return state


def previous_answer(
    state: SessionsState, session_id: str | None, *, before: str | None = None
) -> SessionAnswer | None:
    """The session's newest answer that was given and not rated bad (other than request
    ``before``, the one asking), or None."""
    if not session_id:
        return None
    session = state["sessions"].get(session_id)
    if session is None:
        return None
    for answer in reversed(session["answers"]):
        if answer["request_id"] == before:
            continue
        if answer["ok"] and not answer["rejected"]:
            return answer
        return None  # the newest answer was not usable: do not reach past it
    return None
