"""Learnt plans: the shapes of requests an LLM's plan answered, and the calls that did.

Folds completed requests whose steps an LLM planned (``Step.planner``): the request's
template and calls (``selfeng.core.plan_templates``) are learnt as a variant of that shape,
counted once per request. A bad rating of such an answer (``FeedbackApplied``) counts
against its variant, and a good one after it takes that back; a variant is usable while its
confirmed uses outnumber its bad ratings. The request handler answers a request of a learnt
shape with the best variant, offline, before it would ask the LLM again.

Counts are sums over requests, so the state is the same whatever order requests of
different keys arrive in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict

import orjson

from selfeng.core.plan_templates import plan_template
from selfeng.projections.base import FoldContext, Projection
from selfeng.projections.lessons import confirmed, initial_lessons
from selfeng.schemas import Event, FeedbackApplied, LessonStatus, RequestCompleted, Step

MAX_PLANS = 20_000
"""Request shapes kept; past it, the least recently used go first."""


class Variant(TypedDict):
    """One way a request shape was answered."""

    calls: list[dict[str, Any]]  # TemplateCall.as_json()
    uses: int  # confirmed answers of this shape by these calls
    rejected: int  # bad ratings
    last_ms: int


class PlansState(TypedDict):
    """Learnt plans by template; ``revision`` changes when any does."""

    plans: dict[str, dict[str, Variant]]  # template -> variant signature -> variant
    revision: int


def planned(steps: Sequence[Step]) -> bool:
    """Whether an answer's steps are an LLM's plan (every step planned by one)."""
    return bool(steps) and all(step.planner.startswith("llm") for step in steps)


def shape_of(steps: Sequence[Step]) -> tuple[str, list[dict[str, Any]], str]:
    """(template, calls, variant signature) of an LLM-planned answer."""
    template, calls = plan_template(
        steps[0].query, [(s.tool, s.version, s.arguments) for s in steps]
    )
    data = [call.as_json() for call in calls]
    signature = orjson.dumps(
        [{k: v for k, v in c.items() if k != "version"} for c in data],
        option=orjson.OPT_SORT_KEYS,
    ).decode()
    return template, data, signature


class PlansProjection(Projection[PlansState]):
    """Request shapes answered by an LLM's plan, and their calls."""

    name = "plans"
    version = 1
    handles = (RequestCompleted, FeedbackApplied)
    arm_scoped = True
    tables = ("plans",)

    def initial(self) -> PlansState:
        return PlansState(plans={}, revision=0)

    def apply(self, state: PlansState, event: Event, ctx: FoldContext) -> PlansState:
        match event:
            case RequestCompleted(awaiting_tool=False, steps=steps) if planned(steps):
                if confirmed(initial_lessons(event)):
                    self._count(state, steps, _ms(event), uses=+1)
            case FeedbackApplied(steps=steps, before=before, after=after) if planned(steps):
                uses = int(confirmed(after)) - int(confirmed(before))
                rejected = int(_rejected(after)) - int(_rejected(before))
                if uses or rejected:
                    self._count(state, steps, _ms(event), uses=uses, rejected=rejected)
        return state

    @staticmethod
    def _count(
        state: PlansState, steps: Sequence[Step], at: int, *, uses: int, rejected: int = 0
    ) -> None:
        template, calls, signature = shape_of(steps)
        variants = state["plans"].setdefault(template, {})
        variant = variants.setdefault(
            signature, Variant(calls=calls, uses=0, rejected=0, last_ms=at)
        )
        variant["uses"] = max(0, variant["uses"] + uses)
        variant["rejected"] = max(0, variant["rejected"] + rejected)
        variant["last_ms"] = max(variant["last_ms"], at)
        if variant["uses"] == 0 and variant["rejected"] == 0:
            del variants[signature]
            if not variants:
                del state["plans"][template]
        state["revision"] += 1
        if len(state["plans"]) > MAX_PLANS:
            oldest = min(
                state["plans"],
                key=lambda t: (max(v["last_ms"] for v in state["plans"][t].values()), t),
            )
            del state["plans"][oldest]


def best_variant(state: PlansState, template: str) -> Variant | None:
    """The usable variant of a shape with the most confirmed uses (ties: the newest)."""
    usable = [v for v in state["plans"].get(template, {}).values() if v["uses"] > v["rejected"]]
    return max(usable, key=lambda v: (v["uses"], v["last_ms"]), default=None)


def _rejected(statuses: Sequence[LessonStatus]) -> bool:
    return any(status == "rejected" for status in statuses)


def _ms(event: Event) -> int:
    return int(event.occurred_at.timestamp() * 1000)
