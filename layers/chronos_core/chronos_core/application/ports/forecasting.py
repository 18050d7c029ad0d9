"""What forecasts need: the trained forecaster, the schedule's claims and runs, the queue of
claimed slots, and FIWARE to publish, provision and read back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from chronos_core.application.ports.pipeline import TimedPoint
from chronos_core.domain.artifacts import ArtifactRefs
from chronos_core.domain.fiware import FiwareTenant, SeriesRef
from chronos_core.domain.forecasting import (
    ForecastMessage,
    ForecastResult,
    ForecastRunStatus,
    ForecastSeries,
    ForecastShard,
    PredictionConfig,
)
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.model import Model
from chronos_core.domain.training_job import TrainingJob

RunAdmission = Literal["run", "done", "busy"]


@dataclass(frozen=True, kw_only=True)
class RunOutcome:
    """How the run of ``(job_id, slot)`` ended."""

    job_id: JobId
    slot: datetime
    status: ForecastRunStatus
    error: str | None = None


class Forecaster(Protocol):
    """A job's trained forecaster: serves the promotion gate's winner with its intervals."""

    @property
    def context_length(self) -> int:
        """Grid values the served forecaster needs."""

    @property
    def context_points(self) -> int:
        """How many of the most recent raw points to read (the context plus slack)."""

    def forecast_points(self, points: Sequence[TimedPoint]) -> ForecastResult:
        """Forecast from raw points on the training grid with the training's gap policy; the
        result's ``quality`` says how the context relates to it. Raises InsufficientDataError
        only when no point is valid."""


class ForecasterLoader(Protocol):
    def load(self, refs: ArtifactRefs) -> Forecaster:
        """The forecaster of a job's artifacts (cached per warm container). Raises
        ArtifactNotFoundError, ArtifactIntegrityError."""


class ForecastSchedule(Protocol):
    """Claims of forecast slots and the runs they lead to (one per ``(job, slot)``)."""

    def claim_slots(self, items: Sequence[tuple[JobId, datetime]]) -> list[bool]:
        """Claim each ``(job_id, slot)``: True for exactly one of any number of concurrent
        callers claiming the same pair; one result per item."""

    def release(self, job_id: JobId, slot: datetime) -> bool:
        """Undo the claim of a slot whose message could not be sent; True if undone."""

    def begin_run(self, job_id: JobId, slot: datetime, attempt: int, lease_seconds: float) -> RunAdmission:
        """Admit a run of ``(job, slot)``: ``run`` (first time, after a failure, or after an
        expired lease), ``done`` (it succeeded already) or ``busy`` (another run holds the lease)."""

    def finish_run(
        self, job_id: JobId, slot: datetime, *, status: ForecastRunStatus, error: str | None
    ) -> None:
        """Record the outcome of the run of ``(job, slot)``."""

    def begin_runs(
        self, items: Sequence[tuple[JobId, datetime, int]], lease_seconds: float
    ) -> list[RunAdmission]:
        """:meth:`begin_run` for each ``(job_id, slot, attempt)`` of a batch, in as few storage
        calls as the server allows; one admission per item. A pair listed twice is admitted at
        most once (the other copy is ``busy``)."""

    def finish_runs(self, outcomes: Sequence[RunOutcome]) -> None:
        """:meth:`finish_run` for each outcome of a batch, in one storage call."""

    def delete_runs(self, job_id: JobId) -> int:
        """Forget every run of a deleted job."""


class ForecastQueue(Protocol):
    """Where claimed slots go (SQS)."""

    def send(self, messages: Sequence[ForecastMessage], correlation_id: str) -> list[ForecastMessage]:
        """Send every message; return those that could not be sent."""


class TickQueue(Protocol):
    """Where the rule's tick sends one shard tick per shard (SQS), each run by its own invocation."""

    def send_shards(
        self, shards: Sequence[ForecastShard], now: datetime, correlation_id: str
    ) -> list[ForecastShard]:
        """Send one shard tick per shard; return those that could not be sent."""


class ForecastPublisher(Protocol):
    def publish(self, config: PredictionConfig, series: ForecastSeries) -> None:
        """Upsert ``series`` on the job's forecast entity (Orion)."""

    def publish_many(
        self, items: Sequence[tuple[PredictionConfig, ForecastSeries]]
    ) -> list[Exception | None]:
        """Upsert each series on its job's forecast entity, several entities per request
        (Orion's ``POST /v2/op/update``, one per tenant); one result per item: ``None`` when
        published, else the error that kept it from being published (a rejected item never
        keeps the others from being published)."""


class ForecastProvisioner(Protocol):
    """The FIWARE resources that carry a job's recurring forecasts."""

    def provision(self, config: PredictionConfig) -> None:
        """Create, idempotently, the tenant's forecast service group, the job's device and the
        forecast entity."""

    def subscribe(self, config: PredictionConfig, job_id: JobId) -> str:
        """Create the subscription that feeds the entity's forecasts to STH; return its id."""

    def unsubscribe(self, tenant: FiwareTenant, subscription_id: str) -> None:
        """Delete a subscription (a missing one is fine)."""

    def remove(self, config: PredictionConfig) -> None:
        """Delete the subscription, the entity and the device (each missing one is fine)."""


class ForecastHistory(Protocol):
    """Published forecasts as STH-Comet stored them."""

    def count(self, tenant: FiwareTenant, series: SeriesRef) -> int: ...

    def read(
        self, tenant: FiwareTenant, series: SeriesRef, offset: int, limit: int
    ) -> list[tuple[datetime, Any]]:
        """Stored values ``offset .. offset+limit-1``, oldest first, as ``(reception time, value)``."""


class ForecastListener(Protocol):
    """Told of every recurring forecast once it is published (monitoring scores it and
    evaluates its predicted-crossing rules)."""

    def forecast_published(
        self, job: TrainingJob, model: Model, slot: datetime, result: ForecastResult, series: ForecastSeries
    ) -> None:
        """React to a published forecast. A failure here never fails the forecast: the worker
        logs it and carries on."""


class PredictionStamps(Protocol):
    """Small projected reads that tell whether a cached model or job is still current."""

    def model_stamp(self, model_id: ModelId) -> object | None:
        """What of the model a prediction depends on changing changes this (None: no such model)."""

    def job_stamp(self, job_id: JobId) -> object | None:
        """What of the job a prediction depends on changing changes this (None: no such job)."""

    def stamps(self, model_id: ModelId, job_id: JobId) -> tuple[object | None, object | None]:
        """:meth:`model_stamp` and :meth:`job_stamp` together (read concurrently)."""
