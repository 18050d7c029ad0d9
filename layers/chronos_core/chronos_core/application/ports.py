"""Ports the use cases depend on. Adapters implement them; tests may pass in-memory fakes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from chronos_core.domain.model import FiwareSource, Model, ModelStatus, ModelType
from chronos_core.domain.training import EpochRecord, JobError, Phase, TrainingJob, TrainingStatus


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

    def claim_for_training(self, model_id: str) -> bool:
        """Atomically move the model to ``training`` unless it already is; True if moved."""

    def release_after_training(
        self, model_id: str, *, succeeded: bool, serving: dict[str, Any] | None = None
    ) -> None:
        """Leave ``training``: ``trained`` after a success or an earlier success, else ``draft``;
        a success records what the model serves."""

    def reset_training_state(self, model_id: str, *, has_success: bool) -> None:
        """After jobs are deleted: ``trained`` only while a completed job remains."""


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


class TrainingJobRepository(Protocol):
    """Persistence of training jobs (see :mod:`chronos_core.adapters.training_jobs`)."""

    def add(self, job: TrainingJob) -> None: ...
    def get(self, job_id: str) -> TrainingJob | None: ...
    def list_for_model(self, model_id: str, skip: int, limit: int) -> Page[TrainingJob]: ...
    def has_completed(self, model_id: str) -> bool:
        """Whether any job of the model is ``completed``."""
        ...

    def running_for_model(self, model_id: str) -> TrainingJob | None: ...
    def ids_for_model(self, model_id: str) -> list[str]: ...
    def update_running(self, job_id: str, changes: dict[str, Any]) -> TrainingJob | None: ...
    def enter_phase(
        self, job_id: str, phase: Phase, status: TrainingStatus | None = None, **changes: Any
    ) -> TrainingJob | None: ...
    def leave_phase(self, job_id: str, phase: Phase, **changes: Any) -> TrainingJob | None: ...
    def record_chunk(self, job_id: str, offset: int, points: int) -> bool: ...
    def completed_chunks(self, job_id: str) -> dict[int, int]: ...
    def record_epoch(self, job_id: str, record: EpochRecord, epochs: int) -> bool: ...
    def record_training_phase(self, job_id: str, name: str) -> None: ...
    def status_of(self, job_id: str) -> TrainingStatus | None: ...
    def finish(
        self,
        job_id: str,
        status: TrainingStatus,
        *,
        error: JobError | None = None,
        changes: dict[str, Any] | None = None,
    ) -> TrainingJob | None: ...
    def reopen_for_retry(self, job_id: str, execution: dict[str, Any]) -> TrainingJob | None: ...
    def delete(self, job_id: str) -> bool: ...


class Workflow(Protocol):
    """The training state machine."""

    def start(self, name: str, payload: dict[str, Any]) -> str:
        """Start an execution called ``name``; return its ARN. Raises ConflictError when an
        execution of that name exists already."""

    def stop(self, execution_arn: str, cause: str) -> None:
        """Stop a running execution (a no-op when it has ended)."""

    def console_url(self, execution_arn: str) -> str | None:
        """A link to the execution in the AWS console, when it exists."""


class SeriesSource(Protocol):
    """Where a model's history lives (STH-Comet): count and page points."""

    def count(self, source: FiwareSource) -> int:
        """Points stored for the model's entity attribute. Raises UpstreamError or
        DependencyUnavailableError."""

    def fetch_range(
        self, source: FiwareSource, offset: int, count: int
    ) -> list[tuple[datetime, float | None]]:
        """Points ``offset .. offset+count-1`` (oldest first) as (UTC time, value or None)."""

    def last_n(self, source: FiwareSource, n: int) -> list[tuple[datetime, float | None]]:
        """The most recent ``n`` points, oldest first."""


class ObjectStore(Protocol):
    """Pipeline data (S3): checkpoints and datasets under ``jobs/<job_id>/``."""

    def exists(self, key: str) -> bool: ...
    def put_json(self, key: str, document: Any) -> None: ...
    def get_json(self, key: str) -> Any: ...
    def list_keys(self, prefix: str) -> list[str]: ...
    def delete_prefix(self, prefix: str) -> int: ...
