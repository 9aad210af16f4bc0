"""Tool-sequence patterns mined from completed requests: support, confidence, success rate.

Every completed request contributes its tool sequence (cached steps included; a failed step
is the last one). It counts as a success only when its answer is confirmed (confident, or
rated good: ``selfeng.projections.lessons``); a bad rating takes the success and the
evidence back, a good one adds them. A pattern is a contiguous run of 2 to
``MAX_PATTERN_LENGTH`` tools, keyed by its tools joined by ``>``. Counts are per request (a
run seen twice in one request counts once), so the state is a sum over requests and the
same whatever order requests of different keys arrive in. Detected patterns
(PatternDetected) are folded as a set, so a pattern is promoted once.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypedDict

from pydantic import JsonValue

from selfeng.core.policies import policy_float, policy_int
from selfeng.projections.base import FoldContext, Projection
from selfeng.projections.lessons import confirmed, initial_lessons
from selfeng.schemas import Event, FeedbackApplied, PatternDetected, RequestCompleted

MAX_PATTERN_LENGTH = 6
"""The longest run of tools counted as a pattern."""
MAX_EVIDENCE = 20
"""Successful request ids kept per pattern (the largest ids: with UUIDv7, the newest)."""
SEPARATOR = ">"
"""Joins a pattern's tools into its id."""

PatternKind = Literal["sequence", "pair", "subsequence"]
"""Always a request's whole sequence, an adjacent pair, or a longer contiguous run."""


class PatternRecord(TypedDict):
    """The counts of one pattern."""

    support: int  # requests containing it
    successes: int  # of those, requests that were ok
    whole: int  # requests whose whole sequence is this pattern
    evidence: list[str]  # the largest ids of successful requests containing it, sorted


class Detection(TypedDict):
    """The PatternDetected event that promoted a pattern."""

    event_id: str
    support: int


class PatternsState(TypedDict):
    """Pattern counts. Plain JSON: stored as is."""

    requests: int  # completed requests folded
    multi_step: int  # of those, requests with two steps or more
    patterns: dict[str, PatternRecord]  # pattern id -> counts
    antecedents: dict[str, int]  # run of 1..MAX_PATTERN_LENGTH-1 tools -> requests containing it
    detected: dict[str, Detection]  # pattern id -> its (first) PatternDetected


@dataclass(frozen=True)
class PatternStats:
    """A pattern with its derived measures."""

    pattern_id: str
    """Its tools joined by ``>``."""
    tools: tuple[str, ...]
    """The tools, in order."""
    kind: PatternKind
    """``sequence`` when every request containing it consisted of it alone."""
    support: int
    """Completed requests containing it."""
    successes: int
    """Of those, requests that succeeded."""
    success_rate: float
    """``successes / support``."""
    confidence: float
    """Of the requests containing all but its last tool, the share containing it whole."""
    whole: int
    """Requests whose whole tool sequence was this pattern."""
    evidence: tuple[str, ...]
    """Up to ``MAX_EVIDENCE`` successful request ids containing it, the newest, sorted."""


def pattern_of(tools: Sequence[str]) -> str:
    """The id of the pattern made of ``tools``."""
    return SEPARATOR.join(tools)


class PatternsProjection(Projection[PatternsState]):
    """Counts contiguous tool runs of completed requests and the patterns already promoted."""

    name = "patterns"
    version = 2
    handles = (RequestCompleted, PatternDetected, FeedbackApplied)
    arm_scoped = True
    tables = ("patterns", "antecedents", "detected")

    def initial(self) -> PatternsState:
        return PatternsState(requests=0, multi_step=0, patterns={}, antecedents={}, detected={})

    def apply(self, state: PatternsState, event: Event, ctx: FoldContext) -> PatternsState:
        match event:
            case RequestCompleted(steps=steps):
                success = confirmed(initial_lessons(event))
                _count(state, event.key, success, [step.tool for step in steps])
            case FeedbackApplied(steps=steps, before=before, after=after):
                was, now = confirmed(before), confirmed(after)
                if was != now:
                    _recount(state, event.key, [step.tool for step in steps], +1 if now else -1)
            case PatternDetected(pattern_id=pattern_id, support=support):
                event_id = str(event.event_id)
                known = state["detected"].get(pattern_id)
                # Keep the first detection by id, whichever arrives first.
                if known is None or event_id < known["event_id"]:
                    state["detected"][pattern_id] = Detection(event_id=event_id, support=support)
        return state


def _runs(tools: Sequence[str]) -> tuple[set[str], set[str]]:
    """The distinct antecedent runs (1..MAX-1 tools) and pattern runs (2..MAX tools)."""
    antecedents: set[str] = set()
    patterns: set[str] = set()
    n = len(tools)
    for i in range(n):
        run = tools[i]
        antecedents.add(run)
        for j in range(i + 1, min(i + MAX_PATTERN_LENGTH, n)):
            run = f"{run}{SEPARATOR}{tools[j]}"
            patterns.add(run)
            if j - i + 1 < MAX_PATTERN_LENGTH:
                antecedents.add(run)
    return antecedents, patterns


def _count(state: PatternsState, request_id: str, ok: bool, tools: list[str]) -> None:
    state["requests"] += 1
    if len(tools) >= 2:
        state["multi_step"] += 1
    antecedent_runs, pattern_runs = _runs(tools)
    antecedents = state["antecedents"]
    for run in antecedent_runs:
        antecedents[run] = antecedents.get(run, 0) + 1
    patterns = state["patterns"]
    for run in pattern_runs:
        record = patterns.get(run)
        if record is None:
            record = patterns[run] = PatternRecord(support=0, successes=0, whole=0, evidence=[])
        record["support"] += 1
        if ok:
            record["successes"] += 1
            _add_evidence(record["evidence"], request_id)
    if 2 <= len(tools) <= MAX_PATTERN_LENGTH:
        patterns[pattern_of(tools)]["whole"] += 1


