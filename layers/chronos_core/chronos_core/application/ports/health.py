"""Probing dependencies for ``/health``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class DependencyCheck:
    """The outcome of probing one dependency."""

    name: str
    status: str  # "up" | "down" | "degraded" | "unknown"
    latency_ms: float | None
    required: bool = True
    message: str | None = None


class HealthProbe(Protocol):
    """Something that can tell whether one dependency answers."""

    @property
    def name(self) -> str: ...

    @property
    def required(self) -> bool: ...

    def check(self) -> DependencyCheck:
        """Probe the dependency once, within the configured timeout. Never raises."""
