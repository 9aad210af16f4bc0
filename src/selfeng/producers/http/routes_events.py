"""``/v1/events``: publish events as JSON (as ``selfeng publish``), and the live stream."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from selfeng.core.positions import Position
from selfeng.producers.http.auth import principal_of, route
from selfeng.producers.http.errors import JSONBody
from selfeng.producers.http.service import Service
from selfeng.producers.http.sse import StreamFilter, stream_events
from selfeng.producers.publish import publish
from selfeng.schemas import EVENT_TYPES, TOPICS

router = APIRouter(prefix="/v1/events", tags=["events"])

MAX_MESSAGES = 1000
"""Events one publish may carry."""

_PUBLISH_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {"type": "object", "description": "one event (see `selfeng schemas export`)"},
                    {"type": "array", "items": {"type": "object"}, "maxItems": MAX_MESSAGES},
                ]
            }
        },
        "application/x-ndjson": {"schema": {"type": "string", "description": "JSON lines"}},
    },
}


def split_messages(body: bytes, content_type: str) -> list[bytes]:
    """The messages of a publish body: JSON lines, a JSON array of events, or one event.

    A body that is not JSON at all is one message, which is dead-lettered as such.
    """
    if "ndjson" in content_type or "jsonl" in content_type:
        return [line.rstrip(b"\r") for line in body.split(b"\n") if line.strip()]
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return [body]
    if isinstance(parsed, list):
        return [orjson.dumps(item) for item in parsed]
    return [body]


@route(
    router,
    "POST",
    "",
    "admin",
    response_class=JSONBody,
    openapi_extra={"requestBody": _PUBLISH_BODY},
)
async def publish_events(request: Request) -> JSONBody:
    """Validate and append events: one JSON object, an array of them, or JSON lines
    (``application/x-ndjson``). Invalid ones go to the dead-letter topic with the reason and
    the raw bytes, and the answer is 422 listing them (the valid ones are appended)."""
    body = await request.body()
    messages = split_messages(body, request.headers.get("content-type", ""))
    if not messages:
        raise HTTPException(422, "no events in the body")
    if len(messages) > MAX_MESSAGES:
        raise HTTPException(422, f"at most {MAX_MESSAGES} events per publish")
    service: Service = request.app.state.service
    client = principal_of(request).client
    report = await run_in_threadpool(publish, service.app.log, messages, client=client)
    content: dict[str, Any] = {
        "accepted": [
            {"event_id": record.event_id.hex(), "type": record.type, "key": record.key}
            for record in report.accepted
        ],
        "dead_letters": [
            {"error": letter.error, "reason": letter.reason, "claimed_type": letter.claimed_type}
            for letter in report.dead_letters
        ],
    }
    if not report.dead_letters:
        return JSONBody(content)
    failed = len(report.dead_letters)
    message = (
        f"{failed} of {len(messages)} message(s) dead-lettered: {report.dead_letters[0].reason}"
    )
    return JSONBody({"error": "unprocessable_entity", "message": message[:500], **content}, 422)


def _names(values: list[str] | None, known: Any, what: str) -> frozenset[str] | None:
    if not values:
        return None
    unknown = [v for v in values if v not in known]
    if unknown:
        raise HTTPException(422, f"unknown {what}: {', '.join(unknown)[:200]}")
    return frozenset(values)


@route(
    router,
    "GET",
    "/stream",
    "admin",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "the event stream"}},
)
async def stream(
    request: Request,
    topic: Annotated[list[str] | None, Query(description="Only these topics")] = None,
    type_: Annotated[
        list[str] | None, Query(alias="type", description="Only these event types")
    ] = None,
    key: Annotated[list[str] | None, Query(description="Only these keys")] = None,
    from_: Annotated[
        str | None, Query(alias="from", description="Start after this log position")
    ] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Server-Sent Events: each new event of the log (``id`` = the position after it, so
    ``Last-Event-ID`` resumes; ``event`` = its type; ``data`` = its JSON). ``from`` (or
    ``Last-Event-ID``, which wins) replays the log after that position first."""
    service: Service = request.app.state.service
    wanted = StreamFilter(
        topics=_names(topic, TOPICS, "topic"),
        types=_names(type_, EVENT_TYPES, "type"),
        keys=frozenset(key) if key else None,
    )
    start = last_event_id or from_
    after: Position | None = None
    if start is not None:
        try:
            after = service.app.log.parse_position(start)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        if type(after) is not type(service.app.log.start()):
            raise HTTPException(422, f"{start!r} is not a position of this log")
    return StreamingResponse(
        stream_events(service.hub, wanted, after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
