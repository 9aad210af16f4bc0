"""``/v1/requests``: ask, read a request and its events, rate an answer."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from selfeng.producers.http.auth import principal_of, route
from selfeng.producers.http.errors import JSONBody
from selfeng.producers.http.service import Busy, RequestView, Service

router = APIRouter(prefix="/v1/requests", tags=["requests"])

MAX_WAIT_SECONDS = 120.0


class AskBody(BaseModel):
    """A request to answer."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=20_000)
    """What is asked."""
    session_id: str | None = Field(default=None, min_length=1, max_length=200)
    """A conversation id: a follow-up ("now reverse the result") uses its previous answer."""
    arm: str | None = Field(default=None, min_length=1, max_length=200)
    """The policy arm (a fork, or ``main``) to answer with; without it a running experiment
    assigns one. An arm that names no live fork is answered by main (``arm_note`` says so)."""


class FeedbackBody(BaseModel):
    """A rating of an answer."""

    model_config = ConfigDict(extra="forbid")

    rating: Literal["good", "bad"]
    """``good`` confirms what the answer teaches; ``bad`` takes it back."""
    comment: str = Field(default="", max_length=5_000)
    """What was good or bad."""


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def answer_json(view: RequestView, *, with_events: bool) -> dict[str, Any]:
    """A request and its answer (and its events) as JSON."""
    done = view.completed
    body: dict[str, Any] = {
        "request_id": view.received.key,
        "prompt": view.received.prompt,
        "session_id": view.received.session_id,
        "status": "pending" if done is None else "answered",
    }
    if done is not None:
        body.update(
            ok=done.ok,
            answer=done.answer,
            value=done.value,
            tools=list(done.tools),
            cached=done.cached,
            confidence=done.confidence,
            reason=done.reason,
            awaiting_tool=done.awaiting_tool,
            duration_ms=done.duration_ms,
            arm=done.policy_arm,
            arm_note=done.arm_note,
        )
    if with_events:
        body["events"] = [e.model_dump(mode="json") for e in view.events]
    return body


@route(
    router,
    "POST",
    "",
    "client",
    status_code=202,
    response_class=JSONBody,
    responses={200: {"description": "answered within ``wait``"}},
)
async def ask(
    request: Request,
    body: AskBody,
    wait: Annotated[float | None, Query(ge=0, le=MAX_WAIT_SECONDS)] = None,
    events: Annotated[bool, Query(description="Include the request's events")] = False,
) -> JSONBody:
    """Publish a request. With ``wait`` (seconds), wait for the answer and return it (200);
    otherwise, or when no answer came in time, return 202 with the request id."""
    service = _service(request)
    principal = principal_of(request)
    try:
        received = await run_in_threadpool(
            service.submit,
            body.prompt,
            session_id=body.session_id,
            client=principal.client,
            arm=body.arm,
        )
    except Busy as exc:
        raise HTTPException(503, str(exc)) from exc
    if wait:
        view = await service.wait(received, wait)
        if view is not None:
            return JSONBody(answer_json(view, with_events=events), status_code=200)
    pending = {
        "request_id": received.key,
        "status": "pending",
        "href": f"/v1/requests/{received.key}",
    }
    return JSONBody(pending, status_code=202)


def _readable(request: Request, request_id: str) -> RequestView:
    view = _service(request).request(request_id)
    if view is None or not principal_of(request).may_read(view.received.client):
        raise HTTPException(404, f"no request {request_id!r}")
    return view


@route(router, "GET", "/{request_id}", "client", response_class=JSONBody)
def get_request(request: Request, request_id: str) -> JSONBody:
    """A request, its answer if it has one, and its events. A client token sees its own
    requests only."""
    return JSONBody(answer_json(_readable(request, request_id), with_events=True))


@route(router, "POST", "/{request_id}/feedback", "client", response_class=JSONBody)
def feedback(request: Request, request_id: str, body: FeedbackBody) -> JSONBody:
    """Rate the answer to a request (like ``selfeng feedback``); says what it changed."""
    _readable(request, request_id)
    result = _service(request).feedback(
        request_id, body.rating, body.comment, client=principal_of(request).client
    )
    return JSONBody(
        {
            "request_id": request_id,
            "rating": body.rating,
            "changed": result.changed,
            "applied": result.applied is not None,
        }
    )
