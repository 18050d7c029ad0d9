"""Persistence of training jobs, split by what each use case needs of it.

One adapter implements all four ports (it owns the job documents); every write it makes for the
pipeline is conditional on the job still running, so a cancelled job is never revived by a step
that was already in flight.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from chronos_core.application.ports.models import Page
from chronos_core.domain.evaluation import TrainingResult
from chronos_core.domain.forecasting import DueJob, ForecastShard, LastForecast, PredictionConfig
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.retraining import PromotionVerdict, Trigger
from chronos_core.domain.retraining import TrainingHistory as TriggerHistory
from chronos_core.domain.training_job import (
    CollectionPlan,
    DatasetSummary,
    EpochRecord,
    ExecutionRef,
    JobError,
    TrainingJob,
    TrainingStatus,
)


class JobLookup(Protocol):
    def get(self, job_id: JobId) -> TrainingJob | None:
        """The job with its live progress, or None."""

    def status_of(self, job_id: JobId) -> TrainingStatus | None:
        """The job's status alone (one cheap read), or None when it does not exist."""


class TrainingJobs(JobLookup, Protocol):
    """Jobs as the API's use cases see them: admission, control, listing, removal."""

    def add(self, job: TrainingJob) -> None:
        """Insert a new job. Raises ConflictError if the id exists."""

    def list_for_model(self, model_id: ModelId, skip: int, limit: int) -> Page[TrainingJob]:
        """The model's jobs, newest first."""

    def has_completed(self, model_id: ModelId) -> bool:
        """Whether any job of the model is ``completed``."""

    def running_for_model(self, model_id: ModelId) -> TrainingJob | None:
        """A job of the model that is still running, if any."""

    def running_jobs(self, limit: int) -> list[TrainingJob]:
        """Jobs in a running status, least recently changed first, at most ``limit``."""

    def ids_for_model(self, model_id: ModelId) -> list[JobId]:
        """Every job id of the model."""

    def attach_execution(self, job_id: JobId, arn: str, started_at: datetime) -> TrainingJob | None:
        """Record the ARN of the execution that drives the running job; None if it finished."""

    def reopen_for_retry(self, job_id: JobId, execution: ExecutionRef) -> TrainingJob | None:
        """A failed job becomes ``pending`` again under ``execution`` (error cleared); None
        unless it was failed."""

    def finish(
        self, job_id: JobId, status: TrainingStatus, *, error: JobError | None = None
    ) -> TrainingJob | None:
        """Move a running job to a final status; None if it had already finished. Open phase
        timings are closed."""

    def delete(self, job_id: JobId) -> bool:
        """Delete the job and its chunk and progress records; True if it existed."""

    # the training queue and the retraining triggers

    def waiting_jobs(self, limit: int) -> list[TrainingJob]:
        """Jobs waiting in the training queue (``queued``, not yet admitted), oldest enqueued
        first."""

    def active_jobs(self, limit: int) -> list[TrainingJob]:
        """Running jobs that hold a training slot (every running job but the waiting ones)."""

    def admit(self, job_id: JobId, at: datetime) -> TrainingJob | None:
        """Take a waiting job out of the queue: it becomes ``pending`` (admitted at ``at``);
        None unless it was waiting."""

    def recent_durations(self, limit: int) -> list[float]:
        """Seconds from start to end of the latest ``limit`` completed jobs, newest first."""

    def add_trigger(self, job_id: JobId, trigger: Trigger) -> bool:
        """Add ``trigger`` to a running job's triggers unless one with its key is there; True
        when the job runs (whether or not it was new)."""

    def histories(self, model_ids: Sequence[ModelId], since: datetime) -> dict[ModelId, TriggerHistory]:
        """For each model: its running (or queued) job, when its jobs created since ``since``
        were created, and the points its latest completed job was admitted with."""

    def latest_completed(self, model_id: ModelId) -> TrainingJob | None:
        """The model's most recently created completed job."""


