"""The tool registry: every tool, its versions, their status and their record in real use.

Folds the tools family (proposed, verified, rejected, registered, deprecated, rolled back;
composites and repairs reach it the same way, as ToolProposed ... ToolRegistered),
executions and cache hits (per-version stats: executions, runs that returned, cache hits,
latency, last use) and what answers teach (``selfeng.projections.lessons``): a confident
step, or one a user rated good, teaches its tool the step's phrasing (its wording with the
argument values taken out) and counts as a confirmed use; a step of an answer rated bad
takes that back and marks the phrasing *rejected* for that tool, so the same kind of request
is not answered by it again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypedDict, cast

from selfeng.core.language import is_neutral, words
from selfeng.core.search_documents import strip_placeholders
from selfeng.projections.base import FoldContext, Projection, add_ms
from selfeng.projections.lessons import initial_lessons, rejected
from selfeng.projections.views import FrozenDict, frozen
from selfeng.schemas import (
    CacheHit,
    Event,
    FeedbackApplied,
    LessonStatus,
    RequestCompleted,
    Step,
    ToolDeprecated,
    ToolExecuted,
    ToolProposed,
    ToolRegistered,
    ToolRejected,
    ToolRolledBack,
    ToolVerified,
)

MAX_PHRASES = 1000
"""Learnt phrasings kept per tool (past it, the least used and oldest go first)."""


class VersionStats(TypedDict):
    """How a tool version has done in real requests."""

    executions: int  # sandbox runs
    successes: int  # runs that returned a result (not that the answer was right)
    cache_hits: int
    total_ms: float
    last_used_ms: int | None
    confirmed: int  # steps whose answer was confident or rated good (and not taken back)
    rejected: int  # steps whose answer was rated bad


class VersionRecord(TypedDict):
    """One version of a tool."""

    status: str
    spec: dict[str, Any]
    code: str
    tests: str
    origin: str
    proposed_at: str
    report: dict[str, Any] | None
    reason: str | None


class ToolRecord(TypedDict):
    """A tool: its versions and the active one."""

    active: int | None
    versions: dict[str, VersionRecord]
    history: list[dict[str, Any]]


class RegistryState(TypedDict):
    """The registry.

    Stats and phrasings are kept apart from the tools they are about: they come from request
    events, which Kafka may deliver before the tool's own events (another topic), and must
    count whatever the order.
    """

    tools: dict[str, ToolRecord]
    stats: dict[str, VersionStats]  # "name@version" -> stats
    # tool -> phrase -> [uses, last seen ms, uses users confirmed]: confirmed phrasings only
    phrases: dict[str, dict[str, list[int]]]
    # tool -> phrase -> [bad ratings, last ms, of which the answer's only step]
    rejected: dict[str, dict[str, list[int]]]
    # tool -> the exact request (step text, normalised) -> [bad ratings, last ms, sole]
    rejected_requests: dict[str, dict[str, list[int]]]
    # the request (as asked, normalised) -> answer -> answers to it rated bad, less those a
    # later rating took back: an answer counted here is not given to that request again
    rejected_answers: dict[str, dict[str, int]]
    revision: int  # changes when the set of usable tools changes
    phrases_revision: int  # one more for every phrasing learnt, taken back or rejected


def normalise_phrase(text: str) -> str:
    """The form a phrasing is learnt and compared in: lower case, single spaces."""
    return re.sub(r"\s+", " ", text.strip().lower())


def says_more_than_values(phrase: str) -> bool:
    """Whether a phrasing has a word besides its values and framing: "reverse {text}" does,
    "what's {expression}" does not. A bad rating of an answer to one that does not is about
    that request's values, not about a way of asking."""
    return any(not is_neutral(w) for w in words(strip_placeholders(phrase)))


def _stats(state: RegistryState, key: str) -> VersionStats:
    """A version's stats row, added when it has none."""
    stats = state["stats"].get(key)
    if stats is None:
        stats = state["stats"][key] = _new_stats()
    return stats


