"""What the pipeline steps depend on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from chronos_core.application.models.deps import ModelsDeps
from chronos_core.application.ports.pipeline import DatasetPreparer, ObjectStore, SeriesSource, Trainer
from chronos_core.application.ports.retraining import ModelEventListener, ModelEvents, RetrainingPolicies
from chronos_core.application.ports.training_jobs import PipelineJournal, TrainingProgressLog


class PipelineSettings(BaseModel):
    """How collection is split: at most ``chunk_points`` per Map item, about two items per
    concurrent collector (``map_concurrency``); ``page_ceiling`` requests in flight to the series
    source at most, shared by the chunks that collect at once."""

    model_config = ConfigDict(frozen=True)

    chunk_points: int = Field(default=10_000, ge=100)
    map_concurrency: int = Field(default=4, ge=1)
    page_ceiling: int = Field(default=5, ge=1)


class PipelineDeps(ModelsDeps, Protocol):
    @property
    def jobs(self) -> PipelineJournal: ...

    @property
    def series(self) -> SeriesSource: ...

    @property
    def objects(self) -> ObjectStore: ...

    @property
    def preparer(self) -> DatasetPreparer: ...

    @property
    def pipeline_settings(self) -> PipelineSettings: ...


class TrainingRunJournal(PipelineJournal, TrainingProgressLog, Protocol):
    """The journal of a job that trains: its phases and its live progress."""


class TrainStepDeps(ModelsDeps, Protocol):
    @property
    def jobs(self) -> TrainingRunJournal: ...

    @property
    def objects(self) -> ObjectStore: ...

    @property
    def trainer(self) -> Trainer: ...


class CompletionDeps(ModelsDeps, Protocol):
    """Finalize and RecordFailure need the models, the job journal, and for the champion
    decision the retraining policy (its margin) and the model events."""

    @property
    def jobs(self) -> PipelineJournal: ...

    @property
    def policies(self) -> RetrainingPolicies: ...

    @property
    def events(self) -> ModelEvents: ...

    @property
    def model_event_listeners(self) -> Sequence[ModelEventListener]: ...
