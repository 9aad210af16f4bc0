"""The execution cache: results of deterministic tools, by tool, version and arguments.

The key is sha256 of the tool, its version and the canonical JSON of the arguments. Only
results of deterministic tool versions (``ToolExecuted.cacheable``) are cached. The fold
stores when each result was computed; whether it is still fresh is decided when it is
looked up, against the ``cache.ttl_seconds`` policy and the looker's clock, so the fold
itself never reads a clock.

A bad rating of an answer (``FeedbackApplied``) drops the entries its request produced or
used, and leaves a tombstone: a result computed before the rating is not cached again,
whatever order the fold sees the events of different requests in.
"""

from __future__ import annotations

import hashlib
from typing import Any, TypedDict

import orjson
from pydantic import JsonValue

from selfeng.projections.base import FoldContext, Projection
from selfeng.schemas import Event, FeedbackApplied, ToolExecuted

MAX_ENTRIES = 100_000
"""Results kept; past it the oldest go first."""
MAX_TOMBSTONES = 10_000
"""Dropped keys remembered; past it the oldest are forgotten."""


class CacheEntry(TypedDict):
    """One cached result."""

    tool: str
    version: int
    value: JsonValue
    at_ms: int
    event_id: str


class CacheState(TypedDict):
    """Cached results by key, and the keys dropped by bad ratings (key -> when)."""

    entries: dict[str, CacheEntry]
    dropped: dict[str, int]


def cache_key(tool: str, version: int, arguments: dict[str, Any]) -> str:
    """sha256 of the tool, its version and the canonical JSON of its arguments."""
    canonical = orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(f"{tool}@{version}\x1f".encode() + canonical).hexdigest()


class CacheProjection(Projection[CacheState]):
    """Results of successful executions of deterministic tool versions."""

    name = "cache"
    version = 2
    handles = (ToolExecuted, FeedbackApplied)
    arm_scoped = True
    tables = ("entries", "dropped")

    def initial(self) -> CacheState:
        return CacheState(entries={}, dropped={})

    def apply(self, state: CacheState, event: Event, ctx: FoldContext) -> CacheState:
        if isinstance(event, FeedbackApplied) and event.rating == "bad":
            at = int(event.occurred_at.timestamp() * 1000)
            dropped = state.setdefault("dropped", {})
            for key in event.cache_keys:
                entry = state["entries"].get(key)
                if entry is not None and entry["at_ms"] <= at:
                    del state["entries"][key]
                dropped[key] = max(dropped.get(key, 0), at)
            while len(dropped) > MAX_TOMBSTONES:
                del dropped[min(dropped, key=lambda k: (dropped[k], k))]
        if isinstance(event, ToolExecuted) and event.ok and event.cacheable:
            entries = state["entries"]
            key = cache_key(event.tool, event.version, event.arguments)
            entry = CacheEntry(
                tool=event.tool,
                version=event.version,
                value=event.result,
                at_ms=int(event.occurred_at.timestamp() * 1000),
                event_id=str(event.event_id),
            )
            current = entries.get(key)
            if entry["at_ms"] <= state.get("dropped", {}).get(key, -1):
                return state  # computed before a bad rating dropped it
            # The newest result wins whatever order requests are folded in.
            if current is None or (entry["at_ms"], entry["event_id"]) > (
                current["at_ms"],
                current["event_id"],
            ):
                entries[key] = entry
                if len(entries) > MAX_ENTRIES:
                    del entries[next(iter(entries))]
        return state


def lookup(
    state: CacheState,
    tool: str,
    version: int,
    arguments: dict[str, Any],
    now_ms: int,
    ttl_seconds: float,
) -> tuple[str, CacheEntry | None]:
    """The key and the fresh entry for a call, if one is cached."""
    key = cache_key(tool, version, arguments)
    entry = state["entries"].get(key)
    if entry is not None and now_ms - entry["at_ms"] > ttl_seconds * 1000:
        entry = None
    return key, entry
