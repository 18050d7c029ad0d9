"""What the forecast use cases depend on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from chronos_core.application.forecasting.refs import PredictionRefCache
from chronos_core.application.forecasting.settings import ForecastSettings
from chronos_core.application.models.deps import ModelsDeps
from chronos_core.application.ports.forecasting import (
    ForecasterLoader,
    ForecastHistory,
    ForecastListener,
    ForecastProvisioner,
    ForecastPublisher,
    ForecastQueue,
    ForecastSchedule,
    PredictionStamps,
    TickQueue,
)
from chronos_core.application.ports.leases import Leases
from chronos_core.application.ports.pipeline import SeriesSource
from chronos_core.application.ports.training_jobs import ForecastingJobs, RecurringForecastJobs


class ForecastingJobsDeps(ModelsDeps, Protocol):
    @property
    def jobs(self) -> ForecastingJobs: ...

    @property
    def forecast_settings(self) -> ForecastSettings: ...


class ForecastContextDeps(Protocol):
    @property
    def series(self) -> SeriesSource: ...

    @property
    def forecasters(self) -> ForecasterLoader: ...


class PredictionDeps(ForecastingJobsDeps, ForecastContextDeps, Protocol):
    """On-demand forecasts."""

    @property
    def prediction_refs(self) -> PredictionRefCache: ...

    @property
    def prediction_stamps(self) -> PredictionStamps: ...


class ProvisioningDeps(ForecastingJobsDeps, Protocol):
    """Enabling and disabling recurring forecasts."""

    @property
    def provisioner(self) -> ForecastProvisioner: ...

    @property
    def leases(self) -> Leases: ...


class SchedulerDeps(Protocol):
    """The scheduler tick."""

    @property
    def jobs(self) -> RecurringForecastJobs: ...

    @property
    def schedule(self) -> ForecastSchedule: ...

    @property
    def queue(self) -> ForecastQueue: ...

    @property
    def forecast_settings(self) -> ForecastSettings: ...


class FanOutDeps(Protocol):
    """The rule's tick when the scheduler is sharded."""

    @property
    def tick_queue(self) -> TickQueue: ...

    @property
    def forecast_settings(self) -> ForecastSettings: ...


class WorkerDeps(ForecastingJobsDeps, ForecastContextDeps, Protocol):
    """The forecast worker."""

    @property
    def schedule(self) -> ForecastSchedule: ...

    @property
    def publisher(self) -> ForecastPublisher: ...

    @property
    def forecast_listeners(self) -> Sequence[ForecastListener]: ...


class HistoryDeps(ForecastingJobsDeps, Protocol):
    """Past published forecasts."""

    @property
    def history(self) -> ForecastHistory: ...


class CleanupDeps(Protocol):
    """Removing what a job's recurring forecasts left outside the job."""

    @property
    def schedule(self) -> ForecastSchedule: ...

    @property
    def provisioner(self) -> ForecastProvisioner: ...