def _new_stats() -> VersionStats:
    return VersionStats(
        executions=0,
        successes=0,
        cache_hits=0,
        total_ms=0.0,
        last_used_ms=None,
        confirmed=0,
        rejected=0,
    )


class RegistryProjection(Projection[RegistryState]):
    """Tools, versions, status, per-version stats and learnt phrasings."""

    name = "registry"
    version = 5
    handles = (
        ToolProposed,
        ToolVerified,
        ToolRejected,
        ToolRegistered,
        ToolDeprecated,
        ToolRolledBack,
        ToolExecuted,
        CacheHit,
        RequestCompleted,
        FeedbackApplied,
    )
    arm_scoped = True
    tables = ("tools", "stats", "phrases", "rejected", "rejected_requests", "rejected_answers")

    def initial(self) -> RegistryState:
        return RegistryState(
            tools={},
            stats={},
            phrases={},
            rejected={},
            rejected_requests={},
            rejected_answers={},
            revision=0,
            phrases_revision=0,
        )

    def apply(self, state: RegistryState, event: Event, ctx: FoldContext) -> RegistryState:
        tools = state["tools"]
        match event:
            # the frequent types first: each case is a type check
            case ToolExecuted(tool=name, version=version, ok=ok, duration_ms=ms):
                stats = _stats(state, f"{name}@{version}")
                stats["executions"] += 1
                stats["successes"] += 1 if ok else 0
                stats["total_ms"] = add_ms(stats["total_ms"], ms)
                stats["last_used_ms"] = _later(stats["last_used_ms"], event)
            case CacheHit(tool=name, version=version):
                stats = _stats(state, f"{name}@{version}")
                stats["cache_hits"] += 1
                stats["last_used_ms"] = _later(stats["last_used_ms"], event)
            case RequestCompleted(steps=steps):
                at = _ms(event)
                for step, status in zip(steps, initial_lessons(event), strict=True):
                    _lesson(state, step, status, +1, at)
            case FeedbackApplied(steps=steps, before=before, after=after):
                at = _ms(event)
                sole = len(steps) == 1
                for step, was, now in zip(steps, before, after, strict=False):
                    if was != now:
                        _lesson(state, step, was, -1, at, sole=sole)
                        _lesson(state, step, now, +1, at, sole=sole)
                if event.prompt and rejected(before) != rejected(after):
                    _reject_answer(state, event.prompt, event.answer, +1 if rejected(after) else -1)
            case ToolProposed(tool=name, version=version, spec=spec, code=code, tests=tests):
                tool = tools.setdefault(name, _new_tool())
                tool["versions"][str(version)] = VersionRecord(
                    status="proposed",
                    spec=spec.model_dump(mode="json"),
                    code=code,
                    tests=tests,
                    origin=event.origin,
                    proposed_at=event.occurred_at.isoformat(),
                    report=None,
                    reason=None,
                )
                _history(tool, event, version, "proposed", event.origin)
            case ToolVerified(tool=name, version=version, report=report):
                record = _version(tools, name, version)
                if record is not None:
                    record["status"] = "verified"
                    record["report"] = report.model_dump(mode="json")
                    _history(tools[name], event, version, "verified", f"{report.passed} passed")
            case ToolRejected(tool=name, version=version, reason=reason, report=report):
                record = _version(tools, name, version)
                if record is not None:
                    record["status"] = "rejected"
                    record["reason"] = reason
                    record["report"] = report.model_dump(mode="json") if report else None
                    _history(tools[name], event, version, "rejected", reason)
            case ToolRegistered(tool=name, version=version):
                self._activate(state, name, version, event, "registered")
            case ToolRolledBack(tool=name, to_version=version, reason=reason):
                self._activate(state, name, version, event, f"rolled back: {reason}")
            case ToolDeprecated(tool=name, version=version, reason=reason):
                deprecated = tools.get(name)
                if deprecated is not None:
                    versions = deprecated["versions"]
                    for v in [str(version)] if version is not None else list(versions):
                        if v in versions:
                            versions[v]["status"] = "deprecated"
                    if version is None or deprecated["active"] == version:
                        deprecated["active"] = _best_registered(deprecated)
                    _history(deprecated, event, version, "deprecated", reason)
                    state["revision"] += 1
        return state

    @staticmethod
    def _activate(state: RegistryState, name: str, version: int, event: Event, what: str) -> None:
        state["revision"] += 1
        tool = state["tools"].setdefault(name, _new_tool())
        record = tool["versions"].get(str(version))
        if record is None:  # registered without a proposal in this log (e.g. a composite)
            record = VersionRecord(
                status="registered",
                spec={},
                code="",
                tests="",
                origin="unknown",
                proposed_at=event.occurred_at.isoformat(),
                report=None,
                reason=None,
            )
            tool["versions"][str(version)] = record
        record["status"] = "registered"
        tool["active"] = version
        _history(tool, event, version, "active", what)