def _recount(state: PatternsState, request_id: str, tools: list[str], sign: int) -> None:
    """A rating turned a request's answer into a success (+1) or took its success back."""
    patterns = state["patterns"]
    for run in _runs(tools)[1]:
        record = patterns.get(run)
        if record is None:
            continue
        record["successes"] = max(0, record["successes"] + sign)
        if sign > 0:
            _add_evidence(record["evidence"], request_id)
        elif request_id in record["evidence"]:
            record["evidence"].remove(request_id)


def _add_evidence(evidence: list[str], request_id: str) -> None:
    """Keep the ``MAX_EVIDENCE`` largest distinct ids, sorted: the same set in any order."""
    if len(evidence) >= MAX_EVIDENCE and request_id <= evidence[0]:
        return
    at = bisect_left(evidence, request_id)
    if at < len(evidence) and evidence[at] == request_id:
        return
    evidence.insert(at, request_id)
    if len(evidence) > MAX_EVIDENCE:
        del evidence[0]


def _stats(state: PatternsState, pattern_id: str, record: PatternRecord) -> PatternStats:
    tools = tuple(pattern_id.split(SEPARATOR))
    support, successes = record["support"], record["successes"]
    before = state["antecedents"].get(pattern_of(tools[:-1]), 0)
    kind: PatternKind
    if record["whole"] == support:
        kind = "sequence"
    elif len(tools) == 2:
        kind = "pair"
    else:
        kind = "subsequence"
    return PatternStats(
        pattern_id=pattern_id,
        tools=tools,
        kind=kind,
        support=support,
        successes=successes,
        success_rate=successes / support if support else 0.0,
        confidence=support / before if before else 0.0,
        whole=record["whole"],
        evidence=tuple(record["evidence"]),
    )


def stats(state: PatternsState, pattern_id: str) -> PatternStats | None:
    """A pattern's measures, or None when no request contained it."""
    record = state["patterns"].get(pattern_id)
    return None if record is None else _stats(state, pattern_id, record)


@dataclass(frozen=True)
class Criteria:
    """The composite-promotion policy: what a pattern needs before a composite of it is
    built, and before that composite answers (see :func:`meets`)."""

    min_frequency: int
    min_success_rate: float
    min_confidence: float

    @classmethod
    def of(cls, policies: Mapping[str, JsonValue]) -> Criteria:
        """The criteria in force in ``policies`` (``composite.*``)."""
        return cls(
            min_frequency=policy_int(policies, "composite.min_frequency"),
            min_success_rate=policy_float(policies, "composite.min_success_rate"),
            min_confidence=policy_float(policies, "composite.min_confidence"),
        )

    def met_by(self, s: PatternStats) -> bool:
        """Whether the pattern's measures meet these criteria."""
        return (
            s.support >= self.min_frequency
            and s.success_rate >= self.min_success_rate
            and s.confidence >= self.min_confidence
        )


def meets(state: PatternsState, tools: Sequence[str], criteria: Criteria) -> bool:
    """Whether the pattern of ``tools`` meets ``criteria`` in ``state``: a composite of
    them answers only then, so each arm of an experiment uses the composites its own
    criteria promote, on its own requests' patterns."""
    found = stats(state, pattern_of(tools))
    return found is not None and criteria.met_by(found)


def _contains(longer: str, shorter: str) -> bool:
    """Whether pattern ``shorter`` is a contiguous run of pattern ``longer``."""
    return f"{SEPARATOR}{shorter}{SEPARATOR}" in f"{SEPARATOR}{longer}{SEPARATOR}"


def _order(s: PatternStats) -> tuple[int, int, str]:
    return (-len(s.tools), -s.support, s.pattern_id)


def promotable(
    state: PatternsState,
    *,
    min_frequency: int,
    min_success_rate: float,
    min_confidence: float,
    within: Sequence[str] | None = None,
) -> list[PatternStats]:
    """Patterns meeting the promotion policy that no PatternDetected has promoted yet.

    With ``within`` (one request's tool sequence) only its contiguous runs are considered,
    which keeps the check after each request independent of the size of the state.

    Longest first, then highest support, then id. A pattern is left out when it is a
    contiguous run of a longer one with the same support that is returned too or was
    detected before: every request that contained it contained the longer one, so it would
    be a redundant composite.
    """
    if within is None:
        ids: Iterable[str] = state["patterns"]
    else:
        ids = _runs(within)[1]
    records = state["patterns"]
    detected = state["detected"]
    scope = [_stats(state, i, records[i]) for i in ids if i in records]
    covering = [s for s in scope if s.pattern_id in detected]
    criteria = Criteria(min_frequency, min_success_rate, min_confidence)
    candidates = sorted(
        (s for s in scope if s.pattern_id not in detected and criteria.met_by(s)),
        key=_order,
    )
    out: list[PatternStats] = []
    for s in candidates:
        if any(
            c.support == s.support
            and len(c.tools) > len(s.tools)
            and _contains(c.pattern_id, s.pattern_id)
            for c in covering
        ):
            continue
        out.append(s)
        covering.append(s)
    return out


def top(state: PatternsState, n: int, min_support: int = 1) -> list[PatternStats]:
    """The ``n`` most supported patterns (then the longest, then by id), for display."""
    best = heapq.nsmallest(
        n,
        (
            (-record["support"], -pattern_id.count(SEPARATOR), pattern_id)
            for pattern_id, record in state["patterns"].items()
            if record["support"] >= min_support
        ),
    )
    return [_stats(state, p, state["patterns"][p]) for _, _, p in best]
