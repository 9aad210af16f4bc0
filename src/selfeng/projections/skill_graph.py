"""The skill graph: typed tool nodes, and edges weighted by successful hand-offs.

A node is a tool: per version, the JSON Schema of its inputs and of its output, the
version's status and which version is active. It folds the tools family, keyed by tool
name, so a node only relies on the order of its own tool's events.

An edge ``a>b`` says that in real requests tool ``b`` received tool ``a``'s output (a
completed request's step with a ``handoff``). Edges are counts, so they come out the same
whatever the interleaving of requests and tool events. Its weight is
``successes / (1 + failures)``: hand-offs that worked in a confirmed answer (confident, or
rated good: ``selfeng.projections.lessons``), decayed by hand-offs the receiving tool failed
on. A hand-off that worked in a request that failed later counts as a ``later_failure``:
neither a success nor a decay; one in an answer not yet confirmed counts when it is, and a
bad rating takes a success back.

The helpers below are pure reads of the state, for the planner and for display.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Any, Literal, TypedDict

from selfeng.projections.base import FoldContext, Projection
from selfeng.projections.lessons import confirmed, initial_lessons
from selfeng.schemas import (
    Candidate,
    Event,
    FeedbackApplied,
    RequestCompleted,
    Step,
    ToolDeprecated,
    ToolProposed,
    ToolRegistered,
    ToolRejected,
    ToolRolledBack,
)

VersionStatus = Literal["proposed", "registered", "rejected", "deprecated"]
"""Where a tool version stands; only ``registered`` versions are usable."""


class ToolVersionNode(TypedDict):
    """One version of a tool: what it takes and returns."""

    inputs: dict[str, Any]
    output: dict[str, Any]
    status: VersionStatus


class ToolNode(TypedDict):
    """A tool: its versions (by ``str(version)``) and the active one."""

    active: int | None
    versions: dict[str, ToolVersionNode]


class Edge(TypedDict):
    """Hand-offs from one tool's output to another tool's parameter."""

    param: str
    params: dict[str, int]
    successes: int
    failures: int
    later_failures: int
    weight: float


class SkillGraphState(TypedDict):
    """Nodes by tool name; edges by ``"from_tool>to_tool"``."""

    tools: dict[str, ToolNode]
    edges: dict[str, Edge]


class SkillGraphProjection(Projection[SkillGraphState]):
    """Typed tool nodes and hand-off edges learnt from completed requests."""

    name = "skill_graph"
    version = 2
    handles = (
        ToolProposed,
        ToolRegistered,
        ToolRejected,
        ToolDeprecated,
        ToolRolledBack,
        RequestCompleted,
        FeedbackApplied,
    )
    arm_scoped = True
    tables = ("tools", "edges")

    def initial(self) -> SkillGraphState:
        return SkillGraphState(tools={}, edges={})

    def apply(self, state: SkillGraphState, event: Event, ctx: FoldContext) -> SkillGraphState:
        tools = state["tools"]
        match event:
            # the frequent types first: each case is a type check
            case RequestCompleted():
                _count_handoffs(state["edges"], event)
            case FeedbackApplied(steps=steps, before=before, after=after):
                was, now = confirmed(before), confirmed(after)
                if was != now:
                    _recount_handoffs(state["edges"], steps, +1 if now else -1)
            case ToolProposed(tool=name, version=version, spec=spec):
                dumped = spec.model_dump(mode="json")
                node = tools.setdefault(name, ToolNode(active=None, versions={}))
                node["versions"][str(version)] = ToolVersionNode(
                    inputs=dumped["parameters"], output=dumped["returns"], status="proposed"
                )
            case (
                ToolRegistered(tool=name, version=version)
                | ToolRolledBack(tool=name, to_version=version)
            ):
                node = tools.setdefault(name, ToolNode(active=None, versions={}))
                record = node["versions"].setdefault(
                    str(version), ToolVersionNode(inputs={}, output={}, status="registered")
                )
                record["status"] = "registered"
                node["active"] = version
            case ToolRejected(tool=name, version=version):
                _retire(tools.get(name), [version], "rejected")
            case ToolDeprecated(tool=name, version=version):
                known = tools.get(name)
                if known is not None:
                    every = [int(v) for v in known["versions"]] if version is None else [version]
                    _retire(known, every, "deprecated")
        return state


def _retire(node: ToolNode | None, versions: Iterable[int], status: VersionStatus) -> None:
    """Mark versions unusable; the active one moves to the highest registered version left."""
    if node is None:
        return
    for version in versions:
        retired = node["versions"].get(str(version))
        if retired is not None and retired["status"] != "rejected":
            retired["status"] = status
    active = node["active"]
    record = node["versions"].get(str(active)) if active is not None else None
    if active is not None and (record is None or record["status"] != "registered"):
        registered = [int(v) for v, r in node["versions"].items() if r["status"] == "registered"]
        node["active"] = max(registered, default=None)


def _count_handoffs(edges: dict[str, Edge], event: RequestCompleted) -> None:
    """Count every hand-off of a completed request (a step fed by a failed one is skipped)."""
    steps = event.steps
    if len(steps) < 2:
        return  # most requests: one step, no hand-off
    success = confirmed(initial_lessons(event))
    for prev, cur in pairwise(steps):
        if cur.handoff is None or not prev.ok:
            continue
        edge = edges.setdefault(
            f"{prev.tool}>{cur.tool}",
            Edge(param="", params={}, successes=0, failures=0, later_failures=0, weight=0.0),
        )
        edge["params"][cur.handoff] = edge["params"].get(cur.handoff, 0) + 1
        # the most used parameter, ties by name: the same whatever the order of requests
        edge["param"] = min(edge["params"].items(), key=lambda kv: (-kv[1], kv[0]))[0]
        if not cur.ok:
            edge["failures"] += 1
        elif event.ok and success:
            edge["successes"] += 1
        elif not event.ok:
            edge["later_failures"] += 1
        edge["weight"] = edge["successes"] / (1 + edge["failures"])


def _recount_handoffs(edges: dict[str, Edge], steps: Sequence[Step], sign: int) -> None:
    """A rating confirmed an answer's hand-offs (+1) or took their successes back (-1)."""
    for prev, cur in pairwise(steps):
        edge = edges.get(f"{prev.tool}>{cur.tool}")
        if cur.handoff is None or not prev.ok or not cur.ok or edge is None:
            continue
        edge["successes"] = max(0, edge["successes"] + sign)
        edge["weight"] = edge["successes"] / (1 + edge["failures"])


