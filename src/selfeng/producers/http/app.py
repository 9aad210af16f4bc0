"""The FastAPI app: ``create_app(service)``, or ``app_from_environment()`` for uvicorn workers.

Routes live in one module per concern (``routes_*``); every route declares its access rule
(``selfeng.producers.http.auth``). Errors become JSON bodies (``errors``); bodies over the
limit are refused with 413.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import Depends, FastAPI
from starlette.staticfiles import StaticFiles

from selfeng import __version__
from selfeng.app import Selfeng
from selfeng.core.settings import Settings
from selfeng.producers.http import (
    routes_events,
    routes_health,
    routes_learning,
    routes_requests,
    routes_state,
    routes_tools,
)
from selfeng.producers.http.auth import authorize
from selfeng.producers.http.errors import BodyLimit, install_error_handlers
from selfeng.producers.http.service import Service

ENV_WORKER = "SELFENG_SERVE_WORKER"
ENV_INSECURE = "SELFENG_SERVE_INSECURE_LOCALHOST"
ENV_MAX_BODY = "SELFENG_SERVE_MAX_BODY"
"""How ``selfeng serve --workers N`` passes its options to each uvicorn worker process."""


def create_app(service: Service, *, insecure_localhost: bool = False, owns: bool = True) -> FastAPI:
    """The HTTP API and dashboard over ``service``.

    ``insecure_localhost``: calls without a token act as an admin (the caller checks that the
    server listens on a loopback address only). ``owns``: close the runtime at shutdown.
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.close()
            if owns:
                service.app.close()

    app = FastAPI(
        title="selfeng",
        version=__version__,
        summary="Ask, rate, publish events, follow the log, read what selfeng learnt.",
        lifespan=lifespan,
        dependencies=[Depends(authorize)],
    )
    app.state.service = service
    app.state.insecure_localhost = insecure_localhost
    install_error_handlers(app)
    for module in (
        routes_health,
        routes_requests,
        routes_events,
        routes_tools,
        routes_state,
        routes_learning,
    ):
        app.include_router(module.router)
    static = resources.files("selfeng.producers.http").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.add_middleware(BodyLimit, limit=service.max_body)
    return app


def app_from_environment() -> FastAPI:
    """An app built from the environment (uvicorn's factory for ``--workers N``)."""
    service = Service(
        Selfeng.open(Settings.resolve()),
        worker=os.environ.get(ENV_WORKER) == "1",
        max_body=int(os.environ.get(ENV_MAX_BODY, str(1 << 20))),
    )
    return create_app(service, insecure_localhost=os.environ.get(ENV_INSECURE) == "1")
