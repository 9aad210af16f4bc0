"""``/v1/tools``: the registry's tools ranked by use, one tool's versions, stats and history,
and adding a tool (admin; proven in the sandbox like ``selfeng tools add``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from selfeng.core.tooldef import ToolSourceError, parse_tool
from selfeng.producers.http.auth import route
from selfeng.producers.http.errors import JSONBody
from selfeng.producers.http.service import Service
from selfeng.projections.registry import RegistryState, live, stats_of, success_rate
from selfeng.projections.views import thaw
from selfeng.schemas import ToolRegistered, ToolRejected

router = APIRouter(prefix="/v1/tools", tags=["tools"])


class ToolBody(BaseModel):
    """A tool written by a person: a typed, documented function and its ``test_*`` functions."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=200_000)
    """The Python source."""
    name: str | None = Field(default=None, max_length=200)
    """The tool's function, when the source defines several."""


def _registry(request: Request) -> RegistryState:
    service: Service = request.app.state.service
    return service.app.registry()


def tool_rows(registry: RegistryState) -> list[dict[str, Any]]:
    """Each tool with an active version and its use, most used first."""
    rows = []
    for name, tool in registry["tools"].items():
        active = tool["active"]
        record = tool["versions"].get(str(active)) if active is not None else None
        if active is None or record is None:
            continue
        stats = stats_of(registry, name, active)
        runs = stats["executions"]
        rows.append(
            {
                "tool": name,
                "version": active,
                "origin": record["origin"],
                "description": record["spec"].get("description", ""),
                "runs": runs,
                "successes": stats["successes"],
                "cache_hits": stats["cache_hits"],
                "success_rate": round(stats["successes"] / runs, 4) if runs else None,
                "smoothed_success_rate": round(success_rate(stats), 4),
                "mean_ms": round(stats["total_ms"] / runs, 3) if runs else None,
            }
        )
    rows.sort(key=lambda r: (-(r["runs"] + r["cache_hits"]), r["tool"]))
    return rows


@route(router, "GET", "", "client", response_class=JSONBody)
def list_tools(request: Request) -> JSONBody:
    """The active tools ranked by use (runs and cache hits), with success rates."""
    return JSONBody({"tools": tool_rows(_registry(request))})


@route(router, "GET", "/{name}", "client", response_class=JSONBody)
def show_tool(request: Request, name: str) -> JSONBody:
    """A tool's versions (spec, code, tests, status), per-version stats, history and the
    phrasings learnt for it."""
    registry = _registry(request)
    tool = registry["tools"].get(name)
    if tool is None:
        raise HTTPException(404, f"no tool {name!r}")
    versions = thaw(tool["versions"])
    stats = {v: thaw(stats_of(registry, name, int(v))) for v in versions}
    return JSONBody(
        {
            "tool": name,
            "active": tool["active"],
            "versions": versions,
            "stats": stats,
            "history": thaw(tool["history"]),
            "phrasings": sorted(live(registry["phrases"].get(name)))[:100],
        }
    )


@route(router, "POST", "", "admin", status_code=201, response_class=JSONBody)
async def add_tool(request: Request, body: ToolBody) -> JSONBody:
    """Propose a tool, run its tests in the sandbox and register it if they pass (201);
    a tool whose tests fail is 422 with the report."""
    try:
        tool = parse_tool(body.source, body.name)
    except ToolSourceError as exc:
        raise HTTPException(422, str(exc)) from exc
    service: Service = request.app.state.service
    events = await run_in_threadpool(service.app.add_tool, tool, "human")
    outcome = events[-1]
    if isinstance(outcome, ToolRegistered):
        return JSONBody({"tool": tool.name, "version": outcome.version, "registered": True}, 201)
    report = None
    if isinstance(outcome, ToolRejected) and outcome.report is not None:
        report = outcome.report.model_dump(mode="json")
    reason = outcome.reason if isinstance(outcome, ToolRejected) else outcome.type
    return JSONBody(
        {
            "error": "unprocessable_entity",
            "message": f"{tool.name} was rejected: {reason}",
            "report": report,
        },
        422,
    )
