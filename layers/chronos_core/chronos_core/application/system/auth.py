"""Authenticating a request: throttle repeated failures per client, then verify the token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from chronos_core.application.ports.auth import FailureCounter, TokenVerifier
from chronos_core.domain.auth import Principal
from chronos_core.domain.errors import AuthenticationError, RateLimitedError
from chronos_core.observability import logger


class AuthDeps(Protocol):
    @property
    def token_verifier(self) -> TokenVerifier: ...

    @property
    def auth_failures(self) -> FailureCounter: ...

    @property
    def auth_failure_threshold(self) -> int:
        """Failures per client and window after which authentication is refused (429)."""


@dataclass(frozen=True, kw_only=True)
class Authenticate:
    """The ``Authorization`` header of a request from ``client`` (its source IP)."""

    authorization: str | None
    client: str


def authenticate(deps: AuthDeps, command: Authenticate) -> Principal:
    """The Principal behind an ``Authorization: Bearer`` header.

    A token that verifies is always accepted, whatever its client did before: the failure limit
    guards against guessing, and must not let failures from one address (a NAT, a proxy serving
    many users) lock out valid credentials. A missing or failing token is counted for its client;
    within the window it raises AuthenticationError, then RateLimitedError (429) once the client
    has failed more than the threshold.
    """
    scheme, _, token = (command.authorization or "").partition(" ")
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("Missing bearer token")
        return deps.token_verifier.verify(token.strip())
    except AuthenticationError:
        count, retry_after = deps.auth_failures.record_failure(command.client)
        logger.warning("Authentication failed", extra={"client": command.client, "failures": count})
        if count > deps.auth_failure_threshold:
            raise RateLimitedError(
                "Too many failed authentication attempts", retry_after=max(retry_after, 1)
            ) from None
        raise
