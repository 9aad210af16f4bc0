"""The Python client: ``Agent.open(url).ask(prompt)``.

By default the agent answers in its own process (the embedded runtime): it appends the
RequestReceived event, handles it and appends the answer. With ``worker=True`` it only
publishes the request and waits for the RequestCompleted a ``selfeng worker`` appends for
it, so any process that can write to the log (SQLite or Kafka) gets answers. When that answer
says a tool is being written for the request (``awaiting_tool``), it waits on, up to the
timeout, for the answer the synthesizer gives with the new tool.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Literal

from pydantic import JsonValue

from selfeng.app import Selfeng
from selfeng.core.closing import Closeable
from selfeng.core.mapper import from_record
from selfeng.core.positions import Position
from selfeng.core.settings import Settings
from selfeng.schemas import (
    Event,
    FeedbackApplied,
    FeedbackGiven,
    RequestCompleted,
    RequestReceived,
)


class NoAnswer(TimeoutError):
    """No RequestCompleted arrived in time (is a worker running?)."""


@dataclass(frozen=True)
class Answer:
    """The answer to one request."""

    request_id: str
    """The request's id (its key in the log)."""
    ok: bool
    """Whether a tool answered it."""
    text: str
    """The answer for a person."""
    value: JsonValue
    """The raw result."""
    tools: tuple[str, ...]
    """The tools used, in order, as ``name@version``."""
    cached: bool
    """Whether every result came from the execution cache."""
    timings: dict[str, float] = field(default_factory=dict)
    """Milliseconds: ``total`` (as the client saw it) and ``handler`` (inside the handler)."""
    events: tuple[Event, ...] = ()
    """The request's events, in order (the trace)."""
    confidence: float = 0.0
    """How sure the handler was (0 when it did not answer)."""
    reason: str = ""
    """Why it did not answer, when ``ok`` is false."""
    session_id: str | None = None
    """The conversation the request belongs to."""
    arm: str | None = None
    """The policy arm that answered: a fork's name, ``main`` for an experiment's control, or
    None (the live policies, no experiment)."""
    arm_note: str = ""
    """Why the arm asked for did not answer (it names no live fork: main answered)."""


@dataclass(frozen=True)
class FeedbackResult:
    """A rating, and what it changed in what selfeng had learnt."""

    request_id: str
    """The rated request."""
    rating: Literal["good", "bad"]
    """The rating."""
    changed: str
    """What changed, for a person (empty while a worker has not applied it yet)."""
    given: FeedbackGiven
    """The FeedbackGiven event appended."""
    applied: FeedbackApplied | None = None
    """The FeedbackApplied that says what changed, once applied."""