class PipelineJournal(JobLookup, Protocol):
    """What the pipeline steps record on a running job, phase by phase."""

    def start_collection(self, job_id: JobId, plan: CollectionPlan) -> TrainingJob | None:
        """Enter the collect phase (``collecting_data``) with its plan; None if not running."""

    def record_chunk(self, job_id: JobId, offset: int, points: int, *, complete: bool = True) -> bool:
        """Record a collected chunk while the job runs (replacing an earlier record of it);
        ``complete=False`` records the points of a chunk collected in part so far."""

    def completed_chunks(self, job_id: JobId) -> dict[int, int]:
        """Points collected per completed chunk offset."""

    def start_preparation(self, job_id: JobId) -> TrainingJob | None:
        """Close the collect phase, enter prepare (``preprocessing``)."""

    def record_dataset(self, job_id: JobId, summary: DatasetSummary) -> TrainingJob | None:
        """Close the prepare phase with the data-quality report; the job waits ``queued``."""

    def start_training(self, job_id: JobId, batch_job_id: str | None) -> TrainingJob | None:
        """Enter the train phase (``training``), noting the Batch job that runs it if any."""

    def record_result(self, job_id: JobId, result: TrainingResult) -> TrainingJob | None:
        """Close the train phase with the run's artifacts, gate decision and metrics."""

    def start_finalizing(self, job_id: JobId) -> TrainingJob | None:
        """Enter the finalize phase."""

    def record_promotion(
        self, job_id: JobId, verdict: PromotionVerdict, model_version: int | None
    ) -> TrainingJob | None:
        """Record whether the job became the champion, and the model version it is."""

    def finish(
        self, job_id: JobId, status: TrainingStatus, *, error: JobError | None = None
    ) -> TrainingJob | None:
        """As :meth:`TrainingJobs.finish`."""


class TrainingProgressLog(Protocol):
    """Live progress the trainer writes while it fits (never the job document itself)."""

    def record_training_phase(self, job_id: JobId, name: str) -> None:
        """The trainer's current sub-phase (preprocessing, training, exporting...), while the job
        runs."""

    def record_epoch(self, job_id: JobId, record: EpochRecord, epochs: int) -> bool:
        """Record a finished epoch while the job runs; False once it has finished."""

    def status_of(self, job_id: JobId) -> TrainingStatus | None:
        """As :meth:`JobLookup.status_of` (the trainer stops once the job is not running)."""


class RecurringForecastJobs(Protocol):
    """The recurring-forecast state kept on each job: configuration, next slot, last run."""

    def get(self, job_id: JobId) -> TrainingJob | None:
        """The job with its live progress, or None."""

    def due_for_forecast(
        self, now: datetime, limit: int, shard: ForecastShard | None = None
    ) -> Sequence[DueJob]:
        """Enabled jobs whose ``next_prediction_at <= now``, oldest slot first, at most ``limit``;
        only those of ``shard`` when given (:meth:`ForecastShard.holds`)."""

    def get_many(self, job_ids: Sequence[JobId]) -> dict[JobId, TrainingJob]:
        """The jobs that exist among ``job_ids``, by id, in one storage call, for the forecast
        path: their progress counters, epoch history and attached triggers are not read."""

    def get_batch(self, job_ids: Sequence[JobId]) -> dict[JobId, TrainingJob]:
        """:meth:`get_many` for the few jobs of one forecast batch (ten or so), read as concurrent
        point reads by id: an indexed equality on every MongoDB-compatible server, where a
        ``$in`` is a collection scan on some (FerretDB v1)."""

    def enable_forecasts(self, job_id: JobId, config: PredictionConfig, first_slot: datetime | None) -> None:
        """Store ``config``; set the next slot when ``first_slot`` is given."""

    def attach_subscription(self, job_id: JobId, subscription_id: str) -> bool:
        """Store the subscription id unless one is stored already; True if stored."""

    def disable_forecasts(self, job_id: JobId) -> None:
        """``enabled = false``, subscription id cleared, next slot unset."""

    def advance_forecast_slot(self, job_id: JobId, slot: datetime, next_slot: datetime) -> bool:
        """Store ``next_slot`` if the job is enabled and its stored slot is not after ``slot``
        (it only moves forward, never onto a re-anchored grid); True if moved."""

    def record_last_forecast(self, job_id: JobId, run: LastForecast) -> None:
        """Store ``run`` unless a newer slot is recorded already."""

    def advance_forecast_slots(self, moves: Sequence[tuple[JobId, datetime, datetime]]) -> None:
        """:meth:`advance_forecast_slot` for each ``(job_id, slot, next_slot)``, in one storage call."""

    def record_last_forecasts(self, runs: Sequence[tuple[JobId, LastForecast]]) -> None:
        """:meth:`record_last_forecast` for each ``(job_id, run)``, in one storage call."""


class ForecastingJobs(TrainingJobs, RecurringForecastJobs, Protocol):
    """Jobs as the forecast use cases see them: lookups and the recurring-forecast state."""
