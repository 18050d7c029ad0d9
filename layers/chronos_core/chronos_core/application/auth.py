"""Authenticating a request: throttle repeated failures per client, then verify the token."""

from __future__ import annotations

from typing import Protocol

from chronos_core.domain.auth import Principal
from chronos_core.domain.errors import AuthenticationError, RateLimitedError
from chronos_core.observability import logger


class TokenVerifier(Protocol):
    def verify(self, token: str) -> Principal:
        """The caller behind ``token``. Raises AuthenticationError."""


class FailureCounter(Protocol):
    """Authentication failures per client, shared by every function instance."""

    def failures(self, client: str) -> tuple[int, int]:
        """(failures in the current window, seconds until the window ends)."""

    def record_failure(self, client: str) -> None:
        """Count one more failure for ``client`` in the current window."""


def authenticate(
    authorization: str | None,
    client: str,
    verifier: TokenVerifier,
    counter: FailureCounter,
    threshold: int,
) -> Principal:
    """The Principal behind an ``Authorization: Bearer`` header.

    Raises:
        RateLimitedError: ``client`` failed ``threshold`` times in the current window.
        AuthenticationError: the header is missing or the token does not verify (counted).
    """
    count, retry_after = counter.failures(client)
    if count >= threshold:
        raise RateLimitedError("Too many failed authentication attempts", retry_after=max(retry_after, 1))
    scheme, _, token = (authorization or "").partition(" ")
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("Missing bearer token")
        return verifier.verify(token.strip())
    except AuthenticationError:
        counter.record_failure(client)
        logger.warning("Authentication failed", extra={"client": client})
        raise