def edge_weight(state: SkillGraphState, a: str, b: str) -> float:
    """The weight of the hand-off ``a -> b``: ``successes / (1 + failures)``, 0.0 if never seen."""
    edge = state["edges"].get(f"{a}>{b}")
    return edge["successes"] / (1 + edge["failures"]) if edge is not None else 0.0


def successors(state: SkillGraphState, a: str) -> list[tuple[str, float]]:
    """The tools that have received ``a``'s output, with edge weights, best first (ties by name)."""
    prefix = f"{a}>"
    found = [
        (key[len(prefix) :], edge_weight(state, a, key[len(prefix) :]))
        for key in state["edges"]
        if key.startswith(prefix)
    ]
    return sorted(found, key=lambda tw: (-tw[1], tw[0]))


def active_version(state: SkillGraphState, tool: str) -> ToolVersionNode | None:
    """The active version of ``tool`` (None when unknown or nothing is active)."""
    node = state["tools"].get(tool)
    if node is None or node["active"] is None:
        return None
    return node["versions"].get(str(node["active"]))


_JSON_TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})


def _types(schema: Any) -> frozenset[str] | None:
    """The JSON types a schema allows; None when it names none we know (anything goes)."""
    named = schema.get("type") if isinstance(schema, Mapping) else None
    if isinstance(named, str):
        named = [named]
    if not isinstance(named, list):
        return None
    types = frozenset(t for t in named if isinstance(t, str))
    return types if types and types <= _JSON_TYPES else None


