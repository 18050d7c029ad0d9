"""The forecast worker: run the forecast of one claimed ``(job, slot)`` and publish it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from chronos_core.application.forecasting.commands import ExecuteForecast
from chronos_core.application.forecasting.context import forecast_now
from chronos_core.application.forecasting.deps import WorkerDeps
from chronos_core.domain.errors import ChronosError, ConflictError
from chronos_core.domain.forecasting import (
    MAX_ERROR_LENGTH,
    ForecastMessage,
    ForecastQuality,
    ForecastResult,
    ForecastRunStatus,
    ForecastSeries,
    LastForecast,
    PredictionConfig,
    advance,
)
from chronos_core.domain.ids import JobId
from chronos_core.domain.model import Model, iso_z, utcnow
from chronos_core.domain.training_job import TrainingJob
from chronos_core.observability import logger


class ExecutionOutcome(BaseModel):
    job_id: str
    slot: datetime
    status: Literal["succeeded", "skipped"]
    reason: str | None = None
    points: int = 0


def execute_forecast(deps: WorkerDeps, command: ExecuteForecast) -> ExecutionOutcome:
    """Run the forecast of one ``(job, slot)`` and upsert it into Orion, with the model's
    champion (:func:`serving_job`); the published series names the job and model version.

    Skipped (acknowledged, nothing written) when the job or model no longer exists, recurring
    forecasts are disabled, or this slot already succeeded. A run in progress elsewhere raises
    ConflictError (the message is retried later). Any failure is recorded on the job's
    ``last_forecast`` (``final`` on the last allowed attempt) and re-raised. A run that ends
    (success or final failure) moves the job's next slot past its own, before ``last_forecast``
    shows the outcome.
    """
    message = command.message
    target = _runnable(deps, command)
    if isinstance(target, ExecutionOutcome):
        return target
    job, model, config = target
    run = LastForecast(
        slot=message.slot, started_at=utcnow(), status=ForecastRunStatus.RUNNING, attempt=command.attempt
    )
    deps.jobs.record_last_forecast(job.id, run)
    try:
        served = serving_job(deps, model, job)
        result, _ = forecast_now(deps, model, served)
        series = ForecastSeries.of(
            result, utcnow(), training_job_id=served.id, model_version=served.model_version
        )
        deps.publisher.publish(config, series)
    except Exception as exc:
        error = exc.message if isinstance(exc, ChronosError) else f"{type(exc).__name__}: internal error"
        final = command.attempt >= deps.forecast_settings.max_receive_count
        _finish(deps, job, run, ForecastRunStatus.FAILED, error=error[:MAX_ERROR_LENGTH], final=final)
        logger.warning(
            "Forecast failed",
            extra={"job_id": job.id, "slot": iso_z(message.slot), "attempt": command.attempt, "final": final},
        )
        raise
    _finish(
        deps,
        job,
        run,
        ForecastRunStatus.SUCCEEDED,
        points=len(result.values),
        generated_at=series.generated_at,
        quality=result.quality,
    )
    logger.info(
        "Forecast published",
        extra={"job_id": job.id, "slot": iso_z(message.slot), "quality": result.quality.status},
    )
    _tell_listeners(deps, job, model, message.slot, result, series)
    return ExecutionOutcome(job_id=job.id, slot=message.slot, status="succeeded", points=len(result.values))


def _tell_listeners(
    deps: WorkerDeps,
    job: TrainingJob,
    model: Model,
    slot: datetime,
    result: ForecastResult,
    series: ForecastSeries,
) -> None:
    """Tell each listener (monitoring) of the published forecast; none can fail the forecast."""
    for listener in deps.forecast_listeners:
        try:
            listener.forecast_published(job, model, slot, result, series)
        except Exception:
            logger.exception("A forecast listener failed", extra={"job_id": job.id})


def serving_job(deps: WorkerDeps, model: Model, job: TrainingJob) -> TrainingJob:
    """The job whose forecaster publishes on ``job``'s entity: the model's champion when the
    recurring forecasts follow it (the default) and it is a completed job with artifacts, else
    ``job`` itself. The slot grid, the claims and the entity stay ``job``'s, so a promotion
    changes the forecaster from the next slot on, with no slot missed or published twice."""
    config = job.prediction_config
    champion_id = model.champion_job_id
    if config is None or not config.follow_champion or champion_id is None or champion_id == job.id:
        return job
    champion = deps.jobs.get(JobId(champion_id))
    if champion is None or champion.artifacts is None or champion.model_id != model.id:
        return job
    return champion


def _runnable(
    deps: WorkerDeps, command: ExecuteForecast
) -> tuple[TrainingJob, Model, PredictionConfig] | ExecutionOutcome:
    """The job, model and configuration of a slot that may run now (its run admitted), or the
    outcome that says why it does not (skipped). Raises ConflictError while another run holds
    the slot."""
    message = command.message
    job = deps.jobs.get(message.job_id)
    if job is None:
        return _skipped(message, "job not found")
    config = job.prediction_config
    if config is None or not config.enabled:
        return _skipped(message, "recurring forecasts are disabled")
    model = deps.models.get(job.model_id)
    if model is None:
        return _skipped(message, "model not found")
    lease = deps.forecast_settings.lease_seconds
    admission = deps.schedule.begin_run(job.id, message.slot, command.attempt, lease)
    if admission == "done":
        _advance_past(deps, job, message.slot)  # in case the run that succeeded stopped short of it
        return _skipped(message, "this slot was already forecast")
    if admission == "busy":
        raise ConflictError(f"The forecast {message.key} is running elsewhere; retry later")
    return job, model, config


def _finish(
    deps: WorkerDeps,
    job: TrainingJob,
    run: LastForecast,
    status: ForecastRunStatus,
    *,
    error: str | None = None,
    final: bool = False,
    points: int = 0,
    generated_at: datetime | None = None,
    quality: ForecastQuality | None = None,
) -> None:
    """Record the run's outcome; a run that will not be retried (a success, or a final failure)
    first moves the job past its slot."""
    deps.schedule.finish_run(job.id, run.slot, status=status, error=error)
    if status == ForecastRunStatus.SUCCEEDED or final:
        _advance_past(deps, job, run.slot)
    update = {"finished_at": utcnow(), "status": status, "error": error, "final": final, "points": points}
    finished = run.model_copy(update={**update, "generated_at": generated_at, "quality": quality})
    deps.jobs.record_last_forecast(job.id, finished)


def _advance_past(deps: WorkerDeps, job: TrainingJob, slot: datetime) -> None:
    config = job.prediction_config
    if config is None:
        return
    _, next_slot = advance(slot, config.interval_seconds, slot)
    deps.jobs.advance_forecast_slot(job.id, slot, next_slot)


def _skipped(message: ForecastMessage, reason: str) -> ExecutionOutcome:
    logger.info("Forecast skipped", extra={"job_id": message.job_id, "reason": reason})
    return ExecutionOutcome(job_id=message.job_id, slot=message.slot, status="skipped", reason=reason)
