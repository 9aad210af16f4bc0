"""What selfeng learnt (``selfeng learn``'s data), the skill graph, and the numbers the
dashboard plots: requests per minute, cache hit rate, LLM use."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from selfeng.core.log import EventLog, before_end
from selfeng.learnt import summary
from selfeng.producers.http.auth import route
from selfeng.producers.http.errors import JSONBody
from selfeng.producers.http.service import Service

router = APIRouter(prefix="/v1", tags=["learning"])

RECENT_RECORDS = 20_000
"""How far back (records) the per-minute series read."""
_COUNTED = ("RequestReceived", "RequestCompleted", "CacheHit", "ToolExecuted")


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _summary(request: Request, patterns: int = 20) -> dict[str, Any]:
    return summary(_service(request).app, patterns=patterns)


@route(router, "GET", "/learning", "client", response_class=JSONBody)
def learning(request: Request, patterns: Annotated[int, Query(ge=1, le=500)] = 20) -> JSONBody:
    """Everything ``selfeng learn --json`` shows: patterns, composites, repairs, rollbacks,
    deprecations, failures and LLM use, with the evidence of each."""
    return JSONBody(_summary(request, patterns))


@route(router, "GET", "/learning/patterns", "client", response_class=JSONBody)
def patterns(request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 20) -> JSONBody:
    """The strongest tool-sequence patterns, and the promotion policy."""
    data = _summary(request, limit)
    return JSONBody({"policy": data["policy"], "patterns": data["patterns"]})


@route(router, "GET", "/learning/composites", "client", response_class=JSONBody)
def composites(request: Request) -> JSONBody:
    """Composite tools built from patterns, with what each was based on."""
    return JSONBody({"composites": _summary(request, 1)["composites"]})


@route(router, "GET", "/learning/repairs", "client", response_class=JSONBody)
def repairs(request: Request) -> JSONBody:
    """Repairs, rollbacks, deprecations and the failures analysed."""
    data = _summary(request, 1)
    return JSONBody({k: data[k] for k in ("repairs", "rollbacks", "deprecations", "failures")})


@route(router, "GET", "/learning/llm", "client", response_class=JSONBody)
def llm_usage(request: Request) -> JSONBody:
    """LLM calls, tokens and latency per model (``llm_usage``)."""
    return JSONBody({"models": _summary(request, 1)["llm"]})


@route(router, "GET", "/skill-graph", "client", response_class=JSONBody)
def skill_graph(request: Request) -> JSONBody:
    """Typed tool nodes and hand-off edges (the ``skill_graph`` projection)."""
    return JSONBody(_service(request).app.engine.state("skill_graph"))


def recent_series(log: EventLog, minutes: int) -> dict[str, Any]:
    """Per-minute counts of requests, answers, cache hits and tool runs over the last
    ``minutes`` minutes of the log's own time, from its last ``RECENT_RECORDS`` records."""
    per_minute: dict[int, Counter[str]] = {}
    newest = 0
    for batch in log.read(before_end(log, RECENT_RECORDS), types=_COUNTED):
        for record in batch.records:
            minute = record.timestamp_ms // 60_000
            newest = max(newest, minute)
            per_minute.setdefault(minute, Counter())[record.type] += 1
    first = newest - minutes + 1
    series = [
        {"minute": m * 60, **{t: per_minute.get(m, Counter())[t] for t in _COUNTED}}
        for m in range(first, newest + 1)
    ]
    return {"minutes": series if newest else []}


@route(router, "GET", "/stats", "client", response_class=JSONBody)
def stats(request: Request, minutes: Annotated[int, Query(ge=1, le=1440)] = 30) -> JSONBody:
    """Totals (events by type, requests, the cache hit rate) and per-minute series."""
    service = _service(request)
    counts = service.app.engine.state("events")
    by_type: dict[str, int] = counts["by_type"]
    hits, runs = by_type.get("CacheHit", 0), by_type.get("ToolExecuted", 0)
    return JSONBody(
        {
            "events": counts["total"],
            "by_type": by_type,
            "requests": by_type.get("RequestReceived", 0),
            "answers": by_type.get("RequestCompleted", 0),
            "cache_hits": hits,
            "tool_runs": runs,
            "cache_hit_rate": round(hits / (hits + runs), 4) if hits + runs else None,
            "head": str(service.app.log.head()),
            "subscribers": service.hub.subscribers,
            **recent_series(service.app.log, minutes),
        }
    )