def _takes(param: str, value: str) -> bool:
    """Whether a parameter of JSON type ``param`` can take a value of JSON type ``value``."""
    if param == "string":
        return True  # anything can be handed over as text
    if param == "number":
        return value in ("number", "integer")
    return param == value


def accepts(state: SkillGraphState, tool: str, value_schema: Mapping[str, Any]) -> bool:
    """Whether the active version of ``tool`` has a parameter that can take such a value.

    ``value_schema`` is the JSON Schema of the value handed over (the previous tool's
    output). A string parameter takes anything, a number takes a number or an integer, any
    other type takes its own type only. Missing or unknown types on either side are
    permissive, and so is a tool (or active version) the graph does not know, or one whose
    inputs list no ``properties``; a tool that declares no parameters at all takes nothing.
    """
    version = active_version(state, tool)
    properties = version["inputs"].get("properties") if version is not None else None
    if not isinstance(properties, Mapping):
        return True
    given = _types(value_schema)
    for param in properties.values():
        wanted = _types(param)
        if wanted is None or given is None or any(_takes(w, g) for w in wanted for g in given):
            return True
    return False


def prefer_chains(
    candidates: Sequence[Candidate],
    previous_tool: str | None,
    state: SkillGraphState,
    *,
    margin: float = 0.1,
) -> list[Candidate]:
    """The candidates, reordered to prefer a proven hand-off from ``previous_tool``.

    The margin group is the candidates whose score is within ``margin`` of the top score.
    If one of them that accepts ``previous_tool``'s output (by ``accepts``, with its active
    output schema) has a positive edge weight from ``previous_tool``, the group is reordered
    in the slots it occupies: the accepting candidate with the highest weight first (ties keep
    the given order), then the other accepting ones, then those that cannot accept the output,
    each in the given order. Without a previous tool or without such positive evidence the
    order is unchanged. Candidates outside the group keep their places; none is dropped.
    """
    ordered = list(candidates)
    if previous_tool is None or not ordered:
        return ordered
    top = max(c.score for c in ordered)
    slots = [i for i, c in enumerate(ordered) if c.score >= top - margin]
    group = [ordered[i] for i in slots]
    previous = active_version(state, previous_tool)
    output = previous["output"] if previous is not None else {}
    fits = [c for c in group if accepts(state, c.tool, output)]
    misfits = [c for c in group if not accepts(state, c.tool, output)]
    weights = [edge_weight(state, previous_tool, c.tool) for c in fits]
    if not weights or max(weights) <= 0.0:
        return ordered
    best = fits.pop(weights.index(max(weights)))
    for slot, candidate in zip(slots, [best, *fits, *misfits], strict=True):
        ordered[slot] = candidate
    return ordered


def chains(
    state: SkillGraphState, start: str, max_length: int = 4, min_weight: float = 0.0
) -> list[tuple[list[str], float]]:
    """Paths of hand-offs from ``start``, best first, for display.

    A path has at least two and at most ``max_length`` tools, never visits a tool twice and
    follows only edges heavier than ``min_weight``. Its score is its weakest edge (the
    minimum weight along it: a chain is as good as its worst hand-off). Best first: higher
    score, then longer, then by tool names.
    """
    found: list[tuple[list[str], float]] = []

    def walk(path: list[str], score: float) -> None:
        if len(path) >= max_length:
            return
        for tool, weight in successors(state, path[-1]):
            if weight > min_weight and tool not in path:
                extended = [*path, tool]
                strength = min(score, weight)
                found.append((extended, strength))
                walk(extended, strength)

    walk([start], float("inf"))
    return sorted(found, key=lambda ps: (-ps[1], -len(ps[0]), ps[0]))
