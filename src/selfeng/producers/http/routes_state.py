"""Projections, policies, forks and experiments: read by anyone with a token, changed by an
admin (the same events ``selfeng policy`` and ``selfeng fork`` append)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from starlette.concurrency import run_in_threadpool

from selfeng.consumers.judge import describe
from selfeng.core.policies import validate_policy
from selfeng.producers.http.auth import route
from selfeng.producers.http.errors import JSONBody
from selfeng.producers.http.service import Service
from selfeng.projections.catalog import projection_names
from selfeng.projections.replay import state_at
from selfeng.schemas import ForkCreated, ForkDropped, PolicyChanged, PolicyRolledBack
from selfeng.schemas.policy import FORK_NAME

router = APIRouter(prefix="/v1", tags=["state"])

Fork = Annotated[str, Query(description="A fork's name (main: the live line)", max_length=64)]


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _state(service: Service, projection: str, fork: str = "main") -> Any:
    try:
        return service.app.engine.state(projection, fork)
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0]) if exc.args else str(exc)) from exc


@route(router, "GET", "/projections", "admin", response_class=JSONBody)
def list_projections() -> JSONBody:
    """The projections' names."""
    return JSONBody({"projections": projection_names()})


@route(router, "GET", "/projections/{name}", "admin", response_class=JSONBody)
def projection(
    request: Request,
    name: str,
    fork: Fork = "main",
    at: Annotated[str | None, Query(description="A log position: the state as of it")] = None,
) -> JSONBody:
    """A projection's state (as ``selfeng state``), now or as of a past position."""
    if name not in projection_names():
        raise HTTPException(404, f"no projection {name!r}; see /v1/projections")
    service = _service(request)
    if at is None:
        return JSONBody(_state(service, name, fork))
    try:
        position = service.app.log.parse_position(at)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    if type(position) is not type(service.app.log.start()):
        raise HTTPException(422, f"{at!r} is not a position of this log")
    try:
        return JSONBody(state_at(service.app.engine, name, position, fork))
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0]) if exc.args else str(exc)) from exc


# -- policies ----------------------------------------------------------------------------


class PolicyBody(BaseModel):
    """A new value for a policy."""

    model_config = ConfigDict(extra="forbid")

    value: JsonValue
    """The value (JSON: a number, a boolean, an object...)."""
    reason: str = Field(default="", max_length=2_000)
    """Why."""


class RollbackBody(BaseModel):
    """Restore a policy's earlier value."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    """The version whose value is restored (as a new version)."""
    reason: str = Field(default="", max_length=2_000)
    """Why."""


@route(router, "GET", "/policies", "client", response_class=JSONBody)
def policies(request: Request, fork: Fork = "main") -> JSONBody:
    """Every policy's value in force, version and history (as ``selfeng policy list``)."""
    return JSONBody(_state(_service(request), "policies", fork)["policies"])


@route(router, "GET", "/policies/{name}", "client", response_class=JSONBody)
def policy(request: Request, name: str, fork: Fork = "main") -> JSONBody:
    """One policy's value and full history."""
    record = _state(_service(request), "policies", fork)["policies"].get(name)
    if record is None:
        raise HTTPException(404, f"no policy {name!r}")
    return JSONBody(record)


@route(router, "PUT", "/policies/{name}", "admin", response_class=JSONBody)
def set_policy(request: Request, name: str, body: PolicyBody) -> JSONBody:
    """Change a policy (appends ``PolicyChanged``); a value out of bounds is 422."""
    try:
        checked = validate_policy(name, body.value)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    service = _service(request)
    service.app.append([PolicyChanged(name=name, value=checked, reason=body.reason)])
    return JSONBody(_state(service, "policies")["policies"][name])


@route(router, "POST", "/policies/{name}/rollback", "admin", response_class=JSONBody)
def rollback_policy(request: Request, name: str, body: RollbackBody) -> JSONBody:
    """Restore the value a policy had at a version (appends ``PolicyRolledBack``)."""
    service = _service(request)
    record = _state(service, "policies")["policies"].get(name)
    if record is None or not any(h["version"] == body.version for h in record["history"]):
        raise HTTPException(404, f"{name} has no version {body.version}")
    service.app.append([PolicyRolledBack(name=name, to_version=body.version, reason=body.reason)])
    return JSONBody(_state(service, "policies")["policies"][name])


# -- forks and experiments -----------------------------------------------------------------


class ForkBody(BaseModel):
    """A fork to create."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=f"^{FORK_NAME.pattern}$")
    """1 to 64 letters, digits, ``.``, ``_`` or ``-``, starting with a letter or digit."""
    policies: dict[str, JsonValue] = Field(default_factory=dict)
    """Policy values pinned in the fork."""
    reason: str = Field(default="", max_length=2_000)
    """Why the fork exists."""


@route(router, "GET", "/forks", "client", response_class=JSONBody)
def forks(request: Request) -> JSONBody:
    """The live forks with their pinned policies and position."""
    engine = _service(request).app.engine
    engine.main.catch_up()
    rows = []
    for spec in engine.forks():
        runner = engine.runner(spec)
        rows.append(
            {"fork": spec.name, "policies": dict(spec.policies), "position": str(runner.position)}
        )
    return JSONBody({"forks": rows})


@route(router, "POST", "/forks", "admin", status_code=201, response_class=JSONBody)
async def create_fork(request: Request, body: ForkBody) -> JSONBody:
    """Create a fork (appends ``ForkCreated``) and build it from the log."""
    if body.name == "main":
        raise HTTPException(422, "'main' is the live line, not a fork")
    pinned: dict[str, JsonValue] = {}
    for name, value in body.policies.items():
        try:
            pinned[name] = validate_policy(name, value)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
    app = _service(request).app

    def create() -> str:
        version = app.log.key_version(body.name)  # read before the check: a racing create
        app.engine.main.catch_up()  # conflicts (409)
        if any(f.name == body.name for f in app.engine.forks()):
            raise HTTPException(409, f"fork {body.name!r} exists; drop it first")
        event = ForkCreated(fork=body.name, policies=pinned, reason=body.reason)
        app.append([event], expected_versions={body.name: version})
        app.engine.catch_up()
        return str(app.engine.runner(app.engine.fork(body.name)).position)

    position = await run_in_threadpool(create)
    return JSONBody({"fork": body.name, "policies": pinned, "position": position}, 201)


@route(router, "DELETE", "/forks/{name}", "admin", response_class=JSONBody)
def drop_fork(request: Request, name: str) -> JSONBody:
    """Drop a fork (appends ``ForkDropped``)."""
    app = _service(request).app
    try:
        app.engine.fork(name)
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0])) from exc
    if name == "main":
        raise HTTPException(422, "'main' is the live line, not a fork")
    app.append([ForkDropped(fork=name)])
    app.engine.catch_up()
    return JSONBody({"dropped": name})


@route(router, "GET", "/experiments", "client", response_class=JSONBody)
def experiments(request: Request) -> JSONBody:
    """A/B experiments by name, as ``selfeng experiment show --json`` gives each: design,
    arms with their outcomes so far, status, the judge's statistics now (while it runs) and
    the verdict."""
    state = _state(_service(request), "experiments")
    return JSONBody(
        {"experiments": {name: describe(name, e) for name, e in state["experiments"].items()}}
    )
