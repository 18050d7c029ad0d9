"""Verifying tokens and counting authentication failures."""

from __future__ import annotations

from typing import Protocol

from chronos_core.domain.auth import Principal


class TokenVerifier(Protocol):
    def verify(self, token: str) -> Principal:
        """The caller behind ``token``. Raises AuthenticationError."""


class FailureCounter(Protocol):
    """Authentication failures per client in a sliding window, shared by every instance."""

    def record_failure(self, client: str) -> tuple[int, int]:
        """Count one failure of ``client`` (atomically: concurrent failures are all counted) and
        return ``(failures within the window ending now, seconds until one of them leaves it)``."""
