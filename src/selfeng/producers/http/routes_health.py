"""Liveness, readiness, and the dashboard's page."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse

from selfeng.producers.http.auth import route
from selfeng.producers.http.errors import JSONBody, error_body
from selfeng.producers.http.service import Service

router = APIRouter(tags=["health"])


@route(router, "GET", "/healthz", "public", response_class=JSONBody)
def healthz() -> JSONBody:
    """The process is up."""
    return JSONBody({"status": "ok"})


@route(router, "GET", "/readyz", "public", response_class=JSONBody)
async def readyz(request: Request) -> JSONBody:
    """The log answers and the projections are readable: ready for traffic (else 503)."""
    service: Service = request.app.state.service

    def check() -> str:
        head = service.app.log.head()
        service.app.engine.main.state("events")
        return str(head)

    try:
        head = await run_in_threadpool(check)
    except Exception as exc:
        return error_body(503, f"not ready: {type(exc).__name__}: {exc}")
    return JSONBody({"status": "ready", "log": service.app.log.url, "head": head})


@route(router, "GET", "/", "public", response_class=HTMLResponse, include_in_schema=False)
def dashboard() -> HTMLResponse:
    """The live dashboard."""
    page = resources.files("selfeng.producers.http").joinpath("static/index.html").read_text()
    return HTMLResponse(page, headers={"Cache-Control": "no-cache"})