def _new_tool() -> ToolRecord:
    return ToolRecord(active=None, versions={}, history=[])


def _version(tools: dict[str, ToolRecord], name: str, version: int) -> VersionRecord | None:
    tool = tools.get(name)
    return tool["versions"].get(str(version)) if tool is not None else None


def _ms(event: Event) -> int:
    return int(event.occurred_at.timestamp() * 1000)


def _later(current: int | None, event: Event) -> int:
    at = _ms(event)
    return at if current is None or at > current else current


def phrase_of(step: Step) -> str:
    """The phrasing a step teaches its tool (its template, normalised)."""
    return normalise_phrase(step.template or step.query)


def _lesson(
    state: RegistryState,
    step: Step,
    status: LessonStatus,
    sign: int,
    at: int,
    *,
    sole: bool = True,
) -> None:
    """Add (``sign`` +1) or take back (-1) what a step with this status teaches. ``sole``:
    the step was its answer's only one (a rejection then blames its tool alone)."""
    if status == "none":
        return
    # one more for every lesson, whether the set of phrasings changed or not: a count of
    # events, the same whatever order requests of different keys are folded in
    state["phrases_revision"] += 1
    phrase = phrase_of(step)
    stats = _stats(state, f"{step.tool}@{step.version}")
    if status == "rejected":
        stats["rejected"] = max(0, stats["rejected"] + sign)
        _count(state["rejected"].setdefault(step.tool, {}), phrase, sign, at, mark=sole)
        exact = state.setdefault("rejected_requests", {}).setdefault(step.tool, {})
        _count(exact, normalise_phrase(step.query), sign, at, mark=sole)
        return
    stats["confirmed"] = max(0, stats["confirmed"] + sign)
    phrases = state["phrases"].setdefault(step.tool, {})
    _count(phrases, phrase, sign, at, mark=status == "confirmed")


def _history(tool: ToolRecord, event: Event, version: int | None, what: str, detail: str) -> None:
    tool["history"].append(
        {
            "at": event.occurred_at.isoformat(),
            "version": version,
            "event": event.type,
            "what": what,
            "detail": detail,
        }
    )


def _best_registered(tool: ToolRecord) -> int | None:
    registered = [int(v) for v, r in tool["versions"].items() if r["status"] == "registered"]
    return max(registered) if registered else None


def _count(phrases: dict[str, list[int]], phrase: str, sign: int, at: int, *, mark: bool) -> bool:
    """Count a phrasing up or down, and in the third place too when ``mark`` (confirmed by a
    user, for a phrasing; its answer's only step, for a rejection). True when what is
    searched changes: a phrasing appears, disappears, or its third count turns on or off."""
    if not phrase:
        return False
    seen = phrases.get(phrase)
    if seen is None:
        if sign < 0:
            return False  # already dropped past the cap
        phrases[phrase] = [1, at, 1 if mark else 0]
        if len(phrases) > MAX_PHRASES:
            # Past the cap the order of requests decides what is kept; below it, nothing does.
            drop = min(phrases.items(), key=lambda kv: (kv[1][0], kv[1][1], kv[0]))
            del phrases[drop[0]]
        return True
    while len(seen) < 3:
        seen.append(0)
    seen[0] += sign
    seen[1] = max(seen[1], at)
    marked_before = seen[2] > 0
    if mark:
        seen[2] = max(0, seen[2] + sign)
    # a phrasing counted down to 0 is kept (with when it was last seen), not deleted: its
    # record is then the same whatever order requests of different keys were folded in
    return marked_before != (seen[2] > 0) or (sign < 0 and seen[0] == 0)


