"""What an answer teaches, and when: the rule every learning projection folds the same way.

A completed request teaches through its steps (a phrasing learnt for the tool that answered
it, a success for the tool sequence, a hand-off between two tools). A step teaches at once
only when the answer was given (``ok``) and the handler was confident in the step
(``Step.confident``): the status is ``learnt``. Any other step teaches nothing until a user
rates the answer: ``good`` confirms its successful steps (``confirmed``), ``bad`` rejects
every step (``rejected``: its tool is wrong for its phrasing) and takes back what it had
taught. A ``FeedbackApplied`` event records each step's status before and after a rating, so
a projection adds or takes back exactly what changed.
"""

from __future__ import annotations

from collections.abc import Sequence

from selfeng.schemas import LessonStatus, RequestCompleted, Step

TEACHES = frozenset({"learnt", "confirmed"})
"""The statuses under which a step counts as a confirmed success."""


def initial_lessons(completed: RequestCompleted) -> tuple[LessonStatus, ...]:
    """Each step's status when its answer is completed, before any rating."""
    ok = completed.ok
    return tuple(
        ["learnt" if ok and step.ok and step.confident else "none" for step in completed.steps]
    )


def rated_lessons(steps: Sequence[Step], rating: str) -> tuple[LessonStatus, ...]:
    """Each step's status after a user's rating of the answer."""
    if rating == "good":
        return tuple("confirmed" if step.ok else "none" for step in steps)
    return tuple("rejected" for _ in steps)


def confirmed(statuses: Sequence[LessonStatus]) -> bool:
    """Whether an answer with these step statuses counts as a confirmed success."""
    return bool(statuses) and all(status in TEACHES for status in statuses)


def rejected(statuses: Sequence[LessonStatus]) -> bool:
    """Whether an answer with these step statuses was rated bad (every step rejected): its
    answer is not given to the same request again."""
    return bool(statuses) and all(status == "rejected" for status in statuses)
