"""Counterfactual cache hit rate: the recorded lookups of the execution cache replayed under
another ``cache.ttl_seconds``.

A TTL does not change answers (only deterministic tools are cached, and a result served
from the cache is the one a run would give), so replaying requests through the handler
cannot estimate it: the handler finds what the recorded answers cached. What a TTL changes is
which lookups hit, and that can be replayed exactly from the log. Every run of a
deterministic tool (``ToolExecuted`` with ``cacheable``) and every ``CacheHit`` is a lookup of
its key at its time; in time order, a lookup hits when the key was computed no longer than
the TTL before, and otherwise computes it (when it succeeded); a bad rating
(``FeedbackApplied`` with ``cache_keys``) drops what was computed before it, as the cache fold
does. A request counts as served from the cache when all its tool calls were lookups that
hit, which is what ``RequestCompleted.cached`` and the experiments' ``cache_hit_rate`` count.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from selfeng.consumers.counterfactual import decoded_events
from selfeng.core.log import EventLog
from selfeng.projections.cache import cache_key
from selfeng.schemas import CacheHit, FeedbackApplied, RequestCompleted, ToolExecuted

_TYPES = frozenset({"ToolExecuted", "CacheHit", "RequestCompleted", "FeedbackApplied"})


@dataclass(frozen=True)
class Lookup:
    """One look at the cache: a deterministic tool's run or a hit."""

    at_ms: int
    key: str
    request: str
    computes: bool
    """Whether a miss here computes the result (a run that returned, or a recorded hit)."""


@dataclass
class CacheHistory:
    """The log's cache lookups and drops, and the requests to estimate over."""

    lookups: list[Lookup] = field(default_factory=list)
    drops: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)
    uncached_runs: set[str] = field(default_factory=set)
    """Requests that ran a tool that is not deterministic: never served from the cache."""
    requests: list[str] = field(default_factory=list)
    """The requests estimated over (the last completed, oldest first)."""
    recorded_cached: int = 0
    """Of those, how many were recorded as served from the cache."""


def cache_history(log: EventLog, last: int) -> CacheHistory:
    """Read the cache's lookups and drops from the log, and the last ``last`` completed
    requests (whole log: a lookup hits on a result computed any time before)."""
    history = CacheHistory()
    done: OrderedDict[str, bool] = OrderedDict()
    for event in decoded_events(log, _TYPES):
        at = int(event.occurred_at.timestamp() * 1000)
        match event:
            case ToolExecuted(cacheable=True):
                key = cache_key(event.tool, event.version, dict(event.arguments))
                history.lookups.append(Lookup(at, key, event.key, event.ok))
            case ToolExecuted():
                history.uncached_runs.add(event.key)
            case CacheHit():
                history.lookups.append(Lookup(at, event.cache_key, event.key, True))
            case FeedbackApplied(rating="bad", cache_keys=keys) if keys:
                history.drops.append((at, tuple(keys)))
            case RequestCompleted(awaiting_tool=False):
                done[event.key] = event.cached
                done.move_to_end(event.key)
                while len(done) > last:
                    done.popitem(last=False)
    history.requests = list(done)
    history.recorded_cached = sum(done.values())
    return history


def hit_rate(history: CacheHistory, ttl_seconds: float) -> float:
    """The share of the estimated requests served from the cache under ``ttl_seconds``."""
    if not history.requests:
        return 0.0
    hits = _replay(history.lookups, history.drops, ttl_seconds * 1000)
    wanted = set(history.requests)
    looked: dict[str, bool] = {}
    for lookup, hit in zip(history.lookups, hits, strict=True):
        if lookup.request in wanted:
            looked[lookup.request] = looked.get(lookup.request, True) and hit
    cached = sum(
        1
        for request in history.requests
        if looked.get(request, False) and request not in history.uncached_runs
    )
    return cached / len(history.requests)


def _replay(
    lookups: Sequence[Lookup], drops: Iterable[tuple[int, tuple[str, ...]]], ttl_ms: float
) -> list[bool]:
    """Whether each lookup hits, in the lookups' order, replaying them with the drops in time
    order (a drop at the same millisecond as a lookup comes first, as a rating follows the
    answer it rates)."""
    timeline: list[tuple[int, int, int]] = [(lk.at_ms, 1, i) for i, lk in enumerate(lookups)]
    drop_list = list(drops)
    timeline += [(at, 0, j) for j, (at, _) in enumerate(drop_list)]
    timeline.sort()
    computed: dict[str, int] = {}
    hits = [False] * len(lookups)
    for at, kind, index in timeline:
        if kind == 0:
            for key in drop_list[index][1]:
                if computed.get(key, at + 1) <= at:
                    del computed[key]
            continue
        lookup = lookups[index]
        when = computed.get(lookup.key)
        if when is not None and at - when <= ttl_ms:
            hits[index] = True
        elif lookup.computes:
            computed[lookup.key] = at
    return hits
