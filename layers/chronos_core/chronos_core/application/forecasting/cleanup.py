"""Removing what a job's recurring forecasts left outside the job document."""

from __future__ import annotations

from chronos_core.application.forecasting.deps import CleanupDeps
from chronos_core.application.training.deps import JobResourceCleaner
from chronos_core.domain.training_job import TrainingJob
from chronos_core.observability import logger


def forecast_cleaners(deps: CleanupDeps) -> list[JobResourceCleaner]:
    """Cleaners for a job about to be deleted: its forecast subscription, entity and device in
    FIWARE (only for jobs that enabled recurring forecasts), then its forecast runs."""

    def fiware_resources(job: TrainingJob) -> None:
        if job.prediction_config is None:
            return
        deps.provisioner.remove(job.prediction_config)
        logger.info("Forecast resources removed", extra={"job_id": job.id})

    def forecast_runs(job: TrainingJob) -> None:
        deps.schedule.delete_runs(job.id)

    return [fiware_resources, forecast_runs]
