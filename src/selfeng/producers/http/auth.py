"""Who may call what: every route declares an access rule, checked by one app dependency.

``public`` routes (health, the dashboard's files, the OpenAPI document) need nothing;
``client`` routes need a bearer token of role client or admin; ``admin`` routes need an
admin token. A route registered without a rule is refused to everyone (fail closed), and the
tests walk the route table so such a route fails them. With ``insecure_localhost`` (only on
a loopback address) a call without a token acts as a local admin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, HTTPException, Request
from fastapi.routing import APIRoute

from selfeng.producers.http.service import Service

Access = Literal["public", "client", "admin"]
"""What a route requires."""

RULES: dict[tuple[str, str], Access] = {}
"""The access rule of every route, by (method, path template)."""

_F = TypeVar("_F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Principal:
    """Who is calling."""

    id: str
    """The token id (``local`` for an unauthenticated call on localhost, ``anonymous`` on a
    public route)."""
    role: Literal["anonymous", "client", "admin"]
    """What it may do."""

    @property
    def client(self) -> str:
        """The ``client`` field of the requests it publishes."""
        return f"http:{self.id}"

    def may_read(self, client: str) -> bool:
        """Whether it may read a request published by ``client``."""
        return self.role == "admin" or client == self.client


def route(
    router: APIRouter, method: str, path: str, access: Access, **kwargs: Any
) -> Callable[[_F], _F]:
    """Register a route on ``router`` together with its access rule."""
    RULES[(method, f"{router.prefix}{path}")] = access
    decorator: Callable[[_F], _F] = router.api_route(path, methods=[method], **kwargs)
    return decorator


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": 'Bearer realm="selfeng"'})


def authorize(request: Request) -> Principal:
    """The app-wide dependency: find the route's rule, check the caller against it."""
    service: Service = request.app.state.service
    matched = request.scope.get("route")
    path = matched.path if isinstance(matched, APIRoute) else request.url.path
    access = RULES.get((request.method, path))
    if access is None:
        raise HTTPException(403, f"{request.method} {path} has no access rule; refused")
    header = request.headers.get("authorization")
    principal: Principal | None = None
    if header is not None:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise _unauthorized("the Authorization header must be 'Bearer <token>'")
        token = service.tokens.lookup(secret.strip())
        if token is None:
            raise _unauthorized("unknown or revoked token")
        principal = Principal(token.token_id, token.role)
    elif request.app.state.insecure_localhost:
        principal = Principal("local", "admin")
    if access == "public":
        return principal or Principal("anonymous", "anonymous")
    if principal is None:
        raise _unauthorized("a bearer token is required (create one with `selfeng token create`)")
    if access == "admin" and principal.role != "admin":
        raise HTTPException(403, "this needs an admin token")
    request.state.principal = principal
    return principal


def principal_of(request: Request) -> Principal:
    """The caller, as ``authorize`` found it."""
    found: Principal = getattr(request.state, "principal", Principal("anonymous", "anonymous"))
    return found
