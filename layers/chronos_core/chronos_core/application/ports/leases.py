"""Short exclusive leases, for work that must not run twice at once."""

from __future__ import annotations

from typing import Protocol


class Leases(Protocol):
    def acquire(self, name: str, holder: str, seconds: float) -> bool:
        """Take the lease ``name`` for ``seconds`` unless someone else holds it (an expired lease
        is taken over); True for exactly one of any number of concurrent callers."""

    def release(self, name: str, holder: str) -> None:
        """Give the lease back if ``holder`` still holds it."""