class Agent(Closeable):
    """Asks selfeng questions and gives feedback, in process or through a worker."""

    def __init__(
        self, app: Selfeng, *, worker: bool = False, client: str = "python", seed: bool = True
    ) -> None:
        """``seed``: register the starter library before the first in-process answer when the
        registry is empty."""
        self.app = app
        self.worker = worker
        self.client = client
        self._seed = seed and not worker

    @classmethod
    def open(
        cls,
        log: str | None = None,
        *,
        home: str | None = None,
        worker: bool = False,
        client: str = "python",
    ) -> Agent:
        """An agent on the log ``log`` (default: the settings' embedded log)."""
        return cls(Selfeng.open(Settings.resolve(home=home, log=log)), worker=worker, client=client)

    def ask(
        self,
        prompt: str,
        *,
        timeout: float = 60.0,
        session_id: str | None = None,
        arm: str | None = None,
    ) -> Answer:
        """Ask; the answer when the request is completed.

        ``arm`` names the policy arm (a fork, or ``main``) that should answer; without it,
        the running experiment assigns one by the session (or request) id, or main answers.
        An arm that names no live fork is answered by main, and ``Answer.arm_note`` says so.
        """
        if self._seed:
            if self.app.seeding_unfinished():
                self.app.seed_tools()
            self._seed = False
        started = time.perf_counter()
        received = RequestReceived(
            prompt=prompt,
            client=self.client,
            session_id=session_id,
            answered_inline=not self.worker,
            policy_arm=arm,
        )
        received = self.app.assigned(received)
        if self.worker:
            position = self.app.log.head()
            self.app.append([received])
            events = [received, *self._wait_for(received, position, timeout)]
        else:
            self.app.append([received])
            events = [received, *self.app.handle(received)]
        completed = next(
            e for e in reversed(events) if isinstance(e, RequestCompleted) and e.key == received.key
        )
        return Answer(
            request_id=received.key,
            ok=completed.ok,
            text=completed.answer,
            value=completed.value,
            tools=completed.tools,
            cached=completed.cached,
            timings={
                "total": round((time.perf_counter() - started) * 1000, 3),
                "handler": completed.duration_ms,
            },
            events=tuple(events),
            confidence=completed.confidence,
            reason=completed.reason,
            session_id=session_id,
            arm=completed.policy_arm,
            arm_note=completed.arm_note,
        )

    def _wait_for(self, received: RequestReceived, after: Position, timeout: float) -> list[Event]:
        stop = threading.Event()
        deadline = time.monotonic() + timeout
        events: list[Event] = []
        for batch in self.app.log.follow(after, topics={received.topic()}, idle=0.1, stop=stop):
            for record in batch.records:
                if record.key != received.key or record.event_id == received.event_id.bytes:
                    continue
                event = from_record(record)
                events.append(event)
                if isinstance(event, RequestCompleted) and not event.awaiting_tool:
                    stop.set()
                    return events
            if time.monotonic() > deadline:
                stop.set()
        if any(isinstance(e, RequestCompleted) for e in events):
            return events  # a tool is still being written: its answer will come later
        raise NoAnswer(
            f"no answer to request {received.key} within {timeout:.0f} s: "
            "is `selfeng worker` running on this log?"
        )

    def feedback(
        self,
        answer: str | Answer,
        rating: Literal["good", "bad"],
        comment: str = "",
        *,
        timeout: float = 10.0,
    ) -> FeedbackResult:
        """Record a person's rating of an answer, and return what it changed.

        ``good`` confirms what the answer teaches; ``bad`` takes it back, marks the tool as
        wrong for that phrasing (the same request is not answered by it again) and drops the
        cached results. In process the change is applied at once; through a worker, this
        waits up to ``timeout`` seconds for the worker to apply it.

        ``answer`` is the :class:`Answer` rated, or its ``request_id``.
        """
        request_id = answer.request_id if isinstance(answer, Answer) else answer
        if rating not in ("good", "bad"):
            raise ValueError(f"a rating is 'good' or 'bad', not {rating!r}")
        event = FeedbackGiven(key=request_id, rating=rating, comment=comment, producer=self.client)
        if self.worker:
            position = self.app.log.head()
            self.app.append([event])
            applied = self._wait_applied(event, position, timeout)
        else:
            self.app.append([event])
            learnt = self.app.learn([event])
            applied = next((e for e in learnt if isinstance(e, FeedbackApplied)), None)
        if applied is not None:
            changed = applied.summary
        elif self.worker:
            changed = "recorded; a worker has not applied it yet"
        else:
            changed = "nothing to change: the request has no answer"
        return FeedbackResult(
            request_id=request_id, rating=rating, changed=changed, given=event, applied=applied
        )

    def _wait_applied(
        self, feedback: FeedbackGiven, after: Position, timeout: float
    ) -> FeedbackApplied | None:
        stop = threading.Event()
        deadline = time.monotonic() + timeout
        for batch in self.app.log.follow(after, topics={feedback.topic()}, idle=0.1, stop=stop):
            for record in batch.records:
                if record.key != feedback.key or record.type != "FeedbackApplied":
                    continue
                event = from_record(record)
                if isinstance(event, FeedbackApplied) and event.feedback_id == str(
                    feedback.event_id
                ):
                    stop.set()
                    return event
            if time.monotonic() > deadline:
                stop.set()
        return None

    def close(self) -> None:
        """Close the runtime."""
        self.app.close()
