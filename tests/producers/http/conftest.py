"""A real selfeng HTTP server for the tests: uvicorn on a free port over a SQLite home."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

pytest.importorskip("fastapi", reason="the http extra is not installed")
import uvicorn

from selfeng.app import Selfeng
from selfeng.core.settings import Settings
from selfeng.producers.http.app import create_app
from selfeng.producers.http.service import Service
from selfeng.producers.http.tokens import create_token


@dataclass
class LiveServer:
    """A server and the tokens to call it with."""

    url: str
    service: Service
    admin: str
    client: str
    client_id: str
    other_client: str

    @property
    def app(self) -> Selfeng:
        """The runtime the server answers from."""
        return self.service.app

    def http(self, token: str | None = None, **kwargs: object) -> httpx.Client:
        """A client of the server, with a bearer token when given."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0, **kwargs)  # type: ignore[arg-type]


class ThreadServer:
    """uvicorn serving an app on a background thread, on a free loopback port."""

    def __init__(self, app: object) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")  # type: ignore[arg-type]
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def open_service(home: Path, *, worker: bool = False, max_body: int = 64 * 1024) -> Service:
    """A service over a SQLite home (the starter library is seeded when the server starts)."""
    return Service(
        Selfeng.open(Settings.resolve(home=home, env={})), worker=worker, max_body=max_body
    )


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the package's tests, with an admin and two client tokens."""
    service = open_service(tmp_path_factory.mktemp("http") / "home")
    log = service.app.log
    _, admin = create_token(log, "admin", "admin")
    client_token, client = create_token(log, "client", "client")
    _, other = create_token(log, "client", "other")
    with ThreadServer(create_app(service)) as url:
        yield LiveServer(url, service, admin, client, client_token.token_id, other)
