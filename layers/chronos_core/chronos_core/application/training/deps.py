"""What the training use cases depend on."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from chronos_core.application.models.deps import ModelsDeps
from chronos_core.application.ports.artifacts import ArtifactStore
from chronos_core.application.ports.leases import Leases
from chronos_core.application.ports.pipeline import ObjectStore, SeriesSource, Workflow
from chronos_core.application.ports.training_jobs import TrainingJobs
from chronos_core.application.training.settings import TrainingQueueSettings
from chronos_core.domain.training_job import TrainingJob

#: Removes what a job provisioned outside Chronos (FIWARE forecast resources, forecast runs).
JobResourceCleaner = Callable[[TrainingJob], None]


class JobQueryDeps(ModelsDeps, Protocol):
    @property
    def jobs(self) -> TrainingJobs: ...


class ExecutionDeps(JobQueryDeps, Protocol):
    """Starting a job's execution."""

    @property
    def workflow(self) -> Workflow: ...


class QueueDeps(ExecutionDeps, Protocol):
    """Dispatching the training queue."""

    @property
    def leases(self) -> Leases: ...

    @property
    def queue_settings(self) -> TrainingQueueSettings: ...


class TrainingControlDeps(QueueDeps, Protocol):
    """Admitting, cancelling and retrying trainings (through the training queue)."""

    @property
    def series(self) -> SeriesSource: ...


class JobRemovalDeps(JobQueryDeps, Protocol):
    @property
    def artifacts(self) -> ArtifactStore: ...

    @property
    def objects(self) -> ObjectStore: ...

    @property
    def job_cleaners(self) -> Sequence[JobResourceCleaner]: ...
