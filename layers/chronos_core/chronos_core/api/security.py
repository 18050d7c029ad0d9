"""Authentication and authorisation dependencies for the routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from chronos_core import wiring
from chronos_core.application.auth import FailureCounter, TokenVerifier, authenticate
from chronos_core.config import get_settings
from chronos_core.domain.auth import Principal, Role

# Declares the scheme in OpenAPI; the header itself is parsed by the use case.
_bearer = HTTPBearer(auto_error=False, description="A JWT issued by the configured provider.")


def token_verifier() -> TokenVerifier:
    return wiring.token_verifier()


def failure_counter() -> FailureCounter:
    return wiring.auth_failure_counter()


def client_address(request: Request) -> str:
    """The caller's source IP as API Gateway saw it, else the socket peer."""
    event: dict[str, Any] = request.scope.get("aws.event") or {}
    source = ((event.get("requestContext") or {}).get("identity") or {}).get("sourceIp")
    if source:
        return str(source)
    return request.client.host if request.client else "unknown"


def current_principal(
    request: Request,
    verifier: Annotated[TokenVerifier, Depends(token_verifier)],
    counter: Annotated[FailureCounter, Depends(failure_counter)],
    _: Annotated[object, Depends(_bearer)] = None,
) -> Principal:
    return authenticate(
        request.headers.get("authorization"),
        client_address(request),
        verifier,
        counter,
        get_settings().auth_failure_threshold,
    )


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
