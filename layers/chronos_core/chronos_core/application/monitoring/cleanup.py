"""Removing what monitoring keeps of a job that is being deleted."""

from __future__ import annotations

from typing import Protocol

from chronos_core.application.ports.monitoring import ForecastLog
from chronos_core.application.training.deps import JobResourceCleaner
from chronos_core.domain.training_job import TrainingJob


class MonitoringCleanupDeps(Protocol):
    @property
    def forecast_log(self) -> ForecastLog: ...


def monitoring_cleaners(deps: MonitoringCleanupDeps) -> list[JobResourceCleaner]:
    """Cleaners for a job about to be deleted: the forecasts it published, kept for live
    accuracy and predicted crossings."""

    def forecast_log(job: TrainingJob) -> None:
        deps.forecast_log.forget(job.id)

    return [forecast_log]
