"""Every error a caller can cause becomes a small JSON body with its status; nothing a body
holds can crash the server.

The body is ``{"error": STATUS_NAME, "message": TEXT}`` plus ``detail`` (the validation
errors) for 422. Request bodies larger than the server's limit are refused with 413 before
they are read whole.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from selfeng.core.log import ConcurrencyConflict, LogError

logger = logging.getLogger(__name__)


class JSONBody(Response):
    """A JSON response encoded with orjson (projection states are large and nested)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS, default=str)


def error_body(status: int, message: str, **extra: Any) -> JSONBody:
    """The JSON error response for ``status``."""
    name = HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    return JSONBody({"error": name, "message": message, **extra}, status_code=status)


def _jsonable_errors(errors: Any) -> list[dict[str, Any]]:
    """Validation errors without the values pydantic may attach (exceptions, raw bytes)."""
    out: list[dict[str, Any]] = []
    for error in errors:
        out.append(
            {
                "loc": [str(part) for part in error.get("loc", ())],
                "msg": str(error.get("msg", "")),
                "type": str(error.get("type", "")),
            }
        )
    return out


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to a JSON body with the right status."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        response = error_body(exc.status_code, str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> Response:
        errors = _jsonable_errors(exc.errors())
        first = errors[0] if errors else {"loc": [], "msg": "invalid"}
        where = ".".join(first["loc"][1:] or first["loc"]) or "request"
        return error_body(422, f"{where}: {first['msg']}", detail=errors)

    @app.exception_handler(ConcurrencyConflict)
    async def conflict(_request: Request, exc: ConcurrencyConflict) -> Response:
        return error_body(409, str(exc))

    @app.exception_handler(LogError)
    async def log_error(_request: Request, exc: LogError) -> Response:
        logger.error("the log refused: %s", exc)
        return error_body(503, f"the log is unavailable: {exc}")

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> Response:
        logger.exception("unexpected error serving a request")
        return error_body(500, f"internal error ({type(exc).__name__}); see the server's log")


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes with 413, whether the
    client declares the length or streams the body."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.limit
            except ValueError:
                await error_body(400, "Content-Length is not a number")(scope, receive, send)
                return
            if too_large:
                await self._refuse(scope, receive, send)
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge(self.limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_body(413, f"the request body is larger than {self.limit:,} bytes")
        await response(scope, receive, send)


class _TooLarge(StarletteHTTPException):
    """A streamed body passed the limit (an HTTP error, so FastAPI passes it on as is)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit:,} bytes")
