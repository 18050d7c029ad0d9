"""Verifying tokens and counting authentication failures."""

from __future__ import annotations

from typing import Protocol

from chronos_core.domain.auth import Principal


class TokenVerifier(Protocol):
    def verify(self, token: str) -> Principal:
        """The caller behind ``token``. Raises AuthenticationError."""


class FailureCounter(Protocol):
    """Authentication failures per client, shared by every function instance."""

    def failures(self, client: str) -> tuple[int, int]:
        """(failures in the current window, seconds until the window ends)."""

    def record_failure(self, client: str) -> None:
        """Count one more failure for ``client`` in the current window."""
