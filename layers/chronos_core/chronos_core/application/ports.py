"""Ports the use cases depend on. Adapters implement them; tests may pass in-memory fakes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from chronos_core.domain.model import Model, ModelStatus, ModelType


@dataclass(frozen=True)
class ModelFilter:
    """Exact-match filters for listing models; ``None`` means "any"."""

    model_type: ModelType | None = None
    status: ModelStatus | None = None
    entity_id: str | None = None
    feature: str | None = None
    services: frozenset[str] | None = None  # tenant restriction; None = all tenants


@dataclass(frozen=True)
class Page[T]:
    """One page of a listing, with the total number of matches across all pages."""

    items: list[T]
    total: int
    skip: int
    limit: int
    extra: dict[str, object] = field(default_factory=dict)


class ModelRepository(Protocol):
    """Persistence of model definitions."""

    def add(self, model: Model) -> None:
        """Insert a new model. Raises ConflictError if the id exists."""

    def get(self, model_id: str) -> Model | None:
        """The model with this id, or None."""

    def list(self, filters: ModelFilter, skip: int, limit: int) -> Page[Model]:
        """Models matching ``filters``, newest first."""

    def replace_if_status(self, model: Model, expected_status: ModelStatus) -> bool:
        """Replace the stored model only while its status is ``expected_status``; True if replaced."""

    def delete(self, model_id: str) -> bool:
        """Delete the model; True if it existed."""


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

    name: str
    required: bool

    def check(self) -> DependencyCheck:
        """Probe the dependency once, within the configured timeout. Never raises."""
