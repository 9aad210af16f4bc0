"""Counterfactual composite promotion: what another ``composite.*`` policy would have saved
on past requests.

A composite answers a run of steps with one sandbox call instead of one per step, with the
same tools and code, so the promotion policy changes how long answers take, not what they
are. A past request's recorded steps say which runs of tools it made and how long each
uncached run took. Under candidate criteria, every run whose pattern meets them (in the
patterns folded so far) but not the criteria in force is one the candidate would answer
with its composite: the steps' sandbox time, less the longest of them (the one call left),
is saved. Cached steps cost nothing either way, and runs the recorded answer already made
with a composite are not counted again. The estimate is the share of the requests' total
time saved: what the live experiment then measures as ``latency_ms``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from selfeng.projections.patterns import MAX_PATTERN_LENGTH, Criteria, PatternsState, meets
from selfeng.schemas import RequestCompleted


@dataclass(frozen=True)
class Saving:
    """What a candidate policy would have saved on the requests estimated over."""

    requests: int
    """Requests estimated over."""
    total_ms: float
    """Their recorded time, summed."""
    saved_ms: float
    """The sandbox time the candidate's composites would have saved, summed."""
    composed: int
    """Requests with at least one run a candidate's composite would have answered."""

    @property
    def share(self) -> float:
        """The share of the total time saved (0 for no time recorded)."""
        return self.saved_ms / self.total_ms if self.total_ms > 0 else 0.0


def composite_saving(
    answers: Sequence[RequestCompleted],
    patterns: PatternsState,
    current: Criteria,
    candidate: Criteria,
) -> Saving:
    """The time ``candidate`` would have saved over ``current`` on ``answers``."""
    total = saved = 0.0
    composed = 0
    for answer in answers:
        total += answer.duration_ms
        found = _saving(answer, patterns, current, candidate)
        if found > 0:
            saved += found
            composed += 1
    return Saving(len(answers), total, saved, composed)


def _saving(
    answer: RequestCompleted, patterns: PatternsState, current: Criteria, candidate: Criteria
) -> float:
    """The saving on one request: its runs taken longest first, left to right, as the
    request handler takes composites."""
    steps = answer.steps
    saved = 0.0
    at = 0
    while at < len(steps):
        for length in range(min(len(steps) - at, MAX_PATTERN_LENGTH), 1, -1):
            tools = [s.tool for s in steps[at : at + length]]
            if meets(patterns, tools, candidate) and not meets(patterns, tools, current):
                ran = [s.duration_ms for s in steps[at : at + length] if not s.cached]
                if len(ran) >= 2:
                    saved += sum(ran) - max(ran)
                at += length
                break
        else:
            at += 1
    return saved