def active_tools(state: RegistryState) -> dict[str, tuple[int, VersionRecord]]:
    """The tools that can be used: name -> (active version, its record).

    Read from the live rows under a read-only view, a row at a time (each read is one C
    call, atomic under the GIL, as a view's copies are), and only the records returned are
    handed out as views: through views, every tool's row and versions were copied to be
    looked at, and the request path asks this four times (a sixth of a cached answer).
    """
    tools = cast(dict[str, ToolRecord], dict.get(cast(dict[str, Any], state), "tools"))
    hand_out = frozen if isinstance(state, FrozenDict) else _as_is
    out = {}
    for name, tool in list(dict.items(tools)):
        active = tool["active"]
        if active is not None:
            record = tool["versions"].get(str(active))
            if record is not None and record["status"] == "registered":
                out[name] = (active, hand_out(record))
    return out


def _as_is(value: VersionRecord) -> VersionRecord:
    return value


def stats_of(state: RegistryState, name: str, version: int) -> VersionStats:
    """A tool version's stats (zeros when it never ran)."""
    return state["stats"].get(f"{name}@{version}") or _new_stats()


def success_rate(stats: VersionStats) -> float:
    """Laplace-smoothed rate of runs that returned a result: 0.5 for a version never run."""
    return (stats["successes"] + 1) / (stats["executions"] + 2)


def live(phrasings: Mapping[str, list[int]] | None) -> dict[str, list[int]]:
    """The phrasings of a table that count (a phrasing taken back to 0 is kept, not live)."""
    return {p: seen for p, seen in (phrasings or {}).items() if seen[0] > 0}


def confirmed_phrasings(state: RegistryState, tool: str) -> list[str]:
    """The phrasings users confirmed for a tool: they widen what the tool is asked by (an
    LLM's plan does not: its words are the whole request, context and all)."""
    return [
        p
        for p, seen in state["phrases"].get(tool, {}).items()
        if seen[0] > 0 and len(seen) > 2 and seen[2]
    ]


def _reject_answer(state: RegistryState, prompt: str, answer: str, sign: int) -> None:
    """Count a bad rating of ``answer`` to ``prompt`` (+1), or take one back (-1)."""
    request = normalise_phrase(prompt)
    answers = state.setdefault("rejected_answers", {}).setdefault(request, {})
    count = answers.get(answer, 0) + sign
    if count > 0:
        answers[answer] = count
    else:
        answers.pop(answer, None)
    if not answers:
        del state["rejected_answers"][request]


def rejected_answer(state: RegistryState, prompt: str, answer: str) -> bool:
    """Whether a user rated ``answer`` to exactly this request (as asked) bad."""
    found = state.get("rejected_answers", {}).get(normalise_phrase(prompt))
    return bool(found and found.get(answer, 0) > 0)


def rejected_request(state: RegistryState, tool: str, text: str) -> bool:
    """Whether users rated ``tool``'s answer to exactly this request (step text) bad."""
    seen = state.get("rejected_requests", {}).get(tool, {}).get(normalise_phrase(text))
    return bool(seen and seen[0] > 0)


def uses_of(state: RegistryState, tool: str, phrase: str) -> tuple[int, int]:
    """(confirmed uses, bad ratings) of a tool for one phrasing."""
    phrase = normalise_phrase(phrase)
    good = state["phrases"].get(tool, {}).get(phrase)
    bad = state.get("rejected", {}).get(tool, {}).get(phrase)
    return (max(good[0], 0) if good else 0), (max(bad[0], 0) if bad else 0)


def next_version(state: RegistryState, name: str) -> int:
    """The version a new proposal of ``name`` gets."""
    tool = state["tools"].get(name)
    return 1 + max((int(v) for v in tool["versions"]), default=0) if tool else 1
