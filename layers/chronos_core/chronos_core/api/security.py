"""Authentication and authorisation dependencies for the routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from chronos_core.api.routing import PRINCIPAL_STATE, client_address
from chronos_core.application.system.auth import Authenticate, authenticate
from chronos_core.domain.auth import Principal, Role

# Declares the scheme in OpenAPI; the header itself is parsed by the use case.
_bearer = HTTPBearer(auto_error=False, description="A JWT issued by the configured provider.")


def current_principal(request: Request, _: Annotated[object, Depends(_bearer)] = None) -> Principal:
    """The caller, authenticated by :class:`~chronos_core.api.routing.AuthenticatedRoute` (or
    here, for a route of another class)."""
    if not hasattr(request.state, PRINCIPAL_STATE):
        command = Authenticate(
            authorization=request.headers.get("authorization"), client=client_address(request)
        )
        setattr(request.state, PRINCIPAL_STATE, authenticate(request.app.state.services, command))
    principal: Principal = getattr(request.state, PRINCIPAL_STATE)
    return principal


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
