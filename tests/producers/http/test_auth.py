"""Every route has an access rule, and the rule holds: walked over the app's route table, so
a route added without a rule fails here."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from selfeng.app import Selfeng
from selfeng.infra.log.memory import MemoryLog
from selfeng.infra.store.memory import MemoryStore
from selfeng.producers.http.app import create_app
from selfeng.producers.http.auth import RULES
from selfeng.producers.http.service import Service
from selfeng.producers.http.tokens import create_token, revoke_token
from tests.producers.http.conftest import LiveServer, ThreadServer, open_service

# the real app's route table, as its OpenAPI document lists it (built over an in-memory log,
# never served), plus the dashboard's page, which the document leaves out
_APP = create_app(Service(Selfeng(MemoryLog(), MemoryStore())))
ROUTES = sorted(
    {
        (method.upper(), path)
        for path, operations in _APP.openapi()["paths"].items()
        for method in operations
    }
    | {("GET", "/")}
)


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def _call(http: httpx.Client, method: str, path: str) -> httpx.Response:
    return http.request(method, _concrete(path), json={}, timeout=30.0)


def test_every_route_has_a_rule() -> None:
    assert ROUTES, "no routes found"
    missing = [f"{m} {p}" for m, p in ROUTES if (m, p) not in RULES]
    assert missing == []


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_without_a_token(live: LiveServer, method: str, path: str) -> None:
    with live.http() as http:
        response = _call(http, method, path)
    if RULES[(method, path)] == "public":
        assert response.status_code < 400
    else:
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["error"] == "unauthorized"


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_with_a_client_token(live: LiveServer, method: str, path: str) -> None:
    with live.http(live.client) as http:
        response = _call(http, method, path)
    if RULES[(method, path)] == "admin":
        assert response.status_code == 403
        assert response.json() == {"error": "forbidden", "message": "this needs an admin token"}
    else:
        assert response.status_code not in (401, 403)


@pytest.mark.parametrize(("method", "path"), [r for r in ROUTES if RULES[r] == "admin"])
def test_with_an_admin_token(live: LiveServer, method: str, path: str) -> None:
    if path == "/v1/events/stream":
        with live.http(live.admin) as http, http.stream(method, path) as response:
            assert response.status_code == 200
        return
    with live.http(live.admin) as http:
        response = _call(http, method, path)
    assert response.status_code not in (401, 403), response.text
    assert response.status_code < 500, response.text


def test_bad_and_revoked_tokens_are_401(live: LiveServer) -> None:
    _, secret = create_token(live.app.log, "client", "short-lived")
    with live.http(secret) as http:
        assert http.get("/v1/tools").status_code == 200
    revoke_token(live.app.log, "short-lived")
    time.sleep(0.6)  # the server looks at the token stream at most every 0.5 s
    with live.http(secret) as http:
        response = http.get("/v1/tools")
    assert response.status_code == 401
    assert response.json()["message"] == "unknown or revoked token"
    for header in ("Basic abc", "Bearer", "Bearer sfe_nope", "Bearer " + "x" * 5000):
        got = httpx.get(f"{live.url}/v1/tools", headers={"Authorization": header})
        assert got.status_code == 401, header


def test_the_log_holds_no_secret(live: LiveServer) -> None:
    tokens = [live.admin, live.client, live.other_client]
    for batch in live.app.log.read():
        for record in batch.records:
            assert not any(t.encode() in record.data for t in tokens)


def test_insecure_localhost_acts_as_admin_without_a_token(tmp_path: Path) -> None:
    service = open_service(tmp_path / "home")
    with ThreadServer(create_app(service, insecure_localhost=True)) as url:
        assert httpx.get(f"{url}/v1/projections").status_code == 200
        assert (
            httpx.get(f"{url}/v1/tools", headers={"Authorization": "Bearer bad"}).status_code == 401
        )


def test_a_route_without_a_rule_is_refused(tmp_path: Path) -> None:
    service = open_service(tmp_path / "home")
    app = create_app(service, insecure_localhost=True)

    @app.get("/v1/unruled")
    def unruled() -> dict[str, str]:
        return {"leaked": "yes"}

    with ThreadServer(app) as url:
        response = httpx.get(f"{url}/v1/unruled")
    assert response.status_code == 403
    assert "no access rule" in response.json()["message"]
