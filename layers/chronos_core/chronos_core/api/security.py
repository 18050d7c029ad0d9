"""Authentication and authorisation dependencies for the routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from chronos_core.api.deps import ServicesDep
from chronos_core.application.system.auth import Authenticate, authenticate
from chronos_core.domain.auth import Principal, Role

# Declares the scheme in OpenAPI; the header itself is parsed by the use case.
_bearer = HTTPBearer(auto_error=False, description="A JWT issued by the configured provider.")


def client_address(request: Request) -> str:
    """The caller's source IP as API Gateway saw it, else the socket peer."""
    event: dict[str, Any] = request.scope.get("aws.event") or {}
    source = ((event.get("requestContext") or {}).get("identity") or {}).get("sourceIp")
    if source:
        return str(source)
    return request.client.host if request.client else "unknown"


def current_principal(
    request: Request, services: ServicesDep, _: Annotated[object, Depends(_bearer)] = None
) -> Principal:
    command = Authenticate(authorization=request.headers.get("authorization"), client=client_address(request))
    return authenticate(services, command)


def require(role: Role) -> Callable[..., Principal]:
    """A dependency that authenticates the caller and checks it holds ``role`` (or higher)."""

    def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        principal.require_role(role)
        return principal

    dependency.__name__ = f"require_{role.value}"
    return dependency


Reader = Annotated[Principal, Depends(require(Role.READER))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
