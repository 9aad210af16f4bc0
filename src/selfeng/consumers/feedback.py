"""The feedback learner: a user's rating becomes exactly what it changes in what was learnt.

It reacts to ``FeedbackGiven``. It reads the rated request from the log (its latest answer,
the ratings applied before, the execution-cache entries it produced or used) and appends one
``FeedbackApplied``: each step's status before and after the rating
(``selfeng.projections.lessons``), the cache keys to drop on a bad rating, and a summary for
the person who rated. Every projection that learns from answers folds that event: phrasings
are taken back or confirmed, a phrasing rated bad is marked rejected for its tool (so the
same kind of request is not answered by it again), success counts, pattern evidence and
hand-offs follow, and the cache forgets the results.

The event's id derives from the FeedbackGiven, so reacting twice stores it once; rating the
same answer again applies only the difference (good after bad restores what bad took back).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from selfeng.consumers.learner import Learner
from selfeng.core.values import shown
from selfeng.projections.cache import cache_key
from selfeng.projections.lessons import initial_lessons, rated_lessons, rejected
from selfeng.projections.registry import phrase_of, says_more_than_values
from selfeng.schemas import (
    CacheHit,
    Event,
    FeedbackApplied,
    FeedbackGiven,
    LessonStatus,
    RequestCompleted,
    RequestReceived,
    Step,
    ToolExecuted,
)
from selfeng.schemas.ids import derived_uuid7

logger = logging.getLogger(__name__)

PRODUCER = "selfeng.learner.feedback"
"""The producer of the feedback learner's events."""


class FeedbackLearner(Learner):
    """Turns each FeedbackGiven into a FeedbackApplied."""

    name = "feedback"
    reacts_to = frozenset({"FeedbackGiven"})

    def react(self, event: Event) -> list[Event]:
        assert isinstance(event, FeedbackGiven)
        history = self.ports.history(event.key)
        applied = applied_for(event, history)
        if applied is None:
            logger.info("feedback on %s: the request has no answer to rate", event.key)
            return []
        return self.ports.record([applied])


def applied_for(feedback: FeedbackGiven, history: Sequence[Event]) -> FeedbackApplied | None:
    """The FeedbackApplied for a rating, given the rated request's events (in log order);
    None when the request has no completed answer before the rating."""
    answer: RequestCompleted | None = None
    statuses: tuple[LessonStatus, ...] = ()
    session: str | None = None
    prompt = ""
    cache_keys: list[str] = []
    for event in history:
        if event.event_id == feedback.event_id:
            break
        match event:
            case RequestReceived(session_id=sid):
                session, prompt = sid, event.prompt
            case RequestCompleted(awaiting_tool=False):
                answer = event
                statuses = initial_lessons(event)
                session = event.session_id or session
            case FeedbackApplied(answer_id=answer_id, after=after) if answer is not None and (
                answer_id == str(answer.event_id)
            ):
                statuses = after
            case ToolExecuted(ok=True, cacheable=True):
                cache_keys.append(cache_key(event.tool, event.version, dict(event.arguments)))
            case CacheHit(cache_key=key):
                cache_keys.append(key)
    if answer is None:
        return None
    after = rated_lessons(answer.steps, feedback.rating)
    keys = tuple(dict.fromkeys(cache_keys)) if feedback.rating == "bad" else ()
    ms = int(feedback.occurred_at.timestamp() * 1000)
    return FeedbackApplied.following(
        feedback,
        policy_arm=answer.policy_arm,  # it teaches (or unteaches) where the answer taught
        event_id=derived_uuid7(ms, str(feedback.event_id), PRODUCER),
        rating=feedback.rating,
        feedback_id=str(feedback.event_id),
        answer_id=str(answer.event_id),
        steps=answer.steps,
        before=statuses,
        after=after,
        cache_keys=keys,
        session_id=session,
        summary=summary(answer.steps, statuses, after, keys, answer.answer),
        prompt=prompt,
        answer=answer.answer,
        producer=PRODUCER,
    )


def summary(
    steps: Sequence[Step],
    before: Sequence[LessonStatus],
    after: Sequence[LessonStatus],
    cache_keys: Sequence[str],
    answer: str = "",
) -> str:
    """What a rating changed, for a person."""
    lines: list[str] = []
    if answer and rejected(before) != rejected(after):
        if rejected(after):
            lines.append(f"“{shown(answer)}” will not be given to this request again")
        else:
            lines.append(f"“{shown(answer)}” may be given to this request again")
    for step, was, now in zip(steps, before, after, strict=False):
        phrase = phrase_of(step)
        if was == now:
            continue
        if was in {"learnt", "confirmed"} and now == "rejected":
            lines.append(f"took back “{shown(phrase)}” as a phrasing of {step.tool}")
        if now == "rejected" and not says_more_than_values(phrase):
            lines.append(f"{step.tool} will not answer this request again")
        elif now == "rejected":
            lines.append(f"{step.tool} will not answer “{shown(phrase)}” again")
        elif now == "confirmed" and was == "learnt":
            lines.append(f"confirmed “{shown(phrase)}” as a phrasing of {step.tool}")
        elif now == "confirmed":
            lines.append(f"learnt “{shown(phrase)}” as a phrasing of {step.tool}")
        elif was == "rejected":
            lines.append(f"{step.tool} may answer “{shown(phrase)}” again")
    if cache_keys:
        n = len(cache_keys)
        lines.append(f"dropped {n} cached result{'s' if n != 1 else ''}")
    return "; ".join(lines) if lines else "nothing changed (the answer was rated so already)"
